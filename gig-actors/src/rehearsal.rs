//! A rehearsal: your downstream, AckedActor and NoAckedActor run with Gig's ack timers and
//! routing, fed by records you make, with no broker.
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
//! /// Never answers.
//! struct Silent;
//! impl Actor for Silent { type Context = Context<Self>; }
//! impl Handler<Delivery> for Silent {
//!     type Result = ();
//!     fn handle(&mut self, _: Delivery, _: &mut Context<Self>) {}
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
//!     let rehearsal = Rehearsal::new(&config, Silent.start().recipient(),
//!         outcomes.clone().recipient(), outcomes.recipient()).start();
//!     rehearsal.do_send(Feed(vec![record("orders", 0, 0, "hello")]));
//!     let stats = rehearsal.send(Settle).await.unwrap();
//!     assert_eq!(stats.timed_out, 1); // after 3 s of tokio time, in no real time
//! }
//! ```

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use gig_core::{AckBook, AckResult, ConsumerConfig, NoAckReason, Record, RecordData, Token};
use log::debug;

use crate::delivery::{own_timeout, AckHandle, AckMsg, Delivery, Verdict};
use crate::outcome::{Acked, HandOver, NoAcked, NoAckedRecord};
use crate::stats::Stats;

/// How long a refused hand-over waits before it is offered again (tokio time).
const RETRY_AFTER: Duration = Duration::from_millis(100);

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

/// A consumer without Kafka: delivers fed records, keeps their deadlines on tokio's clock,
/// and routes acks, nacks and timeouts to the outcome actors as `ConsumerActor` does.
pub struct Rehearsal {
    book: AckBook,
    /// For its ack timeout and ack-timeout header.
    config: ConsumerConfig,
    downstream: Recipient<Delivery>,
    acked: Recipient<Acked>,
    no_acked: Recipient<NoAcked>,
    stats: Stats,
    timer: Option<SpawnHandle>,
    settling: Vec<tokio::sync::oneshot::Sender<Stats>>,
}

impl Rehearsal {
    /// A rehearsal with `config`'s ack timeout and ack-timeout header; its other settings
    /// (brokers, topics, commits) have no part in it.
    pub fn new(
        config: &ConsumerConfig,
        downstream: Recipient<Delivery>,
        acked: Recipient<Acked>,
        no_acked: Recipient<NoAcked>,
    ) -> Self {
        Rehearsal {
            book: AckBook::new(),
            config: config.clone(),
            downstream,
            acked,
            no_acked,
            stats: Stats::default(),
            timer: None,
            settling: Vec::new(),
        }
    }

    /// The deadline clock: tokio's, so that a paused clock pauses the deadlines too.
    fn now() -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }

    fn answer(&mut self, token: Token, verdict: Verdict, ctx: &mut Context<Self>) {
        match (self.book.route(token), verdict) {
            (AckResult::Routed(record), Verdict::Ack) => {
                self.stats.acked += 1;
                let acked = Acked {
                    records: vec![record],
                };
                self.hand_over(HandOver::Acked(vec![token], acked), ctx);
            }
            (AckResult::Routed(record), Verdict::Nack(why)) => {
                self.stats.nacked += 1;
                let reason = NoAckReason::Nacked(why);
                let failed = NoAcked {
                    records: vec![NoAckedRecord { record, reason }],
                };
                self.hand_over(HandOver::NoAcked(vec![token], failed), ctx);
            }
            (AckResult::Late, _) => self.stats.late_answers += 1,
            (AckResult::Unknown, _) => self.stats.unknown_answers += 1,
        }
    }

    fn expire(&mut self, ctx: &mut Context<Self>) {
        let expired = self.book.expire(Self::now());
        if expired.is_empty() {
            return;
        }
        self.stats.timed_out += expired.len() as u64;
        let (tokens, records) = expired
            .into_iter()
            .map(|(token, record, deadline)| {
                let after = self.config.ack_timeout_of(&record);
                let reason = NoAckReason::TimedOut { after, deadline };
                (token, NoAckedRecord { record, reason })
            })
            .unzip();
        self.hand_over(HandOver::NoAcked(tokens, NoAcked { records }), ctx);
    }

    /// Offers a batch until its outcome actor accepts it, then marks it handed over.
    fn hand_over(&mut self, batch: HandOver, ctx: &mut Context<Self>) {
        let request = batch.send(&self.acked, &self.no_acked);
        ctx.spawn(request.into_actor(self).map(move |result, act, ctx| {
            let Err(why) = result else {
                for &token in batch.tokens() {
                    act.book.handed_over(token);
                }
                act.stats.handed_over += batch.tokens().len() as u64;
                act.settle_if_done();
                return;
            };
            act.stats.handover_failures += 1;
            debug!("rehearsal: {why}; offered again in {RETRY_AFTER:?}");
            ctx.run_later(RETRY_AFTER, move |act, ctx| act.hand_over(batch, ctx));
        }));
    }

    fn snapshot(&self) -> Stats {
        Stats {
            in_flight: self.book.unresolved() as u64,
            ..self.stats.clone()
        }
    }

    fn settle_if_done(&mut self) {
        if self.book.unresolved() == 0 {
            let stats = self.snapshot();
            for waiter in self.settling.drain(..) {
                let _ = waiter.send(stats.clone());
            }
        }
    }

    /// Wakes at the next deadline (tokio time), replacing an earlier wake-up.
    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        if let Some(next) = self.book.next_deadline() {
            let wait = next.saturating_duration_since(Self::now());
            self.timer = Some(ctx.run_later(wait, |act, ctx| {
                act.timer = None;
                act.expire(ctx);
                act.arm_timer(ctx);
            }));
        }
    }
}

impl Actor for Rehearsal {
    type Context = Context<Self>;
}

impl Handler<Feed> for Rehearsal {
    type Result = ();

    fn handle(&mut self, Feed(records): Feed, ctx: &mut Context<Self>) {
        let me = ctx.address();
        let now = Self::now();
        for record in records {
            let own = own_timeout(&self.config, &record);
            let deadline = now + own.unwrap_or(self.config.ack_timeout);
            let token = match own {
                Some(_) => self.book.track_custom(record.clone(), deadline),
                None => self.book.track(record.clone(), deadline),
            };
            let Some(token) = token else {
                self.stats.discarded += 1;
                continue;
            };
            self.stats.received += 1;
            let handle = AckHandle::new(token, deadline, me.clone());
            self.downstream.do_send(Delivery::new(record, handle));
        }
        self.arm_timer(ctx);
    }
}

impl Handler<AckMsg> for Rehearsal {
    type Result = ();

    fn handle(&mut self, answer: AckMsg, ctx: &mut Context<Self>) {
        match answer {
            AckMsg::One(token, verdict) => self.answer(token, verdict, ctx),
            AckMsg::All(tokens, verdict) => {
                for token in tokens {
                    self.answer(token, verdict.clone(), ctx);
                }
            }
            AckMsg::Each(answers) => {
                for (token, verdict) in answers {
                    self.answer(token, verdict, ctx);
                }
            }
        }
        self.arm_timer(ctx);
    }
}

impl Handler<Settle> for Rehearsal {
    type Result = ResponseFuture<Stats>;

    fn handle(&mut self, _: Settle, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.settling.push(tx);
        self.settle_if_done();
        let fallback = self.snapshot();
        Box::pin(async move { rx.await.unwrap_or(fallback) })
    }
}
