//! The consumer actor: owns the Kafka client, delivers records, tracks their acks and
//! deadlines, hands outcomes over, and commits only what was handed over.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_core::{
    AckBook, AckResult, CommitOffset, ConsumerConfig, KeyQueues, NoAckReason, Record, Token,
};
use log::{debug, error, info, warn};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use crate::commands::{Assign, Commit, GetStats, Stop, Subscribe, Unsubscribe};
use crate::committer;
use crate::delivery::{
    own_timeout, AckHandle, AckMsg, AnswerQueue, AnswersQueued, Delivery, DeliveryBatch, Verdict,
};
use crate::error::GigError;
use crate::outcome::{Acked, HandOver, NoAcked, NoAckedRecord};
use crate::poller::{self, describe, FromPoller, GigContext, Partition, PollerShared, ToPoller};
use crate::stats::{PartitionStats, Stats};
use crate::typed::{Decoding, Json, Typed};

/// Extra time, past the ack timeout, for outcomes to be handed over before a revocation
/// or a stop gives up waiting.
const HANDOVER_GRACE: Duration = Duration::from_secs(5);
/// Handed-over records may wait behind an unresolved one for the watermark to pass them;
/// they cost a few bytes each, and at most this many per in-flight record are kept.
const TRACKED_PER_IN_FLIGHT: usize = 64;
/// Longest stretch of mailbox work before the actor yields to the others on its thread.
const YIELD_EVERY: Duration = Duration::from_millis(5);
/// Longest back-off between offers of a refused hand-over.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where deliveries go.
enum Downstream {
    Records(Recipient<Delivery>),
    Batches {
        recipient: Recipient<DeliveryBatch>,
        max: usize,
    },
    Decoded(Box<dyn Decoding>),
}

impl Downstream {
    fn connected(&self) -> bool {
        match self {
            Downstream::Records(r) => r.connected(),
            Downstream::Batches { recipient, .. } => recipient.connected(),
            Downstream::Decoded(decoding) => decoding.connected(),
        }
    }
}

/// Builds a [`ConsumerActor`]: its config, its downstream, and its outcome actors.
///
/// ```no_run
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # fn wire(down: Recipient<Delivery>, acked: Recipient<Acked>, no_acked: Recipient<NoAcked>) -> Result<(), GigError> {
/// let config = ConsumerConfig::new("127.0.0.1:9092", "billing").topics(["orders"]);
/// let consumer: Addr<ConsumerActor> = ConsumerActor::builder(config)
///     .downstream(down)
///     .acked(acked)
///     .no_acked(no_acked)
///     .start()?;
/// # Ok(()) }
/// ```
pub struct ConsumerBuilder {
    config: ConsumerConfig,
    downstream: Option<Downstream>,
    acked: Option<Recipient<Acked>>,
    no_acked: Option<Recipient<NoAcked>>,
}

impl ConsumerBuilder {
    /// Delivers records one at a time to an actor that handles [`Delivery`].
    pub fn downstream(mut self, recipient: Recipient<Delivery>) -> Self {
        self.downstream = Some(Downstream::Records(recipient));
        self
    }

    /// Delivers records in batches of at most `max` to an actor that handles
    /// [`DeliveryBatch`].
    pub fn batch_downstream(mut self, recipient: Recipient<DeliveryBatch>, max: usize) -> Self {
        self.downstream = Some(Downstream::Batches {
            recipient,
            max: max.max(1),
        });
        self
    }

    /// Delivers each record's payload decoded from JSON as a [`Typed<T>`] to an actor
    /// that handles it. Records that do not decode go to the NoAckedActor at once as
    /// [`NoAckReason::Undecodable`], with the serde_json error; see [`crate::typed`].
    pub fn json_downstream<T>(mut self, recipient: Recipient<Typed<T>>) -> Self
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.downstream = Some(Downstream::Decoded(Box::new(Json { recipient })));
        self
    }

    /// The actor that receives acked records.
    pub fn acked(mut self, recipient: Recipient<Acked>) -> Self {
        self.acked = Some(recipient);
        self
    }

    /// The actor that receives nacked, timed-out and undeliverable records.
    pub fn no_acked(mut self, recipient: Recipient<NoAcked>) -> Self {
        self.no_acked = Some(recipient);
        self
    }

    /// Validates the config and creates the Kafka client, without starting the actor.
    pub fn build(self) -> Result<ConsumerActor, GigError> {
        self.config.validate()?;
        let downstream = self.downstream.ok_or(GigError::Missing("a downstream"))?;
        let acked = self.acked.ok_or(GigError::Missing("an acked actor"))?;
        let no_acked = self.no_acked.ok_or(GigError::Missing("a no-acked actor"))?;
        let mut client = ClientConfig::new();
        for (key, value) in self.config.client_properties() {
            client.set(key, value);
        }
        let revoke_wait =
            self.config.longest_ack_timeout() + HANDOVER_GRACE + Duration::from_secs(2);
        let consumer: BaseConsumer<GigContext> = client
            .create_with_context(GigContext::new(revoke_wait, self.config.max_in_flight))
            .map_err(GigError::kafka("creating the consumer"))?;
        let consumer = Arc::new(consumer);
        let shared = consumer.context().shared().clone();
        Ok(ConsumerActor {
            max_tracked: self
                .config
                .max_in_flight
                .saturating_mul(TRACKED_PER_IN_FLIGHT),
            config: self.config,
            consumer: Some(consumer),
            shared,
            to_poller: None,
            to_committer: None,
            poller: None,
            answers: None,
            taken_answers: Vec::new(),
            downstream,
            acked,
            no_acked,
            book: AckBook::new(),
            keys: KeyQueues::new(),
            acked_out: Vec::new(),
            no_acked_out: Vec::new(),
            flush_scheduled: false,
            timer: None,
            handed_since_commit: 0,
            paused: false,
            backoff: Duration::from_millis(100),
            counters: Stats::default(),
            committed: BTreeMap::new(),
            drains: Vec::new(),
            stop: None,
            commit_waiters: Vec::new(),
            last_yield: Instant::now(),
        })
    }

    /// Builds and starts the actor on the current arbiter.
    pub fn start(self) -> Result<Addr<ConsumerActor>, GigError> {
        Ok(self.build()?.start())
    }
}

