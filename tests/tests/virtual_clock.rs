//! The rehearsal (`gig_actors::rehearsal`) under tokio's paused clock: user actors' timeout
//! paths are tested with no broker and no waiting. A 3 s ack timeout passes in tokio time
//! while the test takes milliseconds. The rehearsal drives the consumer's own pipeline, so
//! these tests cover its routing too: key ordering, batch mode, typed deliveries, dropped
//! deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::rehearsal::{record, Feed, Rehearsal, Settle};
use gig_core::{Header, RecordData};
use tokio::time::Instant;

use gig_tests::rehearsed::*;

#[actix::test]
async fn a_silent_record_times_out_after_3_s_of_tokio_time_in_no_real_time() {
    tokio::time::pause();
    let (real, virtual_start) = (std::time::Instant::now(), Instant::now());
    let (rehearsal, seen) = rehearsal(&config(), 0);
    let payloads = ["ok", "silent", "bad", "slow", "ok", "hopeless"];
    let records = payloads
        .iter()
        .enumerate()
        .map(|(o, p)| record("orders", 0, o as i64, *p))
        .collect();
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();

    assert_eq!(
        (
            stats.acked,
            stats.nacked,
            stats.timed_out,
            stats.late_answers
        ),
        (2, 2, 2, 0),
        "{stats:?}"
    );
    assert_eq!((stats.handed_over, stats.in_flight), (6, 0));
    assert_eq!(
        outcome_of(&seen, 5).0.as_deref(),
        Some("nacked: 5 s of work, 3000 ms left"),
        "the downstream saw its deadline and gave up early"
    );
    // "slow" is acked at 5 s, after it timed out at 3 s: counted, and nothing changes.
    tokio::time::sleep_until(virtual_start + Duration::from_secs(6)).await;
    let stats = rehearsal.send(Settle).await.unwrap();
    assert_eq!((stats.late_answers, stats.handed_over), (1, 6));
    let (reason, at) = outcome_of(&seen, 1);
    assert_eq!(reason.as_deref(), Some("timed out after 3000 ms"));
    assert_near(at - virtual_start, Duration::from_secs(3));
    assert_eq!(outcome_of(&seen, 2).0.as_deref(), Some("nacked: bad input"));
    assert_eq!(
        outcome_of(&seen, 3).0.as_deref(),
        Some("timed out after 3000 ms")
    );
    assert_eq!(outcome_of(&seen, 0).1, virtual_start, "acked at once");
    assert!(
        real.elapsed() < Duration::from_secs(3),
        "3 s of tokio time took {:?} of real time",
        real.elapsed()
    );
}

#[actix::test]
async fn a_header_timeout_and_a_refused_hand_over_under_the_paused_clock() {
    tokio::time::pause();
    let start = Instant::now();
    let config = config().ack_timeout_header("gig.ack-timeout-ms", Duration::from_secs(60));
    let (rehearsal, seen) = rehearsal(&config, 1);
    let with_header = |offset: i64, ms: &str| {
        let mut data: RecordData = record("orders", 0, offset, "silent").to_data();
        data.headers.push(Header {
            key: "gig.ack-timeout-ms".into(),
            value: Some(ms.as_bytes().to_vec()),
        });
        Record::new(data)
    };
    rehearsal.do_send(Feed(vec![
        with_header(0, "10000"),
        record("orders", 0, 1, "silent"),
        with_header(2, "500"),
    ]));
    let stats = rehearsal.send(Settle).await.unwrap();

    assert_eq!(stats.timed_out, 3);
    assert_eq!(stats.handover_failures, 1, "the first batch was refused");
    let (reason, at) = outcome_of(&seen, 0);
    assert_eq!(reason.as_deref(), Some("timed out after 10000 ms"));
    assert_near(at - start, Duration::from_secs(10));
    assert_near(outcome_of(&seen, 1).1 - start, Duration::from_secs(3));
    // Refused at 500 ms, offered again 100 ms later.
    assert_near(outcome_of(&seen, 2).1 - start, Duration::from_millis(600));
}

/// A record with a key, for key ordering.
fn keyed(offset: i64, key: &str, payload: &str) -> Record {
    let mut data: RecordData = record("orders", 0, offset, payload).to_data();
    data.key = Some(key.as_bytes().to_vec());
    Record::new(data)
}

