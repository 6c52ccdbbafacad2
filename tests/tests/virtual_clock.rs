//! The rehearsal (`gig_actors::rehearsal`) under tokio's paused clock: user actors' timeout
//! paths are tested with no broker and no waiting. A 3 s ack timeout passes in tokio time
//! while the test takes milliseconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::rehearsal::{record, Feed, Rehearsal, Settle};
use gig_core::{Header, RecordData};
use tokio::time::Instant;

/// Acks payload "ok" at once, nacks "bad", acks "slow" after 5 s, gives up at once on
/// "hopeless" (5 s of work that cannot finish before its deadline), and ignores the rest.
struct Downstream;

impl Actor for Downstream {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Downstream {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        match delivery.record.payload_str().unwrap_or_default() {
            "ok" => delivery.ack(),
            "bad" => delivery.nack("bad input"),
            "hopeless" => {
                let left = Instant::from_std(delivery.deadline()) - Instant::now();
                if left < Duration::from_secs(5) {
                    delivery.nack(format!("5 s of work, {} ms left", left.as_millis()));
                }
            }
            "slow" => {
                let (_, handle) = delivery.into_parts();
                ctx.run_later(Duration::from_secs(5), move |_, _| handle.ack());
            }
            _ => {}
        }
    }
}

/// What reached the outcome actors: (offset, reason or None for acked, tokio time).
type Seen = Arc<Mutex<Vec<(i64, Option<String>, Instant)>>>;

/// An Acked and NoAcked actor that refuses its first `refuse` batches.
struct Outcomes {
    seen: Seen,
    refuse: usize,
}

impl Actor for Outcomes {
    type Context = Context<Self>;
}

impl Outcomes {
    fn take(&mut self, batch: Vec<(i64, Option<String>)>) -> Result<(), HandOverError> {
        if self.refuse > 0 {
            self.refuse -= 1;
            return Err(HandOverError("not now".into()));
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        seen.extend(batch.into_iter().map(|(o, r)| (o, r, now)));
        Ok(())
    }
}

impl Handler<Acked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        self.take(m.records.iter().map(|r| (r.offset(), None)).collect())
    }
}

impl Handler<NoAcked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let batch = m.records.iter();
        self.take(
            batch
                .map(|r| (r.record.offset(), Some(r.reason.to_string())))
                .collect(),
        )
    }
}

fn rehearsal(config: &ConsumerConfig, refuse: usize) -> (Addr<Rehearsal>, Seen) {
    let seen = Seen::default();
    let outcomes = Outcomes {
        seen: seen.clone(),
        refuse,
    }
    .start();
    let rehearsal = Rehearsal::new(
        config,
        Downstream.start().recipient(),
        outcomes.clone().recipient(),
        outcomes.recipient(),
    )
    .start();
    (rehearsal, seen)
}

fn config() -> ConsumerConfig {
    ConsumerConfig::new("unused", "unused").ack_timeout(Duration::from_secs(3))
}

fn outcome_of(seen: &Seen, offset: i64) -> (Option<String>, Instant) {
    let seen = seen.lock().unwrap();
    let (_, reason, at) = seen.iter().find(|(o, _, _)| *o == offset).unwrap();
    (reason.clone(), *at)
}

/// tokio's timers round up to the next millisecond: a deadline is met within a few.
fn assert_near(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected && elapsed <= expected + Duration::from_millis(5),
        "{elapsed:?}, expected {expected:?}"
    );
}

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
        let mut data: RecordData = record("orders", 0, offset, "silent").data().clone();
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