/// A revocation waiting for its partitions' in-flight records to resolve.
struct Drain {
    partitions: Vec<Partition>,
    reply: mpsc::SyncSender<Vec<CommitOffset>>,
    deadline: Instant,
}

/// A stop in progress.
struct Stopping {
    deadline: Instant,
    waiters: Vec<oneshot::Sender<Result<Stats, String>>>,
    shutdown_sent: bool,
}

/// The Kafka consumer actor. See the crate docs for a record's path through it.
pub struct ConsumerActor {
    config: ConsumerConfig,
    max_tracked: usize,
    /// The Kafka client; `None` once a stop has handed it to be closed off this thread.
    consumer: Option<Arc<BaseConsumer<GigContext>>>,
    shared: Arc<PollerShared>,
    to_poller: Option<mpsc::Sender<ToPoller>>,
    to_committer: Option<mpsc::Sender<Vec<CommitOffset>>>,
    /// The poll thread, joined when a stop completes.
    poller: Option<std::thread::JoinHandle<()>>,
    /// Where per-record handles put their answers (see [`AnswerQueue`]). It holds this
    /// actor's address, so the actor runs until it is stopped.
    answers: Option<Arc<AnswerQueue>>,
    /// The queue's answers being routed; kept to reuse its allocation.
    taken_answers: Vec<(Token, Verdict)>,
    downstream: Downstream,
    acked: Recipient<Acked>,
    no_acked: Recipient<NoAcked>,
    book: AckBook,
    /// With key ordering: the keys at the downstream and the records queued behind them.
    keys: KeyQueues,
    acked_out: Vec<(Token, Record)>,
    no_acked_out: Vec<(Token, NoAckedRecord)>,
    flush_scheduled: bool,
    timer: Option<(Instant, SpawnHandle)>,
    handed_since_commit: usize,
    paused: bool,
    backoff: Duration,
    counters: Stats,
    committed: BTreeMap<Partition, i64>,
    drains: Vec<Drain>,
    stop: Option<Stopping>,
    commit_waiters: Vec<CommitWaiter>,
    last_yield: Instant,
}

/// A `Commit` request waiting for the broker to confirm these offsets.
struct CommitWaiter {
    offsets: Vec<CommitOffset>,
    reply: oneshot::Sender<Result<(), GigError>>,
}

impl ConsumerActor {
    /// Starts building a consumer with this config.
    pub fn builder(config: ConsumerConfig) -> ConsumerBuilder {
        ConsumerBuilder {
            config,
            downstream: None,
            acked: None,
            no_acked: None,
        }
    }

