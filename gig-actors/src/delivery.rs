//! What the downstream actor receives, and how it answers.
//!
//! A downstream is any actor that handles [`Delivery`] (or [`DeliveryBatch`] in batch
//! mode). It answers each record once with [`Delivery::ack`] or [`Delivery::nack`], now or
//! later after async work ([`Delivery::into_parts`] keeps the [`AckHandle`]). A record not
//! answered before its deadline goes to the NoAckedActor as timed out; a late answer is
//! counted and ignored. A delivery dropped unanswered (a handler that returns early, a
//! downstream that panics or stops with deliveries in its mailbox) goes to the NoAckedActor
//! at once as [`NoAckReason::Dropped`](gig_core::NoAckReason::Dropped): nothing could
//! answer it any more. Answering never waits: answers join a queue the consumer drains in
//! bulk.
//!
//! # Answering after async work
//!
//! A handler returns at once; the answer may come later from a future that owns the
//! [`AckHandle`]. Gig keeps delivering meanwhile, so the downstream works on many records
//! at once: **its concurrency is bounded by `max_in_flight`** (10,000 by default), the
//! number of records delivered and not yet handed over, not by the downstream's mailbox.
//! Bound it lower yourself (a semaphore, or a smaller `max_in_flight`) when the resource
//! behind it takes fewer.
//!
//! With `ctx.spawn`, when the answer needs the actor's state afterwards (the future runs
//! on the actor's thread, between its messages):
//!
//! ```
//! use actix::prelude::*;
//! use gig_actors::prelude::*;
//!
//! async fn store(payload: Vec<u8>) -> Result<(), String> { Ok(()) }
//!
//! struct Worker { stored: u64 }
//! impl Actor for Worker { type Context = Context<Self>; }
//! impl Handler<Delivery> for Worker {
//!     type Result = ();
//!     fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
//!         let (record, handle) = delivery.into_parts();
//!         let payload = record.payload().map(<[u8]>::to_vec).unwrap_or_default();
//!         ctx.spawn(store(payload).into_actor(self).map(move |result, act, _| match result {
//!             Ok(()) => { act.stored += 1; handle.ack() }
//!             Err(e) => handle.nack(e),
//!         }));
//!     }
//! }
//! ```
//!
//! With a `ResponseFuture`, when the actor's state is not needed (the handler's result is
//! the future; actix polls it beside the actor's next messages):
//!
//! ```
//! # use actix::prelude::*;
//! # use gig_actors::prelude::*;
//! # async fn store(payload: Vec<u8>) -> Result<(), String> { Ok(()) }
//! struct Worker;
//! impl Actor for Worker { type Context = Context<Self>; }
//! impl Handler<Delivery> for Worker {
//!     type Result = ResponseFuture<()>;
//!     fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) -> Self::Result {
//!         let (record, handle) = delivery.into_parts();
//!         let payload = record.payload().map(<[u8]>::to_vec).unwrap_or_default();
//!         Box::pin(async move {
//!             match store(payload).await {
//!                 Ok(()) => handle.ack(),
//!                 Err(e) => handle.nack(e),
//!             }
//!         })
//!     }
//! }
//! ```
//!
//! With `tokio::spawn` (or `actix::spawn`), giving up at the record's deadline: past it the
//! record has gone to the NoAckedActor as timed out, and an answer would only be counted
//! as late. `AckHandle` is `Send`, so the task may run anywhere.
//!
//! ```
//! # use actix::prelude::*;
//! # use gig_actors::prelude::*;
//! # async fn store(payload: Vec<u8>) -> Result<(), String> { Ok(()) }
//! struct Worker;
//! impl Actor for Worker { type Context = Context<Self>; }
//! impl Handler<Delivery> for Worker {
//!     type Result = ();
//!     fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
//!         let (record, handle) = delivery.into_parts();
//!         let payload = record.payload().map(<[u8]>::to_vec).unwrap_or_default();
//!         let deadline = tokio::time::Instant::from_std(handle.deadline());
//!         tokio::spawn(async move {
//!             match tokio::time::timeout_at(deadline, store(payload)).await {
//!                 Ok(Ok(())) => handle.ack(),
//!                 Ok(Err(e)) => handle.nack(e),
//!                 Err(_) => drop(handle), // too late: it already timed out
//!             }
//!         });
//!     }
//! }
//! ```

