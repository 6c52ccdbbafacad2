//! A real broker fault, not injected by a mock: the single Apache Kafka node is SIGKILLed
//! while three `gig-worker` processes of one group read (4 partitions, 20,000 records over
//! 40 keys, key ordering, 20 ms of work per record: the group reads at most 2,000 records/s,
//! so a backlog is in flight), and restarted at once (`.ci/kafka.sh kill 1`, `restart 1`).
//! Records fetched before the kill keep being handed over during the outage while their
//! commits fail; after it the group carries on, and 2,000 records produced after the
//! restart are read too.
//!
//! Lost 0, every other checker figure 0 (`gig_tests::checker`; duplicates can then only be
//! records that were in flight: not yet committed when they were read again), and every
//! partition's committed offset reaches its end. Under the KIP-848 group protocol only lost
//! and poll skips are asserted: a member fenced during the outage may read on for a while
//! (see `scenario::zombies_possible`).
//!
//! It runs on a single Kafka node that `.ci/kafka.sh` started (see `scenario` for how a
//! test learns it may kill a broker) and is ignored elsewhere. It is the only
//! test in this binary: cargo runs test binaries one after another, so no other test sees
//! the broker go down. The node is restarted even when the test fails.

mod scenario;

use std::time::{Duration, Instant};

use gig_tests::*;
use scenario::*;

const PARTITIONS: i32 = 4;
const RECORDS: usize = 20_000;
const AFTER: usize = 2_000;
const KEYS: usize = 40;
const PROCESSES: usize = 3;
/// Bounds a failure only: every wait ends on an event.
const WAIT: Duration = Duration::from_secs(180);

#[actix::test]
#[cfg_attr(
    not(all(gig_backend = "kafka", gig_kafka_control)),
    ignore = "kills the single Kafka node that .ci/kafka.sh started: run with \
              GIGCI_TEST_BROKERS=HOST:PORT GIGCI_TEST_BROKER_KIND=kafka (GIGCI_TEST_KAFKA_CONTROL=0 forbids it)"
)]
async fn a_broker_sigkilled_mid_stream_and_restarted_loses_nothing() {
    let site = Site {
        broker: broker(),
        kind: "single node",
    };
    let control = KafkaControl::of(&site.brokers())
        .unwrap_or_else(|why| panic!("may not kill this broker: {why}"));
    assert_eq!(
        control.nodes.len(),
        1,
        "the brokers are a cluster; leader_failover.rs kills cluster nodes"
    );
    let node = *control.nodes.keys().next().unwrap();
    let started = Instant::now();
    let topic = topic(&site.broker, "broker-kill", PARTITIONS).await;
    let mut fleet = Fleet::new(&site, &topic, &["--key-ordering", "--work-ms", "20"]);
    let mut workers = fleet.start(PROCESSES, PARTITIONS, WAIT).await;

    let producer = scenario_producer(&site);
    let records = keyed(&topic, 0..RECORDS + AFTER, KEYS, PARTITIONS);
    let mut produced = produce_all(&producer, &records[..RECORDS]).await;
    fleet.wait_handed_over(RECORDS / 4, WAIT).await;

    let before = fleet.handed_over();
    let killed_at = control.kill(node);
    control.restart(&[node]).await;
    let outage = Duration::from_micros(wall_us() - killed_at);
    let during_outage = fleet.handed_over() - before;
    produced.extend(produce_all(&producer, &records[RECORDS..]).await);
    let (found, _) = fleet
        .finish(&mut workers, &produced, PARTITIONS, WAIT)
        .await;
    report(&format!(
        "broker_kill {}: {found} outage_ms={} handed_over_during_outage={during_outage} secs={:.1}",
        site.label(),
        outage.as_millis(),
        started.elapsed().as_secs_f64()
    ));
    assert_found(&found, true, &fleet.dir);
    assert!(
        during_outage > 0,
        "no record was in flight at the kill: nothing was handed over during the outage"
    );
    fleet.clean_up(&found);
}
