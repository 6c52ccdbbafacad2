//! The poll thread: the only one that polls the consumer's queue ([`ConsumerQueue`]).
//!
//! It copies fetched messages into one shared buffer per batch ([`RecordBatchBuilder`]) and
//! sends them to the consumer actor as [`Record`]s ([`Fetched`]), so fetching and copying
//! (here) overlap with delivery and ack book-keeping (on the actor's thread), and a batch
//! costs a few allocations, not several per record. Rebalance events come through the same
//! queue, in order with the records, so they are served here too (see [`context`](super::context)). It stops polling while
//! the in-flight gate is shut: too many records in flight, or too many sent and not yet
//! taken in by the actor. After an aborted transaction it seeks partitions back to
//! their last commit, between two polls ([`rewind`]). At a stop it makes the
//! final commit ([`closing`](super::commit::closing)), leaves the group
//! ([`leave`]), and says so with [`Closed`].

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::{Message, Recipient};
use gig_core::{CommitPlan, Fault, FaultScope, Record, RecordBatchBuilder, RecordParts};
use log::{debug, error, warn};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::client::client_errors::ClientError;
use crate::client::commit::result::CommitResult;
use crate::client::consumer_queue::ConsumerQueue;
use crate::client::context::GigContext;
use crate::client::due::DueDelays;
use crate::client::leave;
use crate::client::niceness;
use crate::client::partitions::{self, set_paused};
use crate::client::polled::{FetchedMessage, Polled};
use crate::client::rewind::{self, RewindRequest, Rewound};
use crate::client::shared::Shared;

/// Most records in one batch to the actor. A record kept keeps its batch's buffer, so
/// batches stay small: a few hundred records, or about [`FETCH_BATCH_BYTES`].
const FETCH_BATCH: usize = 256;
/// A batch is sent once its keys, payloads and headers pass this many bytes.
const FETCH_BATCH_BYTES: usize = 64 * 1024;
/// How long one blocking poll waits for a message when none is queued.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// Past this long stopped at the in-flight gate, the poll thread pauses the partitions and polls
/// again, so group callbacks are served: a rebalance waits at most this long for a member
/// at its limit. Not at once: a pause drops what librdkafka prefetched for the partition,
/// and at full speed the limit is reached and left many times a second.
const STOPPED_POLL_LIMIT: Duration = Duration::from_secs(1);

/// Fetched records, in fetch order.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Fetched(pub(crate) Vec<Record>);

/// The poll thread made the final commit of a stop (what it was, and how it ended), left
/// the group, and exits.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Closed {
    pub(crate) plan: CommitPlan,
    pub(crate) result: CommitResult,
}

/// An error opened a fault: something the consumer cannot read until someone acts (a
/// codec, an ACL, credentials). Requests waiting on what it blocks fail with it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Faulted(pub(crate) Fault);

/// What the actor asks of the poll thread.
#[derive(Debug)]
pub(crate) enum ToPoller {
    /// A stop's final commit: make it, leave the group, exit.
    Close(CommitPlan),
    /// Read partitions again from their last commit (an aborted transaction).
    Rewind(RewindRequest),
}

/// How the poll thread runs, and what it reads of each record besides its key and payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollSettings {
    /// Hold records until their `gig.retry.due` time.
    pub(crate) wait_for_due: bool,
    /// Copy each record's headers (librdkafka parses them per record; see
    /// `ConsumerConfig::headers`).
    pub(crate) headers: bool,
    /// How far to lower this thread's priority (`ConsumerConfig::poll_thread_nice`).
    pub(crate) nice: u8,
}

/// Where the poll thread reports.
pub(crate) struct PollerLinks {
    pub(crate) fetched: Recipient<Fetched>,
    pub(crate) closed: Recipient<Closed>,
    pub(crate) rewound: Recipient<Rewound>,
    pub(crate) faulted: Recipient<Faulted>,
}