    fn deliver(&mut self, records: Vec<Record>, ctx: &mut Context<Self>) {
        self.shared.gate.received(records.len());
        if self.stop.is_some() {
            self.counters.discarded += records.len() as u64;
            return;
        }
        let Some(answers) = self.answers.clone() else {
            return;
        };
        let now = Instant::now();
        // Under load the timer is served only between long runs of mailbox messages;
        // checking here too bounds how late a record is by one batch, not by the backlog.
        self.expire_if_due(now, ctx);
        let deadline = now + self.config.ack_timeout;
        let connected = self.downstream.connected();
        let mut tracked = Vec::with_capacity(records.len());
        for record in records {
            if self.config.key_ordering && self.keys.busy(&record) {
                // Waits behind the record of its key at the downstream; its clock starts
                // when it is delivered.
                match self.book.track_deferred(record.clone()) {
                    Some(token) => {
                        self.counters.received += 1;
                        self.keys.push(token, record);
                    }
                    None => self.counters.discarded += 1,
                }
                continue;
            }
            let token = match own_timeout(&self.config, &record) {
                None => self
                    .book
                    .track(record.clone(), deadline)
                    .map(|token| (token, deadline)),
                Some(own) => self
                    .book
                    .track_custom(record.clone(), now + own)
                    .map(|token| (token, now + own)),
            };
            match token {
                Some((token, deadline)) => {
                    if self.config.key_ordering {
                        self.keys.start(&record);
                    }
                    tracked.push((token, record, deadline));
                }
                None => self.counters.discarded += 1,
            }
        }
        self.counters.received += tracked.len() as u64;
        if !connected {
            self.counters.downstream_gone += tracked.len() as u64;
            for (token, _, _) in tracked {
                if let Some(record) = self.route_no_acked(token, NoAckReason::DownstreamGone) {
                    self.next_of_key(&record);
                }
            }
            warn!("downstream actor is gone; records go to the no-acked actor");
            self.schedule_flush(ctx);
        } else {
            match &self.downstream {
                Downstream::Records(recipient) => {
                    for (token, record, deadline) in tracked {
                        let handle = AckHandle::new(token, deadline, answers.clone());
                        recipient.do_send(Delivery::new(record, handle));
                    }
                }
                Downstream::Batches { recipient, max } => {
                    let mut tracked = tracked.into_iter().peekable();
                    while tracked.peek().is_some() {
                        let (mut tokens, mut records) = (Vec::new(), Vec::new());
                        // A batch is due when its earliest record is.
                        let mut due: Option<Instant> = None;
                        for (token, record, deadline) in tracked.by_ref().take(*max) {
                            due = Some(due.map_or(deadline, |d| d.min(deadline)));
                            tokens.push(token);
                            records.push(record);
                        }
                        let due = due.unwrap_or(deadline);
                        let batch = DeliveryBatch::new(records, tokens, due, answers.clone());
                        recipient.do_send(batch);
                    }
                }
                Downstream::Decoded(decoding) => {
                    let failed: Vec<(Token, String)> = tracked
                        .into_iter()
                        .filter_map(|(token, record, deadline)| {
                            let handle = AckHandle::new(token, deadline, answers.clone());
                            decoding
                                .deliver(record, handle)
                                .err()
                                .map(|why| (token, why))
                        })
                        .collect();
                    if !failed.is_empty() {
                        for (token, why) in failed {
                            if let Some(record) = self.undecodable(token, why) {
                                self.next_of_key(&record);
                            }
                        }
                        self.schedule_flush(ctx);
                    }
                }
            }
        }
        self.publish_in_flight();
        self.arm_timer(ctx);
    }

    /// Routes a waiting record to the NoAckedActor for `reason`. Returns the record (a
    /// reference count) so that the next of its key can follow; `None` if it was no longer
    /// waiting.
    fn route_no_acked(&mut self, token: Token, reason: NoAckReason) -> Option<Record> {
        let AckResult::Routed(record) = self.book.route(token) else {
            return None;
        };
        let failed = NoAckedRecord {
            record: record.clone(),
            reason,
        };
        self.no_acked_out.push((token, failed));
        Some(record)
    }

    /// A record whose payload the typed downstream cannot take: no-acked at once.
    fn undecodable(&mut self, token: Token, why: String) -> Option<Record> {
        let record = self.route_no_acked(token, NoAckReason::Undecodable(why))?;
        if let Some((_, failed)) = self.no_acked_out.last() {
            debug!("{record}: {}", failed.reason);
        }
        self.counters.undecodable += 1;
        Some(record)
    }

    /// With key ordering, once `done` has an outcome: delivers the next record of its key,
    /// starting its clock. Records that cannot be delivered (undecodable, downstream gone)
    /// are routed at once and the one after them is tried.
    fn next_of_key(&mut self, done: &Record) {
        if !self.config.key_ordering {
            return;
        }
        let Some(answers) = self.answers.clone() else {
            return;
        };
        let mut done = done.clone();
        while let Some((token, record)) = self.keys.next_after(&done) {
            let timeout = own_timeout(&self.config, &record).unwrap_or(self.config.ack_timeout);
            let deadline = Instant::now() + timeout;
            if !self.book.start_deadline(token, deadline) {
                done = record;
                continue;
            }
            if !self.downstream.connected() {
                if self
                    .route_no_acked(token, NoAckReason::DownstreamGone)
                    .is_some()
                {
                    self.counters.downstream_gone += 1;
                }
                done = record;
                continue;
            }
            let sent = match &self.downstream {
                Downstream::Records(recipient) => {
                    let handle = AckHandle::new(token, deadline, answers.clone());
                    recipient.do_send(Delivery::new(record.clone(), handle));
                    Ok(())
                }
                Downstream::Batches { recipient, .. } => {
                    let one = vec![record.clone()];
                    let batch = DeliveryBatch::new(one, vec![token], deadline, answers.clone());
                    recipient.do_send(batch);
                    Ok(())
                }
                Downstream::Decoded(decoding) => {
                    let handle = AckHandle::new(token, deadline, answers.clone());
                    decoding.deliver(record.clone(), handle)
                }
            };
            match sent {
                Ok(()) => return,
                Err(why) => {
                    self.undecodable(token, why);
                    done = record;
                }
            }
        }
    }

