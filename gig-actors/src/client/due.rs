//! Delayed retries on the poll thread: a record whose `gig.retry.due` header is in the
//! future is not delivered; its partition is paused and rewound to it, and resumed when it
//! is due. Nothing sleeps, and other partitions keep flowing.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gig_core::{retry, Record};
use log::{info, warn};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::client::context::GigContext;

/// How long a rewind may take before the record is delivered early instead.
const SEEK_TIMEOUT: Duration = Duration::from_secs(5);

/// Partitions paused until their next record is due.
#[derive(Default)]
pub(crate) struct DueDelays {
    paused: Vec<(Arc<str>, i32, Instant)>,
}

fn one(topic: &str, partition: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    tpl
}

impl DueDelays {
    /// Whether `record` must wait: then its partition is paused, rewound to it, and the
    /// caller drops it (it is fetched again when due). A record of a partition already
    /// waiting is dropped too: it follows the record being waited for.
    pub(crate) fn holds(&mut self, consumer: &BaseConsumer<GigContext>, record: &Record) -> bool {
        let (topic, partition) = (record.topic_arc(), record.partition());
        if self
            .paused
            .iter()
            .any(|(t, p, _)| t == topic && *p == partition)
        {
            return true;
        }
        let Some(wait) = retry::wait_for(record, SystemTime::now()) else {
            return false;
        };
        let tpl = one(topic, partition);
        let rewound = consumer.pause(&tpl).and_then(|()| {
            consumer.seek(
                topic,
                partition,
                Offset::Offset(record.offset()),
                SEEK_TIMEOUT,
            )
        });
        match rewound {
            Ok(()) => {
                info!("{record} is due in {wait:?}: {topic}/{partition} paused until then");
                self.paused
                    .push((topic.clone(), partition, Instant::now() + wait));
                true
            }
            Err(e) => {
                // Delivering early breaks the delay; skipping would lose the record.
                warn!("{record}: cannot wait until it is due ({e}); delivering it now");
                let _ = consumer.resume(&tpl);
                false
            }
        }
    }

    /// Resumes the partitions whose record is due. A partition revoked meanwhile is
    /// resumed too, harmlessly, in case it comes back.
    pub(crate) fn resume_due(&mut self, consumer: &BaseConsumer<GigContext>) {
        // Called for every polled message: no clock read while nothing waits.
        if self.paused.is_empty() {
            return;
        }
        let now = Instant::now();
        self.paused.retain(|(topic, partition, due)| {
            if *due > now {
                return true;
            }
            if let Err(e) = consumer.resume(&one(topic, *partition)) {
                info!("{topic}/{partition} not resumed ({e}): no longer assigned");
            }
            false
        });
    }

    /// Pauses the waiting partitions again after the whole assignment was resumed.
    pub(crate) fn pause_again(&self, consumer: &BaseConsumer<GigContext>) {
        for (topic, partition, _) in &self.paused {
            let _ = consumer.pause(&one(topic, *partition));
        }
    }
}
