//! The poll thread: the only caller of `BaseConsumer::poll`.
//!
//! It turns fetched messages into [`Record`]s and sends them to the consumer actor in
//! batches ([`Fetched`]), so fetching and decoding (here) overlap with delivery and ack
//! book-keeping (on the actor's thread). librdkafka runs the rebalance callbacks inside
//! `poll`, so they run here too (see [`context`](super::context)). It stops polling while
//! the in-flight gate is shut. At a stop it makes the final commit, leaves the group
//! ([`leave`]), and says so with [`Closed`].

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Message, Recipient};
use gig_core::{CommitOffset, Header, Record, RecordData};
use log::{debug, warn};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Headers, Message as _};

use crate::client::context::GigContext;
use crate::client::due::DueDelays;
use crate::client::leave;
use crate::client::partitions::set_paused;
use crate::client::shared::Shared;

/// Most records in one batch to the actor.
const FETCH_BATCH: usize = 1024;
/// How long one blocking poll waits for a message when none is queued.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// Past this long at the in-flight limit, the poll thread pauses the partitions and polls
/// again, so group callbacks are served: a rebalance waits at most this long for a member
/// at its limit. Not at once: a pause drops what librdkafka prefetched for the partition,
/// and at full speed the limit is reached and left many times a second.
const STOPPED_POLL_LIMIT: Duration = Duration::from_secs(1);

/// Fetched records, in fetch order.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Fetched(pub(crate) Vec<Record>);

/// The poll thread made the final commit of a stop (its offsets and result), left the
/// group, and exits.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Closed {
    pub(crate) offsets: Vec<CommitOffset>,
    pub(crate) result: KafkaResult<()>,
}

/// Where the poll thread reports.
pub(crate) struct PollerLinks {
    pub(crate) fetched: Recipient<Fetched>,
    pub(crate) closed: Recipient<Closed>,
}

/// The poll loop. Runs until the actor sends the final offsets of a stop, or is gone.
pub(crate) fn run(
    consumer: Arc<BaseConsumer<GigContext>>,
    final_offsets: Receiver<Vec<CommitOffset>>,
    actor: PollerLinks,
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
    let mut stopped_since: Option<Instant> = None;
    let mut paused = false;
    loop {
        match final_offsets.try_recv() {
            Ok(offsets) => {
                let result = shared.final_commit.commit(&consumer, &offsets);
                leave::unsubscribe(&consumer);
                actor.closed.do_send(Closed { offsets, result });
                return;
            }
            Err(mpsc::TryRecvError::Disconnected) => return,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if shared.gate.blocks(batch.len(), stopped_since.is_some()) {
            if !send(&actor, &shared, &mut batch) {
                return;
            }
            let since = *stopped_since.get_or_insert_with(Instant::now);
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
                shared.errors.record(&e, None);
            }
            None => timeout = IDLE_POLL,
        }
        if !send(&actor, &shared, &mut batch) {
            return;
        }
    }
}

/// Sends the buffered records to the actor; `false` when the actor is gone.
fn send(actor: &PollerLinks, shared: &Shared, batch: &mut Vec<Record>) -> bool {
    if batch.is_empty() {
        return true;
    }
    if !actor.fetched.connected() {
        debug!("consumer actor gone; poll thread exits");
        return false;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(FETCH_BATCH));
    shared.gate.sent(full.len());
    actor.fetched.do_send(Fetched(full));
    true
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