    fn answer(&mut self, token: Token, verdict: Verdict) {
        let routed = self.book.route(token);
        if let AckResult::Routed(record) = &routed {
            self.next_of_key(record);
        }
        match routed {
            AckResult::Routed(record) => match verdict {
                Verdict::Ack => {
                    self.counters.acked += 1;
                    self.acked_out.push((token, record));
                }
                Verdict::Nack(why) => {
                    self.counters.nacked += 1;
                    let reason = NoAckReason::Nacked(why);
                    self.no_acked_out
                        .push((token, NoAckedRecord { record, reason }));
                }
            },
            AckResult::Late => self.counters.late_answers += 1,
            AckResult::Unknown => self.counters.unknown_answers += 1,
        }
    }

    /// Routes the answers per-record handles queued. Returns whether there were any.
    fn take_answers(&mut self) -> bool {
        let Some(queue) = &self.answers else {
            return false;
        };
        let mut taken = std::mem::take(&mut self.taken_answers);
        queue.take(&mut taken);
        let any = !taken.is_empty();
        for (token, verdict) in taken.drain(..) {
            self.answer(token, verdict);
        }
        self.taken_answers = taken;
        any
    }

    /// After answers were routed: hands them over in a batch, and with key ordering arms the
    /// timer for the records the answers released to the downstream.
    fn answered(&mut self, ctx: &mut Context<Self>) {
        self.schedule_flush(ctx);
        self.arm_timer(ctx);
    }

