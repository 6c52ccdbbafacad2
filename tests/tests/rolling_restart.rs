//! A rolling restart under key ordering, in the shape of LINE Decaton's
//! `ProcessorTestSuite`: 3 `gig-worker` processes in one group, 8 partitions, 10,000
//! records over 100 keys, `key_ordering(true)`, a downstream that works 10 ms on each
//! record. Once half the records are handed over, each process in turn is stopped cleanly
//! and started again, then one is SIGKILLed and started again. Each step happens while the
//! records of a fresh slice are in flight, and the next waits until the group has split the
//! partitions again.
//!
//! The checker (`gig_tests::checker`) reads every process's ledger: lost, poll skips,
//! order and serial violations per key, and records processed again after their commit
//! must all be 0. Duplicates may come only from the killed process's uncommitted tail: the
//! records it handed over at or past the last commit it saw. The group's committed offsets
//! must reach the end of every partition.
//!
//! Runs on the cluster of `GIGCI_TEST_CLUSTER`, else on the single Kafka node.

mod scenario;

use std::time::{Duration, Instant};

use gig_tests::*;
use scenario::*;

const PARTITIONS: i32 = 8;
const RECORDS: usize = 10_000;
const KEYS: usize = 100;
const PROCESSES: usize = 3;
/// Records produced before each step: one slice per step over the second half.
const SLICE: usize = RECORDS / 8;
/// Bounds a failure only: every wait ends on an event.
const WAIT: Duration = Duration::from_secs(120);

#[actix::test]
#[cfg_attr(
    not(any(gig_cluster, gig_backend = "kafka")),
    ignore = "runs on Apache Kafka: GIGCI_TEST_CLUSTER (a 3-node cluster), or GIGCI_TEST_BROKERS with GIGCI_TEST_BROKER_KIND=kafka"
)]
async fn processes_restarted_in_turn_and_one_killed_keep_every_promise() {
    let site = site(true);
    let started = Instant::now();
    let topic = topic(&site.broker, "rolling", PARTITIONS).await;
    let mut fleet = Fleet::new(&site, &topic, &["--key-ordering", "--work-ms", "10"]);
    let mut workers = fleet.start(PROCESSES, PARTITIONS, WAIT).await;

    let producer = scenario_producer(&site);
    let records = keyed(&topic, 0..RECORDS, KEYS, PARTITIONS);
    let mut produced = produce_all(&producer, &records[..RECORDS / 2]).await;
    fleet.wait_handed_over(RECORDS / 2, WAIT).await;

    // Three clean restarts, then a SIGKILL; each once a new slice is being handed over.
    let mut victim = None;
    let mut in_flight_at_kill = 0;
    for step in 0..=PROCESSES {
        let from = RECORDS / 2 + step * SLICE;
        produced.extend(produce_all(&producer, &records[from..from + SLICE]).await);
        fleet.wait_handed_over(from + 1, WAIT).await;
        let slot = step % PROCESSES;
        if step < PROCESSES {
            let pid = workers[slot].pid();
            let clean = workers[slot].stop_within(WAIT).await.unwrap();
            assert!(clean, "worker {pid} stopped cleanly");
        } else {
            victim = Some(workers[slot].pid());
            in_flight_at_kill = (from + SLICE).saturating_sub(fleet.handed_over());
            workers[slot].kill().unwrap();
        }
        workers[slot] = fleet.spawn();
        settled(&workers.iter().collect::<Vec<_>>(), PARTITIONS, WAIT).await;
    }

    let (found, ledgers) = fleet
        .finish(&mut workers, &produced, PARTITIONS, WAIT)
        .await;
    let victim = victim.unwrap();
    let tail = ledgers.uncommitted_tail(victim);
    let mut copies = std::collections::BTreeMap::new();
    for h in &ledgers.hand_overs {
        *copies.entry((h.partition, h.offset)).or_insert(0) += 1;
    }
    let unexplained: Vec<_> = copies
        .iter()
        .filter(|(r, &n)| n > 1 && !tail.contains(r))
        .map(|(r, _)| *r)
        .collect();
    report(&format!(
        "rolling_restart {}: {found} stops={PROCESSES} kills=1 in_flight_at_kill={in_flight_at_kill} \
         victim_uncommitted_tail={} secs={:.1}",
        site.label(),
        tail.len(),
        started.elapsed().as_secs_f64()
    ));
    assert_found(&found, false, &fleet.dir);
    assert!(
        unexplained.is_empty(),
        "duplicates outside the killed process's uncommitted tail: {unexplained:?}"
    );
    assert_eq!(found.records, RECORDS);
    fleet.clean_up(&found);
}
