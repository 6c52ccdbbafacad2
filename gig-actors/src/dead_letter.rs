//! A ready NoAckedActor that writes each failed record to a dead-letter topic.
//!
//! Each record is produced with its key, payload and headers, plus headers saying where it
//! came from and why it failed:
//!
//! | header | value |
//! | --- | --- |
//! | `gig.original.topic` | the source topic |
//! | `gig.original.partition` | the source partition, in decimal |
//! | `gig.original.offset` | the source offset, in decimal |
//! | `gig.reason` | the [`NoAckReason`](gig_core::NoAckReason) as text (`nacked: …`, `timed out after 3000 ms`, …) |
//! | `gig.failed.at` | when the sink wrote it, milliseconds since the Unix epoch |
//!
//! The sink accepts a batch only once the broker confirmed every record of it, so the
//! source offset is never committed past a record that is not durably in the dead-letter
//! topic. If a produce fails, the batch is refused and Gig offers it again: the dead-letter
//! topic may then hold a record twice (at-least-once), never zero times.
//!
//! For a transactional consumer, [`DeadLetterSink::transactional`] makes a sink without a
//! producer of its own: wired with
//! [`no_acked_tx`](crate::ConsumerBuilder::no_acked_tx), it answers each batch with its
//! copies, and Gig produces them in the transaction that commits their sources, so a
//! `read_committed` reader of the dead-letter topic sees each failed record exactly once.
//!
//! ```no_run
//! # use actix::prelude::*;
//! # use gig_actors::prelude::*;
//! # use gig_actors::dead_letter::DeadLetterSink;
//! # fn wire(config: ConsumerConfig, down: Recipient<Delivery>, acked: Recipient<Acked>) -> Result<(), GigError> {
//! let producer = GigProducer::new("127.0.0.1:9092")?;
//! let dlq = DeadLetterSink::new(producer).start(); // writes to `<topic>.dlq`
//! ConsumerActor::builder(config)
//!     .downstream(down)
//!     .acked(acked)
//!     .no_acked(dlq.recipient())
//!     .start()?;
//! # Ok(()) }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use gig_core::Header;
use log::{debug, warn};

use crate::outcome::{HandOverError, NoAcked, NoAckedRecord, NoAckedTx};
use crate::producer::{GigProducer, ProducerRecord};
use gig_core::Outputs;

/// Header naming the source topic.
pub const ORIGINAL_TOPIC: &str = "gig.original.topic";
/// Header with the source partition.
pub const ORIGINAL_PARTITION: &str = "gig.original.partition";
/// Header with the source offset.
pub const ORIGINAL_OFFSET: &str = "gig.original.offset";
/// Header with the reason the record failed.
pub const REASON: &str = "gig.reason";
/// Header with the time the record was written to the dead-letter topic (ms since epoch).
pub const FAILED_AT: &str = "gig.failed.at";

/// A NoAckedActor producing failed records to a dead-letter topic.
pub struct DeadLetterSink {
    /// `None` for a sink of a transactional consumer: Gig produces its copies.
    producer: Option<GigProducer>,
    topic_for: Box<dyn Fn(&str) -> String>,
}

impl DeadLetterSink {
    /// A sink writing records of topic `t` to `t.dlq` with `producer`.
    pub fn new(producer: GigProducer) -> Self {
        Self::with(Some(producer))
    }

    /// A sink for a transactional consumer: it handles [`NoAckedTx`] and answers with
    /// its copies (to `t.dlq`), which Gig adds to the consumer's transaction. It refuses a
    /// plain [`NoAcked`]: it has no producer.
    pub fn transactional() -> Self {
        Self::with(None)
    }

    fn with(producer: Option<GigProducer>) -> Self {
        DeadLetterSink {
            producer,
            topic_for: Box::new(|topic| format!("{topic}.dlq")),
        }
    }

