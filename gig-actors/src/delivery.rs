//! What the downstream actor receives, and how it answers.
//!
//! A downstream is any actor that handles [`Delivery`] (or [`DeliveryBatch`] in batch
//! mode). It answers each record once with [`Delivery::ack`] or [`Delivery::nack`], now or
//! later after async work ([`Delivery::into_parts`] keeps the [`AckHandle`]). A record not
//! answered before its deadline goes to the NoAckedActor as timed out; a late answer is
//! counted and ignored. Answering never waits: a per-record answer joins a queue the
//! consumer drains in bulk (one message wakes it), and a batch answer is one `do_send`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix::{Addr, Message};
use gig_core::{ConsumerConfig, Record, Token};
use log::warn;

use crate::consumer::ConsumerActor;
use crate::rehearsal::Rehearsal;

/// The downstream's answer for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Processed: the record goes to the AckedActor.
    Ack,
    /// Failed, with a reason: the record goes to the NoAckedActor at once.
    Nack(String),
}

/// Answers for records, sent by [`AckHandle`]s and batches to the consumer.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub enum AckMsg {
    /// One record.
    One(Token, Verdict),
    /// Several records, one verdict.
    All(Vec<Token>, Verdict),
    /// Several records, a verdict each.
    Each(Vec<(Token, Verdict)>),
}

/// The timeout a record asks for in `config`'s ack-timeout header, if any: `None` means
/// the default. A header that is not a number of milliseconds is logged, and the record gets
/// the default.
pub(crate) fn own_timeout(config: &ConsumerConfig, record: &Record) -> Option<Duration> {
    match config.ack_timeout_header.as_ref()?.timeout_of(record)? {
        Ok(timeout) => Some(timeout),
        Err(why) => {
            warn!("{record}: {why}; it gets the default ack timeout");
            None
        }
    }
}

/// Per-record answers on their way to one consumer. An answer that finds the queue empty
/// also sends the consumer an [`AnswersQueued`]; the consumer then takes every answer
/// queued by that time. Under load one mailbox message (and one allocation) carries many
/// answers, where each answer used to be a message of its own. The lock is held for one
/// push or one swap, and the consumer and its downstream usually share a thread, so it is
/// not contended.
#[derive(Debug)]
pub(crate) struct AnswerQueue {
    answers: Mutex<Vec<(Token, Verdict)>>,
    consumer: Addr<ConsumerActor>,
}

impl AnswerQueue {
    pub(crate) fn new(consumer: Addr<ConsumerActor>) -> Arc<Self> {
        Arc::new(AnswerQueue {
            answers: Mutex::new(Vec::new()),
            consumer,
        })
    }

    fn push(&self, token: Token, verdict: Verdict) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let wake = answers.is_empty();
        answers.push((token, verdict));
        drop(answers);
        if wake {
            self.consumer.do_send(AnswersQueued);
        }
    }

    /// Consumer: moves every queued answer into `taken` (which must be empty), leaving its
    /// allocation to the queue for the next answers.
    pub(crate) fn take(&self, taken: &mut Vec<(Token, Verdict)>) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *answers, taken);
    }
}

/// Tells the consumer that its [`AnswerQueue`] has answers.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct AnswersQueued;

/// Where answers go: the consumer that delivered the record, or a broker-less
/// [`Rehearsal`]. An enum rather than a `Recipient` so that a handle costs no allocation.
#[derive(Debug, Clone)]
pub(crate) enum Answers {
    Consumer(Arc<AnswerQueue>),
    Rehearsal(Addr<Rehearsal>),
}

impl Answers {
    fn answer(&self, token: Token, verdict: Verdict) {
        match self {
            Answers::Consumer(queue) => queue.push(token, verdict),
            Answers::Rehearsal(rehearsal) => rehearsal.do_send(AckMsg::One(token, verdict)),
        }
    }

    fn do_send(&self, answer: AckMsg) {
        match self {
            Answers::Consumer(queue) => queue.consumer.do_send(answer),
            Answers::Rehearsal(rehearsal) => rehearsal.do_send(answer),
        }
    }
}

impl From<Arc<AnswerQueue>> for Answers {
    fn from(queue: Arc<AnswerQueue>) -> Self {
        Answers::Consumer(queue)
    }
}

impl From<Addr<Rehearsal>> for Answers {
    fn from(rehearsal: Addr<Rehearsal>) -> Self {
        Answers::Rehearsal(rehearsal)
    }
}

/// The right to answer for one delivered record.
#[derive(Debug, Clone)]
pub struct AckHandle {
    token: Token,
    deadline: Instant,
    consumer: Answers,
}

impl AckHandle {
    pub(crate) fn new(token: Token, deadline: Instant, consumer: impl Into<Answers>) -> Self {
        AckHandle {
            token,
            deadline,
            consumer: consumer.into(),
        }
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
    pub fn answer(self, verdict: Verdict) {
        self.consumer.answer(self.token, verdict);
    }
}

/// One record for the downstream actor (per-record mode).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Delivery {
    /// The record.
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

    /// Acks the record.
    pub fn ack(self) {
        self.handle.ack();
    }

    /// Nacks the record with a reason.
    pub fn nack(self, reason: impl Into<String>) {
        self.handle.nack(reason);
    }

    /// Splits the delivery, to answer later (e.g. from a future) with the handle.
    pub fn into_parts(self) -> (Record, AckHandle) {
        (self.record, self.handle)
    }
}

/// Several records for the downstream actor (batch mode), answered together or one by one.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeliveryBatch {
    records: Vec<Record>,
    tokens: Vec<Token>,
    deadline: Instant,
    consumer: Answers,
}

impl DeliveryBatch {
    pub(crate) fn new(
        records: Vec<Record>,
        tokens: Vec<Token>,
        deadline: Instant,
        consumer: impl Into<Answers>,
    ) -> Self {
        DeliveryBatch {
            records,
            tokens,
            deadline,
            consumer: consumer.into(),
        }
    }

    /// The records, in fetch order (offset order within each partition).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// When the records time out if not answered.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Acks every record of the batch with one message.
    pub fn ack_all(self) {
        self.consumer
            .do_send(AckMsg::All(self.tokens, Verdict::Ack));
    }

    /// Nacks every record of the batch with one message.
    pub fn nack_all(self, reason: impl Into<String>) {
        let verdict = Verdict::Nack(reason.into());
        self.consumer.do_send(AckMsg::All(self.tokens, verdict));
    }

    /// Answers each record with the verdict `judge` gives it, in one message. A record for
    /// which `judge` returns `None` is left unanswered and will time out.
    pub fn answer_each(self, mut judge: impl FnMut(&Record) -> Option<Verdict>) {
        let answers = self
            .records
            .iter()
            .zip(self.tokens)
            .filter_map(|(record, token)| judge(record).map(|v| (token, v)))
            .collect();
        self.consumer.do_send(AckMsg::Each(answers));
    }

    /// Splits the batch into per-record deliveries, to answer each on its own.
    pub fn into_deliveries(self) -> Vec<Delivery> {
        let (deadline, consumer) = (self.deadline, self.consumer);
        self.records
            .into_iter()
            .zip(self.tokens)
            .map(|(record, token)| {
                Delivery::new(record, AckHandle::new(token, deadline, consumer.clone()))
            })
            .collect()
    }
}
