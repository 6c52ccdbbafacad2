//! The poll thread: the only caller of `BaseConsumer::poll`.
//!
//! It turns fetched messages into [`Record`]s and sends them to the consumer actor in
//! batches, so fetching and decoding (here) overlap with delivery and ack book-keeping (on
//! the actor's thread). librdkafka runs rebalance and commit callbacks inside `poll`, so
//! they run here too, where blocking is allowed: on a revocation this thread waits for the
//! actor to resolve the revoked partitions' in-flight records and commits what they
//! resolved to before the partitions go to another member.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use gig_core::{CommitOffset, Header, Record, RecordData};
use log::{debug, error, info, warn};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, RebalanceProtocol,
};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};

use crate::consumer::ConsumerActor;
use crate::due::DueDelays;
use crate::throttle::InFlightGate;

/// Most records in one batch to the actor.
const FETCH_BATCH: usize = 1024;
/// How long one blocking poll waits for a message when none is queued.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// Past this long at the in-flight limit, the poll thread pauses the partitions and polls
/// again, so group callbacks are served: a rebalance waits at most this long for a member
/// at its limit. Not at once: a pause drops what librdkafka prefetched for the partition,
/// and at full speed the limit is reached and left many times a second.
const STOPPED_POLL_LIMIT: Duration = Duration::from_secs(1);

/// A partition, as the actor and the poller name it.
pub(crate) type Partition = (Arc<str>, i32);

/// Messages from the poll thread to the actor.
pub(crate) enum FromPoller {
    /// Fetched records, in fetch order.
    Fetched(Vec<Record>),
    /// Partitions are being revoked: resolve their in-flight records and answer with the
    /// offsets to commit for them. The poll thread waits (bounded) for the answer.
    Revoking {
        partitions: Vec<Partition>,
        reply: SyncSender<Vec<CommitOffset>>,
    },
    /// Partitions were assigned by the group.
    Assigned(Vec<Partition>),
    /// A commit (from the commit thread, or on revocation) finished.
    Committed {
        offsets: Vec<CommitOffset>,
        result: KafkaResult<()>,
    },
    /// The poll thread committed the final offsets and exits.
    Closed {
        result: KafkaResult<()>,
        offsets: Vec<CommitOffset>,
    },
}

impl actix::Message for FromPoller {
    type Result = ();
}

/// Requests from the actor to the poll thread.
pub(crate) enum ToPoller {
    /// Commit these offsets synchronously, then close the client and exit.
    Shutdown(Vec<CommitOffset>),
}

/// State shared by the actor and the poll thread.
pub(crate) struct PollerShared {
    actor: Mutex<Option<Addr<ConsumerActor>>>,
    /// Set when the actor stops delivering: records fetched afterwards are dropped
    /// uncommitted, and rebalance callbacks no longer wait for the actor.
    pub(crate) halted: AtomicBool,
    /// Bumped on each revocation, so records polled before it can be filtered.
    revocations: AtomicU64,
    revoked: Mutex<HashSet<Partition>>,
    /// Longest wait for the actor to resolve revoked partitions.
    revoke_wait: Duration,
    /// At shutdown, the offsets to commit; a revocation during shutdown commits them.
    final_offsets: Mutex<Option<Vec<CommitOffset>>>,
    final_committed: AtomicBool,
    /// The in-flight limit, shared with the actor.
    pub(crate) gate: InFlightGate,
    /// Errors librdkafka reported (broker down, unknown topic, …), for `Stats`.
    pub(crate) errors: ClientErrors,
    /// librdkafka's last statistics JSON, when `statistics.interval.ms` is set.
    pub(crate) librdkafka_stats: Mutex<Option<Vec<u8>>>,
}

/// A count of client errors and the last one, so that a consumer that cannot reach its
/// broker says so in its stats, not only in the log.
#[derive(Default)]
pub(crate) struct ClientErrors {
    count: AtomicU64,
    last: Mutex<Option<String>>,
}

impl ClientErrors {
    fn record(&self, error: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last.lock() {
            *last = Some(error);
        }
    }