use std::sync::Arc;
use std::time::Instant;

use actix::Message;
use gig_core::{Record, Token, Verdict};

use crate::answers::{Answer, AnswerQueue};
use crate::trace::DeliverySpan;

/// The right to answer for one delivered record. It answers once: answering consumes it,
/// and dropping it unanswered is an answer too (the record goes to the NoAckedActor as
/// dropped). It is `Send`: answer from any thread or task (see the [module
/// docs](self#answering-after-async-work) for `ctx.spawn`, `ResponseFuture` and
/// `tokio::spawn`).
///
/// ```
/// # use gig_actors::prelude::*;
/// async fn handle_later(delivery: Delivery) {
///     let (record, handle) = delivery.into_parts();
///     if std::time::Instant::now() >= handle.deadline() {
///         return; // dropped: it goes to NoAcked as dropped (or has timed out already)
///     }
///     match record.payload_str() {
///         Some(_) => handle.ack(),
///         None => handle.nack("not UTF-8"),
///     }
/// }
/// ```
#[derive(Debug)]
#[must_use = "an AckHandle dropped unanswered sends its record to the NoAckedActor as dropped"]
pub struct AckHandle {
    token: Token,
    deadline: Instant,
    /// `None` once answered.
    answers: Option<Arc<AnswerQueue>>,
    /// The delivery's span (feature `tracing`; nothing without it).
    span: DeliverySpan,
}

impl AckHandle {
    pub(crate) fn new(
        record: &Record,
        token: Token,
        deadline: Instant,
        answers: Arc<AnswerQueue>,
    ) -> Self {
        AckHandle {
            token,
            deadline,
            answers: Some(answers),
            span: DeliverySpan::new(record),
        }
    }

    /// The delivery's `gig.delivery` span (feature `tracing`), open until the answer:
    /// instrument the work with it. See [`crate::trace`].
    #[cfg(feature = "tracing")]
    pub fn span(&self) -> &tracing::Span {
        self.span.span()
    }

    /// When the record times out if not answered: a downstream doing slow work can give up
    /// early rather than finish work whose outcome is already decided.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Acks the record: it goes to the AckedActor.
    pub fn ack(self) {
        self.answer(Verdict::Ack);
    }

    /// Nacks the record: it goes to the NoAckedActor with this reason, without waiting for
    /// the deadline. It is not redelivered.
    pub fn nack(self, reason: impl Into<String>) {
        self.answer(Verdict::Nack(reason.into()));
    }

    /// Answers with a verdict.
    pub fn answer(mut self, verdict: Verdict) {
        if let Some(answers) = self.answers.take() {
            let outcome = match verdict {
                Verdict::Ack => "ack",
                Verdict::Nack(_) => "nack",
            };
            self.span.answered(outcome);
            answers.push(self.token, Answer::Given(verdict));
        }
    }

    /// Gives up the handle without an answer, for a record Gig routes itself (one that
    /// did not decode).
    pub(crate) fn disarm(mut self) {
        self.answers = None;
    }
}

impl Drop for AckHandle {
    fn drop(&mut self) {
        if let Some(answers) = self.answers.take() {
            self.span.answered("dropped");
            answers.push(self.token, Answer::unanswered());
        }
    }
}

/// One record for the downstream actor (per-record mode). Answer it with [`ack`](Self::ack)
/// or [`nack`](Self::nack), or keep the [`AckHandle`] from [`into_parts`](Self::into_parts)
/// to answer after async work (see the [module docs](self#answering-after-async-work)).
///
/// ```
/// use actix::prelude::*;
/// use gig_actors::prelude::*;
///
/// struct Worker;
/// impl Actor for Worker { type Context = Context<Self>; }
/// impl Handler<Delivery> for Worker {
///     type Result = ();
///     fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
///         match d.record.payload_str() {
///             Some(text) if !text.is_empty() => d.ack(),
///             _ => d.nack("empty or not UTF-8"),
///         }
///     }
/// }
/// ```
#[derive(Debug, Message)]
#[must_use = "a Delivery dropped unanswered sends its record to the NoAckedActor as dropped"]
#[rtype(result = "()")]
pub struct Delivery {
    /// The record, shared with the consumer's ack book (no copy).
    pub record: Record,
    handle: AckHandle,
}

