//! A ready NoAckedActor for delayed retries: a failed record goes to the next retry topic
//! with a due time, and after the last attempt to the dead-letter topic.
//!
//! With delays `[1 s, 10 s]`, a record of `orders` that fails goes to `orders.retry.1`, due
//! 1 s later; if it fails there, to `orders.retry.2`, due 10 s later; if it fails again, to
//! `orders.dlq`. A consumer of the retry topics with
//! [`wait_for_due`](gig_core::ConsumerConfig::wait_for_due) set delivers each one no
//! earlier than its due time: it pauses the retry partition until then instead of sleeping
//! in a handler, so other partitions keep flowing. One consumer can read the source and the
//! retry topics together, with this sink as its NoAckedActor.
//!
//! Each retry copy keeps the record's key, payload and headers, and carries:
//!
//! | header | value |
//! | --- | --- |
//! | `gig.retry.attempt` | 1 in the first retry topic, 2 in the second, … |
//! | `gig.retry.due` | when it may be delivered, ms since the Unix epoch |
//! | `gig.original.topic`, `.partition`, `.offset` | where it first came from (kept across attempts) |
//! | `gig.reason` | why the last attempt failed |
//!
//! Like [`DeadLetterSink`](crate::dead_letter::DeadLetterSink), the sink accepts a batch
//! only once the broker confirmed every record of it, so the source is never committed past
//! a record that is not in its retry or dead-letter topic. Create the retry and dead-letter
//! topics first where the broker does not create topics on use. For a transactional
//! consumer, [`RetrySink::transactional`] answers [`NoAckedTx`] with its copies instead, and
//! Gig produces them in the transaction that commits their sources.
//!
//! ```no_run
//! # use std::time::Duration;
//! # use actix::prelude::*;
//! # use gig_actors::prelude::*;
//! # use gig_actors::retry::RetrySink;
//! # fn wire(down: Recipient<Delivery>, acked: Recipient<Acked>) -> Result<(), GigError> {
//! let producer = GigProducer::new("127.0.0.1:9092")?;
//! let retries = RetrySink::new(producer, [Duration::from_secs(1), Duration::from_secs(10)]);
//! let config = ConsumerConfig::new("127.0.0.1:9092", "billing")
//!     .topics(["orders", "orders.retry.1", "orders.retry.2"])
//!     .wait_for_due(true);
//! ConsumerActor::builder(config)
//!     .downstream(down)
//!     .acked(acked)
//!     .no_acked(retries.start().recipient())
//!     .start()?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use actix::prelude::*;
use gig_core::retry::{next_attempt, RETRY_ATTEMPT, RETRY_DUE};
use gig_core::Header;

use crate::dead_letter::{
    accept_once_written, dead_letter, since_epoch, FAILED_AT, ORIGINAL_TOPIC,
};
use crate::outcome::{HandOverError, NoAcked, NoAckedRecord, NoAckedTx};
use crate::producer::{GigProducer, ProducerRecord};
use gig_core::Outputs;

/// A NoAckedActor sending failed records to delayed retry topics, then to a dead-letter
/// topic.
pub struct RetrySink {
    /// `None` for a sink of a transactional consumer: Gig produces its copies.
    producer: Option<GigProducer>,
    delays: Vec<Duration>,
}

impl RetrySink {
    /// A sink with one retry topic per delay, in order: `<topic>.retry.1` waits
    /// `delays[0]`, and so on; then `<topic>.dlq`.
    pub fn new(producer: GigProducer, delays: impl IntoIterator<Item = Duration>) -> Self {
        RetrySink {
            producer: Some(producer),
            delays: delays.into_iter().collect(),
        }
    }

    /// The same sink for a transactional consumer: it handles [`NoAckedTx`] and answers
    /// with its copies, which Gig adds to the consumer's transaction. It refuses a plain
    /// [`NoAcked`]: it has no producer.
    pub fn transactional(delays: impl IntoIterator<Item = Duration>) -> Self {
        RetrySink {
            producer: None,
            delays: delays.into_iter().collect(),
        }
    }
}

