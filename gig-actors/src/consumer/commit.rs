//! Commits: every `commit_interval`, every `commit_every` handed-over records, and on a
//! `Commit` request; the commit thread makes them and reports each result.

use actix::prelude::*;
use gig_core::ack_book::describe;
use gig_core::CommitOffset;
use log::{debug, warn};
use tokio::sync::oneshot;

use super::{CommitWaiter, ConsumerActor};
use crate::client::commit::Committed;
use crate::error::GigError;

/// Commits every resolved offset now, without waiting for the commit interval, and
/// answers once the broker confirmed them (or with the error).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Commit;

impl ConsumerActor {
    /// The commit interval passed: commits what moved since the last commit.
    pub(super) fn commit_now(&mut self) {
        if let Some(offsets) = self.driver.pipeline.take_commit() {
            self.send_commit(offsets);
        }
    }

    /// Commits if `commit_every` records were handed over since the last commit.
    pub(super) fn commit_if_due(&mut self) {
        if let Some(offsets) = self.driver.pipeline.poll_commit() {
            self.send_commit(offsets);
        }
    }

    fn send_commit(&mut self, offsets: Vec<CommitOffset>) {
        debug!("committing {}", describe(&offsets));
        if let Err(offsets) = self.client.commit(offsets) {
            self.commit_failed(&offsets, "the commit thread has exited", || {
                GigError::ThreadGone("commit")
            });
        }
    }

    fn commit_failed(&mut self, offsets: &[CommitOffset], why: &str, error: impl Fn() -> GigError) {
        warn!(
            "commit of {} failed ({why}); it will be sent again",
            describe(offsets)
        );
        self.driver.pipeline.handle_commit_failed(offsets);
        for waiter in self.commit_waiters.drain(..) {
            let _ = waiter.reply.send(Err(error()));
        }
    }

    /// The broker confirmed offsets: `Commit` requests they cover are answered.
    pub(super) fn committed(&mut self, offsets: &[CommitOffset]) {
        self.driver.metrics.committed(offsets);
        let pipeline = &mut self.driver.pipeline;
        pipeline.handle_committed(offsets);
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

    fn handle(&mut self, committed: Committed, _: &mut Context<Self>) {
        let Committed {
            offsets,
            result,
            took,
        } = committed;
        self.driver.metrics.commit(result.is_ok(), Some(took));
        match result {
            Ok(()) => self.committed(&offsets),
            Err(e) => self.commit_failed(&offsets, &e.to_string(), || GigError::Kafka {
                action: "committing offsets",
                source: e.clone(),
            }),
        }
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
