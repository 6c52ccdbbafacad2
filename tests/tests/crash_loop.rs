//! A record that kills the consumer's process on every delivery does not stop its group for
//! good: consumer processes (`gig-worker`) that abort on one record of 4 × 10,000 are
//! restarted in a loop, and Gig's crash-loop guard, which keeps its count in the committed
//! offsets' metadata, hands that record to the NoAckedActor as crashed once it was
//! delivered `max_deliveries` (5) times. Nothing is lost, no other record is crashed, and
//! Kafka's own `kafka-consumer-groups` shows LAG 0.
//!
//! The aborts print a line each to the test output: that is expected.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gig_examples::chaos::{WorkerCommand, WorkerProcess};
use gig_tests::checker::{check, Ledgers, Produced};
use gig_tests::*;

const PARTITIONS: i32 = 4;
const RECORDS: usize = 40_000;
/// `v21202`: partition 2 (21202 % 4), offset 5300.
const POISON: usize = 21_202;
/// The default `max_deliveries`.
const MAX_DELIVERIES: usize = 5;

/// Runs `members` worker processes in one group until every record is handed over,
/// starting a new one whenever one aborts; returns how many aborted.
async fn run(members: usize) {
    let broker = broker();
    let topic = topic(&broker, "crash-loop", PARTITIONS).await;
    let delivered = produce(&broker, &topic, PARTITIONS, 0, RECORDS).await;
    let poison = delivered[POISON];
    let group = unique("crash-loop-group");
    let dir = std::env::temp_dir().join(unique("gig-crash-loop"));
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = WorkerCommand {
        program: env!("CARGO_BIN_EXE_gig-worker").into(),
        prefix: Vec::new(),
        brokers: broker.bootstrap_servers(),
        topic,
        group: group.clone(),
        session_timeout_ms: 3000,
        group_protocol: group_protocol(),
        options: [
            "--max-in-flight",
            "1000",
            "--commit-every",
            "500",
            "--abort-on",
            &format!("v{POISON}"),
        ]
        .map(String::from)
        .to_vec(),
    };
    let started = Instant::now();
    let (mut workers, mut ledgers): (Vec<WorkerProcess>, Vec<PathBuf>) = (Vec::new(), Vec::new());
    let mut aborts = 0;
    loop {
        workers.retain_mut(|w| match w.try_wait().expect("worker status") {
            None => true,
            Some(status) => {
                assert!(!status.success(), "a worker stopped by itself");
                aborts += 1;
                false
            }
        });
        while workers.len() < members {
            let worker = WorkerProcess::spawn(&cmd, ledgers.len(), &dir).expect("spawn worker");
            ledgers.push(worker.ledger.clone());
            workers.push(worker);
        }
        let handed: std::collections::BTreeSet<_> = gig_examples::chaos::read_ledgers(&ledgers)
            .into_iter()
            .collect();
        if handed.len() == RECORDS {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{} of {RECORDS} handed over after {aborts} aborts",
            handed.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in &mut workers {
        assert!(
            w.stop_within(Duration::from_secs(60)).await.unwrap(),
            "clean stop"
        );
    }

    let produced: Vec<Produced> = delivered
        .iter()
        .enumerate()
        .map(|(i, d)| Produced {
            partition: d.partition,
            offset: d.offset,
            key: Some(format!("k{i}")),
        })
        .collect();
    let found = Ledgers::read(&ledgers);
    let checked = check(&produced, &found, false);
    let crashed: Vec<(i32, i64)> = found
        .hand_overs
        .iter()
        .filter(|h| h.outcome != "ack")
        .map(|h| (h.partition, h.offset))
        .collect();
    report(&format!(
        "crash_loop [{:?}, {} protocol, {members} member(s)]: {aborts} aborts (restarts), {:.0} s; not acked: {crashed:?} ({}); {checked}",
        backend(),
        group_protocol(),
        started.elapsed().as_secs_f64(),
        found
            .hand_overs
            .iter()
            .find(|h| h.outcome != "ack")
            .map_or("-", |h| h.outcome.as_str()),
    ));
    assert_eq!(
        crashed,
        [(poison.partition, poison.offset)],
        "only the poison"
    );
    assert!(found
        .hand_overs
        .iter()
        .filter(|h| h.outcome != "ack")
        .all(|h| h.outcome == "crashed"));
    assert_eq!(
        aborts, MAX_DELIVERIES,
        "one abort per delivery of the poison"
    );
    assert_eq!(checked.lost, 0, "{checked}");
    assert!(checked.clean(), "{checked}: {:?}", checked.examples);
    assert_lag_zero(&group);
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix::test]
async fn a_record_that_aborts_the_process_is_crashed_after_5_deliveries_and_nothing_else_is() {
    run(1).await;
}

#[actix::test]
async fn the_crash_count_survives_restarts_spread_over_two_processes_of_the_group() {
    run(2).await;
}