impl Delivery {
    pub(crate) fn new(record: Record, handle: AckHandle) -> Self {
        Delivery { record, handle }
    }

    /// When the record times out if not answered.
    pub fn deadline(&self) -> Instant {
        self.handle.deadline
    }

    /// The delivery's `gig.delivery` span (feature `tracing`); see [`crate::trace`].
    #[cfg(feature = "tracing")]
    pub fn span(&self) -> &tracing::Span {
        self.handle.span()
    }

    /// Acks the record: it goes to the AckedActor.
    pub fn ack(self) {
        self.handle.ack();
    }

    /// Nacks the record with a reason: it goes to the NoAckedActor at once.
    pub fn nack(self, reason: impl Into<String>) {
        self.handle.nack(reason);
    }

    /// Splits the delivery, to answer later (e.g. from a future) with the handle.
    pub fn into_parts(self) -> (Record, AckHandle) {
        (self.record, self.handle)
    }
}

/// Several records for the downstream actor (batch mode), answered together or one by one.
/// Dropped unanswered, each of its records goes to the NoAckedActor as dropped.
#[derive(Debug, Message)]
#[must_use = "a DeliveryBatch dropped unanswered sends its records to the NoAckedActor as dropped"]
#[rtype(result = "()")]
pub struct DeliveryBatch {
    records: Vec<Record>,
    /// The records' tokens; emptied once answered.
    tokens: Vec<Token>,
    deadline: Instant,
    answers: Arc<AnswerQueue>,
}

impl DeliveryBatch {
    pub(crate) fn new(
        records: Vec<Record>,
        tokens: Vec<Token>,
        deadline: Instant,
        answers: Arc<AnswerQueue>,
    ) -> Self {
        DeliveryBatch {
            records,
            tokens,
            deadline,
            answers,
        }
    }

    /// The records, in fetch order (offset order within each partition).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// When the records time out if not answered: the earliest deadline among them.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Acks every record of the batch.
    pub fn ack_all(mut self) {
        let tokens = std::mem::take(&mut self.tokens);
        self.answers
            .push_all(tokens.into_iter().map(|t| (t, Answer::Given(Verdict::Ack))));
    }

    /// Nacks every record of the batch with one reason.
    pub fn nack_all(mut self, reason: impl Into<String>) {
        let reason = reason.into();
        let tokens = std::mem::take(&mut self.tokens);
        let nack = |t| (t, Answer::Given(Verdict::Nack(reason.clone())));
        self.answers.push_all(tokens.into_iter().map(nack));
    }

    /// Answers each record with the verdict `judge` gives it. A record for which `judge`
    /// returns `None` is left unanswered; since nothing can answer it after this, it goes
    /// to the NoAckedActor as dropped.
    pub fn answer_each(mut self, mut judge: impl FnMut(&Record) -> Option<Verdict>) {
        let tokens = std::mem::take(&mut self.tokens);
        let answers = self.records.iter().zip(tokens).map(|(record, token)| {
            let answer = judge(record).map_or(Answer::Dropped, Answer::Given);
            (token, answer)
        });
        self.answers.push_all(answers);
    }

    /// Splits the batch into per-record deliveries, to answer each on its own.
    pub fn into_deliveries(mut self) -> Vec<Delivery> {
        let (records, tokens) = (
            std::mem::take(&mut self.records),
            std::mem::take(&mut self.tokens),
        );
        records
            .into_iter()
            .zip(tokens)
            .map(|(record, token)| {
                let handle = AckHandle::new(&record, token, self.deadline, self.answers.clone());
                Delivery::new(record, handle)
            })
            .collect()
    }
}

impl Drop for DeliveryBatch {
    fn drop(&mut self) {
        if !self.tokens.is_empty() {
            let tokens = std::mem::take(&mut self.tokens);
            let answer = Answer::unanswered;
            self.answers
                .push_all(tokens.into_iter().map(|t| (t, answer())));
        }
    }
}
