//! Partitions as librdkafka lists them, and as Gig names them.

use std::sync::Arc;

use gig_core::{CommitOffset, Partition};
use log::warn;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// The partitions of a librdkafka list.
pub(crate) fn partitions_of(tpl: &TopicPartitionList) -> Vec<Partition> {
    let elements = tpl.elements();
    let partition = |e: &rdkafka::topic_partition_list::TopicPartitionListElem<'_>| {
        (Arc::from(e.topic()), e.partition())
    };
    elements.iter().map(partition).collect()
}

/// The list librdkafka commits.
pub(crate) fn to_tpl(offsets: &[CommitOffset]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for c in offsets {
        // An offset from the ack book is always valid for its partition.
        let _ = tpl.add_partition_offset(&c.topic, c.partition, Offset::Offset(c.offset));
    }
    tpl
}

/// `topic/partition, …` for the log.
pub(crate) fn names(partitions: &[Partition]) -> String {
    let names: Vec<String> = partitions.iter().map(|(t, p)| format!("{t}/{p}")).collect();
    names.join(", ")
}

/// Pauses (or resumes) fetching from every assigned partition.
pub(crate) fn set_paused<C: ConsumerContext>(consumer: &BaseConsumer<C>, pause: bool) {
    let result = consumer.assignment().and_then(|assignment| {
        if pause {
            consumer.pause(&assignment)
        } else {
            consumer.resume(&assignment)
        }
    });
    if let Err(e) = result {
        let what = if pause { "pause" } else { "resume" };
        warn!("could not {what} fetching: {e}");
    }
}
