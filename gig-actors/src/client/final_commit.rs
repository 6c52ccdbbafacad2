//! A stop's final commit, made by the poll thread.
//!
//! It commits synchronously, and a commit refused because the group is rebalancing is tried
//! again while the thread keeps polling, so the member takes part in the rebalance. If the
//! rebalance revokes the partitions meanwhile, the revocation callback commits the same
//! offsets: a revocation is the one moment the group generation is sure to be valid.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gig_core::ack_book::describe;
use gig_core::CommitOffset;
use log::{info, warn};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaResult;

use crate::client::commit::commit_sync;

/// How long a stop keeps retrying its final commit while the group rebalances.
const FINAL_COMMIT_WAIT: Duration = Duration::from_secs(10);

/// The final offsets, once a stop has them, and whether a revocation committed them.
#[derive(Default)]
pub(crate) struct FinalCommit {
    offsets: Mutex<Option<Vec<CommitOffset>>>,
    committed_on_revoke: AtomicBool,
}

impl FinalCommit {
    /// Poll thread: commits the final offsets, retrying while the group settles.
    pub(crate) fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        offsets: &[CommitOffset],
    ) -> KafkaResult<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        if let Ok(mut slot) = self.offsets.lock() {
            *slot = Some(offsets.to_vec());
        }
        let deadline = Instant::now() + FINAL_COMMIT_WAIT;
        loop {
            match commit_sync(consumer, offsets) {
                Ok(()) => return Ok(()),
                Err(_) if self.committed_on_revoke.load(Ordering::SeqCst) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    warn!("final commit: {e}; retrying while the group settles");
                    // Records polled here are dropped: the consumer is halted, and they
                    // are uncommitted.
                    let _ = consumer.poll(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Revocation callback during a stop: commits the final offsets, if the stop has them
    /// and they are not committed yet.
    pub(crate) fn commit_on_revoke<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let offsets = self.offsets.lock().ok().and_then(|o| o.clone());
        let Some(offsets) = offsets.filter(|o| !o.is_empty()) else {
            return;
        };
        if self.committed_on_revoke.load(Ordering::SeqCst) {
            return;
        }
        match commit_sync(consumer, &offsets) {
            Ok(()) => {
                info!(
                    "final offsets committed on revocation: {}",
                    describe(&offsets)
                );
                self.committed_on_revoke.store(true, Ordering::SeqCst);
            }
            Err(e) => warn!("final commit on revocation failed: {e}"),
        }
    }
}