/// Works 1.5 s (tokio time) on each record, then acks it; notes each delivery: (offset, when).
struct Worker(Arc<Mutex<Vec<(i64, Instant)>>>);

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        let (record, handle) = delivery.into_parts();
        self.0
            .lock()
            .unwrap()
            .push((record.offset(), Instant::now()));
        ctx.run_later(Duration::from_millis(1500), move |_, _| handle.ack());
    }
}

#[actix::test]
async fn key_ordering_in_the_rehearsal_delivers_one_record_per_key_at_a_time() {
    tokio::time::pause();
    let start = Instant::now();
    let deliveries = Arc::new(Mutex::new(Vec::new()));
    let (outcomes, seen) = outcomes(0);
    let rehearsal = ConsumerActor::builder(config().key_ordering(true))
        .downstream(Worker(deliveries.clone()).start().recipient())
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .rehearsal()
        .unwrap()
        .start();
    let records = vec![
        keyed(0, "a", "a0"),
        keyed(1, "a", "a1"),
        keyed(2, "b", "b0"),
        keyed(3, "a", "a2"),
    ];
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();

    assert_eq!(
        (stats.acked, stats.timed_out, stats.queued_by_key),
        (4, 0, 0)
    );
    let at: Vec<(i64, Duration)> = deliveries
        .lock()
        .unwrap()
        .iter()
        .map(|(o, at)| (*o, *at - start))
        .collect();
    let ms = Duration::from_millis;
    // "a" one at a time, each once the previous was acked; "b" alongside the first "a".
    let expected = [(0, ms(0)), (2, ms(0)), (1, ms(1500)), (3, ms(3000))];
    assert_eq!(at.len(), expected.len(), "{at:?}");
    for ((offset, at), (expected_offset, expected_at)) in at.iter().zip(expected) {
        assert_eq!(*offset, expected_offset, "{at:?}");
        assert_near(*at, expected_at);
    }
    // The last "a" was acked at 4.5 s, fed at 0 with a 3 s timeout: its clock started when
    // it was delivered, not when it was fed (else it would have timed out).
    assert_near(outcome_of(&seen, 3).1 - start, ms(4500));
}

/// Keeps its first batch unanswered, acks the second with one message, nacks the odd
/// offsets of the third.
#[derive(Default)]
struct Batches(Vec<DeliveryBatch>);

impl Actor for Batches {
    type Context = Context<Self>;
}

impl Handler<DeliveryBatch> for Batches {
    type Result = ();
    fn handle(&mut self, batch: DeliveryBatch, _: &mut Context<Self>) {
        match batch.records()[0].offset() {
            0 => self.0.push(batch),
            2 => batch.ack_all(),
            _ => batch.answer_each(|r| {
                Some(match r.offset() % 2 {
                    1 => Verdict::Nack("odd".into()),
                    _ => Verdict::Ack,
                })
            }),
        }
    }
}

#[actix::test]
async fn batch_mode_in_the_rehearsal_times_out_a_silent_batch_record_by_record() {
    tokio::time::pause();
    let start = Instant::now();
    let (outcomes, seen) = outcomes(0);
    let rehearsal = ConsumerActor::builder(config())
        .batch_downstream(Batches::default().start().recipient(), 2)
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .rehearsal()
        .unwrap()
        .start();
    let records = (0..6).map(|o| record("orders", 0, o, "x")).collect();
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();

    assert_eq!(
        (stats.acked, stats.nacked, stats.timed_out),
        (3, 1, 2),
        "{stats:?}"
    );
    for offset in [0, 1] {
        let (reason, at) = outcome_of(&seen, offset);
        assert_eq!(reason.as_deref(), Some("timed out after 3000 ms"));
        assert_near(at - start, Duration::from_secs(3));
    }
    assert_eq!(outcome_of(&seen, 5).0.as_deref(), Some("nacked: odd"));
    assert_eq!(outcome_of(&seen, 2), (None, start), "acked at once");
}

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

/// Acks orders with an even id, and keeps the odd ones unanswered.
#[derive(Default)]
struct Orders(Vec<Typed<Order>>);

impl Actor for Orders {
    type Context = Context<Self>;
}

impl Handler<Typed<Order>> for Orders {
    type Result = ();
    fn handle(&mut self, order: Typed<Order>, _: &mut Context<Self>) {
        match order.value.id % 2 {
            0 => order.ack(),
            _ => self.0.push(order),
        }
    }
}

