//! `CaughtUp`: answered once every record below the assigned partitions' high watermarks,
//! as they were when it arrived, is handed over and committed. The rehearsal's `Settle`,
//! for a consumer of a real broker.

use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_core::{CatchUp, CommitOffset, Fault, PartitionEnd};
use rdkafka::error::KafkaResult;
use tokio::sync::oneshot;

use super::ConsumerActor;
use crate::client::query::partition_ends;
use crate::error::GigError;
use crate::stats::Stats;

/// Answers with the [`Stats`] once every record below the high watermarks of the assigned
/// partitions, as they are when the command arrives, has been handed over (accepted by the
/// Acked or NoAcked actor) and its offset committed (confirmed by the broker). Records
/// produced later are not waited for. The consumer commits as soon as the records are
/// handed over, without waiting for the commit interval.
///
/// Errors: [`GigError::NoAssignment`] if no partition is assigned yet (send
/// [`WaitForAssignment`](crate::WaitForAssignment) first), [`GigError::Timeout`] after
/// `timeout`, [`GigError::Kafka`] if the broker does not tell the watermarks,
/// [`GigError::Unreadable`] as soon as a fault keeps the consumer from reading (a
/// partition it cannot decompress, an ACL, credentials).
///
/// A partition revoked meanwhile is left to its next owner, so this member cannot catch up
/// on it and the command times out. On a topic written in transactions the high watermark
/// counts the transaction markers, which no record reaches: use it on plain topics.
///
/// ```no_run
/// # use std::time::{Duration, Instant};
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # async fn demo(consumer: Addr<ConsumerActor>) -> Result<(), GigError> {
/// consumer.send(WaitForAssignment::within(Duration::from_secs(30))).await??;
/// let stats = consumer.send(CaughtUp::within(Duration::from_secs(60))).await??;
/// println!("caught up: committed {}", stats.committed_summary());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Stats, GigError>")]
pub struct CaughtUp {
    /// How long to wait before answering [`GigError::Timeout`].
    pub timeout: Duration,
}

impl CaughtUp {
    /// Waits at most `timeout`.
    pub fn within(timeout: Duration) -> Self {
        CaughtUp { timeout }
    }
}

/// A `CaughtUp` waiting for its targets to be committed.
pub(super) struct CatchUpWaiter {
    targets: Vec<CommitOffset>,
    reply: oneshot::Sender<Result<Stats, GigError>>,
}

/// The partitions' ends, read off the actor's thread, for a `CaughtUp`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct EndsRead {
    ends: KafkaResult<Vec<PartitionEnd>>,
    reply: oneshot::Sender<Result<Stats, GigError>>,
}

impl ConsumerActor {
    /// Answers the `CaughtUp` requests whose targets are committed; commits now for those
    /// whose records are all handed over.
    pub(super) fn answer_caught_up(&mut self) {
        if self.catching_up.is_empty() {
            return;
        }
        let mut commit = false;
        for waiter in std::mem::take(&mut self.catching_up) {
            if waiter.reply.is_closed() {
                continue; // timed out
            }
            match self.driver.pipeline.catch_up(&waiter.targets) {
                CatchUp::Done => {
                    let _ = waiter.reply.send(Ok(self.snapshot()));
                    continue;
                }
                CatchUp::Resolved => commit = true,
                CatchUp::Waiting => {}
            }
            self.catching_up.push(waiter);
        }
        if commit {
            self.commit_now();
        }
    }
}

impl ConsumerActor {
    /// A fault opened: the consumer cannot catch up until someone acts, so the `CaughtUp`
    /// requests fail with it now rather than time out.
    pub(super) fn fail_caught_up(&mut self, fault: &Fault) {
        for waiter in self.catching_up.drain(..) {
            let _ = waiter.reply.send(Err(GigError::Unreadable(fault.clone())));
        }
    }
}

impl Handler<CaughtUp> for ConsumerActor {
    type Result = ResponseFuture<Result<Stats, GigError>>;

    fn handle(&mut self, msg: CaughtUp, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        let asked = self.running().and_then(|()| {
            if self.client.assignment().is_empty() {
                return Err(GigError::NoAssignment);
            }
            let me = ctx.address().recipient();
            let timeout = msg.timeout;
            self.client.query(move |kafka| {
                let ends = partition_ends(kafka, timeout);
                me.do_send(EndsRead { ends, reply });
            })
        });
        Box::pin(async move {
            asked?;
            match tokio::time::timeout(msg.timeout, answer).await {
                Ok(answer) => answer.unwrap_or(Err(GigError::Stopped)),
                Err(_) => Err(GigError::Timeout {
                    waiting_for: "the consumer to catch up",
                    after: msg.timeout,
                }),
            }
        })
    }
}

impl Handler<EndsRead> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, EndsRead { ends, reply }: EndsRead, _: &mut Context<Self>) {
        match ends {
            Ok(_) if self.client.shared().errors.is_blocked() => {
                let (faults, _) = self.client.shared().errors.faults(Instant::now());
                if let Some(fault) = faults.into_iter().next() {
                    let _ = reply.send(Err(GigError::Unreadable(fault)));
                }
            }
            Ok(ends) => {
                let targets = ends.iter().filter_map(PartitionEnd::target).collect();
                self.catching_up.push(CatchUpWaiter { targets, reply });
                self.answer_caught_up();
            }
            Err(source) => {
                let _ = reply.send(Err(GigError::Kafka {
                    action: "reading the partitions' watermarks",
                    source,
                }));
            }
        }
    }
}
