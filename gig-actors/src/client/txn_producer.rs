//! The transactional producer's side of a transaction: its context, which remembers why a
//! record could not be delivered, queueing the outputs while librdkafka's queue is full, and
//! the flush before a commit. The [`transactor`](super::transactor) runs the transaction
//! around them.

use std::sync::Mutex;
use std::time::Duration;

use gig_core::ProducerRecord;
use log::{debug, warn};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use crate::client::log_lines;
use crate::client::topic_handles::TopicHandles;
use crate::producer::kafka_headers;

/// How long to let librdkafka deliver before queueing more, when its queue is full.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);

/// Remembers why the last record of a transaction failed, for the error that says so.
#[derive(Default)]
pub(crate) struct TxnContext {
    failed_delivery: Mutex<Option<KafkaError>>,
}

impl ClientContext for TxnContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_lines::forward(level, facility, message);
    }

    /// At `debug`: a failure that keeps the producer from its work fails its transactional
    /// calls, and the consumer reports it there, once per fault (`cannot commit: …`).
    fn error(&self, error: KafkaError, reason: &str) {
        debug!("transactional producer: {error}: {reason}");
    }
}

impl ProducerContext for TxnContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            if let Ok(mut failed) = self.failed_delivery.lock() {
                *failed = Some(e.clone());
            }
        }
    }
}

/// Queues one output, waiting while librdkafka's queue is full: through the session's topic
/// handles, with no allocation, unless it has headers.
pub(crate) fn send(
    topics: &mut TopicHandles,
    producer: &ThreadedProducer<TxnContext>,
    record: &ProducerRecord,
) -> Result<(), KafkaError> {
    if !record.headers.is_empty() {
        return send_with_headers(producer, record);
    }
    let client = producer.client().native_ptr();
    send_while_full(
        (),
        |()| {
            topics
                .produce(client, record)
                .map_err(|code| (KafkaError::MessageProduction(code), ()))
        },
        || producer.poll(QUEUE_FULL_WAIT),
    )
}

/// [`send`] for a record with headers, through rdkafka.
// rdkafka's `send` hands the record back inside its error, large as it is.
#[allow(clippy::result_large_err)]
fn send_with_headers(
    producer: &ThreadedProducer<TxnContext>,
    record: &ProducerRecord,
) -> Result<(), KafkaError> {
    let mut base: BaseRecord<'_, [u8], [u8]> =
        BaseRecord::to(&record.topic).headers(kafka_headers(record));
    if let Some(key) = &record.key {
        base = base.key(key.as_slice());
    }
    if let Some(payload) = &record.payload {
        base = base.payload(payload.as_slice());
    }
    if let Some(partition) = record.partition {
        base = base.partition(partition);
    }
    send_while_full(
        base,
        |base| producer.send(base),
        || producer.poll(QUEUE_FULL_WAIT),
    )
}

/// Hands `record` to librdkafka through `send` until its queue takes it: on `QueueFull`,
/// `wait`s for deliveries to make room and sends the record it handed back again. Any other
/// error is the answer.
pub(crate) fn send_while_full<R, T>(
    mut record: R,
    mut send: impl FnMut(R) -> Result<T, (KafkaError, R)>,
    mut wait: impl FnMut(),
) -> Result<T, KafkaError> {
    loop {
        match send(record) {
            Ok(sent) => return Ok(sent),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                debug!("producer queue full; waiting for deliveries");
                wait();
                record = back;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Waits until every queued output is delivered (or has failed), so that rdkafka's
/// `commit_transaction` finds nothing to flush. Its own flush waits in 100 ms polls of a
/// queue the producer's thread is serving, so each nap runs to its end: up to 100 ms of
/// every commit. librdkafka's flush with a timeout waits on its message count instead.
pub(crate) fn flush(producer: &ThreadedProducer<TxnContext>) -> Result<(), KafkaError> {
    // SAFETY: a live producer handle; rdkafka delivers by events, which the producer's
    // thread serves, so librdkafka's flush only waits.
    let code = unsafe { rdkafka::bindings::rd_kafka_flush(producer.client().native_ptr(), -1) };
    match RDKafkaErrorCode::from(code) {
        RDKafkaErrorCode::NoError => Ok(()),
        code => Err(KafkaError::Flush(code)),
    }
}

pub(crate) fn take_failed_delivery(producer: &ThreadedProducer<TxnContext>) -> Option<KafkaError> {
    producer.context().failed_delivery.lock().ok()?.take()
}

/// librdkafka says only that records failed; the last delivery error says why.
pub(crate) fn with_delivery_cause(
    producer: &ThreadedProducer<TxnContext>,
    e: KafkaError,
) -> KafkaError {
    match take_failed_delivery(producer) {
        Some(cause) => {
            warn!("a record of the transaction was not delivered: {cause}");
            cause
        }
        None => e,
    }
}
