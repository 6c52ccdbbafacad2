//! A rehearsal: your downstream, AckedActor and NoAckedActor run with Gig's ack timers and
//! routing, fed by records you make, with no broker.
//!
//! It drives the same record pipeline as [`ConsumerActor`](crate::ConsumerActor) (its
//! routing, key ordering, batching, typed decoding and hand-over), with tokio's clock and a
//! mailbox of [`Feed`] instead of Kafka. [`Rehearsal::new`] takes a per-record downstream;
//! for a batch or typed downstream, or key ordering, build it like a consumer and finish
//! with [`ConsumerBuilder::rehearsal`](crate::ConsumerBuilder::rehearsal).
//!
//! Built from a transactional config, with outcome actors that answer with outputs, it
//! commits each transaction the moment it is planned: `Stats` then counts the outputs
//! (`outputs`, `outputs_committed`).
//!
//! Its clock is tokio's, so under a paused clock (`tokio::time::pause()`, or
//! `#[tokio::test(start_paused = true)]`) a record that times out after 3 s reaches the
//! NoAckedActor in a test that takes milliseconds: tokio advances the clock whenever every
//! task is waiting on a timer. Handles carry deadlines on that clock: compare them with
//! `tokio::time::Instant::from_std(deadline)`, not with `std::time::Instant::now()`.
//!
//! ```
//! use std::time::Duration;
//! use actix::prelude::*;
//! use gig_actors::prelude::*;
//! use gig_actors::rehearsal::{record, Feed, Rehearsal, Settle};
//!
//! /// Never answers: keeps each delivery (one it dropped would go to NoAcked at once).
//! #[derive(Default)]
//! struct Silent(Vec<Delivery>);
//! impl Actor for Silent { type Context = Context<Self>; }
//! impl Handler<Delivery> for Silent {
//!     type Result = ();
//!     fn handle(&mut self, d: Delivery, _: &mut Context<Self>) { self.0.push(d) }
//! }
//!
//! /// Prints what reaches it.
//! struct Outcomes;
//! impl Actor for Outcomes { type Context = Context<Self>; }
//! impl Handler<Acked> for Outcomes {
//!     type Result = Result<(), HandOverError>;
//!     fn handle(&mut self, _: Acked, _: &mut Context<Self>) -> Self::Result { Ok(()) }
//! }
//! impl Handler<NoAcked> for Outcomes {
//!     type Result = Result<(), HandOverError>;
//!     fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
//!         for r in m.records { println!("{}: {}", r.record, r.reason); }
//!         Ok(())
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() {
//!     tokio::time::pause();
//!     let outcomes = Outcomes.start();
//!     let config = ConsumerConfig::new("unused", "unused").ack_timeout(Duration::from_secs(3));
//!     let rehearsal = Rehearsal::new(&config, Silent::default().start().recipient(),
//!         outcomes.clone().recipient(), outcomes.recipient()).unwrap().start();
//!     rehearsal.do_send(Feed(vec![record("orders", 0, 0, "hello")]));
//!     let stats = rehearsal.send(Settle).await.unwrap();
//!     assert_eq!(stats.timed_out, 1); // after 3 s of tokio time, in no real time
//! }
//! ```

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use gig_core::{CommitPlan, ConsumerConfig, Record, RecordData, TransactionResult};
use tokio::sync::oneshot;

use crate::delivery::Delivery;
use crate::downstream::Downstream;
use crate::driver::{self, Driver, Drives, Wiring};
use crate::error::GigError;
use crate::outcome::{Acked, AckedRecipient, NoAcked, NoAckedRecipient, OutcomeActors};
use crate::stats::Stats;
use crate::supervisor::outcome::OutcomeActor;

/// Records to deliver, as if fetched now. Records of a partition must come in offset
/// order; one at or below an offset already fed is discarded, as a refetch would be.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Feed(pub Vec<Record>);

/// Answers with the stats once every record fed so far is handed over (accepted by the
/// Acked or NoAcked actor).
#[derive(Debug, Message)]
#[rtype(result = "Stats")]
pub struct Settle;

/// A record for a [`Feed`]: no key, no headers, no timestamp.
pub fn record(topic: &str, partition: i32, offset: i64, payload: impl Into<Vec<u8>>) -> Record {
    Record::new(RecordData {
        topic: Arc::from(topic),
        partition,
        offset,
        key: None,
        payload: Some(payload.into()),
        headers: Vec::new(),
        timestamp_ms: None,
    })
}

/// A consumer without Kafka: the consumer's record pipeline, fed by [`Feed`], with its
/// deadlines on tokio's clock.
pub struct Rehearsal {
    driver: Driver,
    settling: Vec<oneshot::Sender<Stats>>,
}

impl Rehearsal {
    /// A rehearsal delivering one [`Delivery`] per record, with `config`'s ack timeouts,
    /// key ordering and batch sizes; its Kafka settings (brokers, topics, commits) have no
    /// part in it. A config that does not validate is refused, as by the consumer's builder.
    pub fn new(
        config: &ConsumerConfig,
        downstream: Recipient<Delivery>,
        acked: Recipient<Acked>,
        no_acked: Recipient<NoAcked>,
    ) -> Result<Self, GigError> {
        let wiring = Wiring {
            downstream: Downstream::Records(downstream),
            outcomes: OutcomeActors {
                acked: AckedRecipient::Accepts(OutcomeActor::Fixed(acked)),
                no_acked: NoAckedRecipient::Accepts(OutcomeActor::Fixed(no_acked)),
            },
            restarts: gig_core::RestartPolicy::default(),
        };
        Self::wired(config, wiring)
    }

    pub(crate) fn wired(config: &ConsumerConfig, wiring: Wiring) -> Result<Self, GigError> {
        let mut driver = Driver::new(config, wiring)?;
        // No group to keep crash markers in: a rehearsal cannot crash-loop anyway.
        driver.pipeline.disable_crash_guard();
        Ok(Rehearsal {
            driver,
            settling: Vec::new(),
        })
    }

    fn settle_if_done(&mut self) {
        if self.driver.pipeline.unresolved() == 0 {
            let stats = Stats::of(&self.driver.pipeline, Self::now());
            for waiter in self.settling.drain(..) {
                let _ = waiter.send(stats.clone());
            }
        }
    }
}

impl Actor for Rehearsal {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        driver::start(self, ctx);
    }
}

