//! The one synchronous commit, and its report to the actor.
//!
//! rdkafka's asynchronous commit reports its result only through a commit callback that
//! the event-based `BaseConsumer` does not receive, so a failed commit would pass unseen.
//! Every commit Gig makes is synchronous, off the actor's thread (on the commit thread, or
//! on the poll thread during a revocation or a stop), and its result reported.

use std::time::{Duration, Instant};

use actix::Message;
use gig_core::CommitOffset;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;

use crate::client::partitions::to_tpl;

/// Commits `offsets` and waits for the broker's answer.
pub(crate) fn commit_sync<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: &[CommitOffset],
) -> KafkaResult<()> {
    consumer.commit(&to_tpl(offsets), CommitMode::Sync)
}

/// A commit finished (on the commit thread, or for revoked partitions): its offsets and the
/// broker's answer.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Committed {
    pub(crate) offsets: Vec<CommitOffset>,
    pub(crate) result: KafkaResult<()>,
    /// How long the commit took, for the commit-latency metric.
    pub(crate) took: Duration,
}

/// Commits `offsets` with [`commit_sync`] and says how it went and how long it took.
pub(crate) fn commit_timed<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: Vec<CommitOffset>,
) -> Committed {
    let started = Instant::now();
    let result = commit_sync(consumer, &offsets);
    let took = started.elapsed();
    Committed {
        offsets,
        result,
        took,
    }
}
