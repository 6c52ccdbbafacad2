//! `--json`: the run as one line, a `#[derive(Serialize)]` struct whose field names are the
//! keys .ci and docs/performance.md read. Its top-level figures are the first partition
//! count's; `by_partitions` has every count's, per phase.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::Serialize as DeriveSerialize;

use super::Report;
use crate::run::Run;
use crate::settings::fail;

/// Rounded to 3 decimals, as the report's ratios and per-record figures are.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// `a / b` rounded, where both are known.
fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(round3(a? / b?))
}

/// The whole run (fields in the keys' alphabetical order, as the line prints them).
#[derive(DeriveSerialize)]
struct Line {
    actix_allocs_per_message: f64,
    allocs_per_record_ack: Option<f64>,
    allocs_per_record_batch: Option<f64>,
    allocs_per_record_raw: Option<f64>,
    allocs_per_record_silent: Option<f64>,
    allocs_per_record_stream: Option<f64>,
    allocs_per_record_txn_out: Option<f64>,
    broker: &'static str,
    by_partitions: BTreeMap<String, Partition>,
    cpu_us_per_record_ack: Option<f64>,
    cpu_us_per_record_batch: Option<f64>,
    /// The JVM's CPU time per record (Kafka's ConsumerPerformance, start-up included).
    cpu_us_per_record_java: Option<f64>,
    /// cpu_us_per_record_java less the CPU time of a JVM that reads one record (its start-up
    /// and group join).
    cpu_us_per_record_java_less_startup: Option<f64>,
    cpu_us_per_record_raw: Option<f64>,
    cpu_us_per_record_raw_txn_out: Option<f64>,
    cpu_us_per_record_txn_out: Option<f64>,
    gig_ack_rps: Option<f64>,
    gig_batch_rps: Option<f64>,
    gig_reads_headers: bool,
    gig_silent_rps: Option<f64>,
    gig_stream_rps: Option<f64>,
    gig_txn_out_rps: Option<f64>,
    gig_txn_rps: Option<f64>,
    java_fetch_rps: Option<f64>,
    java_rps: Option<f64>,
    memory_peak_rss_mb: Option<f64>,
    mode: &'static str,
    partitions: i32,
    produce_rps: Option<f64>,
    ratio_ack: Option<f64>,
    ratio_ack_to_java: Option<f64>,
    ratio_ack_to_java_fetch: Option<f64>,
    ratio_batch: Option<f64>,
    ratio_batch_to_java: Option<f64>,
    ratio_batch_to_java_fetch: Option<f64>,
    ratio_silent: Option<f64>,
    ratio_stream: Option<f64>,
    ratio_txn_out_to_ack: Option<f64>,
    ratio_txn_out_to_produce: Option<f64>,
    ratio_txn_out_to_raw_txn_out: Option<f64>,
    ratio_txn_to_ack: Option<f64>,
    raw_rps: Option<f64>,
    raw_txn_out_rps: Option<f64>,
    records: u64,
    silent_in_flight: usize,
    silent_late_p99_ms: Option<f64>,
    size: usize,
}

/// One partition count's figures: each phase's, under keys `{phase}_{figure}`, and the
/// java and silent phases' own.
#[derive(DeriveSerialize)]
struct Partition {
    #[serde(flatten)]
    phases: Phases,
    #[serde(skip_serializing_if = "Option::is_none")]
    java_fetch_rps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    silent_late_ms: Option<Late>,
}

/// How late the silent phase's records reached the NoAckedActor, ms.
#[derive(DeriveSerialize)]
struct Late {
    max: f64,
    p50: f64,
    p99: f64,
}

/// One phase's figures in one partition count.
#[derive(DeriveSerialize)]
struct Figures {
    allocs_per_record: f64,
    cpu_us_per_record: f64,
    peak_rss_mb: f64,
    ratio: f64,
    rps: f64,
}

