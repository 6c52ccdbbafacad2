//! The phases' rounds: every phase once per round, `--repeat` rounds per partition count,
//! and the median run of each.

use std::collections::BTreeMap;
use std::time::Instant;

use gig_actors::testkit::Broker;

use crate::args::Phase;
use crate::gig::{gig_run, Mode};
use crate::produce::produce;
use crate::raw::raw_run;
use crate::run::Run;
use crate::settings::{fail, unique, Settings};
use crate::topics::{create_topic, delete_topic};
use crate::{java, raw_txn_out};

/// Per partition count, per phase, the median run.
pub(crate) type Table = BTreeMap<i32, BTreeMap<&'static str, Run>>;

/// What the rounds measured.
pub(crate) struct Results {
    pub(crate) table: Table,
    /// How fast this machine and broker take the records in (rdkafka's producer, acks=all),
    /// per partition count: the ceiling of any phase that writes as many as it reads
    /// (gig-txn-out). External brokers only.
    pub(crate) produce_rps: BTreeMap<i32, f64>,
}

/// Runs `phases` round by round on each of `partition_counts`.
pub(crate) async fn run_rounds(
    broker: &Broker,
    partition_counts: &[i32],
    phases: &[Phase],
    s: &Settings,
) -> Results {
    let brokers = broker.bootstrap_servers();
    let embedded = broker.embedded().is_some();
    let mut table = Table::new();
    let mut produce_rps: BTreeMap<i32, f64> = BTreeMap::new();
    for &partitions in partition_counts {
        let mut topics = Vec::new();
        if !embedded {
            let topic = format!("bench-{partitions}p-{}", unique());
            create_topic(&brokers, &topic, partitions).await;
            eprintln!("producing {} records to {topic}", s.records);
            let t = Instant::now();
            produce(&brokers, &topic, partitions, s.records, s.size, None, None);
            let secs = t.elapsed().as_secs_f64();
            eprintln!("  produced in {secs:.2}s");
            produce_rps.insert(partitions, s.records as f64 / secs);
            topics.push(topic);
        }
        // Round by round, every phase once per round: the load of other work on the machine
        // changes over minutes, and phases run side by side see about the same.
        let mut runs: BTreeMap<&'static str, Vec<Run>> = BTreeMap::new();
        for r in 0..s.repeat {
            for &phase in phases {
                let topic = if embedded {
                    let topic = format!("bench-{partitions}p-{}", unique());
                    if let Some(b) = broker.embedded() {
                        b.create_topic(&topic, partitions)
                            .unwrap_or_else(|e| fail(&format!("create topic: {e}")));
                    }
                    topic
                } else {
                    topics[0].clone()
                };
                let name = phase.name();
                let label = format!("{name} p={partitions} run {}/{}", r + 1, s.repeat);
                let run = match (phase, Mode::of(phase)) {
                    (Phase::Java, _) => java::java_run(&brokers, &topic, s),
                    (Phase::RawTxnOut, _) => {
                        create_topic(&brokers, &format!("{topic}.out"), partitions).await;
                        raw_txn_out::run(&brokers, &topic, partitions, s, label)
                    }
                    (_, Some(mode)) => gig_run(&brokers, &topic, partitions, s, mode, label).await,
                    (_, None) => raw_run(&brokers, &topic, partitions, s, label),
                };
                let late = run.late_ms.map_or(String::new(), |(p50, p99, max)| {
                    format!(", late p50 {p50:.1} p99 {p99:.1} max {max:.1} ms")
                });
                eprintln!(
                    "  {name} p={partitions} run {}: {:.0} records/s ({:.3}s), {:.3} allocations per record, peak RSS {:.0} MB{late}",
                    r + 1,
                    s.records as f64 / run.secs,
                    run.secs,
                    run.allocs as f64 / s.records as f64,
                    run.peak_rss_mb
                );
                runs.entry(name).or_default().push(run);
            }
        }
        for (phase, runs) in &runs {
            table
                .entry(partitions)
                .or_default()
                .insert(*phase, median(runs));
        }
        for topic in &topics {
            delete_topic(&brokers, topic).await;
        }
    }
    Results { table, produce_rps }
}

fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    sorted[sorted.len() / 2].clone()
}
