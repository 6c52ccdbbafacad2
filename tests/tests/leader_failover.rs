//! Real broker faults on the 3-node cluster: leader failover under load, then a
//! whole-cluster outage. Three `gig-worker` processes of one group read a 6-partition topic
//! (replication factor 3, `min.insync.replicas=2`; key ordering, 60 keys, 20 ms of work per
//! record, so that the group reads at most 3,000 records/s and has a backlog when a fault
//! comes). Mid-stream the node that leads the most partitions is SIGKILLed while records
//! are produced, and restarted 10 s later (`.ci/kafka.sh kill N`, `restart N`). Then,
//! mid-stream again, all three nodes are SIGKILLed, left down longer than the 6 s session
//! timeout, and restarted together. Records produced after that are read too.
//!
//! Lost 0, every partition's committed offset at its end (lag 0), the log holding each
//! record once, and every other checker figure 0 (`gig_tests::checker`): duplicates can
//! only be records that were in flight. Under the KIP-848 group protocol only lost and poll
//! skips are asserted: a member fenced during the outage may read on for a while (see
//! `scenario::zombies_possible`).
//!
//! It runs on a cluster that `.ci/kafka.sh start-cluster` started (`GIGCI_TEST_CLUSTER`; see
//! `scenario` for how a test learns it may kill brokers) and is ignored
//! elsewhere. It is the only test in this binary: cargo runs test binaries one after
//! another, so no other test sees the nodes go down. Killed nodes are restarted even when
//! the test fails.

mod scenario;

use std::time::{Duration, Instant};

use gig_tests::*;
use scenario::*;

const PARTITIONS: i32 = 6;
const KEYS: usize = 60;
const PROCESSES: usize = 3;
/// Records produced before the leader dies, while it is down, before the cluster's outage,
/// and after it. Each fault comes once a tenth of the records before it is handed over, so
/// the rest are in flight or waiting to be read.
const PHASES: [usize; 4] = [20_000, 5_000, 20_000, 5_000];
const LEADER_DOWN: Duration = Duration::from_secs(10);
/// Longer than the session timeout (6 s, both protocols).
const CLUSTER_DOWN: Duration = Duration::from_secs(8);
/// Bounds a failure only: every wait ends on an event.
const WAIT: Duration = Duration::from_secs(180);

#[actix::test]
#[cfg_attr(
    not(all(gig_cluster, gig_kafka_control)),
    ignore = "needs a 3-node Kafka cluster it may kill nodes of: GIGCI_TEST_CLUSTER=HOST:PORT,HOST:PORT,HOST:PORT \
              (.ci/kafka.sh start-cluster BASE_PORT)"
)]
async fn a_killed_leader_and_a_whole_cluster_outage_lose_nothing() {
    let site = site(false);
    let control = KafkaControl::of(&site.brokers())
        .unwrap_or_else(|why| panic!("may not kill these brokers: {why}"));
    assert_eq!(control.nodes.len(), 3, "needs 3 Kafka nodes");
    let started = Instant::now();
    let topic = topic(&site.broker, "failover", PARTITIONS).await;
    let mut fleet = Fleet::new(&site, &topic, &["--key-ordering", "--work-ms", "20"]);
    let mut workers = fleet.start(PROCESSES, PARTITIONS, WAIT).await;

    let producer = scenario_producer(&site);
    let total: usize = PHASES.iter().sum();
    let records = keyed(&topic, 0..total, KEYS, PARTITIONS);
    let mut phases = Vec::new();
    let mut rest = &records[..];
    for n in PHASES {
        let (phase, tail) = rest.split_at(n);
        phases.push(phase);
        rest = tail;
    }
    let mut produced = produce_all(&producer, phases[0]).await;
    fleet.wait_handed_over(PHASES[0] / 10, WAIT).await;

    // The leader of the most partitions dies while records are produced and read.
    let led = leaders(&site.brokers(), &topic);
    let leader = (1..=3)
        .max_by_key(|n| (led.values().filter(|l| *l == n).count(), -n))
        .unwrap();
    let led_by_it = led.values().filter(|l| **l == leader).count();
    let before = fleet.handed_over();
    let killed_at = control.kill(leader);
    produced.extend(produce_all(&producer, phases[1]).await);
    let down_for = Duration::from_micros(wall_us() - killed_at);
    tokio::time::sleep(LEADER_DOWN.saturating_sub(down_for)).await;
    let during_leader_outage = fleet.handed_over() - before;
    control.restart(&[leader]).await;
    fleet.wait_handed_over(PHASES[0] + PHASES[1], WAIT).await;

    // The whole cluster goes down mid-stream, for longer than the session timeout.
    produced.extend(produce_all(&producer, phases[2]).await);
    let read = PHASES[0] + PHASES[1];
    fleet.wait_handed_over(read + PHASES[2] / 10, WAIT).await;
    let before = fleet.handed_over();
    let nodes: Vec<i32> = control.nodes.keys().copied().collect();
    let cluster_killed_at = nodes.iter().map(|&n| control.kill(n)).min().unwrap();
    let down_for = Duration::from_micros(wall_us() - cluster_killed_at);
    tokio::time::sleep(CLUSTER_DOWN.saturating_sub(down_for)).await;
    let during_cluster_outage = fleet.handed_over() - before;
    control.restart(&nodes).await;
    let cluster_outage = Duration::from_micros(wall_us() - cluster_killed_at);

    produced.extend(produce_all(&producer, phases[3]).await);
    let (found, _) = fleet
        .finish(&mut workers, &produced, PARTITIONS, WAIT)
        .await;
    report(&format!(
        "leader_failover {}: {found} leader=node{leader} led={led_by_it}/{PARTITIONS} \
         handed_over_during_leader_outage={during_leader_outage} \
         cluster_outage_ms={} handed_over_during_cluster_outage={during_cluster_outage} secs={:.1}",
        site.label(),
        cluster_outage.as_millis(),
        started.elapsed().as_secs_f64()
    ));
    assert_found(&found, true, &fleet.dir);
    assert!(
        during_leader_outage > 0,
        "nothing was handed over while the leader was down"
    );
    fleet.clean_up(&found);
}