/// Per phase, its [`Figures`], each key prefixed with the phase's name (`gig-ack_rps`).
struct Phases(BTreeMap<&'static str, Figures>);

impl Serialize for Phases {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len() * 5))?;
        for (phase, f) in &self.0 {
            let figures = [
                ("allocs_per_record", f.allocs_per_record),
                ("cpu_us_per_record", f.cpu_us_per_record),
                ("peak_rss_mb", f.peak_rss_mb),
                ("ratio", f.ratio),
                ("rps", f.rps),
            ];
            for (name, value) in figures {
                map.serialize_entry(&format!("{phase}_{name}"), &value)?;
            }
        }
        map.end()
    }
}

impl Report<'_> {
    fn figures(&self, run: &Run, raw: Option<f64>) -> Figures {
        let rps = self.rps(run);
        Figures {
            allocs_per_record: self.per_record(run),
            cpu_us_per_record: self.cpu_us(run),
            peak_rss_mb: run.peak_rss_mb.round(),
            ratio: raw.map_or(0.0, |raw| round3(rps / raw)),
            rps: rps.round(),
        }
    }

    fn partition(&self, phases: &BTreeMap<&'static str, Run>) -> Partition {
        let raw = phases.get("raw").map(|r| self.rps(r));
        let silent = phases.values().find_map(|r| r.late_ms);
        Partition {
            phases: Phases(
                phases
                    .iter()
                    .map(|(phase, run)| (*phase, self.figures(run, raw)))
                    .collect(),
            ),
            java_fetch_rps: phases
                .get("java")
                .and_then(|r| r.java_fetch_rps)
                .map(f64::round),
            silent_late_ms: silent.map(|(p50, p99, max)| Late { max, p50, p99 }),
        }
    }

    fn line(&self) -> Line {
        let table = &self.results.table;
        let head = self.first_partitions;
        let Some(phases) = table.get(&head) else {
            fail("--json: no phase ran");
        };
        let get = |phase: &str| phases.get(phase);
        let rps = |phase: &str| get(phase).map(|r| self.rps(r));
        let rounded = |phase: &str| rps(phase).map(f64::round);
        let per_record = |phase: &str| get(phase).map(|r| self.per_record(r));
        let cpu_us = |phase: &str| get(phase).map(|r| self.cpu_us(r));
        let java_fetch = get("java").and_then(|r| r.java_fetch_rps);
        let produce = self.results.produce_rps.get(&head).copied();
        Line {
            actix_allocs_per_message: (self.actix_allocs * 100.0).round() / 100.0,
            allocs_per_record_ack: per_record("gig-ack"),
            allocs_per_record_batch: per_record("gig-batch"),
            allocs_per_record_raw: per_record("raw"),
            allocs_per_record_silent: per_record("gig-silent"),
            allocs_per_record_stream: per_record("gig-stream"),
            allocs_per_record_txn_out: per_record("gig-txn-out"),
            broker: self.broker.kind(),
            by_partitions: table
                .iter()
                .map(|(partitions, phases)| (partitions.to_string(), self.partition(phases)))
                .collect(),
            cpu_us_per_record_ack: cpu_us("gig-ack"),
            cpu_us_per_record_batch: cpu_us("gig-batch"),
            cpu_us_per_record_java: cpu_us("java"),
            cpu_us_per_record_java_less_startup: get("java")
                .and_then(|r| self.java_steady_cpu_us(r)),
            cpu_us_per_record_raw: cpu_us("raw"),
            cpu_us_per_record_raw_txn_out: cpu_us("raw-txn-out"),
            cpu_us_per_record_txn_out: cpu_us("gig-txn-out"),
            gig_ack_rps: rounded("gig-ack"),
            gig_batch_rps: rounded("gig-batch"),
            gig_reads_headers: self.s.headers,
            gig_silent_rps: rounded("gig-silent"),
            gig_stream_rps: rounded("gig-stream"),
            gig_txn_out_rps: rounded("gig-txn-out"),
            gig_txn_rps: rounded("gig-txn"),
            java_fetch_rps: java_fetch.map(f64::round),
            java_rps: rounded("java"),
            memory_peak_rss_mb: self.memory.map(|m| m.0.round()),
            mode: self.mode,
            partitions: head,
            produce_rps: produce.map(f64::round),
            ratio_ack: ratio(rps("gig-ack"), rps("raw")),
            ratio_ack_to_java: ratio(rps("gig-ack"), rps("java")),
            ratio_ack_to_java_fetch: ratio(rps("gig-ack"), java_fetch),
            ratio_batch: ratio(rps("gig-batch"), rps("raw")),
            ratio_batch_to_java: ratio(rps("gig-batch"), rps("java")),
            ratio_batch_to_java_fetch: ratio(rps("gig-batch"), java_fetch),
            ratio_silent: ratio(rps("gig-silent"), rps("raw")),
            ratio_stream: ratio(rps("gig-stream"), rps("raw")),
            ratio_txn_out_to_ack: ratio(rps("gig-txn-out"), rps("gig-ack")),
            ratio_txn_out_to_produce: ratio(rps("gig-txn-out"), produce),
            ratio_txn_out_to_raw_txn_out: ratio(rps("gig-txn-out"), rps("raw-txn-out")),
            ratio_txn_to_ack: ratio(rps("gig-txn"), rps("gig-ack")),
            raw_rps: rounded("raw"),
            raw_txn_out_rps: rounded("raw-txn-out"),
            records: self.s.records,
            silent_in_flight: self.s.silent_in_flight,
            silent_late_p99_ms: get("gig-silent")
                .and_then(|r| r.late_ms)
                .map(|l| (l.1 * 10.0).round() / 10.0),
            size: self.s.size,
        }
    }
}

