//! Acked records reach the AckedActor; nacked ones reach the NoAckedActor at once, with
//! their reason, and so do deliveries dropped unanswered; nothing is delivered to the
//! downstream twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn acked_records_reach_the_acked_actor_and_nacked_ones_no_acked_with_reason() {
    let broker = broker();
    let topic = topic(&broker, "routing", 2).await;
    produce(&broker, &topic, 2, 0, 40).await;

    let ledger = Ledger::default();
    let (downstream, delivered) = Scripted::new(|r| {
        if r.offset() % 4 == 0 {
            Action::Nack(format!("bad {}", r.payload_str().unwrap_or("")))
        } else {
            Action::Ack
        }
    });
    // A long ack timeout: a nack must not wait for it.
    let config = config(&broker, &topic).ack_timeout(Duration::from_secs(60));
    let consumer = ledger.consumer(config, downstream.start().recipient());

    ledger.wait_for(40, Duration::from_secs(30)).await;
    let no_acked = ledger.no_acked();
    assert_eq!(no_acked.len(), 10, "offsets 0,4,8,12,16 of each partition");
    for e in &no_acked {
        assert_eq!(e.offset % 4, 0);
        assert_eq!(
            e.reason.as_deref(),
            Some(format!("nacked: bad {}", e.payload).as_str())
        );
    }
    assert_eq!(ledger.acked().len(), 30);
    assert!(
        ledger.counts().values().all(|&n| n == 1),
        "each record handed over once"
    );
    assert_eq!(
        delivered.lock().unwrap().len(),
        40,
        "each record delivered once"
    );

    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!((stats.acked, stats.nacked, stats.timed_out), (30, 10, 0));
    assert_eq!(stats.committed(&topic, 0), Some(20));
    assert_eq!(stats.committed(&topic, 1), Some(20));
}

#[actix::test]
async fn answers_after_async_work_are_routed() {
    let broker = broker();
    let topic = topic(&broker, "async-ack", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;

    let ledger = Ledger::default();
    let (downstream, delivered) = Scripted::new(|_| Action::Hold);
    let downstream = downstream.start();
    let consumer = ledger.consumer(config(&broker, &topic), downstream.clone().recipient());

    delivered_until(&delivered, 10, Duration::from_secs(30)).await;
    assert!(
        ledger.entries().is_empty(),
        "nothing is routed before an answer"
    );
    assert_eq!(downstream.send(Release(Verdict::Ack)).await.unwrap(), 10);
    ledger.wait_for(10, Duration::from_secs(10)).await;
    assert_eq!(ledger.acked().len(), 10);
    consumer.send(Stop).await.unwrap().unwrap();
}

/// Drops every delivery unanswered, noting when.
struct Dropper(Arc<Mutex<BTreeMap<i64, Instant>>>);

impl Actor for Dropper {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Dropper {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        let offset = delivery.record.offset();
        drop(delivery);
        self.0.lock().unwrap().insert(offset, Instant::now());
    }
}

#[actix::test]
async fn a_delivery_dropped_unanswered_reaches_no_acked_at_once_as_dropped() {
    let broker = broker();
    let topic = topic(&broker, "dropped", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;

    let ledger = Ledger::default();
    let dropped = Arc::new(Mutex::new(BTreeMap::new()));
    // An hour: only the drop, not the deadline, can bring them to NoAcked during the test.
    let config = config(&broker, &topic).ack_timeout(Duration::from_secs(3600));
    let consumer = ledger.consumer(config, Dropper(dropped.clone()).start().recipient());
    ledger.wait_for(10, Duration::from_secs(30)).await;

    // Each reached NoAcked because it was dropped: after its drop, an hour before its deadline.
    let dropped = dropped.lock().unwrap().clone();
    for e in ledger.entries() {
        assert_eq!(e.reason.as_deref(), Some("dropped unanswered"), "{e:?}");
        assert!(e.at >= dropped[&e.offset], "offset {}", e.offset);
    }
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!((stats.dropped, stats.timed_out), (10, 0));
    assert_eq!(stats.committed(&topic, 0), Some(10));
}

#[actix::test]
async fn a_stopped_downstream_given_as_an_address_leaves_its_records_uncommitted() {
    let broker = broker();
    let topic = topic(&broker, "gone", 1).await;
    produce(&broker, &topic, 1, 0, 5).await;

    let ledger = Ledger::default();
    let gone = Gone.start();
    stopped(&gone).await;
    let recipient = gone.recipient();
    let config = config(&broker, &topic).ack_timeout(Duration::from_secs(1));
    let consumer = ledger.consumer(config, recipient);

    let health = health_until(&consumer, Duration::from_secs(60), |h| !h.live).await;
    let reason = health.reason.unwrap_or_default();
    assert!(reason.contains("downstream actor is gone"), "{reason}");
    // Fetching stopped with the downstream: whatever it had fetched stays in flight.
    let stats = consumer.send(GetStats).await.unwrap();
    assert!(stats.paused, "{stats:?}");
    assert_eq!((stats.in_flight, stats.no_acked()), (stats.received, 0));
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.no_acked(), 0, "nothing timed out: {stats:?}");
    assert!(ledger.entries().is_empty());
    assert_eq!(stats.committed(&topic, 0), None);
}

/// A downstream that stops as soon as it starts.
struct Gone;

impl Actor for Gone {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Delivery> for Gone {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        delivery.ack();
    }
}

/// Waits until the actor has stopped (its mailbox is closed).
async fn stopped(addr: &Addr<Gone>) {
    while addr.connected() {
        tokio::task::yield_now().await;
    }
}
