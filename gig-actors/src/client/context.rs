//! The librdkafka context of a Gig consumer: the callbacks librdkafka makes from inside
//! `poll`, on the poll thread.
//!
//! Errors and statistics go to [`Shared`] for `Stats`. A rebalance goes to the actor as a
//! [`GroupEvent`]; on a revocation this thread waits (bounded) for the actor to resolve the
//! revoked partitions' in-flight records, and commits what they resolved to before the
//! partitions go to another member.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::{Message, Recipient};
use gig_core::ack_book::describe;
use gig_core::{CommitOffset, Partition};
use log::{error, info, warn};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::TopicPartitionList;

use crate::client::commit::{commit_timed, Committed};
use crate::client::partitions::{names, partitions_of};
use crate::client::shared::Shared;

/// A change of this member's partitions, from the rebalance callbacks.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) enum GroupEvent {
    /// Partitions are being revoked: resolve their in-flight records and answer with the
    /// offsets to commit for them. The poll thread waits (bounded) for the answer.
    Revoking {
        partitions: Vec<Partition>,
        reply: SyncSender<Vec<CommitOffset>>,
    },
    /// Partitions were assigned by the group.
    Assigned(Vec<Partition>),
}

/// Where the callbacks report: the actor, once it has started.
pub(crate) struct ContextLinks {
    pub(crate) group: Recipient<GroupEvent>,
    pub(crate) committed: Recipient<Committed>,
}

/// librdkafka callbacks for a Gig consumer.
pub(crate) struct GigContext {
    shared: Arc<Shared>,
    links: OnceLock<ContextLinks>,
    /// Longest wait for the actor to resolve revoked partitions.
    revoke_wait: Duration,
}

impl GigContext {
    pub(crate) fn new(shared: Arc<Shared>, revoke_wait: Duration) -> Self {
        GigContext {
            shared,
            links: OnceLock::new(),
            revoke_wait,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Connects the callbacks to the actor.
    pub(crate) fn attach(&self, links: ContextLinks) {
        let _ = self.links.set(links);
    }

    fn on_revoke(&self, consumer: &BaseConsumer<GigContext>, tpl: &TopicPartitionList) {
        let partitions = partitions_of(tpl);
        if let Ok(mut revoked) = self.shared.revoked.lock() {
            revoked.extend(partitions.iter().cloned());
        }
        self.shared.revocations.fetch_add(1, Ordering::SeqCst);
        if self.shared.halted() {
            self.shared.final_commit.commit_on_revoke(consumer);
            return;
        }
        let Some(links) = self.links.get() else {
            return;
        };
        info!(
            "revoking {} partition(s): {}",
            partitions.len(),
            names(&partitions)
        );
        let (reply, answer) = mpsc::sync_channel(1);
        links
            .group
            .do_send(GroupEvent::Revoking { partitions, reply });
        match answer.recv_timeout(self.revoke_wait) {
            Ok(offsets) if offsets.is_empty() => {}
            Ok(offsets) => {
                let committed = commit_timed(consumer, offsets);
                match &committed.result {
                    Ok(()) => info!("committed revoked partitions at {}", describe(&committed.offsets)),
                    Err(e) => warn!("commit on revocation failed ({e}); the next owner re-reads from the last commit"),
                }
                links.committed.do_send(committed);
            }
            Err(_) => warn!(
                "revoked partitions not resolved within {:?}; their uncommitted records go to the next owner",
                self.revoke_wait
            ),
        }
    }

    fn on_assign(&self, tpl: &TopicPartitionList) {
        let partitions = partitions_of(tpl);
        if let Ok(mut revoked) = self.shared.revoked.lock() {
            for p in &partitions {
                revoked.remove(p);
            }
        }
        info!(
            "assigned {} partition(s): {}",
            partitions.len(),
            names(&partitions)
        );
        if let Some(links) = self.links.get() {
            links.group.do_send(GroupEvent::Assigned(partitions));
        }
    }
}

impl ClientContext for GigContext {
    fn stats_raw(&self, statistics: &[u8]) {
        if let Ok(mut last) = self.shared.librdkafka_stats.lock() {
            *last = Some(statistics.to_vec());
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        error!("librdkafka: {error}: {reason}");
        self.shared.errors.record(&error, Some(reason));
    }
}

impl ConsumerContext for GigContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => self.on_revoke(consumer, tpl),
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => error!("rebalance error: {e}"),
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.on_assign(tpl);
        }
    }
}
