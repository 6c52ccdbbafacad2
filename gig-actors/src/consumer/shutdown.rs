//! `Stop`: no new deliveries; in-flight records are resolved (within the longest ack
//! timeout and a grace), handed over and committed by the poll thread; then the client
//! closes and the actor stops.

use std::time::Instant;

use actix::prelude::*;
use gig_core::{CommitOffset, CommitPlan};
use log::{error, info};
use rdkafka::error::KafkaError;
use tokio::sync::oneshot;

use super::ConsumerActor;
use crate::client::commit::result::CommitResult;
use crate::client::poller::Closed;
use crate::driver;
use crate::error::GigError;
use crate::stats::Stats;

/// Stops the consumer: no new deliveries; in-flight records are resolved (at most one ack
/// timeout), handed over and committed; then the client closes and the actor stops.
/// Answers with the final [`Stats`] once the client is closed, so a caller may tear the
/// broker down next. Sending `Stop` again answers the same way.
///
/// `GigError` converts actix's `MailboxError`, so both layers fold into one `?` each:
///
/// ```no_run
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// async fn shut_down(consumer: Addr<ConsumerActor>) -> Result<Stats, GigError> {
///     let stats = consumer.send(Stop).await??; // MailboxError, then the stop's own error
///     println!("handed over {}, next offsets {}", stats.handed_over, stats.committed_summary());
///     Ok(stats)
/// }
/// ```
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Stats, GigError>")]
pub struct Stop;

/// Why a stop did not end with its final commit.
enum StopFailure {
    FinalCommit(Vec<CommitOffset>, CommitResult),
    PollThreadGone,
    /// The transactional producer was fenced before the stop: nothing was committed.
    Fenced(String, KafkaError),
}

impl StopFailure {
    fn error(&self) -> GigError {
        match self {
            StopFailure::FinalCommit(offsets, result) => match result {
                CommitResult::Failed(source)
                | CommitResult::Aborted(source)
                | CommitResult::Fenced(source) => GigError::FinalCommit {
                    offsets: offsets.clone(),
                    source: source.clone(),
                },
                CommitResult::NoGroup | CommitResult::Done => GigError::NotInGroup,
            },
            StopFailure::PollThreadGone => GigError::ThreadGone("poll"),
            StopFailure::Fenced(id, source) => GigError::Fenced {
                id: id.clone(),
                source: source.clone(),
            },
        }
    }
}

impl ConsumerActor {
    /// Once the stop's records are resolved (or its time is up): the final offsets go to
    /// the poll thread, which commits them and answers with [`Closed`].
    pub(super) fn check_stop(&mut self, ctx: &mut Context<Self>) {
        let Some(offsets) = self.driver.pipeline.poll_stop(Instant::now()) else {
            return;
        };
        if !self.client.close_with(offsets) {
            self.finish_stop(Err(StopFailure::PollThreadGone), ctx);
        }
    }

    fn finish_stop(&mut self, result: Result<(), StopFailure>, ctx: &mut Context<Self>) {
        let result = match self.fenced_by() {
            Some((id, source)) => Err(StopFailure::Fenced(id, source)),
            None => result,
        };
        let stats = self.snapshot();
        match &result {
            Ok(()) => info!(
                "stopped: acked={} no-acked={} committed={}",
                stats.acked,
                self.driver.pipeline.counters().no_acked(),
                stats.committed_summary()
            ),
            Err(failure) => error!("{}", failure.error()),
        }
        // Closing blocks (the member leaves its group), so it runs off the actor's thread;
        // `Stop` answers once it is done.
        let waiters = std::mem::take(&mut self.stop_waiters);
        let close = self.client.close();
        ctx.stop();
        actix::spawn(async move {
            let _ = tokio::task::spawn_blocking(close).await;
            for waiter in waiters {
                let answer = match &result {
                    Ok(()) => Ok(stats.clone()),
                    Err(failure) => Err(failure.error()),
                };
                let _ = waiter.send(answer);
            }
        });
    }
}

impl Handler<Stop> for ConsumerActor {
    type Result = ResponseFuture<Result<Stats, GigError>>;

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) -> Self::Result {
        if !self.driver.pipeline.is_stopping() {
            self.driver.pipeline.handle_stop(Instant::now());
            self.client.halt();
            driver::arm_timer(self, ctx);
        }
        let (tx, rx) = oneshot::channel();
        self.stop_waiters.push(tx);
        self.release_resolved();
        self.check_stop(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(GigError::Stopped)) })
    }
}

impl Handler<Closed> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, Closed { plan, result }: Closed, ctx: &mut Context<Self>) {
        let offsets = plan.offsets().to_vec();
        // The attempts the broker refused before the last count as failed commits too.
        for _ in 0..self.client.shared().final_commit.refused() {
            self.driver.metrics.commit(false, None);
            self.driver
                .pipeline
                .handle_commit_failed(&offsets, Instant::now());
        }
        if !plan.is_empty() {
            let done = matches!(result, CommitResult::Done);
            self.driver.metrics.commit(done, None);
        }
        let outcome = match &result {
            CommitResult::Done => Ok(()),
            failed => Err(StopFailure::FinalCommit(offsets, failed.clone())),
        };
        match plan {
            CommitPlan::Transaction(txn) if txn.is_empty() => {}
            // The stop is over: no retry.
            plan => self.commit_ended(plan, result),
        }
        self.finish_stop(outcome, ctx);
    }
}
