//! Every commit Gig makes, and its report to the actor.
//!
//! rdkafka's asynchronous commit reports its result only through a commit callback that
//! the event-based `BaseConsumer` does not receive, so a failed commit would pass unseen.
//! Every commit Gig makes is synchronous, off the actor's thread (on the commit thread, or
//! on the poll thread during a revocation or a stop), and its result reported. In the
//! transactional mode a commit is a transaction, run by the [`Transactor`].

use actix::Message;
use gig_core::{CommitOffset, CommitPlan};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};

use crate::client::context::GigContext;
use crate::client::partitions::to_tpl;
use crate::client::transactor::Transactor;

/// Commits `offsets` and waits for the broker's answer.
pub(crate) fn commit_sync<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: &[CommitOffset],
) -> KafkaResult<()> {
    consumer.commit(&to_tpl(offsets), CommitMode::Sync)
}

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

/// Makes the commit `plan` asks for. A transaction needs the transactor; a consumer
/// without one never plans one.
pub(crate) fn execute(
    consumer: &BaseConsumer<GigContext>,
    transactor: Option<&Transactor>,
    plan: &CommitPlan,
) -> CommitResult {
    match (plan, transactor) {
        (CommitPlan::Offsets(offsets), _) => match commit_sync(consumer, offsets) {
            Ok(()) => CommitResult::Done,
            Err(e) => CommitResult::Failed(e),
        },
        (CommitPlan::Transaction(txn), Some(transactor)) => transactor.run(consumer, txn),
        (CommitPlan::Transaction(_), None) => CommitResult::Fenced(KafkaError::Canceled),
    }
}

/// A commit finished (on the commit thread, for revoked partitions, or at a stop): what it
/// was and how it ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Committed {
    pub(crate) plan: CommitPlan,
    pub(crate) result: CommitResult,
}