    /// How many errors so far, and the last one.
    pub(crate) fn snapshot(&self) -> (u64, Option<String>) {
        let last = self.last.lock().ok().and_then(|l| l.clone());
        (self.count.load(Ordering::Relaxed), last)
    }
}

impl PollerShared {
    fn actor(&self) -> Option<Addr<ConsumerActor>> {
        self.actor.lock().ok().and_then(|a| a.clone())
    }
}

/// librdkafka callbacks for a Gig consumer.
pub struct GigContext {
    shared: Arc<PollerShared>,
}

impl GigContext {
    pub(crate) fn new(revoke_wait: Duration, max_in_flight: usize) -> Self {
        GigContext {
            shared: Arc::new(PollerShared {
                actor: Mutex::new(None),
                halted: AtomicBool::new(false),
                revocations: AtomicU64::new(0),
                revoked: Mutex::new(HashSet::new()),
                revoke_wait,
                final_offsets: Mutex::new(None),
                final_committed: AtomicBool::new(false),
                gate: InFlightGate::new(max_in_flight),
                errors: ClientErrors::default(),
                librdkafka_stats: Mutex::new(None),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<PollerShared> {
        &self.shared
    }

    pub(crate) fn attach(&self, actor: Addr<ConsumerActor>) {
        if let Ok(mut slot) = self.shared.actor.lock() {
            *slot = Some(actor);
        }
    }

    fn on_revoke(&self, consumer: &BaseConsumer<GigContext>, tpl: &TopicPartitionList) {
        let partitions: Vec<Partition> = tpl
            .elements()
            .iter()
            .map(|e| (Arc::from(e.topic()), e.partition()))
            .collect();
        if let Ok(mut revoked) = self.shared.revoked.lock() {
            revoked.extend(partitions.iter().cloned());
        }
        self.shared.revocations.fetch_add(1, Ordering::SeqCst);
        if self.shared.halted.load(Ordering::SeqCst) {
            self.commit_final_on_revoke(consumer);
            return;
        }
        let Some(actor) = self.shared.actor() else {
            return;
        };
        info!(
            "revoking {} partition(s): {}",
            partitions.len(),
            names(&partitions)
        );
        let (reply, answer) = mpsc::sync_channel(1);
        actor.do_send(FromPoller::Revoking { partitions, reply });
        match answer.recv_timeout(self.shared.revoke_wait) {
            Ok(offsets) if offsets.is_empty() => {}
            Ok(offsets) => {
                let tpl = to_tpl(&offsets);
                let result = consumer.commit(&tpl, CommitMode::Sync);
                match &result {
                    Ok(()) => info!("committed revoked partitions at {}", describe(&offsets)),
                    Err(e) => warn!("commit on revocation failed ({e}); the next owner re-reads from the last commit"),
                }
                actor.do_send(FromPoller::Committed { offsets, result });
            }
            Err(_) => warn!(
                "revoked partitions not resolved within {:?}; their uncommitted records go to the next owner",
                self.shared.revoke_wait
            ),
        }
    }
}

impl GigContext {
    /// A revocation during shutdown is the one moment the group generation is sure to be
    /// valid: commit the final offsets here.
    fn commit_final_on_revoke(&self, consumer: &BaseConsumer<GigContext>) {
        let offsets = match self.shared.final_offsets.lock() {
            Ok(guard) => guard.clone(),
            Err(_) => None,
        };
        let Some(offsets) = offsets.filter(|o| !o.is_empty()) else {
            return;
        };
        if self.shared.final_committed.load(Ordering::SeqCst) {
            return;
        }
        match consumer.commit(&to_tpl(&offsets), CommitMode::Sync) {
            Ok(()) => {
                info!(
                    "final offsets committed on revocation: {}",
                    describe(&offsets)
                );
                self.shared.final_committed.store(true, Ordering::SeqCst);
            }
            Err(e) => warn!("final commit on revocation failed: {e}"),
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
        self.shared.errors.record(format!("{error}: {reason}"));
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

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let partitions: Vec<Partition> = tpl
                .elements()
                .iter()
                .map(|e| (Arc::from(e.topic()), e.partition()))
                .collect();
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
            if let Some(actor) = self.shared.actor() {
                actor.do_send(FromPoller::Assigned(partitions));
            }
        }
    }
}

/// The poll loop. Runs until the actor asks it to shut down, or the actor is gone.
pub(crate) fn run(
    consumer: Arc<BaseConsumer<GigContext>>,
    commands: Receiver<ToPoller>,
    actor: Addr<ConsumerActor>,
    wait_for_due: bool,
) {
    let mut delays = DueDelays::default();
    let shared = consumer.context().shared().clone();
    let mut topics = TopicNames::default();
    let mut batch: Vec<Record> = Vec::with_capacity(FETCH_BATCH);
    let mut seen_revocations = shared.revocations.load(Ordering::SeqCst);
    let mut timeout = Duration::ZERO;
    // Since when fetching has been stopped by the in-flight limit, and whether the
    // partitions were paused because that lasted too long.
    let mut stopped_since: Option<std::time::Instant> = None;
    let mut paused = false;
    loop {
        match commands.try_recv() {
            Ok(ToPoller::Shutdown(offsets)) => {
                let result = commit_final(&consumer, &shared, &offsets);
                unsubscribe(&consumer);
                actor.do_send(FromPoller::Closed { result, offsets });
                return;
            }
            Err(mpsc::TryRecvError::Disconnected) => return,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if shared.gate.blocks(batch.len(), stopped_since.is_some()) {
            if !send(&actor, &shared, &mut batch) {
                return;
            }
            let since = *stopped_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() < STOPPED_POLL_LIMIT {
                shared.gate.wait(IDLE_POLL);
                continue;
            }
            if !paused {
                warn!(
                    "in-flight limit ({}) reached for {STOPPED_POLL_LIMIT:?}: pausing the partitions to serve group callbacks",
                    shared.gate.limit()
                );
                set_paused(&consumer, true);
                paused = true;
            }
        } else if stopped_since.take().is_some() && paused {
            set_paused(&consumer, false);
            delays.pause_again(&consumer);
            paused = false;
        }
        if wait_for_due {
            delays.resume_due(&consumer);
        }
        let polled = consumer.poll(timeout);
        // A revocation ran inside this poll: drop buffered records of revoked partitions.
        // They were never delivered or committed, so their next owner reads them.
        let revocations = shared.revocations.load(Ordering::SeqCst);
        if revocations != seen_revocations {
            seen_revocations = revocations;
            if let Ok(revoked) = shared.revoked.lock() {
                batch.retain(|r| !revoked.contains(&(r.topic_arc().clone(), r.partition())));
            }
        }
        match polled {
            Some(Ok(message)) => {
                if !shared.halted.load(Ordering::Relaxed) {
                    let record = to_record(&message, &mut topics);
                    if !(wait_for_due && delays.holds(&consumer, &record)) {
                        batch.push(record);
                    }
                }
                timeout = Duration::ZERO;
                if batch.len() < FETCH_BATCH {
                    continue;
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => {
                warn!("consumer error: {e}");
                shared.errors.record(e.to_string());
            }
            None => timeout = IDLE_POLL,
        }
        if !send(&actor, &shared, &mut batch) {
            return;
        }
    }
}

/// Sends the buffered records to the actor; `false` when the actor is gone.
fn send(actor: &Addr<ConsumerActor>, shared: &PollerShared, batch: &mut Vec<Record>) -> bool {
    if batch.is_empty() {
        return true;
    }
    if !actor.connected() {
        debug!("consumer actor gone; poll thread exits");
        return false;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(FETCH_BATCH));
    shared.gate.sent(full.len());
    actor.do_send(FromPoller::Fetched(full));
    true
}

pub(crate) fn set_paused(consumer: &BaseConsumer<GigContext>, pause: bool) {
    let result = consumer.assignment().and_then(|assignment| {
        if pause {
            consumer.pause(&assignment)
        } else {
            consumer.resume(&assignment)
        }
    });
    if let Err(e) = result {
        warn!(
            "could not {} fetching: {e}",
            if pause { "pause" } else { "resume" }
        );
    }
}

/// Longest wait, at a stop, for the revocation that unsubscribing causes.
const UNSUBSCRIBE_WAIT: Duration = Duration::from_secs(10);

/// Unsubscribes and, if the consumer was subscribed, polls until the revocation that
/// causes has been served (its assignment is empty), at most [`UNSUBSCRIBE_WAIT`]. The
/// client then closes with no rebalance event pending: one served while it closes can find
/// the consumer group terminated (see [`GigContext`]'s `rebalance`). Records polled here
/// are dropped: the consumer is halted and they are uncommitted.
fn unsubscribe(consumer: &BaseConsumer<GigContext>) {
    let subscribed = consumer
        .subscription()
        .is_ok_and(|topics| topics.count() > 0);
    consumer.unsubscribe();
    if !subscribed {
        return;
    }
    let deadline = std::time::Instant::now() + UNSUBSCRIBE_WAIT;
    while std::time::Instant::now() < deadline {
        match consumer.assignment() {
            Ok(assignment) if assignment.count() > 0 => {
                let _ = consumer.poll(Duration::from_millis(100));
            }
            _ => return,
        }
    }
    warn!("the revocation after unsubscribing did not come within {UNSUBSCRIBE_WAIT:?}");
}

/// How long a stop keeps retrying its final commit while the group rebalances.
const FINAL_COMMIT_WAIT: Duration = Duration::from_secs(10);

/// Commits the final offsets. A commit refused because the group is rebalancing is tried
/// again while this thread keeps polling, so the member takes part in the rebalance (and a
/// revocation commits the offsets itself, see `commit_final_on_revoke`).
fn commit_final(
    consumer: &BaseConsumer<GigContext>,
    shared: &PollerShared,
    offsets: &[CommitOffset],
) -> KafkaResult<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    if let Ok(mut slot) = shared.final_offsets.lock() {
        *slot = Some(offsets.to_vec());
    }
    let deadline = std::time::Instant::now() + FINAL_COMMIT_WAIT;
    loop {
        let result = consumer.commit(&to_tpl(offsets), CommitMode::Sync);
        match result {
            Ok(()) => return Ok(()),
            Err(_) if shared.final_committed.load(Ordering::SeqCst) => return Ok(()),
            Err(e) if std::time::Instant::now() < deadline => {
                warn!("final commit: {e}; retrying while the group settles");
                // Records are dropped here: the consumer is halted and they are uncommitted.
                let _ = consumer.poll(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Shares one `Arc<str>` per topic name, so a record costs no topic allocation.
#[derive(Default)]
struct TopicNames {
    last: Option<Arc<str>>,
}

impl TopicNames {
    fn get(&mut self, name: &str) -> Arc<str> {
        match &self.last {
            Some(last) if &**last == name => last.clone(),
            _ => {
                let arc: Arc<str> = Arc::from(name);
                self.last = Some(arc.clone());
                arc
            }
        }
    }
}

fn to_record(message: &BorrowedMessage<'_>, topics: &mut TopicNames) -> Record {
    let headers = message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| Header {
                    key: h.key.to_string(),
                    value: h.value.map(<[u8]>::to_vec),
                })
                .collect()
        })
        .unwrap_or_default();
    Record::new(RecordData {
        topic: topics.get(message.topic()),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().map(<[u8]>::to_vec),
        headers,
        timestamp_ms: message.timestamp().to_millis(),
    })
}

pub(crate) fn to_tpl(offsets: &[CommitOffset]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for c in offsets {
        // An offset from the ack book is always valid for its partition.
        let _ = tpl.add_partition_offset(&c.topic, c.partition, Offset::Offset(c.offset));
    }
    tpl
}

fn names(partitions: &[Partition]) -> String {
    partitions
        .iter()
        .map(|(t, p)| format!("{t}/{p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn describe(offsets: &[CommitOffset]) -> String {
    offsets
        .iter()
        .map(|c| format!("{}/{}={}", c.topic, c.partition, c.offset))
        .collect::<Vec<_>>()
        .join(", ")
}
