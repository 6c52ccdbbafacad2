//! Revocations: the revoked partitions' in-flight records are resolved (answered, or timed
//! out) and handed over, then what to commit for them goes back to the poll thread, which
//! commits it before the partitions go to another member: their offsets, or in the
//! transactional mode a transaction of their outputs and offsets (committed, or aborted and
//! read again by the next owner).

use std::sync::mpsc::TrySendError;
use std::time::Instant;

use actix::prelude::*;
use gig_core::{CommitPlan, ReleaseId, TransactionResult};
use log::debug;

use super::assignment::{named, Rebalanced};
use super::ConsumerActor;
use crate::client::context::GroupEvent;
use crate::driver;

impl ConsumerActor {
    /// Answers every revocation whose partitions are resolved or whose time is up.
    pub(super) fn release_resolved(&mut self) {
        let now = Instant::now();
        while let Some((id, plan)) = self.driver.pipeline.poll_released(now) {
            let unsent = match self.releases.iter().position(|(r, _)| *r == id) {
                Some(i) => {
                    let (_, reply) = self.releases.swap_remove(i);
                    match reply.try_send(plan) {
                        Ok(()) => None,
                        Err(TrySendError::Full(plan) | TrySendError::Disconnected(plan)) => {
                            Some(plan)
                        }
                    }
                }
                None => Some(plan),
            };
            self.tell_revoked(id);
            // The poll thread stopped waiting: the partitions went without this commit.
            if let Some(CommitPlan::Transaction(txn)) = unsent {
                let pipeline = &mut self.driver.pipeline;
                pipeline.handle_transaction(txn, TransactionResult::Abandoned);
            }
            self.publish_in_flight();
        }
    }

    /// Tells the rebalance listener that revocation `id`'s partitions went.
    fn tell_revoked(&mut self, id: ReleaseId) {
        if let Some(i) = self.revoking.iter().position(|(r, _)| *r == id) {
            let (_, partitions) = self.revoking.swap_remove(i);
            self.tell_listener(Rebalanced::Revoked(named(&partitions)));
        }
    }
}

impl Handler<GroupEvent> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, event: GroupEvent, ctx: &mut Context<Self>) {
        match event {
            GroupEvent::Revoking { partitions, reply } => {
                let listened = self.rebalance_listener.is_some();
                let named = listened.then(|| partitions.clone());
                let id = self
                    .driver
                    .pipeline
                    .handle_revoking(partitions, Instant::now());
                self.releases.push((id, reply));
                self.revoking
                    .extend(named.map(|partitions| (id, partitions)));
                self.release_resolved();
                driver::arm_timer(self, ctx);
            }
            GroupEvent::Assigned(partitions) => {
                debug!("{} partition(s) assigned", partitions.len());
                self.guard_assigned(&partitions, ctx);
                self.rebalances += 1;
                self.answer_assignment_waiters();
                self.tell_listener(Rebalanced::Assigned(named(&partitions)));
                // A rebalance just ended (librdkafka reports every one, with 0 partitions if
                // nothing was added): the group's generation is valid now. Under the classic
                // protocol a commit sent while this member's JoinGroup is pending waits
                // behind it on the coordinator's connection and is refused with the old
                // generation, and under churn the next JoinGroup follows soon: commit what
                // was handed over meanwhile now, not at the next commit period.
                self.commit_now();
            }
        }
    }
}