/// The topic a record first came from: its `gig.original.topic` header, else its own.
fn source_topic(failed: &NoAckedRecord) -> String {
    let record = &failed.record;
    record
        .header_str(ORIGINAL_TOPIC)
        .unwrap_or(record.topic())
        .to_string()
}

/// The retry copy of a failed record for `attempt`, due at `due_ms`.
pub fn retry_copy(failed: &NoAckedRecord, attempt: u32, due_ms: u128) -> ProducerRecord {
    let topic = format!("{}.retry.{attempt}", source_topic(failed));
    // The dead-letter copy carries the origin (kept from an earlier attempt) and reason.
    let mut copy = dead_letter(failed, topic, due_ms);
    let replaced = [RETRY_ATTEMPT, RETRY_DUE, FAILED_AT];
    copy.headers.retain(|h| !replaced.contains(&h.key.as_str()));
    let mut add = |key: &str, value: String| {
        copy.headers.push(Header {
            key: key.to_string(),
            value: Some(value.into_bytes()),
        })
    };
    add(RETRY_ATTEMPT, attempt.to_string());
    add(RETRY_DUE, due_ms.to_string());
    copy
}

impl RetrySink {
    /// Where a failed record goes at `now` (since the Unix epoch): its next retry topic, or
    /// the dead-letter topic after the last one.
    fn copy_of(&self, failed: &NoAckedRecord, now: Duration) -> ProducerRecord {
        // Saturates: a garbled attempt header of u32::MAX stays there, and with fewer
        // delays than that the record goes to the dead-letter topic.
        let attempt = next_attempt(&failed.record);
        let delay = usize::try_from(attempt - 1)
            .ok()
            .and_then(|i| self.delays.get(i));
        match delay {
            Some(delay) => retry_copy(failed, attempt, (now + *delay).as_millis()),
            None => {
                let dlq = format!("{}.dlq", source_topic(failed));
                dead_letter(failed, dlq, now.as_millis())
            }
        }
    }
}

impl Actor for RetrySink {
    type Context = Context<Self>;
}

impl Handler<NoAcked> for RetrySink {
    type Result = ResponseFuture<Result<(), HandOverError>>;

    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let now = since_epoch();
        let copies = msg.records.iter().map(|f| self.copy_of(f, now)).collect();
        accept_once_written(self.producer.clone(), copies, "retry")
    }
}

impl Handler<NoAckedTx> for RetrySink {
    type Result = Result<Outputs, HandOverError>;

    fn handle(&mut self, msg: NoAckedTx, _: &mut Context<Self>) -> Self::Result {
        let now = since_epoch();
        let copies = msg.records.iter();
        Ok(copies.map(|f| (&f.record, self.copy_of(f, now))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gig_core::{NoAckReason, Record, RecordData};

    fn failed(attempt: &str) -> NoAckedRecord {
        let record = Record::new(RecordData {
            topic: "orders.retry.1".into(),
            partition: 0,
            offset: 7,
            key: None,
            payload: None,
            headers: vec![
                Header {
                    key: ORIGINAL_TOPIC.to_string(),
                    value: Some(b"orders".to_vec()),
                },
                Header {
                    key: RETRY_ATTEMPT.to_string(),
                    value: Some(attempt.as_bytes().to_vec()),
                },
            ],
            timestamp_ms: None,
        });
        NoAckedRecord {
            record,
            reason: NoAckReason::Nacked("no".into()),
        }
    }

    #[test]
    fn the_largest_attempt_header_is_dead_lettered_not_retried_from_the_start() {
        let producer = GigProducer::new("127.0.0.1:1").unwrap();
        let sink = RetrySink::new(producer, [Duration::from_secs(1), Duration::from_secs(2)]);
        let now = Duration::from_secs(1_000);
        let next = sink.copy_of(&failed("1"), now);
        assert_eq!(next.topic, "orders.retry.2");
        let last = sink.copy_of(&failed("4294967295"), now);
        assert_eq!(last.topic, "orders.dlq");
        let attempt = last.headers.iter().find(|h| h.key == RETRY_ATTEMPT);
        assert_eq!(
            attempt.and_then(|h| h.value.clone()),
            Some(b"4294967295".to_vec())
        );
    }
}
