//! A member at its in-flight limit still takes part in a rebalance: a second member joins
//! while the first holds `max_in_flight` records of one partition, and gets the other
//! partition. The test prints how long the group waited, the figure the in-flight gate's
//! policy is chosen by (docs/guide.md, the in-flight limit).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

const LIMIT: usize = 4;

#[actix::test]
async fn a_member_at_its_in_flight_limit_lets_the_group_rebalance() {
    let broker = broker();
    let topic = topic(&broker, "limit-rebalance", 2).await;
    let group = unique("limit-rebalance-group");
    // Partition 0 gets more records than the limit; partition 1 stays empty, so whichever
    // partition the assignor moves, the records in flight at the first member stay put or
    // are held by it.
    let producer = producer(&broker);
    let records: Vec<ProducerRecord> = (0..20)
        .map(|i| ProducerRecord::new(topic.as_str(), format!("v{i}")).partition(0))
        .collect();
    producer.send_batch(&records).await.expect("produce");

    let ledger = Ledger::default();
    let mut config_a = config(&broker, &topic)
        .max_in_flight(LIMIT)
        .ack_timeout(Duration::from_secs(15));
    config_a = config_a.group(group.clone());
    // Holds what it gets until released, then acks.
    let released = Arc::new(AtomicBool::new(false));
    let (held, delivered_a) = Scripted::new({
        let released = released.clone();
        move |_| match released.load(Ordering::SeqCst) {
            true => Action::Ack,
            false => Action::Hold,
        }
    });
    let held = held.start();
    let a = ledger.consumer(config_a, held.clone().recipient());
    let at_limit = stats_until(&a, Duration::from_secs(60), |s| {
        s.assignment.len() == 2 && s.in_flight as usize >= LIMIT
    })
    .await;
    assert!(at_limit.in_flight as usize >= LIMIT);

    let mut config_b = config(&broker, &topic);
    config_b = config_b.group(group.clone());
    let (acks, delivered_b) = Scripted::new(|_| Action::Ack);
    let joined = Instant::now();
    let b = ledger.consumer(config_b, acks.start().recipient());
    let sb = stats_until(&b, Duration::from_secs(120), |s| s.assignment.len() == 1).await;
    let waited = joined.elapsed();
    let sa = stats_until(&a, Duration::from_secs(30), |s| s.assignment.len() == 1).await;
    let (owned_a, owned_b): (BTreeSet<_>, BTreeSet<_>) = (
        sa.assignment.iter().cloned().collect(),
        sb.assignment.iter().cloned().collect(),
    );
    assert!(owned_a.is_disjoint(&owned_b), "a={owned_a:?} b={owned_b:?}");
    report(&format!(
        "limit_rebalance [{:?}, {} protocol]: a member holding {} records at its limit of {LIMIT} \
         kept {owned_a:?}; the joining member got {owned_b:?} after {} ms",
        backend(),
        group_protocol(),
        at_limit.in_flight,
        waited.as_millis()
    ));

    // Whoever owns partition 0 now reads it to the end once the held records are answered.
    released.store(true, Ordering::SeqCst);
    held.send(Release(Verdict::Ack)).await.unwrap();
    ledger.wait_for(20, Duration::from_secs(120)).await;
    let a_last = a.send(Stop).await.unwrap().unwrap();
    let b_last = b.send(Stop).await.unwrap().unwrap();
    let end = a_last
        .committed(&topic, 0)
        .into_iter()
        .chain(b_last.committed(&topic, 0))
        .max();
    assert_eq!(end, Some(20), "partition 0 committed to its end");
    let counts = ledger.counts();
    assert_eq!(counts.len(), 20, "every record handed over");
    let delivered_twice = delivered_a.lock().unwrap().len() + delivered_b.lock().unwrap().len();
    report(&format!(
        "limit_rebalance: deliveries={delivered_twice} hand-overs={}",
        ledger.entries().len()
    ));
    assert!(
        counts.values().all(|&n| n == 1),
        "a record held by a member at its limit is handed over once: {counts:?}"
    );
}
