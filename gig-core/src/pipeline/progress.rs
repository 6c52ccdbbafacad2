//! What the pipeline holds, for the driver's limits (in flight, uncommitted) and for stats.

use std::collections::BTreeMap;

use super::{Counters, Pipeline};
use crate::ack_book::Partition;

/// Handed-over records may wait behind an unresolved one for the watermark to pass them;
/// they cost a few bytes each, and at most this many per in-flight record are kept.
const TRACKED_PER_IN_FLIGHT: usize = 64;

/// One tracked partition's progress, as [`Pipeline::partitions`] reports it for stats.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionProgress {
    /// The partition.
    pub partition: Partition,
    /// The next offset to commit: one past the handed-over prefix, if any is.
    pub committable: Option<i64>,
    /// Records of the partition not yet routed to an outcome.
    pub unresolved: usize,
}

impl Pipeline {
    /// The counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Records tracked and not yet handed over: each holds its bytes (and the rest of the
    /// batch it was fetched with), so this bounds memory, and the in-flight limit counts it.
    pub fn unresolved(&self) -> usize {
        self.book.unresolved()
    }

    /// Whether the book holds so many handed-over records behind unresolved ones that
    /// fetching must stop too, whatever the in-flight count.
    pub fn over_tracked(&self) -> bool {
        let most = self
            .config
            .max_in_flight
            .saturating_mul(TRACKED_PER_IN_FLIGHT);
        self.book.tracked() >= most
    }

    /// Handed-over records (offsets) whose commit the broker has not confirmed.
    pub fn unconfirmed(&self) -> usize {
        let unconfirmed: u64 = self.book.partitions().map(|p| p.unconfirmed()).sum();
        unconfirmed as usize
    }

    /// Whether in-flight and unconfirmed records together reach `max_uncommitted`: the
    /// driver stops fetching (counting what is in transit too) and commits at once.
    pub fn over_uncommitted(&self) -> bool {
        let Some(most) = self.config.max_uncommitted else {
            return false;
        };
        let unconfirmed = self.unconfirmed();
        unconfirmed > 0 && unconfirmed + self.unresolved() >= most
    }

    /// Records waiting behind another of their key, not yet delivered.
    pub fn queued_by_key(&self) -> usize {
        self.keys.queued()
    }

    /// Every tracked partition's progress: its committable offset and in-flight count.
    pub fn partitions(&self) -> impl Iterator<Item = PartitionProgress> + '_ {
        self.book.partitions().map(|book| PartitionProgress {
            partition: (book.topic().clone(), book.partition()),
            committable: book.committable(),
            unresolved: book.unresolved(),
        })
    }

    /// Per partition, the last offset the broker confirmed as committed.
    pub fn committed(&self) -> &BTreeMap<Partition, i64> {
        &self.commits.confirmed
    }
}