/// `--json` with `--memory-only`: the memory phase's line.
#[derive(DeriveSerialize)]
struct MemoryLine {
    broker: &'static str,
    memory_first_rss_mb: Option<f64>,
    memory_peak_rss_mb: Option<f64>,
    memory_records: u64,
}

fn print<T: Serialize>(line: &T) {
    match serde_json::to_string(line) {
        Ok(line) => println!("{line}"),
        Err(e) => fail(&format!("--json: {e}")),
    }
}

/// `--json`: the run as one line.
pub(crate) fn print_json(report: &Report<'_>) {
    print(&report.line());
}

/// `--json` with `--memory-only`: the memory phase's line.
pub(crate) fn print_memory_json(report: &Report<'_>) {
    let memory = report.memory;
    print(&MemoryLine {
        broker: report.broker.kind(),
        memory_first_rss_mb: memory.and_then(|m| m.1.first()).map(|s| s.1.round()),
        memory_peak_rss_mb: memory.map(|m| m.0.round()),
        memory_records: report.s.memory_records,
    });
}

#[cfg(test)]
mod tests {
    use gig_actors::testkit::Broker;

    use super::*;
    use crate::phases::Results;
    use crate::settings::Settings;

    #[test]
    fn the_line_has_the_keys_scripts_read() {
        let run = |secs: f64| Run {
            secs,
            cpu_secs: 1.0,
            allocs: 10,
            ..Run::default()
        };
        let phases = ["raw", "gig-ack", "gig-batch", "gig-silent", "gig-stream"];
        let mut table = BTreeMap::new();
        table.insert(1, phases.iter().map(|p| (*p, run(2.0))).collect());
        let results = Results {
            table,
            produce_rps: BTreeMap::new(),
        };
        let s = Settings {
            records: 1000,
            keys: None,
            key_ordering: false,
            silent_in_flight: 10,
            poll_thread_nice: None,
            size: 100,
            repeat: 1,
            memory_records: 0,
            memory_seconds: 0,
            headers: false,
        };
        let broker = Broker::External("127.0.0.1:9092".to_string());
        let report = Report {
            broker: &broker,
            mode: "produce-first",
            s: &s,
            results: &results,
            memory: None,
            actix_allocs: 2.0,
            first_partitions: 1,
        };
        let line = serde_json::to_value(report.line()).unwrap();
        for key in [
            "gig_ack_rps",
            "ratio_ack_to_java",
            "cpu_us_per_record_raw",
            "by_partitions",
        ] {
            assert!(line.get(key).is_some(), "{key}");
        }
        assert_eq!(line["ratio_ack"], 1.0);
        assert_eq!(line["by_partitions"]["1"]["gig-ack_rps"], 500.0);
        assert_eq!(line["by_partitions"]["1"]["raw_cpu_us_per_record"], 1000.0);
        assert!(line["java_rps"].is_null());
    }
}