    /// Flushes at once when a full batch is waiting; otherwise once the answers already in
    /// the mailbox are handled, so that one hand-over carries many records.
    fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        let full = self.config.handover_batch;
        if self.acked_out.len() >= full || self.no_acked_out.len() >= full {
            self.flush(ctx);
        } else if !self.flush_scheduled && self.has_outcomes() {
            self.flush_scheduled = true;
            ctx.notify(FlushOutcomes);
        }
    }

    fn has_outcomes(&self) -> bool {
        !self.acked_out.is_empty() || !self.no_acked_out.is_empty()
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        let size = self.config.handover_batch;
        while !self.acked_out.is_empty() {
            let rest = self.acked_out.split_off(self.acked_out.len().min(size));
            let chunk = std::mem::replace(&mut self.acked_out, rest);
            let (tokens, records): (Vec<Token>, Vec<Record>) = chunk.into_iter().unzip();
            self.hand_over(HandOver::Acked(tokens, Acked { records }), ctx);
        }
        while !self.no_acked_out.is_empty() {
            let rest = self
                .no_acked_out
                .split_off(self.no_acked_out.len().min(size));
            let chunk = std::mem::replace(&mut self.no_acked_out, rest);
            let (tokens, records): (Vec<Token>, Vec<NoAckedRecord>) = chunk.into_iter().unzip();
            self.hand_over(HandOver::NoAcked(tokens, NoAcked { records }), ctx);
        }
    }

    fn hand_over(&mut self, batch: HandOver, ctx: &mut Context<Self>) {
        let request = batch.send(&self.acked, &self.no_acked);
        ctx.spawn(
            request
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(()) => act.handed_over(batch.tokens(), ctx),
                    Err(why) => act.refused(batch, why, ctx),
                }),
        );
    }

    fn handed_over(&mut self, tokens: &[Token], ctx: &mut Context<Self>) {
        self.backoff = Duration::from_millis(100);
        for &token in tokens {
            self.book.handed_over(token);
        }
        self.counters.handed_over += tokens.len() as u64;
        self.handed_since_commit += tokens.len();
        if self.handed_since_commit >= self.config.commit_every {
            self.commit();
        }
        self.publish_in_flight();
        self.progress(ctx);
    }

    fn refused(&mut self, batch: HandOver, why: String, ctx: &mut Context<Self>) {
        self.counters.handover_failures += 1;
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        error!(
            "{} actor did not accept {} record(s) ({why}); offering them again in {delay:?}; their partitions' commits wait",
            batch.kind(),
            batch.tokens().len(),
        );
        ctx.run_later(delay, move |act, ctx| act.hand_over(batch, ctx));
    }

    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(next) = self.book.next_deadline() else {
            return;
        };
        if let Some((at, handle)) = self.timer {
            if at <= next {
                return;
            }
            ctx.cancel_future(handle);
        }
        let wait = next.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(wait, |act, ctx| {
            act.timer = None;
            act.expire(ctx);
        });
        self.timer = Some((next, handle));
    }

    /// Expires now if the armed timer's deadline has passed.
    fn expire_if_due(&mut self, now: Instant, ctx: &mut Context<Self>) {
        if let Some((at, handle)) = self.timer {
            if at <= now {
                ctx.cancel_future(handle);
                self.timer = None;
                self.expire(ctx);
            }
        }
    }

    fn expire(&mut self, ctx: &mut Context<Self>) {
        // Answers already given count, even if their wake-up is still in the mailbox.
        if self.take_answers() {
            self.schedule_flush(ctx);
        }
        let expired = self.book.expire(Instant::now());
        if !expired.is_empty() {
            for (_, record, _) in &expired {
                self.next_of_key(record);
            }
            self.counters.timed_out += expired.len() as u64;
            debug!("{} record(s) timed out", expired.len());
            let config = &self.config;
            self.no_acked_out
                .extend(expired.into_iter().map(|(token, record, deadline)| {
                    let after = config.ack_timeout_of(&record);
                    let reason = NoAckReason::TimedOut { after, deadline };
                    (token, NoAckedRecord { record, reason })
                }));
            self.flush(ctx);
        }
        self.arm_timer(ctx);
        self.progress(ctx);
    }

    fn commit(&mut self) {
        if self.stop.as_ref().is_some_and(|s| s.shutdown_sent) {
            return;
        }
        let offsets = self.book.offsets_to_commit();
        if offsets.is_empty() {
            return;
        }
        self.handed_since_commit = 0;
        self.counters.commits += 1;
        debug!("committing {}", describe(&offsets));
        let sent = match &self.to_committer {
            Some(tx) => tx.send(offsets),
            None => Err(mpsc::SendError(offsets)),
        };
        if let Err(mpsc::SendError(offsets)) = sent {
            self.commit_failed(&offsets, "the commit thread has exited");
        }
    }

    fn commit_failed(&mut self, offsets: &[CommitOffset], why: &str) {
        self.counters.commit_failures += 1;
        for w in self.commit_waiters.drain(..) {
            let _ = w
                .reply
                .send(Err(GigError::Shutdown(format!("commit failed: {why}"))));
        }
        warn!(
            "commit of {} failed ({why}); it will be sent again",
            describe(offsets)
        );
        for c in offsets {
            self.book.commit_failed(&c.topic, c.partition, c.offset);
        }
    }

    fn committed(&mut self, offsets: &[CommitOffset]) {
        for c in offsets {
            self.book.commit_confirmed(&c.topic, c.partition, c.offset);
            let entry = self
                .committed
                .entry((c.topic.clone(), c.partition))
                .or_insert(c.offset);
            *entry = (*entry).max(c.offset);
        }
        let committed = &self.committed;
        let (done, waiting): (Vec<_>, Vec<_>) = self.commit_waiters.drain(..).partition(|w| {
            w.offsets.iter().all(|c| {
                committed
                    .get(&(c.topic.clone(), c.partition))
                    .is_some_and(|&o| o >= c.offset)
            })
        });
        self.commit_waiters = waiting;
        for w in done {
            let _ = w.reply.send(Ok(()));
        }
    }

    /// Tells the poll thread how many records are unresolved; it stops fetching at the
    /// in-flight limit and resumes at three quarters of it.
    fn publish_in_flight(&mut self) {
        let over_tracked = self.book.tracked() >= self.max_tracked;
        let in_flight = self
            .shared
            .gate
            .publish(self.book.unresolved(), over_tracked);
        let over = over_tracked || in_flight >= self.config.max_in_flight;
        if over != self.paused {
            self.paused = over;
            if over {
                info!("{in_flight} record(s) in flight: limit reached, fetching stops");
            } else {
                debug!("{in_flight} record(s) in flight: fetching goes on");
            }
        }
    }

    /// Finishes revocations and the stop once what they wait for has resolved.
    fn progress(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.drains.len() {
            let drain = &self.drains[i];
            let resolved = drain
                .partitions
                .iter()
                .all(|(t, p)| self.book.unresolved_in(t, *p) == 0);
            if !resolved && now < drain.deadline {
                i += 1;
                continue;
            }
            let drain = self.drains.swap_remove(i);
            self.release(drain);
        }
        self.check_stop(now, ctx);
    }

    fn release(&mut self, drain: Drain) {
        let mut offsets = Vec::new();
        for (topic, partition) in &drain.partitions {
            self.keys.release_partition(topic, *partition);
            let Some(book) = self.book.remove(topic, *partition) else {
                continue;
            };
            if book.unresolved() > 0 {
                warn!(
                    "{topic}/{partition} released with {} record(s) unresolved; its next owner reads them again",
                    book.unresolved()
                );
            }
            if let Some(offset) = book.committable() {
                offsets.push(CommitOffset {
                    topic: topic.clone(),
                    partition: *partition,
                    offset,
                });
            }
        }
        // The poll thread may have stopped waiting; then there is no one to tell.
        let _ = drain.reply.try_send(offsets);
        self.publish_in_flight();
    }

    fn begin_stop(&mut self, ctx: &mut Context<Self>) {
        info!(
            "stopping: no new deliveries; resolving {} in-flight record(s)",
            self.book.unresolved()
        );
        self.shared.halted.store(true, Ordering::SeqCst);
        if let Some(client) = &self.consumer {
            poller::set_paused(client, true);
        }
        let wait = self.config.longest_ack_timeout() + HANDOVER_GRACE;
        self.stop = Some(Stopping {
            deadline: Instant::now() + wait,
            waiters: Vec::new(),
            shutdown_sent: false,
        });
        ctx.run_later(wait, |act, ctx| act.progress(ctx));
    }

    fn check_stop(&mut self, now: Instant, ctx: &mut Context<Self>) {
        let Some(stop) = &self.stop else { return };
        if stop.shutdown_sent || (self.book.unresolved() > 0 && now < stop.deadline) {
            return;
        }
        if self.book.unresolved() > 0 {
            warn!(
                "stop: {} record(s) still unresolved after {:?}; they stay uncommitted and are read again",
                self.book.unresolved(),
                self.config.longest_ack_timeout() + HANDOVER_GRACE
            );
        }
        let offsets: Vec<CommitOffset> = self
            .book
            .partitions()
            .filter_map(|b| {
                b.committable().map(|offset| CommitOffset {
                    topic: b.topic().clone(),
                    partition: b.partition(),
                    offset,
                })
            })
            .collect();
        let sent = self
            .to_poller
            .as_ref()
            .is_some_and(|tx| tx.send(ToPoller::Shutdown(offsets)).is_ok());
        if let Some(stop) = &mut self.stop {
            stop.shutdown_sent = true;
        }
        if !sent {
            self.finish_stop(Err("the poll thread had exited".to_string()), ctx);
        }
    }

    fn finish_stop(&mut self, result: Result<(), String>, ctx: &mut Context<Self>) {
        let stats = self.snapshot();
        match &result {
            Ok(()) => info!(
                "stopped: acked={} no-acked={} committed={}",
                stats.acked,
                stats.nacked + stats.timed_out + stats.downstream_gone,
                committed_summary(&stats)
            ),
            Err(e) => error!("stopped, but the final commit failed: {e}"),
        }
        // Stop answers once the client is closed, so a caller may tear the broker down
        // next. Closing blocks (it leaves the group), so it runs off the actor's thread,
        // after the poll thread (returned or returning) is joined; the commit thread holds
        // the client only while committing.
        let waiters = self
            .stop
            .take()
            .map(|stop| stop.waiters)
            .unwrap_or_default();
        let (client, poller) = (self.consumer.take(), self.poller.take());
        self.to_committer = None;
        ctx.stop();
        actix::spawn(async move {
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(poller) = poller {
                    let _ = poller.join();
                }
                drop(client);
            })
            .await;
            for waiter in waiters {
                let _ = waiter.send(result.clone().map(|()| stats.clone()));
            }
        });
    }

    /// The client, unless a stop has closed it.
    fn client(&self) -> Result<&BaseConsumer<GigContext>, GigError> {
        self.consumer.as_deref().ok_or(GigError::Stopped)
    }

    /// Logs the stats as one JSON line, for log pipelines. librdkafka's own statistics are
    /// left out of the line (they run to kilobytes); `GetStats` has them.
    fn log_stats(&self) {
        let stats = Stats {
            librdkafka: None,
            ..self.snapshot()
        };
        match serde_json::to_string(&stats) {
            Ok(line) => info!(target: "gig::stats", "{line}"),
            Err(e) => warn!("cannot serialise the stats: {e}"),
        }
    }

    fn snapshot(&self) -> Stats {
        let mut stats = self.counters.clone();
        stats.in_flight = self.book.unresolved() as u64;
        stats.queued_by_key = self.keys.queued() as u64;
        stats.paused = self.paused;
        (stats.client_errors, stats.last_client_error) = self.shared.errors.snapshot();
        if let Ok(raw) = self.shared.librdkafka_stats.lock() {
            stats.librdkafka = raw.as_deref().and_then(|r| serde_json::from_slice(r).ok());
        }
        let mut partitions: BTreeMap<Partition, PartitionStats> = BTreeMap::new();
        for ((topic, partition), &offset) in &self.committed {
            partitions.insert(
                (topic.clone(), *partition),
                PartitionStats {
                    topic: topic.to_string(),
                    partition: *partition,
                    committable: None,
                    committed: Some(offset),
                    in_flight: 0,
                    high_watermark: None,
                    lag: None,
                },
            );
        }
        for book in self.book.partitions() {
            let key = (book.topic().clone(), book.partition());
            let entry = partitions.entry(key).or_insert_with(|| PartitionStats {
                topic: book.topic().to_string(),
                partition: book.partition(),
                committable: None,
                committed: None,
                in_flight: 0,
                high_watermark: None,
                lag: None,
            });
            entry.committable = book.committable();
            entry.in_flight = book.unresolved() as u64;
        }
        if let Some(librdkafka) = &stats.librdkafka {
            for p in partitions.values_mut() {
                let hi = &librdkafka["topics"][&p.topic]["partitions"][p.partition.to_string()];
                // librdkafka reports -1 until a fetch has told it the watermark.
                p.high_watermark = hi["hi_offset"].as_i64().filter(|&hi| hi >= 0);
                p.lag = p.high_watermark.zip(p.committed).map(|(hi, c)| hi - c);
            }
        }
        stats.partitions = partitions.into_values().collect();
        if let Some(Ok(assignment)) = self.consumer.as_ref().map(|c| c.assignment()) {
            stats.assignment = assignment
                .elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect();
        }
        stats
    }
}

