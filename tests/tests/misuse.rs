//! Misuse and unlucky setups: an unreachable broker, a topic that does not exist yet,
//! subscribing twice, stopping twice, commands after a stop, answers for records that are
//! no longer tracked. Each is a typed error, a counted no-op or a visible client error:
//! never a panic, never a silent hang.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn an_unreachable_broker_shows_in_stats_and_stop_still_answers() {
    init();
    // Port 1 on loopback: nothing listens there, every connection is refused.
    let config = ConsumerConfig::new("127.0.0.1:1", unique("group"))
        .topics(["nowhere"])
        .property("reconnect.backoff.max.ms", "200");
    let ledger = Ledger::default();
    let consumer = start(&ledger, config, |_| Action::Ack).consumer;
    // librdkafka reports the refused connection twice: to the error callback with the
    // address, and to the poll loop as a bare code. Stats keep the one that names it.
    let stats = stats_until(&consumer, Duration::from_secs(30), |s| {
        s.last_client_error
            .as_deref()
            .is_some_and(|e| e.contains("127.0.0.1:1"))
    })
    .await;
    report(&format!(
        "unreachable: client_errors={} last={:?}",
        stats.client_errors, stats.last_client_error
    ));
    assert!(stats.client_errors > 0);
    let last = tokio::time::timeout(Duration::from_secs(30), consumer.send(Stop))
        .await
        .expect("stop answers without a broker")
        .unwrap()
        .expect("nothing to commit, so the stop succeeds");
    assert_eq!(last.received, 0);
    assert!(last.partitions.is_empty());
}

#[actix::test]
async fn a_topic_created_after_subscribing_is_read_once_it_exists() {
    let broker = broker();
    let name = unique("later");
    let ledger = Ledger::default();
    let consumer = start(&ledger, config(&broker, &name), |_| Action::Ack).consumer;
    if consumer_protocol() {
        // The broker matches subscriptions by name (KIP-848): librdkafka reports nothing
        // for a topic that does not exist yet, so there is no error to wait for.
        report("consumer protocol: a missing topic raises no client error (not asserted)");
    } else {
        // librdkafka reports the missing topic as a consumer error and keeps subscribed.
        let stats = stats_until(&consumer, Duration::from_secs(30), |s| s.client_errors > 0).await;
        report(&format!(
            "missing topic: last={}",
            stats.last_client_error.clone().unwrap_or_default()
        ));
        assert_eq!(stats.received, 0);
    }

    broker.create_topic(&name, 2).await.expect("create topic");
    produce(&broker, &name, 2, 0, 20).await;
    ledger.wait_for(20, Duration::from_secs(60)).await;
    let last = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(last.committed(&name, 0), Some(10));
    assert_eq!(last.committed(&name, 1), Some(10));
    assert!(ledger.counts().values().all(|&n| n == 1));
}

#[actix::test]
async fn subscribing_twice_to_the_same_topic_delivers_each_record_once() {
    let broker = broker();
    let topic = topic(&broker, "twice", 2).await;
    let ledger = Ledger::default();
    let consumer = start(&ledger, config(&broker, &topic), |_| Action::Ack).consumer;
    consumer
        .send(Subscribe(vec![topic.clone()]))
        .await
        .unwrap()
        .expect("subscribing again replaces the subscription");
    produce(&broker, &topic, 2, 0, 40).await;
    ledger.wait_for(40, Duration::from_secs(60)).await;
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.received, 40);
    assert_eq!(ledger.entries().len(), 40);
    assert!(ledger.counts().values().all(|&n| n == 1));
}

#[actix::test]
async fn stopping_twice_answers_both_and_later_commands_fail_cleanly() {
    let broker = broker();
    let topic = topic(&broker, "stop-twice", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;
    let ledger = Ledger::default();
    let consumer = start(&ledger, config(&broker, &topic), |_| Action::Ack).consumer;
    ledger.wait_for(10, Duration::from_secs(30)).await;

    let (first, second) = tokio::join!(consumer.send(Stop), consumer.send(Stop));
    let (first, second) = (first.unwrap().unwrap(), second.unwrap().unwrap());
    assert_eq!(first.committed(&topic, 0), Some(10));
    assert_eq!(first, second, "both stops see the same final stats");

    // The actor is gone: its address says so, and a command is a mailbox error, not a
    // panic or a hang.
    assert!(!consumer.connected());
    assert!(matches!(
        consumer.send(Stop).await,
        Err(MailboxError::Closed)
    ));
    assert!(matches!(
        consumer.send(Subscribe(vec![topic.clone()])).await,
        Err(MailboxError::Closed)
    ));
}

#[actix::test]
async fn commands_during_a_stop_are_refused_with_stopped() {
    let broker = broker();
    let topic = topic(&broker, "during-stop", 1).await;
    produce(&broker, &topic, 1, 0, 3).await;
    let ledger = Ledger::default();
    // One record is held, so the stop waits for its deadline.
    let config = config(&broker, &topic).ack_timeout(Duration::from_secs(2));
    let consumer = start(&ledger, config, |r| {
        if r.offset() == 0 {
            Action::Hold
        } else {
            Action::Ack
        }
    })
    .consumer;
    ledger.wait_for(2, Duration::from_secs(30)).await;
    let stopping = consumer.send(Stop);
    let subscribe = consumer.send(Subscribe(vec![topic.clone()])).await.unwrap();
    assert!(matches!(subscribe, Err(GigError::Stopped)), "{subscribe:?}");
    let unsubscribe = consumer.send(Unsubscribe).await.unwrap();
    assert!(matches!(unsubscribe, Err(GigError::Stopped)));
    let stats = stopping.await.unwrap().unwrap();
    assert_eq!(
        stats.timed_out, 1,
        "the held record timed out during the stop"
    );
    assert_eq!(stats.committed(&topic, 0), Some(3));
}

#[actix::test]
async fn answers_for_released_records_are_counted_and_change_nothing() {
    let broker = broker();
    let topic = topic(&broker, "released", 1).await;
    produce(&broker, &topic, 1, 0, 5).await;
    let ledger = Ledger::default();
    let config = config(&broker, &topic).ack_timeout(Duration::from_secs(1));
    let Started {
        consumer,
        downstream,
        ..
    } = start(&ledger, config, |_| Action::Hold);
    ledger.wait_for(5, Duration::from_secs(30)).await;
    assert_eq!(ledger.no_acked().len(), 5, "all five timed out");

    // The partition is released, so its records are no longer tracked at all.
    consumer.send(Unsubscribe).await.unwrap().unwrap();
    stats_until(&consumer, Duration::from_secs(30), |s| {
        s.assignment.is_empty() && s.committed(&topic, 0) == Some(5)
    })
    .await;
    assert_eq!(downstream.send(Release(Verdict::Ack)).await.unwrap(), 5);
    let stats = stats_until(&consumer, Duration::from_secs(10), |s| {
        s.late_answers + s.unknown_answers == 5
    })
    .await;
    assert_eq!(
        stats.acked, 0,
        "a late ack does not turn a timeout into an ack"
    );
    assert_eq!(ledger.entries().len(), 5, "nothing handed over twice");
    consumer.send(Stop).await.unwrap().unwrap();
}
