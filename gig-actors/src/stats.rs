//! Counters and offsets of one consumer, serialisable to JSON.

use serde::Serialize;

/// A snapshot of a consumer, as returned by [`GetStats`](crate::GetStats) and
/// [`Stop`](crate::Stop).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Records fetched and tracked.
    pub received: u64,
    /// Records fetched after a stop or for a released partition, never delivered, never
    /// committed: the partition's next owner reads them.
    pub discarded: u64,
    /// Records routed to the AckedActor.
    pub acked: u64,
    /// Records nacked by the downstream.
    pub nacked: u64,
    /// Records that timed out.
    pub timed_out: u64,
    /// Records a typed downstream could not take: their payload did not decode.
    pub undecodable: u64,
    /// Records not delivered because the downstream had stopped.
    pub downstream_gone: u64,
    /// Answers that came after the record was already routed (counted, ignored).
    pub late_answers: u64,
    /// Answers for records of a released partition (counted, ignored).
    pub unknown_answers: u64,
    /// Records accepted by the Acked or NoAcked actor.
    pub handed_over: u64,
    /// Hand-over batches a handler refused or could not take (offered again later).
    pub handover_failures: u64,
    /// Records delivered and not yet handed over.
    pub in_flight: u64,
    /// Of those, records waiting behind another of their key (key ordering), not yet
    /// delivered.
    pub queued_by_key: u64,
    /// Commit requests sent.
    pub commits: u64,
    /// Commit requests that failed (their offsets are committed again).
    pub commit_failures: u64,
    /// Rebalances this member completed (each group-assignment callback, even one that
    /// brings no new partitions).
    pub rebalances: u64,
    /// Errors the Kafka client reported: an unreachable broker, an unknown topic, a
    /// failed fetch. librdkafka retries them itself; they are counted here so that a
    /// consumer that cannot make progress says why.
    pub client_errors: u64,
    /// The last of those errors.
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
pub struct PartitionStats {
    /// Topic.
    pub topic: String,
    /// Partition.
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

impl Stats {
    /// The committed offset of a partition, if known.
    pub fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.partitions
            .iter()
            .find(|p| p.topic == topic && p.partition == partition)
            .and_then(|p| p.committed)
    }
}
