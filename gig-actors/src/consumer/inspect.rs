//! `Inspect`: read-only questions to the consumer's librdkafka client.
//!
//! The client itself is not handed out: its poll thread must stay the only caller of
//! `poll`, and `assign`, `seek`, `pause`, `commit` or `unsubscribe` made behind Gig's back
//! would break what it tracks (a seek back would deliver records twice; a commit could
//! pass a record in flight). [`KafkaView`] offers the questions that change nothing.

use std::time::Duration;

use actix::prelude::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::groups::GroupList;
use rdkafka::metadata::Metadata;
use rdkafka::topic_partition_list::TopicPartitionList;
use tokio::sync::oneshot;

use super::ConsumerActor;
use crate::client::context::GigContext;
use crate::error::GigError;

/// Runs a closure with a read-only view of the consumer's librdkafka client, on a thread
/// of its own (the questions wait for the broker; neither the actor nor the poll thread
/// waits with them), and answers with what it returns.
///
/// ```no_run
/// # use std::time::Duration;
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # async fn demo(consumer: Addr<ConsumerActor>) -> Result<(), GigError> {
/// let watermarks = consumer
///     .send(Inspect::new(|kafka| kafka.fetch_watermarks("orders", 0, Duration::from_secs(5))))
///     .await??;
/// let (low, high) = watermarks.map_err(|e| GigError::Kafka { action: "watermarks", source: e })?;
/// println!("orders/0 holds offsets {low}..{high}");
/// # Ok(()) }
/// ```
#[allow(clippy::type_complexity)]
pub struct Inspect<R> {
    ask: Box<dyn FnOnce(&KafkaView<'_>) -> R + Send>,
}

impl<R> Inspect<R> {
    /// Asks `ask`.
    pub fn new(ask: impl FnOnce(&KafkaView<'_>) -> R + Send + 'static) -> Self {
        Inspect { ask: Box::new(ask) }
    }
}

impl<R: Send + 'static> Message for Inspect<R> {
    type Result = Result<R, GigError>;
}

/// The consumer's librdkafka client, for questions that change nothing. Each method is
/// rdkafka's `Consumer` method of the same name; those that take a timeout ask the broker.
pub struct KafkaView<'a> {
    consumer: &'a BaseConsumer<GigContext>,
}

impl KafkaView<'_> {
    /// The assigned partitions.
    pub fn assignment(&self) -> KafkaResult<TopicPartitionList> {
        self.consumer.assignment()
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> KafkaResult<TopicPartitionList> {
        self.consumer.subscription()
    }

    /// The client's fetch position per assigned partition: the next offset it fetches
    /// (records fetched are not necessarily delivered or handed over yet).
    pub fn position(&self) -> KafkaResult<TopicPartitionList> {
        self.consumer.position()
    }

    /// The group's committed offsets of the assigned partitions, from the broker.
    pub fn committed(&self, timeout: Duration) -> KafkaResult<TopicPartitionList> {
        self.consumer.committed(timeout)
    }

    /// The group's committed offsets of these partitions, from the broker.
    pub fn committed_offsets(
        &self,
        partitions: TopicPartitionList,
        timeout: Duration,
    ) -> KafkaResult<TopicPartitionList> {
        self.consumer.committed_offsets(partitions, timeout)
    }

    /// A partition's low and high watermarks, from the broker.
    pub fn fetch_watermarks(
        &self,
        topic: &str,
        partition: i32,
        timeout: Duration,
    ) -> KafkaResult<(i64, i64)> {
        self.consumer.fetch_watermarks(topic, partition, timeout)
    }

    /// The first offset at or after a timestamp (ms since the epoch) in each partition.
    pub fn offsets_for_timestamp(
        &self,
        timestamp_ms: i64,
        timeout: Duration,
    ) -> KafkaResult<TopicPartitionList> {
        self.consumer.offsets_for_timestamp(timestamp_ms, timeout)
    }

    /// The cluster's metadata: every topic, or only `topic`.
    pub fn fetch_metadata(&self, topic: Option<&str>, timeout: Duration) -> KafkaResult<Metadata> {
        self.consumer.fetch_metadata(topic, timeout)
    }

    /// The cluster's consumer groups: every group, or only `group`.
    pub fn fetch_group_list(
        &self,
        group: Option<&str>,
        timeout: Duration,
    ) -> KafkaResult<GroupList> {
        self.consumer.fetch_group_list(group, timeout)
    }
}

impl<R: Send + 'static> Handler<Inspect<R>> for ConsumerActor {
    type Result = ResponseFuture<Result<R, GigError>>;

    fn handle(&mut self, msg: Inspect<R>, _: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        let asked = self.client.query(move |consumer| {
            let _ = reply.send((msg.ask)(&KafkaView { consumer }));
        });
        Box::pin(async move {
            asked?;
            answer.await.map_err(|_| GigError::Stopped)
        })
    }
}
