//! The scripted downstream and outcome actors of the rehearsal tests
//! (tests/virtual_clock.rs), which run under tokio's paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::rehearsal::Rehearsal;
use tokio::time::Instant;

/// Acks payload "ok" at once, nacks "bad", acks "slow" after 5 s, gives up at once on
/// "hopeless" (5 s of work that cannot finish before its deadline), drops "drop"
/// unanswered, and keeps the rest unanswered.
#[derive(Default)]
pub struct Downstream(pub Vec<Delivery>);

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
            "drop" => {}
            _ => self.0.push(delivery),
        }
    }
}

/// What reached the outcome actors: (offset, reason or None for acked, tokio time).
pub type Seen = Arc<Mutex<Vec<(i64, Option<String>, Instant)>>>;

/// An Acked and NoAcked actor that refuses its first `refuse` batches.
pub struct Outcomes {
    pub seen: Seen,
    pub refuse: usize,
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

/// An outcome actor for both outcomes that keeps what it accepts.
pub fn outcomes(refuse: usize) -> (Addr<Outcomes>, Seen) {
    let seen = Seen::default();
    let outcomes = Outcomes {
        seen: seen.clone(),
        refuse,
    }
    .start();
    (outcomes, seen)
}

pub fn rehearsal(config: &ConsumerConfig, refuse: usize) -> (Addr<Rehearsal>, Seen) {
    let (outcomes, seen) = outcomes(refuse);
    let rehearsal = Rehearsal::new(
        config,
        Downstream::default().start().recipient(),
        outcomes.clone().recipient(),
        outcomes.recipient(),
    )
    .expect("a valid config")
    .start();
    (rehearsal, seen)
}

pub fn config() -> ConsumerConfig {
    ConsumerConfig::new("unused", "unused").ack_timeout(Duration::from_secs(3))
}

pub fn outcome_of(seen: &Seen, offset: i64) -> (Option<String>, Instant) {
    let seen = seen.lock().unwrap();
    let (_, reason, at) = seen.iter().find(|(o, _, _)| *o == offset).unwrap();
    (reason.clone(), *at)
}

/// tokio's timers round up to the next millisecond: a deadline is met within a few.
pub fn assert_near(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected && elapsed <= expected + Duration::from_millis(5),
        "{elapsed:?}, expected {expected:?}"
    );
}
