//! Producing records: a cloneable handle over rdkafka's `FutureProducer`.

use std::collections::BTreeMap;
use std::time::Duration;

use log::debug;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

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
    producer: FutureProducer,
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
        let producer = config
            .create()
            .map_err(GigError::making("creating the producer", variable_of))?;
        Ok(GigProducer { producer })
    }

    /// Sends a record and waits for the broker's confirmation.
    pub async fn send(&self, record: ProducerRecord) -> Result<Delivered, GigError> {
        let pending = self.enqueue(&record).await?;
        confirm(&record.topic, pending).await
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
        Ok(delivered)
    }

    async fn enqueue(&self, record: &ProducerRecord) -> Result<DeliveryFuture, GigError> {
        loop {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for h in &record.headers {
                headers = headers.insert(KafkaHeader {
                    key: &h.key,
                    value: h.value.as_deref(),
                });
            }
            let mut future = FutureRecord::to(&record.topic).headers(headers);
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
    pub fn inner(&self) -> &FutureProducer {
        &self.producer
    }
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