/// `topic/partition=offset` for every committed partition.
pub fn committed_summary(stats: &Stats) -> String {
    let parts: Vec<String> = stats
        .partitions
        .iter()
        .filter_map(|p| {
            p.committed
                .map(|c| format!("{}/{}={}", p.topic, p.partition, c))
        })
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(",")
    }
}

/// Sent to itself to hand over the outcomes gathered while handling the mailbox.
struct FlushOutcomes;

impl Message for FlushOutcomes {
    type Result = ();
}

impl Actor for ConsumerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let me = ctx.address();
        self.answers = Some(AnswerQueue::new(me.clone()));
        let Some(client) = self.consumer.clone() else {
            return;
        };
        client.context().attach(me.clone());
        let (tx, rx) = mpsc::channel();
        self.to_poller = Some(tx);
        let (commit_tx, commit_rx) = mpsc::channel();
        self.to_committer = Some(commit_tx);
        let (consumer, committer_consumer) = (client.clone(), Arc::downgrade(&client));
        let committer_me = me.clone();
        let wait_for_due = self.config.wait_for_due;
        let spawned = std::thread::Builder::new()
            .name("gig-poller".to_string())
            .spawn(move || poller::run(consumer, rx, me, wait_for_due))
            .and_then(|poller| {
                self.poller = Some(poller);
                std::thread::Builder::new()
                    .name("gig-committer".to_string())
                    .spawn(move || committer::run(committer_consumer, commit_rx, committer_me))
            });
        if let Err(e) = spawned {
            error!("cannot start the poll and commit threads: {e}; stopping");
            ctx.stop();
            return;
        }
        ctx.run_interval(self.config.commit_interval, |act, _| act.commit());
        if let Some(every) = self.config.stats_interval {
            ctx.run_interval(every, |act, _| act.log_stats());
        }
        if !self.config.topics.is_empty() {
            let topics: Vec<&str> = self.config.topics.iter().map(String::as_str).collect();
            match client.subscribe(&topics) {
                Ok(()) => info!("subscribed to {}", topics.join(", ")),
                Err(e) => error!("subscribe to {} failed: {e}", topics.join(", ")),
            }
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.shared.halted.store(true, Ordering::SeqCst);
        // Dropping the senders ends the poll and commit threads if they still run.
        self.to_poller = None;
        self.to_committer = None;
        // Stopped without `Stop` (the system is shutting down): the client still closes
        // off this thread.
        if let Some(client) = self.consumer.take() {
            let _ = std::thread::Builder::new()
                .name("gig-close".to_string())
                .spawn(move || drop(client));
        }
        if let Some(stop) = self.stop.take() {
            for waiter in stop.waiters {
                let _ = waiter.send(Err("the consumer stopped".to_string()));
            }
        }
    }
}

