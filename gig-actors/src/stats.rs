//! Counters and offsets of one consumer, serialisable to JSON.

use std::collections::BTreeMap;
use std::ops::Deref;

use gig_core::{Counters, Partition, Pipeline};
use serde::Serialize;

/// A snapshot of a consumer, as returned by [`GetStats`](crate::GetStats) and
/// [`Stop`](crate::Stop).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Where the records went: received, acked, nacked, timed out, dropped, handed over,
    /// commits… `Stats` dereferences to them, so `stats.acked` reads one.
    #[serde(flatten)]
    pub counters: Counters,
    /// Records delivered and not yet handed over.
    pub in_flight: u64,
    /// Of those, records waiting behind another of their key (key ordering), not yet
    /// delivered.
    pub queued_by_key: u64,
    /// Rebalances this member completed (each group-assignment callback, even one that
    /// brings no new partitions).
    pub rebalances: u64,
    /// Errors the Kafka client reported: an unreachable broker, an unknown topic, a
    /// failed fetch. librdkafka retries them itself; they are counted here so that a
    /// consumer that cannot make progress says why.
    pub client_errors: u64,
    /// The last of those errors that says something new: a repeat without the broker's
    /// reason, or librdkafka's "all brokers are down", does not hide the error before it
    /// that named the broker.
    pub last_client_error: Option<String>,
    /// Whether fetching is paused by the in-flight limit.
    pub paused: bool,
    /// Partitions currently assigned to this consumer, as `topic/partition`.
    pub assignment: Vec<String>,
    /// Per-partition offsets.
    pub partitions: Vec<PartitionStats>,
    /// librdkafka's own statistics (its documented STATISTICS.md JSON, with per-partition
    /// `consumer_lag`), the latest emitted, when the `statistics.interval.ms` property is
    /// set; otherwise `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub librdkafka: Option<serde_json::Value>,
}

/// Offsets of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PartitionStats {
    /// The topic of the partition.
    pub topic: String,
    /// The partition within its topic.
    pub partition: i32,
    /// The next offset to commit: one past the handed-over prefix.
    pub committable: Option<i64>,
    /// The last offset the broker confirmed as committed.
    pub committed: Option<i64>,
    /// Records of this partition not yet handed over.
    pub in_flight: u64,
    /// The partition's high watermark (the offset the next produced record gets), from
    /// librdkafka's statistics: `None` unless the `statistics.interval.ms` property is set.
    pub high_watermark: Option<i64>,
    /// Records not yet committed: `high_watermark - committed`, when both are known.
    pub lag: Option<i64>,
}

impl PartitionStats {
    /// The entry of `key` in `partitions`, added empty if it is not there.
    fn of<'a>(
        partitions: &'a mut BTreeMap<Partition, PartitionStats>,
        key: &Partition,
    ) -> &'a mut PartitionStats {
        partitions
            .entry(key.clone())
            .or_insert_with(|| PartitionStats {
                topic: key.0.to_string(),
                partition: key.1,
                committable: None,
                committed: None,
                in_flight: 0,
                high_watermark: None,
                lag: None,
            })
    }
}

impl Stats {
    /// What the pipeline knows: its counters, and per partition the committable offset,
    /// the confirmed commit and the records in flight. The consumer adds what its Kafka
    /// client knows.
    pub(crate) fn of(pipeline: &Pipeline) -> Stats {
        let mut partitions: BTreeMap<Partition, PartitionStats> = BTreeMap::new();
        for (key, &offset) in pipeline.committed() {
            PartitionStats::of(&mut partitions, key).committed = Some(offset);
        }
        for book in pipeline.partitions() {
            let key = (book.topic().clone(), book.partition());
            let p = PartitionStats::of(&mut partitions, &key);
            p.committable = book.committable();
            p.in_flight = book.unresolved() as u64;
        }
        Stats {
            counters: pipeline.counters().clone(),
            in_flight: pipeline.unresolved() as u64,
            queued_by_key: pipeline.queued_by_key() as u64,
            partitions: partitions.into_values().collect(),
            ..Stats::default()
        }
    }

    /// The committed offset of a partition, if known.
    pub fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.partitions
            .iter()
            .find(|p| p.topic == topic && p.partition == partition)
            .and_then(|p| p.committed)
    }

    /// `topic/partition=offset` for every committed partition, or `none`.
    pub fn committed_summary(&self) -> String {
        let parts: Vec<String> = self
            .partitions
            .iter()
            .filter_map(|p| {
                p.committed
                    .map(|c| format!("{}/{}={}", p.topic, p.partition, c))
            })
            .collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(",")
        }
    }
}

impl Deref for Stats {
    type Target = Counters;

    fn deref(&self) -> &Counters {
        &self.counters
    }
}
