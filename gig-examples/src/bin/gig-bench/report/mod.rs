//! The report of a run: the table on stdout and the ratios under it; `--json`'s line
//! (`json`).

use gig_actors::testkit::Broker;

use crate::phases::Results;
use crate::run::Run;
use crate::settings::{consumer_tuning, Settings};

mod json;

pub(crate) use json::{print_json, print_memory_json};

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

    /// The java phase's CPU µs per record less its JVM's start-up and group join (a
    /// one-record run's CPU time).
    fn java_steady_cpu_us(&self, r: &Run) -> Option<f64> {
        let steady = r.cpu_secs - r.java_startup_cpu_secs?;
        Some((steady * 1e6 / self.s.records as f64 * 1000.0).round() / 1000.0)
    }
}

/// The table, and the transactional and memory lines under it.
pub(crate) fn print_table(report: &Report<'_>) {
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
    for (partitions, phases) in table {
        let raw = rps(&phases["raw"]);
        for (phase, run) in phases {
            let r = rps(run);
            // The Java consumer is another process: its allocations and memory are not seen
            // (its CPU time is: the JVM's own, from getrusage of the ended child).
            let own = |figure: String| {
                if *phase == "java" {
                    "-".to_string()
                } else {
                    figure
                }
            };
            println!(
                "{:<11} {:>5} {:>12.0} {:>8.1} {:>8.2} {:>12} {:>10} {:>11} {:>10}",
                phase,
                partitions,
                r,
                r * s.size as f64 / 1e6,
                r / raw,
                run.late_ms
                    .map_or("-".to_string(), |l| format!("{:.1}", l.1)),
                own(format!("{:.3}", per_record(run))),
                format!("{:.3}", cpu_us(run)),
                own(format!("{:.0} MB", run.peak_rss_mb))
            );
        }
    }
    print_anchor(report);
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
}

/// Per partition count, Gig against Kafka's Java consumer and raw rdkafka: the ratios issue
/// 30 sets goals for, with each side's CPU time per record.
fn print_anchor(report: &Report<'_>) {
    let rps = |r: &Run| report.rps(r);
    let cpu_us = |r: &Run| report.cpu_us(r);
    for (partitions, phases) in &report.results.table {
        let (Some(raw), Some(ack)) = (phases.get("raw"), phases.get("gig-ack")) else {
            continue;
        };
        let batch = phases.get("gig-batch");
        let mut line = format!(
            "anchor, {partitions} partition(s): gig-ack {:.0} records/s, {:.3} CPU µs/record",
            rps(ack),
            cpu_us(ack)
        );
        if let Some(batch) = batch {
            line += &format!("; gig-batch {:.0}, {:.3} µs", rps(batch), cpu_us(batch));
        }
        line += &format!(
            "; raw rdkafka {:.0}, {:.3} µs; gig-ack / raw {:.2}x",
            rps(raw),
            cpu_us(raw),
            rps(ack) / rps(raw)
        );
        if let Some(java) = phases.get("java") {
            let fetch = java.java_fetch_rps.unwrap_or(f64::NAN);
            line += &format!(
                "; Java end to end {:.0} records/s, fetch only {fetch:.0}, {:.3} CPU µs/record (the JVM, {:.1}s; {:.3} less its start-up); gig-ack / Java end to end {:.2}x",
                rps(java),
                cpu_us(java),
                java.secs,
                report.java_steady_cpu_us(java).unwrap_or(f64::NAN),
                rps(ack) / rps(java)
            );
            if let Some(batch) = batch {
                line += &format!(", gig-batch / Java fetch only {:.2}x", rps(batch) / fetch);
            }
            line += &format!(
                ", CPU per record gig-ack / Java {:.2}x ({:.2}x against Java less its start-up)",
                cpu_us(ack) / cpu_us(java),
                cpu_us(ack) / report.java_steady_cpu_us(java).unwrap_or(f64::NAN)
            );
        }
        println!("{line}");
    }
}