impl Handler<FromPoller> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, msg: FromPoller, ctx: &mut Context<Self>) {
        match msg {
            FromPoller::Fetched(records) => {
                self.deliver(records, ctx);
                // actix drains a whole mailbox in one go; under load that starves the
                // downstream and outcome actors on this thread, and the deadline timer.
                // Yielding every few milliseconds keeps them served without breaking
                // up the batches that make acks and hand-overs cheap.
                let now = Instant::now();
                if now.duration_since(self.last_yield) >= YIELD_EVERY {
                    self.last_yield = now;
                    ctx.wait(actix::fut::wrap_future(tokio::task::yield_now()));
                }
            }
            FromPoller::Revoking { partitions, reply } => {
                let wait = self.config.longest_ack_timeout() + HANDOVER_GRACE;
                self.drains.push(Drain {
                    partitions,
                    reply,
                    deadline: Instant::now() + wait,
                });
                ctx.run_later(wait, |act, ctx| act.progress(ctx));
                self.progress(ctx);
            }
            FromPoller::Assigned(partitions) => {
                debug!("{} partition(s) assigned", partitions.len());
                self.counters.rebalances += 1;
            }
            FromPoller::Committed { offsets, result } => match result {
                Ok(()) => self.committed(&offsets),
                Err(e) => self.commit_failed(&offsets, &e.to_string()),
            },
            FromPoller::Closed { result, offsets } => {
                let result = match result {
                    Ok(()) => {
                        self.committed(&offsets);
                        Ok(())
                    }
                    Err(e) => Err(format!(
                        "final commit of {} failed: {e}",
                        describe(&offsets)
                    )),
                };
                self.finish_stop(result, ctx);
            }
        }
    }
}

