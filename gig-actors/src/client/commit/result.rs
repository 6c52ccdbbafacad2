//! How a commit ended, and the report of it to the actor.

use std::time::Duration;

use actix::Message;
use gig_core::CommitPlan;
use rdkafka::error::KafkaError;

/// How a commit ended.
#[derive(Debug, Clone)]
pub(crate) enum CommitResult {
    /// Committed.
    Done,
    /// Not committed, and nothing was made visible: offsets are sent again with the next
    /// commit; a transaction that did not begin is offered again.
    Failed(KafkaError),
    /// A transaction did not begin: the consumer has no group metadata (not in a group
    /// yet). Offered again.
    NoGroup,
    /// A transaction was aborted: nothing of it is visible.
    Aborted(KafkaError),
    /// The transactional producer is fenced or failed for good.
    Fenced(KafkaError),
}

impl CommitResult {
    /// Whether a transaction began (and so will not be offered again): committed,
    /// aborted, or the producer fenced.
    pub(crate) fn began(&self) -> bool {
        matches!(
            self,
            CommitResult::Done | CommitResult::Aborted(_) | CommitResult::Fenced(_)
        )
    }

    /// The error, unless it is done.
    pub(crate) fn error(&self) -> Option<String> {
        match self {
            CommitResult::Done => None,
            CommitResult::NoGroup => Some("the consumer is not in a group yet".to_string()),
            CommitResult::Failed(e) | CommitResult::Aborted(e) | CommitResult::Fenced(e) => {
                Some(e.to_string())
            }
        }
    }
}

/// A commit finished (on the commit thread, for revoked partitions, or at a stop): what it
/// was and how it ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Committed {
    pub(crate) plan: CommitPlan,
    pub(crate) result: CommitResult,
    /// How long the commit took, for the commit-latency metric.
    pub(crate) took: Duration,
}