/// The poll loop. Runs until the actor sends the final commit of a stop, or is gone.
pub(crate) fn run(
    consumer: Arc<BaseConsumer<GigContext>>,
    queue: ConsumerQueue<GigContext>,
    requests: Receiver<ToPoller>,
    actor: PollerLinks,
    settings: PollSettings,
) {
    niceness::lower_this_thread(settings.nice);
    let shared = consumer.context().shared().clone();
    let mut out = Outbox {
        actor,
        batch: RecordBatchBuilder::new(),
        delays: settings.wait_for_due.then(DueDelays::default),
        mean: FETCH_BATCH_BYTES / 16,
    };
    let mut topics = TopicNames::default();
    let mut seen_revocations = shared.revocations.load(Ordering::SeqCst);
    let mut timeout = Duration::ZERO;
    // Since when fetching has been stopped by the in-flight limit, and whether the
    // partitions were paused because that lasted too long.
    let mut stopped_since: Option<Instant> = None;
    let mut paused = false;
    loop {
        match requests.try_recv() {
            Ok(ToPoller::Close(plan)) => {
                let transactor = shared.transactor.as_deref();
                let result = shared.final_commit.commit(&consumer, transactor, &plan);
                leave::unsubscribe(&consumer);
                out.actor.closed.do_send(Closed { plan, result });
                return;
            }
            Ok(ToPoller::Rewind(request)) => {
                for report in rewind::rewind(&consumer, request, &mut out.batch) {
                    out.actor.rewound.do_send(report);
                }
                continue;
            }
            Err(mpsc::TryRecvError::Disconnected) => return,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if shared.gate.blocks(out.batch.len(), stopped_since.is_some()) {
            if !out.send(&consumer, &shared) {
                return;
            }
            let since = *stopped_since.get_or_insert_with(Instant::now);
            if since.elapsed() < STOPPED_POLL_LIMIT {
                shared.gate.wait(IDLE_POLL);
                continue;
            }
            if !paused {
                warn!(
                    "fetching stopped for {STOPPED_POLL_LIMIT:?} (in-flight limit {} reached, or the consumer actor has not taken in what was fetched): pausing the partitions to serve group callbacks",
                    shared.gate.limit()
                );
                set_paused(&consumer, true);
                paused = true;
            }
        } else if stopped_since.take().is_some() && paused {
            set_paused(&consumer, false);
            if let Some(delays) = &out.delays {
                delays.pause_again(&consumer);
            }
            if let Ok(held_back) = shared.held_back.lock() {
                partitions::set_paused_only(&consumer, &held_back, true);
            }
            paused = false;
        }
        if let Some(delays) = &mut out.delays {
            delays.resume_due(&consumer);
        }
        // Events first, without waiting; then fetched messages, waiting for them (or for
        // an event) up to `timeout`.
        let polled = queue.poll(Duration::ZERO);
        // A revocation ran inside this poll: drop buffered records of revoked partitions.
        // They were never delivered or committed, so their next owner reads them.
        let revocations = shared.revocations.load(Ordering::SeqCst);
        if revocations != seen_revocations {
            seen_revocations = revocations;
            if let Ok(revoked) = shared.revoked.lock() {
                out.batch
                    .retain(|topic, partition| !revoked.contains(&(topic.clone(), partition)));
            }
        }
        let halted = shared.halted.load(Ordering::Relaxed);
        match polled {
            // A partition's messages reach the consumer queue only if it was assigned
            // before its forwarding to the fetch queue.
            Polled::Message(message) => {
                if !halted {
                    push(&mut out.batch, &message, &mut topics, settings.headers);
                }
                timeout = Duration::ZERO;
                if out.room() > 0 {
                    continue;
                }
            }
            Polled::Served => continue,
            Polled::Error(e) => report(&shared, &out.actor, &e),
            Polled::Nothing => {
                let most = shared.gate.room(out.batch.len()).min(out.room());
                let read = if most == 0 {
                    0
                } else {
                    queue.read_fetched(timeout, most, |polled| match polled {
                        Polled::Message(message) if !halted => {
                            push(&mut out.batch, &message, &mut topics, settings.headers);
                        }
                        Polled::Error(e) => report(&shared, &out.actor, &e),
                        _ => {}
                    })
                };
                if read > 0 {
                    timeout = Duration::ZERO;
                    if out.room() > 0 {
                        continue;
                    }
                } else {
                    timeout = IDLE_POLL;
                }
            }
        }
        if !out.send(&consumer, &shared) {
            return;
        }
    }
}

/// The batch being filled, and where it goes.
struct Outbox {
    actor: PollerLinks,
    batch: RecordBatchBuilder,
    /// With `wait_for_due`: partitions paused until their next record is due.
    delays: Option<DueDelays>,
    /// The bytes per record of the last batch sent, to size the first read of the next.
    mean: usize,
}

impl Outbox {
    /// How many more records the batch takes: the rest of [`FETCH_BATCH`], and about as
    /// many as fit in the rest of [`FETCH_BATCH_BYTES`] at the batch's mean record size.
    fn room(&self) -> usize {
        let (len, bytes) = (self.batch.len(), self.batch.byte_len());
        if len >= FETCH_BATCH || bytes >= FETCH_BATCH_BYTES {
            return 0;
        }
        let mean = bytes.checked_div(len).unwrap_or(self.mean).max(1);
        (FETCH_BATCH - len).min(((FETCH_BATCH_BYTES - bytes) / mean).max(1))
    }

    /// Sends the buffered records to the actor, but for those not yet due; `false` when
    /// the actor is gone.
    fn send(&mut self, consumer: &BaseConsumer<GigContext>, shared: &Shared) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        if !self.actor.fetched.connected() {
            debug!("consumer actor gone; poll thread exits");
            return false;
        }
        self.mean = self.batch.byte_len() / self.batch.len();
        let mut records = Vec::with_capacity(self.batch.len());
        self.batch.finish(&mut records);
        if let Some(delays) = &mut self.delays {
            // One clock read for the batch. A held record's partition is rewound to it, and
            // the records after it are dropped: they are fetched again when it is due.
            let now = SystemTime::now();
            records.retain(|record| !delays.holds(consumer, record, now));
        }
        if records.is_empty() {
            return true;
        }
        shared.errors.progress(&records);
        shared.gate.sent(records.len());
        self.actor.fetched.do_send(Fetched(records));
        true
    }
}

