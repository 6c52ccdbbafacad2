//! Kafka's own Java consumer on the same topic, the anchor the issue asks Gig to be compared
//! with in one run: `org.apache.kafka.tools.ConsumerPerformance` from the installed Kafka
//! jars, through `.ci/kafka.sh consumer-perf` (a new group, Kafka's default consumer
//! settings).
//!
//! Its JIT needs time: with 2 M records a phase lasts about a second, group join included,
//! and Java runs cold (issue 30). `--anchor` runs this comparison alone with 10 M records,
//! about 5 s a phase; a Java phase shorter than 5 s is flagged. Its CPU time is the JVM
//! process's own (`cpu::children_cpu` across its run: every thread, start-up included).

use std::path::PathBuf;
use std::process::Command;

use std::sync::OnceLock;
use std::time::Duration;

use crate::cpu;
use crate::run::Run;
use crate::settings::{fail, Settings};

/// How long a Java phase should last for its JIT to be warm.
pub(crate) const WARM: Duration = Duration::from_secs(5);

/// The `java` phase: Kafka's ConsumerPerformance on the topic.
pub(crate) fn java_run(brokers: &str, topic: &str, s: &Settings) -> Run {
    let java = consumer_performance(brokers, topic, s.records).unwrap_or_else(|e| fail(&e));
    let secs = s.records as f64 / java.rps;
    if secs < WARM.as_secs_f64() {
        eprintln!(
            "  java: read for {secs:.1}s, under {}s: its JIT may still be cold (--anchor: 10 M records)",
            WARM.as_secs()
        );
    }
    Run {
        secs,
        cpu_secs: java.cpu_secs,
        java_fetch_rps: Some(java.fetch_rps),
        java_startup_cpu_secs: Some(startup_cpu(brokers, topic)),
        ..Run::default()
    }
}

/// The CPU time of a JVM that starts, joins a group and reads one record of `topic`: what
/// the java phase's CPU time holds besides reading. Measured once per run; 0 if it fails.
fn startup_cpu(brokers: &str, topic: &str) -> f64 {
    static STARTUP: OnceLock<f64> = OnceLock::new();
    *STARTUP.get_or_init(|| match consumer_performance(brokers, topic, 1) {
        Ok(run) => run.cpu_secs,
        Err(e) => {
            eprintln!("  java: its start-up's CPU time is unknown: {e}");
            0.0
        }
    })
}

/// What ConsumerPerformance reported.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JavaRun {
    /// Records per second from its start to its last record, its group join included
    /// (`nMsg.sec`).
    pub(crate) rps: f64,
    /// Records per second while fetching, the join left out (`fetch.nMsg.sec`).
    pub(crate) fetch_rps: f64,
    /// CPU time of the JVM (and the script that started it), every thread, from its start
    /// to its exit.
    pub(crate) cpu_secs: f64,
}

/// `.ci/kafka.sh`: `GIGCI_KAFKA_SH`, else the workspace's.
fn script() -> PathBuf {
    std::env::var_os("GIGCI_KAFKA_SH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/kafka.sh")))
}

/// Why the Java phase cannot run here, if it cannot: no Java, or no Kafka jars.
pub(crate) fn unavailable() -> Option<String> {
    let java = Command::new("java").arg("-version").output();
    if !java.is_ok_and(|o| o.status.success()) {
        return Some("Java is not installed".to_string());
    }
    let cache = std::env::var("HOME").map(|h| PathBuf::from(h).join(".cache/gig"));
    let installed =
        std::env::var_os("GIGCI_KAFKA_CACHE").is_some() || cache.is_ok_and(|c| c.is_dir());
    if !script().is_file() || !installed {
        return Some(format!(
            "Kafka's jars are not installed (run {} install)",
            script().display()
        ));
    }
    None
}

/// Reads `records` records of `topic` with ConsumerPerformance.
pub(crate) fn consumer_performance(
    brokers: &str,
    topic: &str,
    records: u64,
) -> Result<JavaRun, String> {
    // No other child of this process ends meanwhile: the phases run one at a time.
    let cpu_before = cpu::children_cpu();
    let out = Command::new("bash")
        .arg(script())
        .args(["consumer-perf", topic, &records.to_string()])
        .env("GIGCI_KAFKA_BOOTSTRAP", brokers)
        .output()
        .map_err(|e| format!("running ConsumerPerformance: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "ConsumerPerformance failed ({}): {text}{err}",
            out.status
        ));
    }
    let cpu_secs = (cpu::children_cpu().saturating_sub(cpu_before)).as_secs_f64();
    let figures =
        parse(&text).ok_or_else(|| format!("ConsumerPerformance printed no figures: {text}"))?;
    Ok(JavaRun {
        cpu_secs,
        ..figures
    })
}

/// The figures of ConsumerPerformance's CSV header and line.
fn parse(text: &str) -> Option<JavaRun> {
    let mut lines = text.lines().filter(|l| l.contains(','));
    let header: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
    let values: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
    let field = |name: &str| {
        let at = header.iter().position(|h| *h == name)?;
        values.get(at)?.parse::<f64>().ok()
    };
    Some(JavaRun {
        rps: field("nMsg.sec")?,
        fetch_rps: field("fetch.nMsg.sec")?,
        cpu_secs: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_consumer_performance_figures() {
        let text = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n2026-12-05 10:35:53:558, 2026-12-05 10:35:55:199, 190.7349, 116.2309, 2000000, 1218769.0433, 287, 1354, 140.8677, 1477104.8744\n";
        let run = parse(text).unwrap();
        assert_eq!(
            (run.rps.round(), run.fetch_rps.round()),
            (1218769.0, 1477105.0)
        );
    }
}
