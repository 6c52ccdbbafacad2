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

/// How long a restarted member may wait for its partitions: less than librdkafka's default
/// group session (45 s), which a group would wait out for a member that did not leave.
const WAIT_FOR_PARTITIONS: Duration = Duration::from_secs(40);

#[actix::test]
async fn a_member_restarted_in_the_same_group_does_not_wait_out_a_long_session() {
    let broker = broker();
    let topic = topic(&broker, "restart-fast", 3).await;
    let group = unique("restart-fast-group");
    let wait = Duration::from_secs(60);
    // The first member's session outlasts the restarted member's wait. On Kafka (classic
    // protocol) it is 90 s: the member leaves the group at its stop, or the group would hold
    // its partitions until the session ran out, and the wait would fail. The mock cluster
    // waits out the session of a member that left all the same (gig_actors::testkit), so
    // there it is the testkit's short one (6 s), and the wait shows that it is the one in
    // use. Under KIP-848 the broker owns the session (6 s on .ci/kafka.sh's nodes).
    let session = match backend() {
        Backend::Embedded => Duration::from_millis(gig_actors::testkit::DEMO_SESSION_TIMEOUT_MS),
        _ => Duration::from_secs(90),
    };
    let config = |session: Duration| {
        let config = broker.consumer_config(&group).topics([topic.as_str()]);
        match consumer_protocol() {
            true => config.property("group.protocol", "consumer"),
            false => config
                .property("session.timeout.ms", session.as_millis().to_string())
                .property("max.poll.interval.ms", session.as_millis().to_string()),
        }
    };
    let ledger = Ledger::default();
    produce(&broker, &topic, 3, 0, 30).await;
    let first = start(&ledger, config(session), |_| Action::Ack).consumer;
    first
        .send(WaitForAssignment::within(wait))
        .await
        .unwrap()
        .unwrap();
    first.send(CaughtUp::within(wait)).await.unwrap().unwrap();
    first.send(Stop).await.unwrap().unwrap();

    let restarted = std::time::Instant::now();
    let second = start(&ledger, config(session), |_| Action::Ack).consumer;
    let assigned = second
        .send(WaitForAssignment::within(WAIT_FOR_PARTITIONS))
        .await
        .unwrap();
    let took = restarted.elapsed();
    let first_session = match consumer_protocol() {
        true => "the broker's".to_string(),
        false => format!("{session:?}"),
    };
    report(&format!(
        "restart in the same group [{:?}, {} protocol, first member's session {first_session}]: \
         partitions after {took:?}",
        backend(),
        group_protocol()
    ));
    assigned.expect("the restarted member's partitions");
    let stats = second.send(CaughtUp::within(wait)).await.unwrap().unwrap();
    assert_eq!(stats.received, 0, "nothing read twice after a clean stop");
    second.send(Stop).await.unwrap().unwrap();
}
