//! Several consumers in one group split the partitions; unsubscribing stops delivery and
//! releases the partitions to the others.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn two_consumers_in_one_group_split_the_partitions() {
    let broker = broker();
    let topic = topic(&broker, "split", 4).await;
    let group = unique("split-group");
    let ledger = Ledger::default();
    let a = start(&ledger, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    });
    let (a, delivered_a) = (a.consumer, a.delivered);
    stats_until(&a, Duration::from_secs(30), |s| s.assignment.len() == 4).await;
    let b = start(&ledger, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    });
    let (b, delivered_b) = (b.consumer, b.delivered);
    let sa = stats_until(&a, Duration::from_secs(30), |s| s.assignment.len() == 2).await;
    let sb = stats_until(&b, Duration::from_secs(30), |s| s.assignment.len() == 2).await;
    let (owned_a, owned_b): (BTreeSet<_>, BTreeSet<_>) = (
        sa.assignment.iter().cloned().collect(),
        sb.assignment.iter().cloned().collect(),
    );
    assert!(owned_a.is_disjoint(&owned_b), "a={owned_a:?} b={owned_b:?}");

    produce(&broker, &topic, 4, 0, 400).await;
    ledger.wait_for(400, Duration::from_secs(30)).await;
    let read = |d: &Arc<Mutex<Vec<Record>>>| -> BTreeSet<String> {
        d.lock()
            .unwrap()
            .iter()
            .map(|r| format!("{}/{}", r.topic(), r.partition()))
            .collect()
    };
    assert_eq!(read(&delivered_a), owned_a, "a read exactly its partitions");
    assert_eq!(read(&delivered_b), owned_b, "b read exactly its partitions");
    assert!(ledger.counts().values().all(|&n| n == 1));
    a.send(Stop).await.unwrap().unwrap();
    b.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn unsubscribe_stops_delivery_and_hands_partitions_to_the_group() {
    let broker = broker();
    let topic = topic(&broker, "unsub", 2).await;
    let group = unique("unsub-group");
    let (ledger_a, ledger_b) = (Ledger::default(), Ledger::default());

    produce(&broker, &topic, 2, 0, 20).await;
    let a = start(&ledger_a, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    });
    let (a, delivered_a) = (a.consumer, a.delivered);
    ledger_a.wait_for(20, Duration::from_secs(30)).await;
    a.send(Unsubscribe).await.unwrap().unwrap();
    // The revoked partitions are committed at 10 each before they are released.
    stats_until(&a, Duration::from_secs(30), |s| {
        s.assignment.is_empty()
            && s.committed(&topic, 0) == Some(10)
            && s.committed(&topic, 1) == Some(10)
    })
    .await;

    produce(&broker, &topic, 2, 20, 20).await;
    let b = start(&ledger_b, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    })
    .consumer;
    ledger_b.wait_for(20, Duration::from_secs(30)).await;
    let b_offsets: BTreeSet<i64> = ledger_b.entries().iter().map(|e| e.offset).collect();
    assert_eq!(b_offsets, (10..20).collect(), "b starts where a committed");
    assert_eq!(
        delivered_a.lock().unwrap().len(),
        20,
        "nothing delivered to a after unsubscribe"
    );
    a.send(Stop).await.unwrap().unwrap();
    b.send(Stop).await.unwrap().unwrap();
}

/// A member commits what it handed over as soon as a rebalance ends, not at its next commit
/// period: under the classic protocol its commits are refused while its JoinGroup is
/// pending, and under churn the window between two rebalances is short. The period here is
/// a minute, so a commit of the partition it keeps within the wait can only come from the
/// rebalance; the partition it gives up is committed by the revocation either way.
#[actix::test]
async fn a_member_commits_what_it_kept_when_a_rebalance_ends() {
    let broker = broker();
    let topic = topic(&broker, "commit-on-rebalance", 2).await;
    let group = unique("commit-on-rebalance-group");
    let producer = producer(&broker);
    let records: Vec<ProducerRecord> = (0..20)
        .map(|i| ProducerRecord::new(topic.as_str(), format!("v{i}")).partition(i % 2))
        .collect();
    producer.send_batch(&records).await.expect("produce");

    let ledger = Ledger::default();
    // Neither the interval, nor the count, nor the crash-loop guard's markers (whose
    // commits carry what was handed over too) commit during the test.
    let slow_commits = |config: ConsumerConfig| {
        config
            .commit_interval(Duration::from_secs(60))
            .commit_every(1_000_000)
            .max_deliveries(0)
    };
    let a = start(
        &ledger,
        slow_commits(group_config(&broker, &topic, &group)),
        |_| Action::Ack,
    )
    .consumer;
    ledger.wait_for(20, Duration::from_secs(60)).await;
    let before = a.send(GetStats).await.unwrap();
    assert!(
        before.partitions.iter().all(|p| p.committed.is_none()),
        "nothing committed before the rebalance: {:?}",
        before.partitions
    );

    let b = start(&ledger, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    })
    .consumer;
    let sa = stats_until(&a, Duration::from_secs(30), |s| {
        s.assignment.len() == 1
            && s.partitions.iter().any(|p| {
                s.assignment
                    .contains(&format!("{}/{}", p.topic, p.partition))
                    && p.committed == Some(10)
            })
    })
    .await;
    assert_eq!(sa.assignment.len(), 1);
    a.send(Stop).await.unwrap().unwrap();
    b.send(Stop).await.unwrap().unwrap();
}
