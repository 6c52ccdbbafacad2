//! A partition the consumer cannot read is loud: `Stats` names it with librdkafka's text,
//! `Health` says not live, `CaughtUp` fails at once with `GigError::Unreadable` instead of
//! timing out, and nothing is handed over or committed past it; once someone acts, the
//! records are all read.
//!
//! The fault here is `auto.offset.reset=error` on a group with no committed offset: the
//! partition stays put until an operator sets its offset, as a partition of a codec the
//! build lacks or of a denied topic does (those are shown on Kafka: `codecs.rs`,
//! `security.rs`). It runs on every backend.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn a_partition_that_cannot_be_read_is_named_and_nothing_is_lost() {
    let broker = broker();
    let topic = topic(&broker, "unreadable", 1).await;
    let produced = produce(&broker, &topic, 1, 0, 20).await;
    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let downstream = downstream.start().recipient();
    let stuck = config(&broker, &topic).property("auto.offset.reset", "error");
    let group = stuck.group_id().to_string();
    let consumer = ledger.consumer(stuck, downstream.clone());
    consumer
        .send(WaitForAssignment::within(FIRST_JOIN))
        .await
        .unwrap()
        .expect("a partition's own fault does not keep the group from assigning it");

    let caught_up = consumer
        .send(CaughtUp::within(Duration::from_secs(60)))
        .await
        .unwrap();
    let Err(GigError::Unreadable(fault)) = caught_up else {
        panic!("CaughtUp should fail with the fault, got {caught_up:?}");
    };
    report(&format!(
        "CaughtUp: {}",
        GigError::Unreadable(fault.clone())
    ));
    assert_eq!(fault.kind, FaultKind::OffsetOutOfRange);
    assert_eq!(
        (fault.topic.as_deref(), fault.partition),
        (Some(topic.as_str()), Some(0))
    );

    let health = consumer.send(Health).await.unwrap();
    report(&format!(
        "Health: {}",
        serde_json::to_string(&health).unwrap()
    ));
    assert!(!health.live && !health.ready, "{health:?}");
    assert!(health.reason.unwrap().contains(&format!("{topic}/0")));
    let stats = consumer.send(GetStats).await.unwrap();
    assert_eq!(stats.faults.len(), 1, "{:?}", stats.faults);
    assert!(stats.client_errors_by_kind["offset_out_of_range"] >= 1);
    assert_eq!((stats.received, stats.handed_over), (0, 0));
    let stopped = consumer.send(Stop).await.unwrap().expect("Stop answers");
    assert_eq!(stopped.committed(&topic, 0), None, "nothing committed");

    // The operator's fix: the group reads from the start. Every record arrives.
    let fixed = group_config(&broker, &topic, &group).property("auto.offset.reset", "earliest");
    let consumer = ledger.consumer(fixed, downstream);
    ledger
        .wait_for(produced.len(), Duration::from_secs(60))
        .await;
    assert!(lost(&ledger, &topic, &produced).is_empty());
    let health = consumer.send(Health).await.unwrap();
    assert!(health.live && health.ready, "{health:?}");
    consumer.send(Stop).await.unwrap().unwrap();
}
