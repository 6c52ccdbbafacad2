//! Kafka's own tools (`.ci/kafka.sh`, from the installed Kafka jars): outside judges of
//! what Gig did, and writers of records Gig did not produce.

use std::path::PathBuf;
use std::process::Command;

use crate::broker::{backend, Backend};

/// `.ci/kafka.sh`, from the workspace root.
pub fn kafka_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/kafka.sh")
}

/// Panics unless Kafka's tools can run here: the calling test runs on Apache Kafka only
/// (it is ignored elsewhere), and judges what Gig did with them, so it cannot pass without
/// them. They need Java and `.ci/kafka.sh install`.
pub fn require_kafka_tools(what: &str) {
    assert_eq!(backend(), Backend::Kafka, "{what}: Apache Kafka only");
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.is_ok_and(|o| o.status.success()),
        "{what} needs Kafka's own tools, and Java is not installed"
    );
}

/// On Apache Kafka: asserts with Kafka's own `kafka-consumer-groups` that `group` has LAG 0
/// on every partition, and prints its answer. On another backend it prints that this check
/// was not made (the calling test checks the commits itself).
pub fn assert_lag_zero(group: &str) {
    if backend() != Backend::Kafka {
        crate::broker::report("LAG by kafka-consumer-groups: not checked (Apache Kafka only)");
        return;
    }
    require_kafka_tools("the LAG check by kafka-consumer-groups");
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
