//! The report of a run: the table on stdout, the ratios under it, and `--json`'s line.

use gig_actors::testkit::Broker;
use serde_json::json;

use crate::phases::{Results, Run};
use crate::settings::{consumer_tuning, Settings};

/// What the report is made of.
pub(crate) struct Report<'a> {
    pub(crate) broker: &'a Broker,
    /// How the records reach the broker (produced first, or while consuming).
    pub(crate) mode: &'static str,
    pub(crate) s: &'a Settings,
    pub(crate) results: &'a Results,
    /// The memory phase's peak RSS and its samples (seconds, MB).
    pub(crate) memory: Option<&'a (f64, Vec<(f64, f64)>)>,
    /// What actix allocates per message sent.
    pub(crate) actix_allocs: f64,
    /// The first of `--partitions`: `--json`'s top-level figures are its.
    pub(crate) first_partitions: i32,
}

impl Report<'_> {
    fn rps(&self, r: &Run) -> f64 {
        self.s.records as f64 / r.secs
    }

    fn per_record(&self, r: &Run) -> f64 {
        (r.allocs as f64 / self.s.records as f64 * 1000.0).round() / 1000.0
    }

    fn cpu_us(&self, r: &Run) -> f64 {
        (r.cpu_secs * 1e6 / self.s.records as f64 * 1000.0).round() / 1000.0
    }
}

