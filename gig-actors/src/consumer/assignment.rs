//! The consumer's assignment, for the user: `WaitForAssignment`, and the rebalance
//! listener told of each assignment and revocation after Gig has handled it.

use std::time::Duration;

use actix::prelude::*;
use gig_core::Partition;
use tokio::sync::oneshot;

use super::ConsumerActor;
use crate::error::GigError;

/// Answers with the assigned partitions (as `topic/partition`, like
/// [`Stats::assignment`](crate::Stats::assignment)) once at least one is assigned: at
/// once if one is, else at the next assignment by the group (or by [`Assign`](crate::Assign)).
/// [`GigError::Timeout`] after `timeout`; [`GigError::Unreadable`] as soon as a fault
/// keeps the group from assigning anything: credentials or a certificate the broker
/// refuses, an ACL that denies the group or the topic.
///
/// ```no_run
/// # use std::time::Duration;
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # async fn demo(consumer: Addr<ConsumerActor>) -> Result<(), GigError> {
/// let assigned = consumer.send(WaitForAssignment::within(Duration::from_secs(30))).await??;
/// println!("reading {}", assigned.join(", "));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Vec<String>, GigError>")]
pub struct WaitForAssignment {
    /// How long to wait before answering [`GigError::Timeout`].
    pub timeout: Duration,
}

impl WaitForAssignment {
    /// Waits at most `timeout`.
    pub fn within(timeout: Duration) -> Self {
        WaitForAssignment { timeout }
    }
}

/// A change of the consumer's partitions, sent to the rebalance listener
/// ([`ConsumerBuilder::rebalance_listener`](crate::ConsumerBuilder::rebalance_listener))
/// after Gig has handled it. Partitions are `(topic, partition)`.
#[derive(Debug, Clone, PartialEq, Eq, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum Rebalanced {
    /// Partitions were assigned; Gig reads them from now on. Under incremental
    /// (cooperative or KIP-848) rebalancing, only the partitions added.
    Assigned(Vec<(String, i32)>),
    /// Partitions are revoked: their in-flight records are resolved and handed over (those
    /// unresolved when the wait ends, [`ConsumerConfig::revocation_wait`](gig_core::ConsumerConfig::revocation_wait),
    /// are left to the next owner), and what to commit for them has gone to the poll
    /// thread, which commits it before the partitions go to another member. Gig delivers
    /// and hands over none of their records any more.
    Revoked(Vec<(String, i32)>),
}

/// Partitions as the listener gets them.
pub(super) fn named(partitions: &[Partition]) -> Vec<(String, i32)> {
    partitions
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect()
}

impl ConsumerActor {
    /// Answers the `WaitForAssignment` requests if a partition is assigned.
    pub(super) fn answer_assignment_waiters(&mut self) {
        if self.assignment_waiters.is_empty() {
            return;
        }
        let assignment = self.client.assignment();
        if assignment.is_empty() {
            return;
        }
        for waiter in self.assignment_waiters.drain(..) {
            let _ = waiter.send(Ok(assignment.clone()));
        }
    }

    /// Tells the rebalance listener, if there is one.
    pub(super) fn tell_listener(&self, change: Rebalanced) {
        if let Some(listener) = &self.rebalance_listener {
            listener.do_send(change);
        }
    }
}

impl Handler<WaitForAssignment> for ConsumerActor {
    type Result = ResponseFuture<Result<Vec<String>, GigError>>;

    fn handle(&mut self, msg: WaitForAssignment, _: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        let asked = self
            .running()
            .and_then(|()| match self.client.assignment().is_empty() {
                true => self
                    .fault_blocking_assignment()
                    .map_or(Ok(()), |fault| Err(GigError::Unreadable(fault))),
                false => Ok(()),
            });
        if asked.is_ok() {
            self.assignment_waiters.retain(|w| !w.is_closed());
            self.assignment_waiters.push(reply);
            self.answer_assignment_waiters();
        }
        Box::pin(async move {
            asked?;
            match tokio::time::timeout(msg.timeout, answer).await {
                Ok(answer) => answer.unwrap_or(Err(GigError::Stopped)),
                Err(_) => Err(GigError::Timeout {
                    waiting_for: "an assignment",
                    after: msg.timeout,
                }),
            }
        })
    }
}
