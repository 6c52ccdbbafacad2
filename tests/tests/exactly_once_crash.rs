//! Proof by a foreign reader: a transactional Gig process is SIGKILLed 10 times at random
//! moments while 10% of its records go to the dead-letter topic, 5% to a retry topic, and
//! every acked record is transformed to an output topic. A `read_committed` consumer written
//! with plain rdkafka then reads the three topics: every source record appears in them
//! exactly once, and the group's committed offsets are at the end of every partition. The
//! same run without the transactional mode shows the duplicates it prevents.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gig_examples::chaos::{kill_at_random_moments, KillSummary, WorkerCommand, XorShift};
use gig_examples::eos::{group_lag, read_committed, Lag, Tally};
use gig_tests::*;

const PARTITIONS: i32 = 4;
const RECORDS: usize = 10_000;
const KILLS: usize = 10;
/// Records are produced in chunks while the workers come and go, for about 25 s.
const CHUNK: usize = 100;
const CHUNK_EVERY: Duration = Duration::from_millis(250);

struct Run {
    kills: KillSummary,
    tally: Tally,
    lag: Lag,
}

/// Produces the records while workers (with `--split`, and `--transactional-id` when
/// `transactional`) are SIGKILLed `KILLS` times at random moments, then reads back what
/// they wrote and where their group committed.
async fn run(prefix: &str, transactional: bool, seed: u64) -> Run {
    let broker = broker();
    let topic = topic(&broker, prefix, PARTITIONS).await;
    let outputs: Vec<String> = ["out", "retry.1", "dlq"]
        .iter()
        .map(|suffix| format!("{topic}.{suffix}"))
        .collect();
    for output in &outputs {
        broker.create_topic(output, PARTITIONS).await.unwrap();
    }
    let group = unique(&format!("{prefix}-group"));
    let mut options = vec!["--split".to_string()];
    if transactional {
        // One id for every incarnation: each fences the one it replaces.
        options.extend(["--transactional-id".to_string(), format!("{group}-tx")]);
    }
    let dir = std::env::temp_dir().join(unique("gig-eos-crash"));
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = WorkerCommand {
        program: env!("CARGO_BIN_EXE_gig-worker").into(),
        prefix: Vec::new(),
        brokers: broker.bootstrap_servers(),
        topic: topic.clone(),
        group: group.clone(),
        session_timeout_ms: 3000,
        group_protocol: group_protocol(),
        options,
    };
    let producer = producer(&broker);
    let batches = records(&topic, PARTITIONS, 0, RECORDS);
    let producing = actix::spawn(async move {
        let mut produced = Vec::with_capacity(RECORDS);
        for chunk in batches.chunks(CHUNK) {
            produced.extend(
                producer
                    .send_batch(chunk)
                    .await
                    .map_err(|e| e.to_string())?,
            );
            tokio::time::sleep(CHUNK_EVERY).await;
        }
        Ok::<_, String>(produced)
    });
    let produced = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = produced.clone();
    let ends = async move {
        let all = producing.await.map_err(|e| e.to_string())??;
        let ends: BTreeMap<i32, i64> = ends(&all);
        *keep.lock().unwrap() = all;
        Ok(ends)
    };
    let kills = tokio::time::timeout(
        Duration::from_secs(600),
        kill_at_random_moments(&cmd, KILLS, seed, &dir, ends),
    )
    .await
    .expect("kill run finished")
    .expect("kill run");
    let _ = std::fs::remove_dir_all(&dir);

    let expected: BTreeSet<(String, i32, i64)> = produced
        .lock()
        .unwrap()
        .iter()
        .map(|d| (topic.clone(), d.partition, d.offset))
        .collect();
    let brokers = broker.bootstrap_servers();
    let (tally, lag) = tokio::task::spawn_blocking(move || {
        let read = read_committed(&brokers, &outputs, Duration::from_secs(120)).expect("read back");
        let lag = group_lag(&brokers, &group, &topic).expect("group lag");
        (Tally::of(&read, &expected), lag)
    })
    .await
    .unwrap();
    Run { kills, tally, lag }
}

#[actix::test]
#[cfg_attr(
    gig_backend = "embedded",
    ignore = "the mock cluster stores no offsets committed in a transaction and writes no transaction markers"
)]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka, not on tansu"
)]
async fn sigkilled_transactional_workers_write_each_record_exactly_once() {
    let seed = XorShift::seed_from_env("GIGCI_EOS_SEED");
    let eos = run("eos-crash", true, seed).await;
    let plain = run("alo-crash", false, seed).await;
    for (mode, run) in [("transactional", &eos), ("at-least-once", &plain)] {
        report(&format!(
            "exactly_once [{:?}, {}, seed {seed}] {mode}: {} lag={} ({})",
            backend(),
            group_protocol(),
            run.tally,
            run.lag.total(),
            run.kills,
        ));
    }
    assert_eq!(eos.kills.kills, KILLS);
    assert!(eos.tally.exactly_once(), "transactional: {}", eos.tally);
    assert_eq!(eos.lag.total(), 0, "transactional: {:?}", eos.lag);
    assert_eq!(plain.tally.lost, 0, "at-least-once: {}", plain.tally);
    assert_eq!(plain.lag.total(), 0, "at-least-once: {:?}", plain.lag);
}
