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
        let mut e = tpl.add_partition(&c.topic, c.partition);
        // An offset from the ack book is always valid for its partition.
        let _ = e.set_offset(Offset::Offset(c.offset));
        // Every commit writes the metadata: one without a marker clears the last one.
        if let Some(marker) = c.marker {
            e.set_metadata(marker.to_string());
        }
    }
    tpl
}

/// `topic/partition, …` for the log.
pub(crate) fn names(partitions: &[Partition]) -> String {
    let names: Vec<String> = partitions.iter().map(|(t, p)| format!("{t}/{p}")).collect();
    names.join(", ")
}

/// Pauses (or resumes) fetching from these partitions.
pub(crate) fn set_paused_only<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    partitions: &[Partition],
    pause: bool,
) {
    if partitions.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::with_capacity(partitions.len());
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    let done = match pause {
        true => consumer.pause(&tpl),
        false => consumer.resume(&tpl),
    };
    if let Err(e) = done {
        warn!(
            "could not {} {}: {e}",
            if pause { "pause" } else { "resume" },
            names(partitions)
        );
    }
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