impl Drives for Rehearsal {
    fn driver(&mut self) -> &mut Driver {
        &mut self.driver
    }

    /// tokio's clock, so that a paused clock pauses the deadlines too.
    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn progressed(&mut self, _: &mut Context<Self>) {
        // With no broker, a transaction commits the moment it is planned.
        let pipeline = &mut self.driver.pipeline;
        while let Some(CommitPlan::Transaction(txn)) = pipeline.take_commit() {
            pipeline.handle_transaction(txn, TransactionResult::Committed);
        }
        self.settle_if_done();
    }
}

impl Handler<Feed> for Rehearsal {
    type Result = ();

    fn handle(&mut self, Feed(records): Feed, ctx: &mut Context<Self>) {
        driver::fetched(self, records, ctx);
    }
}

impl Handler<Settle> for Rehearsal {
    type Result = ResponseFuture<Stats>;

    fn handle(&mut self, _: Settle, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.settling.push(tx);
        self.settle_if_done();
        let fallback = Stats::of(&self.driver.pipeline, Self::now());
        Box::pin(async move { rx.await.unwrap_or(fallback) })
    }
}

/// The counters now, settled or not (as [`GetStats`](crate::GetStats) asks a consumer).
impl Handler<crate::GetStats> for Rehearsal {
    type Result = MessageResult<crate::GetStats>;

    fn handle(&mut self, _: crate::GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Stats::of(&self.driver.pipeline, Self::now()))
    }
}

driver::driver_handlers!(Rehearsal);
