//! The client's side of a commit: every commit Gig makes, and its report to the actor.
//!
//! rdkafka's asynchronous commit reports its result only through a commit callback that
//! the event-based `BaseConsumer` does not receive, so a failed commit would pass unseen.
//! Every commit Gig makes is synchronous, off the actor's thread (on the commit thread, or
//! on the poll thread during a revocation or a stop), and its result reported. In the
//! transactional mode a commit is a transaction, run by the [`Transactor`].
//!
//! - [`thread`]: the commit thread, which makes the commits the actor plans.
//! - [`closing`]: a stop's final commit, made by the poll thread.
//! - [`result`]: how a commit ended ([`CommitResult`]), and the report of it to the actor
//!   ([`Committed`]).
//!
//! All three go through [`execute`].

pub(crate) mod closing;
pub(crate) mod result;
pub(crate) mod thread;

use std::time::Instant;

use gig_core::{CommitOffset, CommitPlan};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};

use crate::client::partitions::to_tpl;
use crate::client::transactor::Transactor;
use result::{CommitResult, Committed};

/// Commits `offsets` and waits for the broker's answer.
pub(crate) fn commit_sync<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: &[CommitOffset],
) -> KafkaResult<()> {
    consumer.commit(&to_tpl(offsets), CommitMode::Sync)
}

/// Makes the commit `plan` asks for. A transaction needs the transactor; a consumer
/// without one never plans one.
pub(crate) fn execute<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
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

/// [`execute`], timed: the report for the actor. A transaction's outputs are dropped here,
/// off the actor's thread, once it no longer needs them: produced, or lost with an abort.
pub(crate) fn execute_timed<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    transactor: Option<&Transactor>,
    mut plan: CommitPlan,
) -> Committed {
    let started = Instant::now();
    let result = execute(consumer, transactor, &plan);
    if let CommitPlan::Transaction(txn) = &mut plan {
        if result.began() {
            txn.outputs.clear();
        }
    }
    Committed {
        plan,
        result,
        took: started.elapsed(),
    }
}
