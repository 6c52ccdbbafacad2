//! The poll thread reads librdkafka's consumer queue through a few unsafe calls (gig-actors
//! `client/consumer_queue.rs`): fetched messages borrowed from their events, with their
//! headers, and rebalance, log and statistics events served in queue order. Here a worker
//! process runs under valgrind's memcheck through its assignment, a rebalance (a second
//! member joins, then leaves), records with headers on both partitions, and a clean stop:
//! any invalid read, write or free, or a use of uninitialised memory, makes valgrind exit
//! with 99.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use gig_actors::ProducerRecord;
use gig_examples::chaos::{read_ledger, wait_until, WorkerCommand, WorkerProcess};
use gig_tests::*;

const RECORDS: usize = 200;
/// Valgrind runs a program some 20 to 50 times slower.
const UNDER_VALGRIND: Duration = Duration::from_secs(300);

#[actix::test]
#[cfg_attr(not(gig_valgrind), ignore = "valgrind is not installed")]
async fn the_consumer_queue_reads_records_and_rebalances_cleanly_under_valgrind() {
    let broker = broker();
    let topic = topic(&broker, "valgrind", 2).await;
    let with_headers: Vec<ProducerRecord> = records(&topic, 2, 0, RECORDS)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.header("trace", format!("t{i}")).header("empty", ""))
        .collect();
    producer(&broker).send_batch(&with_headers).await.unwrap();
    let dir = std::env::temp_dir().join(unique("gig-valgrind"));
    std::fs::create_dir_all(&dir).unwrap();
    let worker = env!("CARGO_BIN_EXE_gig-worker");
    let base = WorkerCommand {
        program: worker.into(),
        prefix: Vec::new(),
        brokers: broker.bootstrap_servers(),
        topic,
        group: unique("valgrind-group"),
        // Long enough for a member under valgrind to answer a rebalance in time.
        session_timeout_ms: 10_000,
        group_protocol: group_protocol(),
        options: Vec::new(),
    };
    let checked = WorkerCommand {
        program: "valgrind".into(),
        prefix: vec![
            "--error-exitcode=99".into(),
            "--leak-check=no".into(),
            "--quiet".into(),
            worker.into(),
        ],
        ..base.clone()
    };
    let mut under = WorkerProcess::spawn(&checked, 0, &dir).unwrap();
    wait_until("both partitions read", UNDER_VALGRIND, || {
        partitions_read(&under.ledger) == BTreeSet::from([0, 1])
    })
    .await
    .unwrap();

    // A second member takes a partition (a revocation and an assignment, or an
    // incremental one), then stops and gives it back.
    let mut other = WorkerProcess::spawn(&base, 1, &dir).unwrap();
    wait_until("the partitions shared", UNDER_VALGRIND, || {
        under.status().assignment.len() == 1 && other.status().assignment.len() == 1
    })
    .await
    .unwrap();
    assert!(other.stop_within(Duration::from_secs(60)).await.unwrap());
    wait_until("both partitions back", UNDER_VALGRIND, || {
        under.status().assignment.len() == 2
    })
    .await
    .unwrap();

    let exited_clean = under.stop_within(UNDER_VALGRIND).await.unwrap();
    let read = read_ledger(&under.ledger).len();
    report(&format!(
        "consumer queue under valgrind [{:?}]: {read} records handed over, exit clean: {exited_clean}",
        backend()
    ));
    assert!(
        exited_clean,
        "valgrind found errors (exit 99) or the worker failed: see its stderr above"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The partitions a worker's ledger has records of.
fn partitions_read(ledger: &Path) -> BTreeSet<i32> {
    read_ledger(ledger).into_iter().map(|(p, _)| p).collect()
}
