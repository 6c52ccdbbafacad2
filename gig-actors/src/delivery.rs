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

use std::sync::Arc;
use std::time::Instant;

use actix::Message;
use gig_core::{Record, Token, Verdict};

use crate::answers::{Answer, AnswerQueue};
use crate::trace::DeliverySpan;

/// The right to answer for one delivered record. It answers once: answering consumes it,
/// and dropping it unanswered is an answer too (the record goes to the NoAckedActor as
/// dropped).
#[derive(Debug)]
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
            answers.push(self.token, Answer::Dropped);
        }
    }
}

/// One record for the downstream actor (per-record mode).
#[derive(Debug, Message)]
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
            self.answers
                .push_all(tokens.into_iter().map(|t| (t, Answer::Dropped)));
        }
    }
}
