//! Requests a user sends to a [`ConsumerActor`](crate::ConsumerActor).

use actix::Message;

use crate::error::GigError;
use crate::stats::Stats;

/// Subscribes to topics; the group assigns the partitions. Replaces any subscription.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Subscribe(pub Vec<String>);

impl Subscribe {
    /// Subscribe to these topics.
    pub fn to<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        Subscribe(topics.into_iter().map(Into::into).collect())
    }
}

/// One partition to read, from its committed offset or from a given one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStart {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset to start at; `None` for the group's committed offset (or the reset policy).
    pub offset: Option<i64>,
}

/// Assigns partitions manually (no group rebalancing). Replaces any assignment.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Assign(pub Vec<PartitionStart>);

/// Leaves the subscription. In-flight records of the revoked partitions are resolved
/// (acked, or no-acked at their deadline) and committed before the partitions are released.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Unsubscribe;

/// Stops the consumer: no new deliveries; in-flight records are resolved (at most one ack
/// timeout), handed over and committed; then the client closes and the actor stops.
/// Answers with the final [`Stats`]. Sending `Stop` again answers the same way.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Stats, GigError>")]
pub struct Stop;

/// Commits every resolved offset now, without waiting for the commit interval, and
/// answers once the broker confirmed them (or with the error).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Commit;

/// Asks for a snapshot of the consumer's counters and offsets.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Stats")]
pub struct GetStats;