/// The table, and the transactional and memory lines under it.
pub(crate) fn print_table(report: &Report<'_>) -> serde_json::Map<String, serde_json::Value> {
    let Report {
        broker,
        mode,
        s,
        results,
        memory,
        actix_allocs,
        ..
    } = report;
    let (table, produce_rps) = (&results.table, &results.produce_rps);
    let rps = |r: &Run| report.rps(r);
    let per_record = |r: &Run| report.per_record(r);
    let cpu_us = |r: &Run| report.cpu_us(r);
    let brokers = broker.bootstrap_servers();
    println!();
    println!(
        "broker: {} ({}), mode: {mode}, {} records of {} B, median of {}",
        brokers,
        broker.kind(),
        s.records,
        s.size,
        s.repeat
    );
    let tuning: Vec<String> = consumer_tuning()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!("consumer properties (raw and Gig): {}", tuning.join(", "));
    let headers = if s.headers {
        "Gig reads every record's headers (raw reads none)"
    } else {
        "neither raw nor Gig reads headers (--headers: Gig does)"
    };
    println!("{headers}");
    println!(
        "allocations per record: the whole process's; actix makes {actix_allocs:.2} per message sent"
    );
    println!(
        "{:<11} {:>5} {:>12} {:>8} {:>8} {:>12} {:>10} {:>11} {:>10}",
        "phase",
        "parts",
        "records/s",
        "MB/s",
        "x raw",
        "p99 late ms",
        "allocs/rec",
        "CPU µs/rec",
        "peak RSS"
    );
    let mut by_partitions = serde_json::Map::new();
    for (partitions, phases) in table {
        let raw = rps(&phases["raw"]);
        let mut entry = serde_json::Map::new();
        for (phase, run) in phases {
            let r = rps(run);
            // The Java consumer is another process: its allocations and CPU are not seen.
            let own = |figure: String| {
                if *phase == "java" {
                    "-".to_string()
                } else {
                    figure
                }
            };
            println!(
                "{:<11} {:>5} {:>12.0} {:>8.1} {:>8.2} {:>12} {:>10} {:>11} {:>7.0} MB",
                phase,
                partitions,
                r,
                r * s.size as f64 / 1e6,
                r / raw,
                run.late_ms
                    .map_or("-".to_string(), |l| format!("{:.1}", l.1)),
                own(format!("{:.3}", per_record(run))),
                own(format!("{:.3}", cpu_us(run))),
                run.peak_rss_mb
            );
            entry.insert(format!("{phase}_cpu_us_per_record"), json!(cpu_us(run)));
            if let Some(fetch) = run.java_fetch_rps {
                entry.insert("java_fetch_rps".into(), json!(fetch.round()));
            }
            entry.insert(format!("{phase}_rps"), json!(r.round()));
            entry.insert(
                format!("{phase}_ratio"),
                json!((r / raw * 1000.0).round() / 1000.0),
            );
            entry.insert(format!("{phase}_allocs_per_record"), json!(per_record(run)));
            entry.insert(
                format!("{phase}_peak_rss_mb"),
                json!(run.peak_rss_mb.round()),
            );
            if let Some((p50, p99, max)) = run.late_ms {
                entry.insert(
                    "silent_late_ms".into(),
                    json!({"p50": p50, "p99": p99, "max": max}),
                );
            }
        }
        by_partitions.insert(partitions.to_string(), serde_json::Value::Object(entry));
    }
    for (partitions, phases) in table {
        let (Some(ack), Some(txn), Some(out)) = (
            phases.get("gig-ack"),
            phases.get("gig-txn"),
            phases.get("gig-txn-out"),
        ) else {
            continue;
        };
        let plain = rps(ack);
        if let Some(produced) = produce_rps.get(partitions) {
            println!(
                "producing the records ({partitions} partition(s), rdkafka, acks=all) ran at {produced:.0} records/s; gig-txn-out, which writes as many as it reads, at {:.2}x that",
                rps(out) / produced
            );
        }
        println!(
            "allocations per record, gig-txn-out: {:.3} ({:.3} in gig-ack), CPU µs per record {:.3} ({:.3})",
            per_record(out),
            per_record(ack),
            cpu_us(out),
            cpu_us(ack)
        );
        println!(
            "transactional vs plain, {partitions} partition(s): gig-txn {:.0} records/s = {:.2}x gig-ack ({plain:.0}); gig-txn-out {:.0} records/s = {:.2}x gig-ack",
            rps(txn),
            rps(txn) / plain,
            rps(out),
            rps(out) / plain,
        );
        if let Some(by_hand) = phases.get("raw-txn-out") {
            println!(
                "the same job with rdkafka by hand (raw-txn-out), {partitions} partition(s): {:.0} records/s; gig-txn-out at {:.2}x that, {:.3} CPU µs per record ({:.3})",
                rps(by_hand),
                rps(out) / rps(by_hand),
                cpu_us(by_hand),
                cpu_us(out)
            );
        }
    }
    if let Some((peak, samples)) = &memory {
        let first = samples.first().map_or(0.0, |s| s.1);
        let last = samples.last().map_or(0.0, |s| s.1);
        println!(
            "memory: silent downstream over a {}-record backlog, default in-flight limit: RSS {first:.0} MB at {:.1}s, {last:.0} MB at {:.1}s, peak {peak:.0} MB",
            s.memory_records,
            samples.first().map_or(0.0, |s| s.0),
            samples.last().map_or(0.0, |s| s.0),
        );
    }
    by_partitions
}

/// `--json` with `--memory-only`: the memory phase's line.
pub(crate) fn print_memory_json(report: &Report<'_>) {
    let (broker, s, memory) = (report.broker, report.s, report.memory);
    let first = memory.as_ref().and_then(|m| m.1.first()).map(|s| s.1);
    let line = json!({
        "broker": broker.kind(),
        "memory_records": s.memory_records,
        "memory_first_rss_mb": first.map(f64::round),
        "memory_peak_rss_mb": memory.as_ref().map(|m| m.0.round()),
    });
    println!("{line}");
}

