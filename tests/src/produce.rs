//! Producing the suite's records.

use std::collections::BTreeMap;

use gig_actors::testkit::Broker;
use gig_actors::{Delivered, GigProducer, ProducerRecord};

use crate::broker::{backend, Backend};

/// Produces `count` records round-robin over `partitions` (see [`records`]); returns where
/// each landed, in order.
pub async fn produce(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    from: usize,
    count: usize,
) -> Vec<Delivered> {
    producer(broker)
        .send_batch(&records(topic, partitions, from, count))
        .await
        .expect("produce")
}

/// The records [`produce`] sends: payload `v{i}`, key `k{i}`, round-robin partitions.
pub fn records(topic: &str, partitions: i32, from: usize, count: usize) -> Vec<ProducerRecord> {
    (from..from + count)
        .map(|i| {
            ProducerRecord::new(topic, format!("v{i}"))
                .key(format!("k{i}"))
                .partition((i % partitions as usize) as i32)
        })
        .collect()
}

/// A producer for the suite's broker. On tansu every record is its own batch: tansu 0.6
/// cannot fetch from an offset inside a stored batch (see docs/backends.md), and
/// consumers resume from such offsets after a pause or a restart.
pub fn producer(broker: &Broker) -> GigProducer {
    producer_with(broker, &[])
}

/// [`producer`] with extra librdkafka properties.
pub fn producer_with(broker: &Broker, extra: &[(&str, &str)]) -> GigProducer {
    let mut properties: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if backend() == Backend::Tansu {
        properties.insert("batch.num.messages".to_string(), "1".to_string());
    }
    GigProducer::with_properties(&broker.bootstrap_servers(), &properties).expect("producer")
}
