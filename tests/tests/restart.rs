//! Restarting a consumer in the same group resumes after the last handed-over record:
//! nothing lost, nothing handed over again after a clean stop.

use std::time::Duration;

use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn restart_in_the_same_group_resumes_with_nothing_lost_or_repeated() {
    let broker = broker();
    let topic = topic(&broker, "restart", 2).await;
    let group = unique("restart-group");
    let ledger = Ledger::default();

    produce(&broker, &topic, 2, 0, 100).await;
    let first = start(&ledger, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    })
    .consumer;
    ledger.wait_for(100, Duration::from_secs(30)).await;
    let stats = first.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.committed(&topic, 0), Some(50));
    assert_eq!(stats.committed(&topic, 1), Some(50));

    produce(&broker, &topic, 2, 100, 100).await;
    let second = start(&ledger, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    })
    .consumer;
    ledger.wait_for(200, Duration::from_secs(30)).await;
    second.send(Stop).await.unwrap().unwrap();

    let counts = ledger.counts();
    assert_eq!(counts.len(), 200, "every record handed over");
    assert!(counts.values().all(|&n| n == 1), "none handed over twice");
    let payloads: std::collections::BTreeSet<String> =
        ledger.entries().into_iter().map(|e| e.payload).collect();
    assert_eq!(payloads.len(), 200);
}

#[actix::test]
async fn a_member_restarted_in_the_same_group_has_its_partitions_within_seconds() {
    let broker = broker();
    let topic = topic(&broker, "restart-fast", 3).await;
    let group = unique("restart-fast-group");
    let wait = Duration::from_secs(60);
    // The broker's own consumer config: on the embedded broker a short group session, which
    // the mock cluster waits out before it hands a group's partitions to a new member.
    let config = || {
        let config = broker.consumer_config(&group).topics([topic.as_str()]);
        match consumer_protocol() {
            true => config.property("group.protocol", "consumer"),
            false => config,
        }
    };
    let ledger = Ledger::default();
    produce(&broker, &topic, 3, 0, 30).await;
    let first = start(&ledger, config(), |_| Action::Ack).consumer;
    first
        .send(WaitForAssignment::within(wait))
        .await
        .unwrap()
        .unwrap();
    first.send(CaughtUp::within(wait)).await.unwrap().unwrap();
    first.send(Stop).await.unwrap().unwrap();

    let restarted = std::time::Instant::now();
    let second = start(&ledger, config(), |_| Action::Ack).consumer;
    second
        .send(WaitForAssignment::within(wait))
        .await
        .unwrap()
        .unwrap();
    let took = restarted.elapsed();
    report(&format!(
        "restart in the same group: partitions after {took:?}"
    ));
    // librdkafka's default session (45 s) is what the mock cluster waited before.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let stats = second.send(CaughtUp::within(wait)).await.unwrap().unwrap();
    assert_eq!(stats.received, 0, "nothing read twice after a clean stop");
    second.send(Stop).await.unwrap().unwrap();
}
