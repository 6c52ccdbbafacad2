//! Failures of the user's actors, given as addresses (supervision.rs has them given as
//! factories, which Gig starts again).
//!
//! - The downstream panics: Gig cannot start it again, so it stops delivering and fetching,
//!   its `Health` is not live and says why, and nothing goes to the NoAckedActor: the
//!   records it held, had queued or would have got stay uncommitted, and the next member of
//!   the group reads them.
//! - The downstream's mailbox is full: Gig delivers with `do_send`, which does not wait for
//!   mailbox capacity, so a small mailbox blocks nothing; memory is bounded by
//!   `max_in_flight` instead.
//! - The AckedActor stops: Gig offers the hand-over again (back-off up to 5 s), logs an error
//!   each time, and never commits past a record no handler accepted. A stop gives up after
//!   `ack_timeout` + 5 s and commits only what was accepted; the next consumer in the group
//!   reads the rest again.
//!
//! The panics below print a backtrace line to the test output: that is expected.

use std::collections::BTreeSet;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

/// Acks records below `panic_at` and panics on that offset.
struct Panicky {
    panic_at: i64,
}

impl Actor for Panicky {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Panicky {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        if delivery.record.offset() == self.panic_at {
            panic!("downstream bug at offset {}", self.panic_at);
        }
        delivery.ack();
    }
}

#[actix::test]
async fn a_panicking_downstream_given_as_an_address_stalls_the_consumer_and_loses_nothing() {
    let broker = broker();
    let topic = topic(&broker, "panic", 1).await;
    produce(&broker, &topic, 1, 0, 30).await;
    let group = unique("panic-group");

    let ledger = Ledger::default();
    // On its own arbiter, as a CPU-bound downstream would be.
    let arbiter = Arbiter::new();
    let downstream = Panicky::start_in_arbiter(&arbiter.handle(), |_| Panicky { panic_at: 10 });
    // A short ack timeout: a dead downstream's records must not time out all the same.
    let mut first = config(&broker, &topic).ack_timeout(Duration::from_secs(1));
    first = first.group(group.clone());
    let consumer = ledger.consumer(first, downstream.clone().recipient());

    let health = health_until(&consumer, Duration::from_secs(60), |h| !h.live).await;
    let reason = health.reason.unwrap_or_default();
    assert!(reason.contains("downstream actor is gone"), "{reason}");
    assert!(!downstream.connected(), "the panic stopped the downstream");
    ledger.wait_for(10, Duration::from_secs(30)).await;
    produce(&broker, &topic, 1, 30, 10).await;
    // Several ack timeouts later: nothing timed out into the NoAckedActor.
    stats_until(&consumer, Duration::from_secs(30), |s| {
        s.committed(&topic, 0) == Some(10)
    })
    .await;
    // Three ack timeouts, for what must not happen: a timed-out record.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stalled = consumer.send(GetStats).await.unwrap();
    assert_eq!(stalled.no_acked(), 0, "{stalled:?}");
    assert!(stalled.paused, "fetching stops");
    let acked: BTreeSet<i64> = ledger.acked().iter().map(|e| e.offset).collect();
    assert_eq!(
        acked,
        (0..10).collect(),
        "records before the panic were acked"
    );
    assert!(ledger.no_acked().is_empty());
    let stopped = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stopped.committed(&topic, 0), Some(10), "{stopped:?}");
    arbiter.stop();

    // The next member of the group reads the other 30: nothing was lost.
    let mut second = config(&broker, &topic);
    second = second.group(group);
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(second, downstream.start().recipient());
    ledger.wait_for(40, Duration::from_secs(60)).await;
    let offsets: BTreeSet<i64> = ledger.entries().iter().map(|e| e.offset).collect();
    assert_eq!(offsets, (0..40).collect());
    assert!(ledger.counts().values().all(|&n| n == 1));
    assert!(ledger.no_acked().is_empty());
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.committed(&topic, 0), Some(40));
}

/// Acks everything, with a mailbox of one message.
struct Cramped;

impl Actor for Cramped {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1);
    }
}

impl Handler<Delivery> for Cramped {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        delivery.ack();
    }
}

#[actix::test]
async fn a_full_downstream_mailbox_blocks_nothing_and_drops_nothing() {
    let broker = broker();
    let topic = topic(&broker, "cramped", 2).await;
    produce(&broker, &topic, 2, 0, 500).await;
    let ledger = Ledger::default();
    let consumer = ledger.consumer(config(&broker, &topic), Cramped.start().recipient());
    ledger.wait_for(500, Duration::from_secs(30)).await;
    assert_eq!(ledger.acked().len(), 500);
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.committed(&topic, 0), Some(250));
    assert_eq!(stats.committed(&topic, 1), Some(250));
}

/// An AckedActor that passes `left` records on to the ledger, then stops.
struct Fragile {
    ledger: Recipient<Acked>,
    left: usize,
}

impl Actor for Fragile {
    type Context = Context<Self>;
}

impl Handler<Acked> for Fragile {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: Acked, ctx: &mut Context<Self>) -> Self::Result {
        self.left = self.left.saturating_sub(msg.records.len());
        self.ledger.do_send(msg);
        if self.left == 0 {
            ctx.stop();
        }
        Ok(())
    }
}

#[actix::test]
async fn a_stopped_acked_actor_holds_the_commit_and_the_next_consumer_reads_again() {
    let broker = broker();
    let topic = topic(&broker, "fragile", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;
    let group = unique("fragile-group");
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let fragile = Fragile {
        ledger: acked,
        left: 10,
    }
    .start();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let mut first = config(&broker, &topic).ack_timeout(Duration::from_secs(1));
    first = first.group(group.clone());
    let consumer = ConsumerActor::builder(first)
        .downstream(downstream.start().recipient())
        .acked(fragile.clone().recipient())
        .no_acked(no_acked)
        .start()
        .unwrap();
    ledger.wait_for(10, Duration::from_secs(30)).await;
    stats_until(&consumer, Duration::from_secs(30), |s| {
        s.committed(&topic, 0) == Some(10)
    })
    .await;

    // The AckedActor is gone; ten more records are acked but cannot be handed over.
    produce(&broker, &topic, 1, 10, 10).await;
    let stuck = stats_until(&consumer, Duration::from_secs(30), |s| {
        s.acked == 20 && s.handover_failures >= 2
    })
    .await;
    assert!(!fragile.connected());
    assert_eq!(stuck.handed_over, 10);
    assert_eq!(stuck.in_flight, 10, "acked, not accepted: still in flight");
    let stopped = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(
        stopped.committed(&topic, 0),
        Some(10),
        "never committed past a record no handler accepted"
    );
    assert_eq!(ledger.entries().len(), 10);

    // The next member of the group reads the ten again: nothing is lost.
    let mut second = config(&broker, &topic);
    second = second.group(group);
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(second, downstream.start().recipient());
    ledger.wait_for(20, Duration::from_secs(30)).await;
    let offsets: BTreeSet<i64> = ledger.entries().iter().map(|e| e.offset).collect();
    assert_eq!(offsets, (0..20).collect());
    assert!(ledger.counts().values().all(|&n| n == 1));
    consumer.send(Stop).await.unwrap().unwrap();
}