impl Handler<AckMsg> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, msg: AckMsg, ctx: &mut Context<Self>) {
        match msg {
            AckMsg::One(token, verdict) => self.answer(token, verdict),
            AckMsg::All(tokens, verdict) => {
                for token in tokens {
                    self.answer(token, verdict.clone());
                }
            }
            AckMsg::Each(answers) => {
                for (token, verdict) in answers {
                    self.answer(token, verdict);
                }
            }
        }
        self.answered(ctx);
    }
}

impl Handler<AnswersQueued> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, _: AnswersQueued, ctx: &mut Context<Self>) {
        self.take_answers();
        self.answered(ctx);
    }
}

impl Handler<FlushOutcomes> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, _: FlushOutcomes, ctx: &mut Context<Self>) {
        self.flush_scheduled = false;
        self.expire_if_due(Instant::now(), ctx);
        self.flush(ctx);
    }
}

impl Handler<Subscribe> for ConsumerActor {
    type Result = Result<(), GigError>;

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        if self.stop.is_some() {
            return Err(GigError::Stopped);
        }
        if msg.0.is_empty() || msg.0.iter().any(String::is_empty) {
            return Err(gig_core::ConfigError::EmptyTopic.into());
        }
        let topics: Vec<&str> = msg.0.iter().map(String::as_str).collect();
        self.client()?
            .subscribe(&topics)
            .map_err(GigError::kafka("subscribe"))?;
        info!("subscribed to {}", topics.join(", "));
        Ok(())
    }
}

impl Handler<Assign> for ConsumerActor {
    type Result = Result<(), GigError>;

    fn handle(&mut self, msg: Assign, _: &mut Context<Self>) -> Self::Result {
        if self.stop.is_some() {
            return Err(GigError::Stopped);
        }
        let mut tpl = TopicPartitionList::new();
        for p in &msg.0 {
            if p.topic.is_empty() {
                return Err(gig_core::ConfigError::EmptyTopic.into());
            }
            let offset = p.offset.map_or(Offset::Stored, Offset::Offset);
            tpl.add_partition_offset(&p.topic, p.partition, offset)
                .map_err(GigError::kafka("assign"))?;
        }
        self.client()?
            .assign(&tpl)
            .map_err(GigError::kafka("assign"))?;
        info!("assigned {} partition(s) manually", msg.0.len());
        Ok(())
    }
}

impl Handler<Unsubscribe> for ConsumerActor {
    type Result = Result<(), GigError>;

    fn handle(&mut self, _: Unsubscribe, _: &mut Context<Self>) -> Self::Result {
        if self.stop.is_some() {
            return Err(GigError::Stopped);
        }
        self.client()?.unsubscribe();
        info!("unsubscribed; revoked partitions are resolved and committed before release");
        Ok(())
    }
}

impl Handler<Commit> for ConsumerActor {
    type Result = ResponseFuture<Result<(), GigError>>;

    fn handle(&mut self, _: Commit, _: &mut Context<Self>) -> Self::Result {
        let offsets: Vec<CommitOffset> = self
            .book
            .partitions()
            .filter_map(|b| {
                let offset = b.committable()?;
                let known = self.committed.get(&(b.topic().clone(), b.partition()));
                (known.is_none_or(|&k| k < offset)).then(|| CommitOffset {
                    topic: b.topic().clone(),
                    partition: b.partition(),
                    offset,
                })
            })
            .collect();
        if offsets.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        self.commit();
        let (reply, answer) = oneshot::channel();
        self.commit_waiters.push(CommitWaiter { offsets, reply });
        Box::pin(async move { answer.await.unwrap_or(Err(GigError::Stopped)) })
    }
}

impl Handler<GetStats> for ConsumerActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.snapshot())
    }
}

impl Handler<Stop> for ConsumerActor {
    type Result = ResponseFuture<Result<Stats, GigError>>;

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) -> Self::Result {
        if self.stop.is_none() {
            self.begin_stop(ctx);
        }
        let (tx, rx) = oneshot::channel();
        if let Some(stop) = &mut self.stop {
            stop.waiters.push(tx);
        }
        self.progress(ctx);
        Box::pin(async move {
            match rx.await {
                Ok(Ok(stats)) => Ok(stats),
                Ok(Err(why)) => Err(GigError::Shutdown(why)),
                Err(_) => Err(GigError::Stopped),
            }
        })
    }
}
