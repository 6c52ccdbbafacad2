//! Kafka's own tools (`.ci/kafka.sh`, from the installed Kafka jars): outside judges of
//! what Gig did, and writers of records Gig did not produce.

use std::path::PathBuf;
use std::process::Command;

use crate::broker::{backend, report, Backend};

/// `.ci/kafka.sh`, from the workspace root.
pub fn kafka_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/kafka.sh")
}

/// Skips the calling test unless the suite runs on Apache Kafka with its tools installed
/// (`.ci/kafka.sh install`) and Java; prints why. Returns `true` when the test should
/// return at once.
pub fn skip_unless_kafka_tools(why: &str) -> bool {
    if backend() != Backend::Kafka {
        report(&format!(
            "SKIPPED on {:?}: {why} (Apache Kafka only)",
            backend()
        ));
        return true;
    }
    let java = Command::new("java").arg("-version").output();
    if !java.is_ok_and(|o| o.status.success()) {
        report(&format!("SKIPPED: {why}, and Java is not installed"));
        return true;
    }
    false
}

/// On Apache Kafka with its tools: asserts with Kafka's own `kafka-consumer-groups` that
/// `group` has LAG 0 on every partition, and prints its answer. Elsewhere says it did not.
pub fn assert_lag_zero(group: &str) {
    if skip_unless_kafka_tools("the LAG check by kafka-consumer-groups") {
        return;
    }
    let out = kafka_tool(&["check-lag", &format!("^{group}$")]);
    crate::broker::report(out.trim());
}

/// Runs `.ci/kafka.sh ARGS` and returns its standard output; panics with both outputs
/// when it fails.
pub fn kafka_tool(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(kafka_script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run .ci/kafka.sh {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        ".ci/kafka.sh {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
