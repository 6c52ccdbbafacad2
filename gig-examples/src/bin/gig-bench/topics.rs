//! Topics the bench makes, reads from the beginning and deletes.

use std::time::Duration;

use gig_actors::testkit::Broker;
use rdkafka::config::ClientConfig;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::settings::fail;

/// Every partition of `topic` from its first record.
pub(crate) fn from_beginning(topic: &str, partitions: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let _ = tpl.add_partition_offset(topic, p, Offset::Beginning);
    }
    tpl
}

/// Every partition of `topic` from offset 0, as Gig's phases assign them
/// (`PartitionStart { offset: Some(0) }`). A logical offset (`from_beginning`) needs a
/// ListOffsets first, and one asked for before the consumer knows the partition's leader is
/// retried after a fixed 500 ms (`rd_kafka_toppar_offset_request`): half a second before the
/// first record that Gig's phases do not wait (the bench's topics are new, so 0 is their
/// first record).
pub(crate) fn from_zero(topic: &str, partitions: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let _ = tpl.add_partition_offset(topic, p, Offset::Offset(0));
    }
    tpl
}

/// Deletes a topic the benchmark made, so that repeated runs do not fill the broker's disk
/// (each holds 200-500 MB); a failure only warns.
pub(crate) async fn delete_topic(brokers: &str, topic: &str) {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;

    let admin: Result<AdminClient<DefaultClientContext>, _> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let deleted = match admin {
        Ok(admin) => admin.delete_topics(&[topic], &options).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = deleted {
        eprintln!("gig-bench: could not delete topic {topic}: {e}");
    }
}

pub(crate) async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let broker = Broker::External(brokers.to_string());
    if let Err(e) = broker.create_topic(topic, partitions).await {
        fail(&format!("create topic {topic}: {e}"));
    }
}
