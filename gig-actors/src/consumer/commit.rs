//! The actor's side of a commit: its handlers of the [`Commit`] request and of
//! `Committed`, the commit thread's report. It commits every commit period
//! (`commit_interval`, or `transactional.interval` in the transactional mode), every
//! `commit_every` handed-over records, and on a `Commit` request. The pipeline plans each
//! commit (gig-core's `pipeline/commit`), and the client makes it (`client/commit`) and
//! reports each result.

use std::time::Instant;

use actix::prelude::*;
use gig_core::describe_offsets;
use gig_core::{CommitOffset, CommitPlan};
use log::{debug, warn};
use rdkafka::error::KafkaError;
use tokio::sync::oneshot;

use super::{CommitWaiter, ConsumerActor};
use crate::client::commit::result::{CommitResult, Committed};
use crate::driver::Drives;
use crate::error::GigError;

/// Commits every resolved offset now, without waiting for the commit interval, and
/// answers once the broker confirmed them (or with the error).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Commit;

impl ConsumerActor {
    /// The commit period passed: commits what moved since the last commit, and asks again
    /// for rewinds the poll thread could not make.
    pub(super) fn commit_now(&mut self) {
        self.request_rewinds();
        if let Some(plan) = self.driver.pipeline.take_commit() {
            self.send_commit(plan);
        }
    }

    /// Commits if `commit_every` records were handed over since the last commit, or a
    /// failed commit's retry is due.
    pub(super) fn commit_if_due(&mut self) {
        if let Some(plan) = self.driver.pipeline.poll_commit(Instant::now()) {
            self.send_commit(plan);
        }
    }

    pub(super) fn send_commit(&mut self, plan: CommitPlan) {
        debug!("committing {}", describe_offsets(plan.offsets()));
        if let Err(plan) = self.client.commit(plan) {
            warn!("the commit thread has exited; nothing more is committed");
            for waiter in self.commit_waiters.drain(..) {
                let _ = waiter.reply.send(Err(GigError::ThreadGone("commit")));
            }
            // The pipeline keeps a retry: it meets the same end, with a warning, soon at
            // first, then once a commit period.
            self.commit_ended(plan, CommitResult::Failed(KafkaError::Canceled));
        }
    }

    /// A commit ended: the pipeline learns how (a failed offset commit is retried when
    /// its [`poll_commit`](gig_core::Pipeline::poll_commit) says), and `Commit` requests
    /// are answered.
    pub(super) fn commit_ended(&mut self, plan: CommitPlan, result: CommitResult) {
        match plan {
            CommitPlan::Offsets(offsets) => match result {
                CommitResult::Done => self.committed(&offsets),
                CommitResult::Failed(e) | CommitResult::Aborted(e) | CommitResult::Fenced(e) => {
                    self.commit_failed(&offsets, e)
                }
                CommitResult::NoGroup => self.commit_failed(&offsets, KafkaError::Canceled),
            },
            CommitPlan::Transaction(txn) => self.transaction_ended(txn, result),
        }
    }

    fn commit_failed(&mut self, offsets: &[CommitOffset], e: KafkaError) {
        let now = Instant::now();
        match self.driver.pipeline.handle_commit_failed(offsets, now) {
            Some(retry) => warn!(
                "commit of {} failed ({e}); it will be sent again in {:?}",
                describe_offsets(offsets),
                retry.saturating_duration_since(now)
            ),
            None => warn!("commit of {} failed ({e})", describe_offsets(offsets)),
        }
        for waiter in self.commit_waiters.drain(..) {
            let _ = waiter.reply.send(Err(GigError::Kafka {
                action: "committing offsets",
                source: e.clone(),
            }));
        }
    }

    /// The broker confirmed offsets: `Commit` requests they cover are answered.
    pub(super) fn committed(&mut self, offsets: &[CommitOffset]) {
        self.driver.metrics.committed(offsets);
        self.driver.pipeline.handle_committed(offsets);
        self.answer_commit_waiters();
    }

    /// Answers the `Commit` requests whose offsets are all confirmed.
    pub(super) fn answer_commit_waiters(&mut self) {
        let pipeline = &self.driver.pipeline;
        let (done, waiting) = std::mem::take(&mut self.commit_waiters)
            .into_iter()
            .partition(|w| pipeline.is_committed(&w.offsets));
        self.commit_waiters = waiting;
        for waiter in done {
            let _ = waiter.reply.send(Ok(()));
        }
    }
}

impl Handler<Committed> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, committed: Committed, ctx: &mut Context<Self>) {
        let Committed { plan, result, took } = committed;
        let done = matches!(result, CommitResult::Done);
        self.driver.metrics.commit(done, Some(took));
        self.commit_ended(plan, result);
        // A revocation or the stop may have waited for this transaction; a failed commit's
        // retry sets the timer.
        self.progressed(ctx);
    }
}

impl Handler<Commit> for ConsumerActor {
    type Result = ResponseFuture<Result<(), GigError>>;

    fn handle(&mut self, _: Commit, _: &mut Context<Self>) -> Self::Result {
        let offsets = self.driver.pipeline.uncommitted();
        if offsets.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        self.commit_now();
        let (reply, answer) = oneshot::channel();
        self.commit_waiters.push(CommitWaiter { offsets, reply });
        Box::pin(async move { answer.await.unwrap_or(Err(GigError::Stopped)) })
    }
}