/// `--json`: the run as one line, the first partition count's figures at its top.
pub(crate) fn print_json(
    report: &Report<'_>,
    by_partitions: serde_json::Map<String, serde_json::Value>,
) {
    let Report {
        broker,
        mode,
        s,
        results,
        memory,
        actix_allocs,
        ..
    } = report;
    let (table, produce_rps) = (&results.table, &results.produce_rps);
    let rps = |r: &Run| report.rps(r);
    let per_record = |r: &Run| report.per_record(r);
    let cpu_us = |r: &Run| report.cpu_us(r);
    let head = report.first_partitions;
    let phases = &table[&head];
    let raw = rps(&phases["raw"]);
    let java = phases.get("java").map(rps);
    let ratio = |a: f64, b: Option<f64>| b.map(|b| (a / b * 1000.0).round() / 1000.0);
    let mut line = json!({
        "java_rps": java.map(f64::round),
        "java_fetch_rps": phases.get("java").and_then(|r| r.java_fetch_rps).map(f64::round),
        "ratio_ack_to_java": ratio(rps(&phases["gig-ack"]), java),
        "ratio_batch_to_java": ratio(rps(&phases["gig-batch"]), java),
        "ratio_ack_to_java_fetch": ratio(rps(&phases["gig-ack"]), phases.get("java").and_then(|r| r.java_fetch_rps)),
        "cpu_us_per_record_raw": cpu_us(&phases["raw"]),
        "cpu_us_per_record_ack": cpu_us(&phases["gig-ack"]),
        "cpu_us_per_record_batch": cpu_us(&phases["gig-batch"]),
        "cpu_us_per_record_txn_out": phases.get("gig-txn-out").map(cpu_us),
        "produce_rps": produce_rps.get(&head).map(|r| r.round()),
        "ratio_txn_out_to_produce": phases.get("gig-txn-out").and_then(|r| ratio(rps(r), produce_rps.get(&head).copied())),
        "allocs_per_record_txn_out": phases.get("gig-txn-out").map(per_record),
        "broker": broker.kind(),
        "mode": mode,
        "records": s.records,
        "size": s.size,
        "partitions": head,
        "raw_rps": raw.round(),
        "gig_ack_rps": rps(&phases["gig-ack"]).round(),
        "gig_stream_rps": rps(&phases["gig-stream"]).round(),
        "gig_batch_rps": rps(&phases["gig-batch"]).round(),
        "gig_silent_rps": rps(&phases["gig-silent"]).round(),
        "gig_txn_rps": phases.get("gig-txn").map(|r| rps(r).round()),
        "gig_txn_out_rps": phases.get("gig-txn-out").map(|r| rps(r).round()),
        "ratio_txn_to_ack": phases.get("gig-txn").map(|r| (rps(r) / rps(&phases["gig-ack"]) * 1000.0).round() / 1000.0),
        "ratio_txn_out_to_ack": phases.get("gig-txn-out").map(|r| (rps(r) / rps(&phases["gig-ack"]) * 1000.0).round() / 1000.0),
        "ratio_ack": (rps(&phases["gig-ack"]) / raw * 1000.0).round() / 1000.0,
        "ratio_stream": (rps(&phases["gig-stream"]) / raw * 1000.0).round() / 1000.0,
        "ratio_batch": (rps(&phases["gig-batch"]) / raw * 1000.0).round() / 1000.0,
        "ratio_silent": (rps(&phases["gig-silent"]) / raw * 1000.0).round() / 1000.0,
        "silent_late_p99_ms": phases["gig-silent"].late_ms.map(|l| (l.1 * 10.0).round() / 10.0),
        "allocs_per_record_raw": per_record(&phases["raw"]),
        "allocs_per_record_ack": per_record(&phases["gig-ack"]),
        "allocs_per_record_stream": per_record(&phases["gig-stream"]),
        "allocs_per_record_batch": per_record(&phases["gig-batch"]),
        "allocs_per_record_silent": per_record(&phases["gig-silent"]),
        "actix_allocs_per_message": (actix_allocs * 100.0).round() / 100.0,
        "gig_reads_headers": s.headers,
        "silent_in_flight": s.silent_in_flight,
        "memory_peak_rss_mb": memory.as_ref().map(|m| m.0.round()),
        "by_partitions": by_partitions,
    });
    // Past what one `json!` may hold (its recursion limit).
    let by_hand = phases.get("raw-txn-out");
    line["raw_txn_out_rps"] = json!(by_hand.map(|r| rps(r).round()));
    line["cpu_us_per_record_raw_txn_out"] = json!(by_hand.map(cpu_us));
    line["ratio_txn_out_to_raw_txn_out"] = json!(phases
        .get("gig-txn-out")
        .and_then(|r| ratio(rps(r), by_hand.map(rps))));
    println!("{line}");
}
