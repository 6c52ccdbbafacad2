//! A stop's final commit, made by the poll thread.
//!
//! It commits synchronously, and a commit refused because the group is rebalancing is tried
//! again while the thread keeps polling, so the member takes part in the rebalance. If the
//! rebalance revokes the partitions or ends meanwhile, the rebalance callback makes the same
//! commit: those are the moments the group generation is sure to be valid. A final
//! transaction that is aborted is run again whole: the aborted one left nothing visible.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gig_core::describe_offsets;
use gig_core::CommitPlan;
use log::{info, warn};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};

use super::execute;
use super::result::CommitResult;
use crate::client::transactor::Transactor;

/// How long a stop keeps retrying its final commit while the group rebalances.
const FINAL_COMMIT_WAIT: Duration = Duration::from_secs(10);

/// The final commit, once a stop has it, and whether it was made (by the stop or by a
/// revocation): made once, since a transaction made twice would produce its outputs twice.
#[derive(Default)]
pub(crate) struct FinalCommit {
    plan: Mutex<Option<CommitPlan>>,
    done: AtomicBool,
    /// Attempts the broker refused before the last, counted in `Stats::commit_failures`.
    refused: AtomicU64,
}

impl FinalCommit {
    /// Poll thread: makes the final commit, retrying while the group settles.
    pub(crate) fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        transactor: Option<&Transactor>,
        plan: &CommitPlan,
    ) -> CommitResult {
        if plan.is_empty() {
            return CommitResult::Done;
        }
        if let Ok(mut slot) = self.plan.lock() {
            *slot = Some(plan.clone());
        }
        let deadline = Instant::now() + FINAL_COMMIT_WAIT;
        loop {
            let result = self.commit_once(consumer, transactor, plan);
            match &result {
                CommitResult::Done => {
                    self.done.store(true, Ordering::SeqCst);
                    return result;
                }
                CommitResult::Fenced(_) => return result,
                _ if self.done.load(Ordering::SeqCst) => return CommitResult::Done,
                failed if Instant::now() < deadline => {
                    self.refused.fetch_add(1, Ordering::SeqCst);
                    warn!(
                        "final commit: {}; retrying while the group settles",
                        failed.error().unwrap_or_default()
                    );
                    // Records polled here are dropped: the consumer is halted, and they
                    // are uncommitted.
                    let _ = consumer.poll(Duration::from_millis(200));
                }
                _ => return result,
            }
        }
    }

    fn commit_once<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        transactor: Option<&Transactor>,
        plan: &CommitPlan,
    ) -> CommitResult {
        // A revocation inside the poll above may have made it already.
        if self.done.load(Ordering::SeqCst) {
            return CommitResult::Done;
        }
        execute(consumer, transactor, plan)
    }

    /// Rebalance callback (a revocation, or the end of a rebalance) during a stop: makes the
    /// final commit, if the stop has it and it is not made yet.
    pub(crate) fn commit_in_rebalance<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        transactor: Option<&Transactor>,
    ) {
        let plan = self.plan.lock().ok().and_then(|p| p.clone());
        let Some(plan) = plan.filter(|p| !p.is_empty()) else {
            return;
        };
        if self.done.load(Ordering::SeqCst) {
            return;
        }
        match execute(consumer, transactor, &plan) {
            CommitResult::Done => {
                info!(
                    "final commit made in a rebalance callback: {}",
                    describe_offsets(plan.offsets())
                );
                self.done.store(true, Ordering::SeqCst);
            }
            failed => {
                self.refused.fetch_add(1, Ordering::SeqCst);
                warn!(
                    "final commit in a rebalance callback failed: {}",
                    failed.error().unwrap_or_default()
                )
            }
        }
    }

    /// Attempts at the final commit that failed and were tried again (the last one's result
    /// is reported on its own).
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}