#[actix::test]
async fn typed_deliveries_in_the_rehearsal_decode_or_go_to_no_acked_as_undecodable() {
    tokio::time::pause();
    let start = Instant::now();
    let (outcomes, seen) = outcomes(0);
    let rehearsal = ConsumerActor::builder(config())
        .json_downstream(Orders::default().start().recipient())
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .rehearsal()
        .unwrap()
        .start();
    let payloads = [r#"{"id":2}"#, "not json", r#"{"id":3}"#];
    let records = payloads
        .iter()
        .enumerate()
        .map(|(o, p)| record("orders", 0, o as i64, *p))
        .collect();
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();

    assert_eq!(
        (stats.acked, stats.undecodable, stats.timed_out),
        (1, 1, 1),
        "{stats:?}"
    );
    let (reason, at) = outcome_of(&seen, 1);
    assert!(reason.unwrap().starts_with("undecodable: "));
    assert_eq!(at, start, "at once, never delivered");
    assert_near(outcome_of(&seen, 2).1 - start, Duration::from_secs(3));
}

#[actix::test]
async fn a_dropped_delivery_reaches_no_acked_at_once_not_at_its_deadline() {
    tokio::time::pause();
    let start = Instant::now();
    let (rehearsal, seen) = rehearsal(&config().ack_timeout(Duration::from_secs(3600)), 0);
    rehearsal.do_send(Feed(vec![
        record("orders", 0, 0, "drop"),
        record("orders", 0, 1, "ok"),
    ]));
    let stats = rehearsal.send(Settle).await.unwrap();
    assert_eq!((stats.dropped, stats.acked, stats.timed_out), (1, 1, 0));
    assert_eq!(
        outcome_of(&seen, 0),
        (Some("dropped unanswered".to_string()), start),
        "no tokio time passed"
    );
}

/// Holds every delivery and panics once it holds 100, if `panics` (the first of its
/// instances, for a factory); acks every delivery otherwise.
struct Hoarder {
    held: Vec<Delivery>,
    panics: bool,
}

impl Actor for Hoarder {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Hoarder {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        if !self.panics {
            return delivery.ack();
        }
        self.held.push(delivery);
        if self.held.len() == 100 {
            panic!("downstream bug holding 100 deliveries");
        }
    }
}

/// The rehearsal's stats once `ok` holds of them; the clock is paused, so tokio time is
/// what passes while it waits.
async fn stats_when(rehearsal: &Addr<Rehearsal>, ok: impl Fn(&Stats) -> bool) -> Stats {
    for _ in 0..10_000 {
        let stats = rehearsal.send(GetStats).await.unwrap();
        if ok(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the stats never matched");
}

#[actix::test]
async fn a_supervised_downstream_that_panics_holding_100_deliveries_costs_only_the_one_it_panicked_on(
) {
    tokio::time::pause();
    let instances = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (outcomes, seen) = outcomes(0);
    // An hour: nothing may reach the outcome actors by timing out.
    let config = config().ack_timeout(Duration::from_secs(3600));
    let rehearsal = ConsumerActor::builder(config)
        .downstream_factory({
            let instances = instances.clone();
            move || Hoarder {
                held: Vec::new(),
                panics: instances.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0,
            }
        })
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .rehearsal()
        .unwrap()
        .start();
    let records = (0..100).map(|o| record("orders", 0, o, "x")).collect();
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();

    let counts = (stats.acked, stats.panicked, stats.dropped, stats.timed_out);
    assert_eq!(counts, (99, 1, 0, 0));
    assert_eq!(
        stats.redelivered, 99,
        "the 99 it held went to its next instance"
    );
    assert_eq!(stats.handed_over, 100);
    assert_eq!(stats.supervision.restarts["downstream"], 1);
    let last = &stats.supervision.last_death["downstream"];
    assert_eq!(last, "downstream bug holding 100 deliveries");
    assert_eq!(stats.supervision.stall, None);
    let seen = seen.lock().unwrap();
    let panicked: Vec<_> = seen.iter().filter(|(_, r, _)| r.is_some()).collect();
    assert_eq!(panicked.len(), 1);
    let (offset, reason, _) = panicked[0];
    assert_eq!(*offset, 99, "the record in the handler when it panicked");
    let reason = reason.as_deref().unwrap();
    assert_eq!(reason, "panicked: downstream bug holding 100 deliveries");
    assert_eq!(instances.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[actix::test]
async fn a_downstream_given_as_an_address_that_panics_stalls_and_sends_nothing_to_no_acked() {
    tokio::time::pause();
    let (outcomes, seen) = outcomes(0);
    let config = config().ack_timeout(Duration::from_secs(3));
    let hoarder = Hoarder {
        held: Vec::new(),
        panics: true,
    }
    .start();
    let rehearsal = Rehearsal::new(
        &config,
        hoarder.recipient(),
        outcomes.clone().recipient(),
        outcomes.recipient(),
    )
    .expect("a valid config")
    .start();
    let records = (0..150).map(|o| record("orders", 0, o, "x")).collect();
    rehearsal.do_send(Feed(records));
    let stats = stats_when(&rehearsal, |s| s.supervision.stall.is_some()).await;
    let stall = stats.supervision.stall.clone().unwrap();
    assert!(stall.contains("downstream actor is gone"), "{stall}");
    // Ten times the ack timeout later, nothing has timed out into the dead-letter path: the
    // records wait, uncommitted, for the partition's next owner.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let stats = rehearsal.send(GetStats).await.unwrap();
    assert_eq!(stats.no_acked(), 0, "{stats:?}");
    assert_eq!(stats.in_flight, 150);
    assert!(seen.lock().unwrap().is_empty());
}

/// Acks every record of its batches, but panics on a batch that holds payload "poison".
struct PoisonedBatches;

impl Actor for PoisonedBatches {
    type Context = Context<Self>;
}

impl Handler<DeliveryBatch> for PoisonedBatches {
    type Result = ();
    fn handle(&mut self, batch: DeliveryBatch, _: &mut Context<Self>) {
        if batch
            .records()
            .iter()
            .any(|r| r.payload_str() == Some("poison"))
        {
            panic!("a poisoned batch");
        }
        batch.ack_all();
    }
}

#[actix::test]
async fn a_batch_a_supervised_handler_panics_on_is_tried_again_a_record_at_a_time() {
    tokio::time::pause();
    let (outcomes, seen) = outcomes(0);
    let config = config().ack_timeout(Duration::from_secs(3600));
    let rehearsal = ConsumerActor::builder(config)
        .batch_downstream_factory(|| PoisonedBatches, 10)
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .rehearsal()
        .unwrap()
        .start();
    let payload = |o: i64| if o == 13 { "poison" } else { "x" };
    let records = (0..30)
        .map(|o| record("orders", 0, o, payload(o)))
        .collect();
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();

    // The batch of 10-19 died; its records went again alone, and 13 died alone.
    assert_eq!((stats.acked, stats.panicked), (29, 1));
    assert_eq!(stats.supervision.restarts["downstream"], 2);
    let seen = seen.lock().unwrap();
    let failed: Vec<_> = seen.iter().filter(|(_, r, _)| r.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, 13);
    assert_eq!(failed[0].1.as_deref(), Some("panicked: a poisoned batch"));
}

/// Takes every delivery to answer it 1 s later from a future of its own; the first
/// instance's future for payload "poison" panics instead.
struct Async {
    first: bool,
}

impl Actor for Async {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Async {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        let (record, handle) = delivery.into_parts();
        let poisoned = self.first && record.payload_str() == Some("poison");
        ctx.run_later(Duration::from_secs(1), move |_, _| {
            if poisoned {
                panic!("a future of the downstream panicked");
            }
            handle.ack();
        });
    }
}

#[actix::test]
async fn a_panic_outside_a_delivery_handler_costs_no_record_and_the_held_ones_go_again() {
    tokio::time::pause();
    let (outcomes, _) = outcomes(0);
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let rehearsal = ConsumerActor::builder(config().ack_timeout(Duration::from_secs(3600)))
        .downstream_factory(move || Async {
            first: first.swap(false, std::sync::atomic::Ordering::SeqCst),
        })
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .rehearsal()
        .unwrap()
        .start();
    let payload = |o: i64| if o == 0 { "poison" } else { "x" };
    let records = (0..20)
        .map(|o| record("orders", 0, o, payload(o)))
        .collect();
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();

    // The panic was in no handler of Gig's: no record is charged, all 20 go again.
    assert_eq!((stats.acked, stats.panicked, stats.dropped), (20, 0, 0));
    assert_eq!(stats.redelivered, 20);
    assert_eq!(stats.supervision.restarts["downstream"], 1);
}