/// Counts and classifies a client error. The first report of a fault is an error in the
/// log and is told to the actor; its repeats (librdkafka retries, and reports each try) are
/// debug lines, so that the log says it once and `Stats` keeps counting. So is a passing
/// error of the client while one of its faults is open: after a refused login librdkafka
/// also says "all brokers are down" at every try.
fn report(shared: &Shared, actor: &PollerLinks, e: &ClientError) {
    let kind = e.kind();
    let consequence = e.scope == FaultScope::Client && shared.errors.client_blocked();
    match shared.errors.record(e, Instant::now()) {
        Some(fault) => {
            error!("cannot read: {fault}");
            actor.faulted.do_send(Faulted(fault));
        }
        None if kind.blocks_reading() => debug!("{kind} error on {} again: {}", e.scope, e.reason),
        None if consequence => debug!(
            "{kind} error on {} (a fault is open): {}",
            e.scope, e.reason
        ),
        None => warn!("consumer error on {}: {}: {}", e.scope, e.error, e.reason),
    }
}

/// Shares one `Arc<str>` per topic name, so a record costs no topic allocation.
#[derive(Default)]
struct TopicNames {
    /// The last topic seen; empty before the first (no topic is named "").
    last: Arc<str>,
}

impl TopicNames {
    /// The name for these bytes; checked as UTF-8 only when it changes.
    fn get(&mut self, name: &[u8]) -> &Arc<str> {
        if self.last.as_bytes() != name {
            self.last = Arc::from(String::from_utf8_lossy(name));
        }
        &self.last
    }
}

/// Copies a fetched message into the batch, with its headers if `headers`.
fn push(
    batch: &mut RecordBatchBuilder,
    message: &FetchedMessage<'_>,
    topics: &mut TopicNames,
    headers: bool,
) {
    batch.push(RecordParts {
        topic: topics.get(message.topic_bytes()),
        partition: message.partition(),
        offset: message.offset(),
        timestamp_ms: message.timestamp_ms(),
        key: message.key(),
        payload: message.payload(),
    });
    if headers {
        message.for_each_header(|key, value| batch.push_header(key, value));
    }
}