    /// Writes every failed record to this one topic.
    pub fn to_topic(self, topic: impl Into<String>) -> Self {
        let topic = topic.into();
        self.topic_with(move |_| topic.clone())
    }

    /// Chooses the dead-letter topic from the source topic.
    pub fn topic_with(mut self, topic_for: impl Fn(&str) -> String + 'static) -> Self {
        self.topic_for = Box::new(topic_for);
        self
    }
}

/// The dead-letter copy of a failed record.
pub fn dead_letter(failed: &NoAckedRecord, topic: String, at_ms: u128) -> ProducerRecord {
    let record = &failed.record;
    // The latest failure replaces an earlier one's reason and time (a retried record).
    let mut headers: Vec<Header> = record
        .headers()
        .iter()
        .filter(|h| h.key != REASON && h.key != FAILED_AT)
        .cloned()
        .collect();
    let mut add = |key: &str, value: String| {
        headers.push(Header {
            key: key.to_string(),
            value: Some(value.into_bytes()),
        })
    };
    // A record already retried keeps where it first came from.
    if record.header(ORIGINAL_TOPIC).is_none() {
        add(ORIGINAL_TOPIC, record.topic().to_string());
        add(ORIGINAL_PARTITION, record.partition().to_string());
        add(ORIGINAL_OFFSET, record.offset().to_string());
    }
    add(REASON, failed.reason.to_string());
    add(FAILED_AT, at_ms.to_string());
    ProducerRecord {
        topic,
        partition: None,
        key: record.key().map(<[u8]>::to_vec),
        payload: record.payload().map(<[u8]>::to_vec),
        headers,
    }
}

impl Actor for DeadLetterSink {
    type Context = Context<Self>;
}

impl DeadLetterSink {
    fn letter(&self, failed: &NoAckedRecord, at_ms: u128) -> ProducerRecord {
        dead_letter(failed, (self.topic_for)(failed.record.topic()), at_ms)
    }
}

/// The wall clock, as time since the Unix epoch: what a dead letter's and a retry copy's
/// headers carry. Zero on a clock set before 1970.
pub(crate) fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl Handler<NoAcked> for DeadLetterSink {
    type Result = ResponseFuture<Result<(), HandOverError>>;

    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let at_ms = since_epoch().as_millis();
        let letters = msg.records.iter().map(|f| self.letter(f, at_ms)).collect();
        accept_once_written(self.producer.clone(), letters, "dead-letter")
    }
}

impl Handler<NoAckedTx> for DeadLetterSink {
    type Result = Result<Outputs, HandOverError>;

    fn handle(&mut self, msg: NoAckedTx, _: &mut Context<Self>) -> Self::Result {
        let at_ms = since_epoch().as_millis();
        let letters = msg.records.iter();
        Ok(letters
            .map(|f| (&f.record, self.letter(f, at_ms)))
            .collect())
    }
}

/// Produces a sink's copies and accepts the hand-over only once the broker confirmed every
/// one; a failed write refuses it, so Gig offers the records again. `what` names the
/// topics in the log. A sink without a producer (made for a transactional consumer)
/// refuses: it cannot write on its own.
pub(crate) fn accept_once_written(
    producer: Option<GigProducer>,
    copies: Vec<ProducerRecord>,
    what: &'static str,
) -> ResponseFuture<Result<(), HandOverError>> {
    Box::pin(async move {
        let Some(producer) = producer else {
            warn!("{what} sink has no producer: wire it with `no_acked_tx` to a transactional consumer");
            return Err(HandOverError(format!(
                "the {what} sink was made for a transactional consumer (`no_acked_tx`) and has no producer"
            )));
        };
        match producer.send_batch(&copies).await {
            Ok(_) => {
                debug!("{} record(s) written to {what} topics", copies.len());
                Ok(())
            }
            Err(e) => {
                warn!("{what} write failed: {e}");
                Err(HandOverError(format!("{what} write failed: {e}")))
            }
        }
    })
}
