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
use std::time::{Duration, Instant};

use actix::{Message, Recipient};
use gig_core::describe_offsets;
use gig_core::{CommitPlan, FaultScope, Partition};
use log::{error, info, warn};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};

use crate::client::client_errors::ClientError;
use crate::client::commit::execute_timed;
use crate::client::commit::result::{CommitResult, Committed};
use crate::client::log_lines;
use crate::client::partitions::{names, partitions_of};
use crate::client::shared::Shared;

/// A change of this member's partitions, from the rebalance callbacks.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) enum GroupEvent {
    /// Partitions are being revoked: resolve their in-flight records and answer with what
    /// to commit for them (offsets, or a transaction). The poll thread waits (bounded) for
    /// the answer.
    Revoking {
        partitions: Vec<Partition>,
        reply: SyncSender<CommitPlan>,
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
            let transactor = self.shared.transactor.as_deref();
            self.shared
                .final_commit
                .commit_in_rebalance(consumer, transactor);
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
            Ok(plan) if plan.is_empty() => {}
            Ok(plan) => {
                let transactor = self.shared.transactor.as_deref();
                let committed = execute_timed(consumer, transactor, plan);
                match &committed.result {
                    CommitResult::Done => info!(
                        "committed revoked partitions at {}",
                        describe_offsets(committed.plan.offsets())
                    ),
                    other => warn!(
                        "commit on revocation failed ({}); the next owner re-reads from the last commit",
                        other.error().unwrap_or_default()
                    ),
                }
                links.committed.do_send(committed);
            }
            Err(_) => warn!(
                "revoked partitions not resolved within {:?}; their uncommitted records go to the next owner",
                self.revoke_wait
            ),
        }
    }

    fn on_assign(&self, consumer: &BaseConsumer<GigContext>, tpl: &TopicPartitionList) {
        // A stop retrying its final commit: a rebalance just ended, so the generation is
        // valid now. Under the classic protocol its retries otherwise wait behind its next
        // JoinGroup and fail, and under churn it held its idle partitions for seconds.
        if self.shared.halted() {
            let transactor = self.shared.transactor.as_deref();
            self.shared
                .final_commit
                .commit_in_rebalance(consumer, transactor);
        }
        let partitions = partitions_of(tpl);
        // The group took this member in: it authenticated and may use the group.
        self.shared
            .errors
            .assigned(partitions.iter().map(|(topic, _)| &**topic));
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
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_lines::forward(level, facility, message);
    }

    fn stats_raw(&self, statistics: &[u8]) {
        if let Ok(mut last) = self.shared.librdkafka_stats.lock() {
            *last = Some(statistics.to_vec());
        }
    }

    /// Not called for the consumer's own errors, which the poll thread takes from the
    /// queue with their partitions (`consumer_queue.rs`); kept for any other caller.
    fn error(&self, error: KafkaError, reason: &str) {
        error!("librdkafka: {error}: {reason}");
        let error = ClientError {
            error,
            scope: FaultScope::Client,
            reason: reason.to_string(),
        };
        self.shared.errors.record(&error, Instant::now());
    }
}

impl ConsumerContext for GigContext {
    /// rdkafka's default handler, except once the client's consumer group has terminated.
    /// librdkafka then destroys group requests without answering them
    /// (`rd_kafka_cgrp_op_serve` once `rkcg_terminated` is set), so the rebalance-protocol
    /// query and the (un)assign that the default handler makes wait forever. A rebalance
    /// event that reaches the close loop of `BaseConsumer`'s drop after that hung a stopping
    /// consumer under KIP-848: `Stop` never answered. The group, and with it the
    /// assignment, is gone by then: there is nothing to commit, assign or unassign.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        if consumer.closed() {
            warn!("rebalance event ({err:?}) after the consumer group closed: ignored");
            return;
        }
        let tpl: &TopicPartitionList = tpl;
        let assign = err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
        let rebalance = match err {
            _ if assign => Rebalance::Assign(tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => Rebalance::Revoke(tpl),
            _ => Rebalance::Error(KafkaError::Rebalance(RDKafkaErrorCode::from(err))),
        };
        self.pre_rebalance(consumer, &rebalance);
        // The revocation's commit takes a round trip, in which a closing group may end.
        if consumer.closed() {
            warn!("consumer group closed during the rebalance ({err:?}): nothing to unassign");
            return;
        }
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let done = match (assign, cooperative) {
            (true, true) => consumer.incremental_assign(tpl),
            (true, false) => consumer.assign(tpl),
            (false, true) => consumer.incremental_unassign(tpl),
            (false, false) => consumer.unassign(),
        };
        if let Err(e) = done {
            warn!("rebalance ({err:?}): {e}");
        }
        self.post_rebalance(consumer, &rebalance);
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => self.on_revoke(consumer, tpl),
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => error!("rebalance error: {e}"),
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.on_assign(consumer, tpl);
        }
    }
}
