//! The pieces of Gig's exactly-once demonstrations (the `exactly_once` example, the
//! transactional worker, the tests): an AckedActor that transforms each record to an output
//! topic, a NoAckedActor that routes failures to the dead-letter or the retry sink, and a
//! `read_committed` reader written with plain rdkafka, not Gig, that counts how often each
//! source record reached the output, retry and dead-letter topics.
//!
//! Each actor works in both modes: for a transactional consumer it answers with the
//! records to produce ([`AckedTx`], [`NoAckedTx`]) and Gig produces them in the transaction
//! that commits their sources; for an at-least-once consumer it produces them itself and
//! accepts once the broker confirmed them (a crash in between writes them twice).

use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::{
    DeadLetterSink, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC,
};
use gig_actors::prelude::*;
use gig_actors::retry::RetrySink;

/// The nack reason that sends a record to the retry topic; any other goes to the
/// dead-letter topic.
pub const RETRY: &str = "retry";

/// The output of `record`: its payload prefixed with `out:`, its key, and the headers that
/// name its source (as the dead-letter and retry copies carry them).
pub fn transformed(record: &Record, topic: &str) -> ProducerRecord {
    let payload = format!(
        "out:{}",
        String::from_utf8_lossy(record.payload().unwrap_or_default())
    );
    let mut out = ProducerRecord::new(topic, payload)
        .header(ORIGINAL_TOPIC, record.topic())
        .header(ORIGINAL_PARTITION, record.partition().to_string())
        .header(ORIGINAL_OFFSET, record.offset().to_string());
    out.key = record.key().map(<[u8]>::to_vec);
    out
}

/// An AckedActor writing each acked record, transformed, to one output topic.
pub struct Transformer {
    topic: String,
    /// For an at-least-once consumer: the producer it writes with.
    producer: Option<GigProducer>,
}

impl Transformer {
    /// For a transactional consumer (`acked_tx`): it answers with the outputs.
    pub fn transactional(topic: impl Into<String>) -> Self {
        Transformer {
            topic: topic.into(),
            producer: None,
        }
    }

    /// For an at-least-once consumer (`acked`): it writes the outputs with `producer`.
    pub fn producing(topic: impl Into<String>, producer: GigProducer) -> Self {
        Transformer {
            topic: topic.into(),
            producer: Some(producer),
        }
    }
}

impl Actor for Transformer {
    type Context = Context<Self>;
}

impl Handler<AckedTx> for Transformer {
    type Result = Result<Outputs, HandOverError>;

    fn handle(&mut self, m: AckedTx, _: &mut Context<Self>) -> Self::Result {
        let topic = &self.topic;
        Ok(m.records
            .iter()
            .map(|r| (r, transformed(r, topic)))
            .collect())
    }
}

impl Handler<Acked> for Transformer {
    type Result = ResponseFuture<Result<(), HandOverError>>;

    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        let outputs: Vec<ProducerRecord> = m
            .records
            .iter()
            .map(|r| transformed(r, &self.topic))
            .collect();
        let producer = self.producer.clone();
        Box::pin(async move {
            let producer = producer.ok_or_else(|| HandOverError("no producer".to_string()))?;
            producer
                .send_batch(&outputs)
                .await
                .map(|_| ())
                .map_err(|e| HandOverError(e.to_string()))
        })
    }
}

/// A NoAckedActor handing records nacked with [`RETRY`] to a [`RetrySink`] and every other
/// failure to a [`DeadLetterSink`].
pub struct FailureRouter {
    dead_letters: Addr<DeadLetterSink>,
    retries: Addr<RetrySink>,
}

impl FailureRouter {
    /// Routes to these sinks (made for the consumer's mode).
    pub fn new(dead_letters: Addr<DeadLetterSink>, retries: Addr<RetrySink>) -> Self {
        FailureRouter {
            dead_letters,
            retries,
        }
    }

    /// Sinks for a transactional consumer; retries are due after `delay`.
    pub fn transactional(delay: Duration) -> Self {
        Self::new(
            DeadLetterSink::transactional().start(),
            RetrySink::transactional([delay]).start(),
        )
    }

    /// Sinks for an at-least-once consumer, writing with `producer`.
    pub fn producing(producer: GigProducer, delay: Duration) -> Self {
        Self::new(
            DeadLetterSink::new(producer.clone()).start(),
            RetrySink::new(producer, [delay]).start(),
        )
    }
}

fn is_retry(r: &NoAckedRecord) -> bool {
    matches!(&r.reason, NoAckReason::Nacked(why) if why == RETRY)
}

fn split(records: Vec<NoAckedRecord>) -> (Vec<NoAckedRecord>, Vec<NoAckedRecord>) {
    records.into_iter().partition(is_retry)
}

fn refused(e: MailboxError) -> HandOverError {
    HandOverError(format!("sink unreachable: {e}"))
}

impl Actor for FailureRouter {
    type Context = Context<Self>;
}

impl Handler<NoAckedTx> for FailureRouter {
    type Result = ResponseFuture<Result<Outputs, HandOverError>>;

    fn handle(&mut self, m: NoAckedTx, _: &mut Context<Self>) -> Self::Result {
        let (retries, letters) = split(m.records);
        let retried = self.retries.send(NoAckedTx { records: retries });
        let lettered = self.dead_letters.send(NoAckedTx { records: letters });
        Box::pin(async move {
            let mut outputs = retried.await.map_err(refused)??;
            outputs.append(lettered.await.map_err(refused)??);
            Ok(outputs)
        })
    }
}

impl Handler<NoAcked> for FailureRouter {
    type Result = ResponseFuture<Result<(), HandOverError>>;

    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let (retries, letters) = split(m.records);
        let retried = self.retries.send(NoAcked { records: retries });
        let lettered = self.dead_letters.send(NoAcked { records: letters });
        Box::pin(async move {
            retried.await.map_err(refused)??;
            lettered.await.map_err(refused)?
        })
    }
}

mod read;

pub use read::{group_lag, read, read_committed, Isolation, Lag, ReadError, ReadRecord, Tally};
