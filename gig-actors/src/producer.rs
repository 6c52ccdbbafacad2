//! Producing records: a cloneable handle over rdkafka's `FutureProducer`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gig_core::FaultKind;
use log::{debug, error, warn};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::client::client_errors::classify;
use crate::client::log_lines;
use crate::error::GigError;

pub use gig_core::ProducerRecord;

/// Where a produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The partition it was written to.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
}

/// A Kafka producer. Clone it freely: clones share one client. Build one with librdkafka
/// properties through [`GigProducer::builder`].
///
/// ```no_run
/// # use gig_actors::prelude::*;
/// # async fn demo() -> Result<(), GigError> {
/// let producer = GigProducer::new("127.0.0.1:9092")?;
/// producer.send(ProducerRecord::new("orders", "order 1").key("customer 7")).await?;
/// let batch: Vec<ProducerRecord> =
///     (2..100).map(|i| ProducerRecord::new("orders", format!("order {i}"))).collect();
/// let written = producer.send_batch(&batch).await?; // pipelined; in input order
/// assert_eq!(written.len(), 98);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GigProducer {
    producer: FutureProducer<GigProducerContext>,
    /// The kinds of error already logged, shared with the context.
    reported: Arc<Reported>,
}

/// The librdkafka callbacks of a [`GigProducer`]. Its errors are logged once per kind, as
/// Gig's own line: the first of a kind that keeps records from being produced until
/// someone acts (credentials or a certificate the broker refuses, an ACL) at `error`, any
/// other (a broker restarting) at `warn`; repeats at `debug`, until a record is delivered
/// again. librdkafka retries them without end and reports each try. Its log lines go to
/// the target `librdkafka`, its error-level ones at `debug`, as a consumer's do.
pub struct GigProducerContext {
    brokers: String,
    reported: Arc<Reported>,
}

/// The kinds of error logged since the last delivery.
#[derive(Default)]
struct Reported(Mutex<BTreeSet<FaultKind>>);

impl Reported {
    /// Whether `kind` is new since the last delivery (and now seen), and whether a kind that
    /// blocks the producer was seen since.
    fn first(&self, kind: FaultKind) -> (bool, bool) {
        match self.0.lock() {
            Ok(mut seen) => (seen.insert(kind), seen.iter().any(|k| k.blocks_reading())),
            Err(_) => (true, false),
        }
    }

    /// A record was delivered: the next error of any kind is news again.
    fn delivered(&self) {
        if let Ok(mut seen) = self.0.lock() {
            seen.clear();
        }
    }
}

impl ClientContext for GigProducerContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_lines::forward(level, facility, message);
    }

    /// Statistics are not logged (rdkafka's default logs them at `info`).
    fn stats_raw(&self, _: &[u8]) {}

    fn error(&self, e: KafkaError, reason: &str) {
        let kind = classify(&e, reason);
        let brokers = &self.brokers;
        match self.reported.first(kind) {
            (true, _) if kind.blocks_reading() => {
                error!("producer for {brokers}: cannot produce: {kind} error: {reason}")
            }
            // After a refused login librdkafka also says "all brokers are down".
            (true, false) => warn!("producer for {brokers}: {kind} error: {e}: {reason}"),
            _ => debug!("producer for {brokers}: {kind} error: {reason}"),
        }
    }
}

impl GigProducer {
    /// A producer for these brokers with librdkafka's defaults plus `acks=all` and
    /// idempotence off (the mock cluster and tansu both accept it).
    pub fn new(brokers: &str) -> Result<Self, GigError> {
        Self::with_properties(brokers, &BTreeMap::new())
    }

    /// A producer with extra librdkafka properties, passed through untouched.
    pub fn with_properties(
        brokers: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<Self, GigError> {
        Self::make(brokers, properties, |_| None)
    }

    /// [`with_properties`](Self::with_properties), naming in an error the environment
    /// variable `variable_of` says set a refused property.
    pub(crate) fn make<'a>(
        brokers: &str,
        properties: &BTreeMap<String, String>,
        variable_of: impl FnOnce(&str) -> Option<&'a str>,
    ) -> Result<Self, GigError> {
        if brokers.trim().is_empty() {
            return Err(gig_core::ConfigError::NoBrokers.into());
        }
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("linger.ms", "5");
        for (key, value) in properties {
            config.set(key, value);
        }
        let reported = Arc::new(Reported::default());
        let context = GigProducerContext {
            brokers: brokers.to_string(),
            reported: reported.clone(),
        };
        let producer = config
            .create_with_context(context)
            .map_err(GigError::making("creating the producer", variable_of))?;
        Ok(GigProducer { producer, reported })
    }

    /// Sends a record and waits for the broker's confirmation.
    pub async fn send(&self, record: ProducerRecord) -> Result<Delivered, GigError> {
        let pending = self.enqueue(&record).await?;
        let delivered = confirm(&record.topic, pending).await?;
        self.reported.delivered();
        Ok(delivered)
    }

    /// Sends many records, pipelined: all are queued first (waiting only while librdkafka's
    /// queue is full), then every confirmation is awaited. Results are in input order.
    pub async fn send_batch(&self, records: &[ProducerRecord]) -> Result<Vec<Delivered>, GigError> {
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            pending.push(self.enqueue(record).await?);
        }
        let mut delivered = Vec::with_capacity(records.len());
        for (record, future) in records.iter().zip(pending) {
            delivered.push(confirm(&record.topic, future).await?);
        }
        if !delivered.is_empty() {
            self.reported.delivered();
        }
        Ok(delivered)
    }

    async fn enqueue(&self, record: &ProducerRecord) -> Result<DeliveryFuture, GigError> {
        loop {
            let mut future = FutureRecord::to(&record.topic).headers(kafka_headers(record));
            if let Some(key) = &record.key {
                future = future.key(key.as_slice());
            }
            if let Some(payload) = &record.payload {
                future = future.payload(payload.as_slice());
            }
            if let Some(partition) = record.partition {
                future = future.partition(partition);
            }
            match self.producer.send_result(future) {
                Ok(pending) => return Ok(pending),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // librdkafka's queue is full: let deliveries drain, then queue again.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((source, _)) => {
                    return Err(GigError::Produce {
                        topic: record.topic.clone(),
                        source,
                    })
                }
            }
        }
    }

    /// Waits until every record sent so far is confirmed or failed.
    pub fn flush(&self, timeout: Duration) -> Result<(), GigError> {
        self.producer
            .flush(timeout)
            .map_err(GigError::kafka("flushing the producer"))
    }

    /// The underlying rdkafka producer, for what Gig does not wrap.
    pub fn inner(&self) -> &FutureProducer<GigProducerContext> {
        &self.producer
    }
}

/// `record`'s headers as rdkafka takes them.
pub(crate) fn kafka_headers(record: &ProducerRecord) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
    for h in &record.headers {
        headers = headers.insert(KafkaHeader {
            key: &h.key,
            value: h.value.as_deref(),
        });
    }
    headers
}

async fn confirm(topic: &str, pending: DeliveryFuture) -> Result<Delivered, GigError> {
    match pending.await {
        Ok(Ok(d)) => {
            debug!("produced {topic}/{}@{}", d.partition, d.offset);
            Ok(Delivered {
                partition: d.partition,
                offset: d.offset,
            })
        }
        Ok(Err((source, _))) => Err(GigError::Produce {
            topic: topic.to_string(),
            source,
        }),
        Err(_cancelled) => Err(GigError::Produce {
            topic: topic.to_string(),
            source: KafkaError::Canceled,
        }),
    }
}
