//! Questions to librdkafka that wait for the broker (watermarks, the group's committed
//! offsets, metadata), asked on a thread of their own so that neither the actor nor the
//! poll thread waits for the answer.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use gig_core::PartitionEnd;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::Offset;

use crate::client::context::GigContext;
use crate::error::GigError;

/// Runs `ask` with the client on a new thread, whose handle it returns: the client's owner
/// joins it before it closes the client. If the client has closed by then, `ask` is dropped
/// unrun: whoever waits on what it captured learns it from the closed channel.
pub(crate) fn spawn(
    consumer: Weak<BaseConsumer<GigContext>>,
    ask: impl FnOnce(&BaseConsumer<GigContext>) + Send + 'static,
) -> Result<JoinHandle<()>, GigError> {
    std::thread::Builder::new()
        .name("gig-query".to_string())
        .spawn(move || {
            // Held only for the question: the client closes where its owner drops it.
            if let Some(consumer) = consumer.upgrade() {
                ask(&consumer);
                drop::<Arc<_>>(consumer);
            }
        })
        .map_err(|_| GigError::ThreadGone("query"))
}

/// Each assigned partition's watermarks and the group's committed offset, now.
pub(crate) fn partition_ends(
    consumer: &BaseConsumer<GigContext>,
    timeout: Duration,
) -> KafkaResult<Vec<PartitionEnd>> {
    let assignment = consumer.assignment()?;
    let committed = consumer.committed_offsets(assignment, timeout)?;
    let mut ends = Vec::new();
    for e in committed.elements() {
        let (low, high) = consumer.fetch_watermarks(e.topic(), e.partition(), timeout)?;
        ends.push(PartitionEnd {
            topic: Arc::from(e.topic()),
            partition: e.partition(),
            low,
            high,
            committed: match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            },
        });
    }
    Ok(ends)
}
