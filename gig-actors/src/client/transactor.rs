//! The transactional producer of a consumer in the transactional mode, and the one way a
//! transaction runs: begin, produce its outputs, send its offsets with the consumer's group
//! metadata (KIP-447: the broker refuses them from a member the group has moved on from),
//! commit.
//!
//! librdkafka sorts a failed transactional call into three kinds (`rdkafka_txnmgr.c`): a
//! *retriable* one (a commit that timed out is still going on: call it again), one that
//! *requires an abort* (a record that could not be delivered in time, offsets the group
//! coordinator refused: abort, and nothing of it is visible), and a *fatal* one (another
//! producer with the same transactional id fenced this one: it can never commit again).
//! Every call is synchronous; this runs on the commit thread, or on the poll thread for a
//! revocation or a stop, never on the actor's thread. Its lock makes sure two threads never
//! call it at once (librdkafka refuses concurrent transactional calls).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use gig_core::{ConsumerConfig, ProducerRecord, Transaction};
use log::{debug, error, info, warn};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;

use crate::client::commit_result::CommitResult;
use crate::client::partitions::to_tpl;
use crate::error::GigError;

/// How many times a commit that timed out (and goes on in the background) is resumed
/// before the transaction is aborted.
const COMMIT_RESUMES: usize = 3;
/// How many times an abort that timed out is resumed before the producer is given up.
const ABORT_RESUMES: usize = 3;
/// How long to let librdkafka deliver before queueing more, when its queue is full.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);

/// What a failed transactional call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The call may be made again: it goes on in the background.
    Retriable,
    /// The transaction must be aborted; the producer stays usable.
    Abortable,
    /// The producer is unusable: fenced, or failed for good.
    Fatal,
}

impl Failure {
    /// The kind of `error`. librdkafka's flags decide; an error that is none of them (a
    /// flush that failed, a call in the wrong state) aborts the transaction.
    pub(crate) fn of(error: &KafkaError) -> Failure {
        match error {
            KafkaError::Transaction(e) => {
                Failure::from_flags(e.is_fatal(), e.txn_requires_abort(), e.is_retriable())
            }
            _ => Failure::Abortable,
        }
    }

    fn from_flags(fatal: bool, requires_abort: bool, retriable: bool) -> Failure {
        if fatal {
            Failure::Fatal
        } else if requires_abort {
            Failure::Abortable
        } else if retriable {
            Failure::Retriable
        } else {
            Failure::Abortable
        }
    }
}

/// Remembers why the last record of a transaction failed, for the error that says so.
#[derive(Default)]
pub(crate) struct TxnContext {
    failed_delivery: Mutex<Option<KafkaError>>,
}

impl ClientContext for TxnContext {
    fn error(&self, error: KafkaError, reason: &str) {
        error!("transactional producer: {error}: {reason}");
    }
}

impl ProducerContext for TxnContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            if let Ok(mut failed) = self.failed_delivery.lock() {
                *failed = Some(e.clone());
            }
        }
    }
}

/// Where the producer is: not yet initialised, ready, or fenced for good.
enum State {
    New,
    Ready,
    Fenced(KafkaError),
}

/// One consumer's transactional producer.
pub(crate) struct Transactor {
    producer: ThreadedProducer<TxnContext>,
    id: String,
    state: Mutex<State>,
    /// Whether `init` succeeded, readable without the lock (a transaction may hold it for
    /// seconds) for `Stats`.
    ready: AtomicBool,
}

impl Transactor {
    /// The producer for `config`'s transactional settings; `None` for an at-least-once
    /// consumer. Nothing is sent until [`init`](Self::init).
    pub(crate) fn for_config(config: &ConsumerConfig) -> Result<Option<Self>, GigError> {
        let Some(settings) = &config.transactional else {
            return Ok(None);
        };
        let mut properties = ClientConfig::new();
        for (key, value) in settings.producer_properties(&config.brokers) {
            properties.set(key, value);
        }
        let producer = properties
            .create_with_context(TxnContext::default())
            .map_err(GigError::kafka("creating the transactional producer"))?;
        Ok(Some(Transactor {
            producer,
            id: settings.id.clone(),
            state: Mutex::new(State::New),
            ready: AtomicBool::new(false),
        }))
    }

    /// The transactional id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Whether the transactional id is registered (and any earlier producer with it
    /// fenced).
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Registers the transactional id with its coordinator: this fences any earlier
    /// producer with the same id (a previous incarnation of this consumer) and aborts what
    /// it left open, so its pending offsets stop holding back the group's committed ones.
    /// Done once, before the first transaction; a failure is tried again by the next one.
    pub(crate) fn init(&self) -> Result<(), CommitResult> {
        let Ok(mut state) = self.state.lock() else {
            return Err(CommitResult::Failed(KafkaError::Canceled));
        };
        self.init_locked(&mut state)
    }

    fn init_locked(&self, state: &mut State) -> Result<(), CommitResult> {
        match state {
            State::Ready => return Ok(()),
            State::Fenced(e) => return Err(CommitResult::Fenced(e.clone())),
            State::New => {}
        }
        match self.producer.init_transactions(Timeout::Never) {
            Ok(()) => {
                info!("transactional producer {} ready", self.id);
                *state = State::Ready;
                self.ready.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) if Failure::of(&e) == Failure::Fatal => {
                error!("transactional producer {}: {e}", self.id);
                *state = State::Fenced(e.clone());
                Err(CommitResult::Fenced(e))
            }
            Err(e) => {
                warn!("transactional producer {} not ready: {e}", self.id);
                Err(CommitResult::Failed(e))
            }
        }
    }

    /// Runs `txn` to its end: `Done` once committed; `Failed` or `NoGroup` if it never
    /// began (the producer is not ready, the consumer has no group metadata yet);
    /// `Aborted` (nothing of it is visible); or `Fenced`.
    pub(crate) fn run<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        txn: &Transaction,
    ) -> CommitResult {
        let Ok(mut state) = self.state.lock() else {
            return CommitResult::Failed(KafkaError::Canceled);
        };
        if let Err(result) = self.init_locked(&mut state) {
            return result;
        }
        if txn.is_empty() {
            return CommitResult::Done;
        }
        let Some(group) = consumer.group_metadata() else {
            return CommitResult::NoGroup;
        };
        if let Err(e) = self.producer.begin_transaction() {
            return self.failed_to_begin(&mut state, e);
        }
        self.take_failed_delivery();
        for record in &txn.outputs {
            if let Err(e) = self.send(record) {
                return self.abort(&mut state, e);
            }
        }
        if !txn.offsets.is_empty() {
            let offsets = to_tpl(&txn.offsets);
            let sent = self
                .producer
                .send_offsets_to_transaction(&offsets, &group, Timeout::Never);
            if let Err(e) = sent {
                return self.abort(&mut state, e);
            }
        }
        self.commit(&mut state)
    }

    fn failed_to_begin(&self, state: &mut State, e: KafkaError) -> CommitResult {
        match Failure::of(&e) {
            Failure::Fatal => self.fenced(state, e),
            _ => CommitResult::Failed(e),
        }
    }

    /// Commits, resuming a commit that timed out (it goes on in the background).
    fn commit(&self, state: &mut State) -> CommitResult {
        let mut last = None;
        for _ in 0..COMMIT_RESUMES {
            match self.producer.commit_transaction(Timeout::Never) {
                Ok(()) => return CommitResult::Done,
                Err(e) if Failure::of(&e) == Failure::Retriable => {
                    warn!("transaction commit not done yet ({e}); resuming it");
                    last = Some(e);
                }
                Err(e) if Failure::of(&e) == Failure::Fatal => return self.fenced(state, e),
                Err(e) => return self.abort(state, self.with_delivery_cause(e)),
            }
        }
        let e = last.unwrap_or(KafkaError::Canceled);
        self.abort(state, e)
    }

    /// Aborts the transaction because of `cause`; nothing of it becomes visible.
    fn abort(&self, state: &mut State, cause: KafkaError) -> CommitResult {
        if Failure::of(&cause) == Failure::Fatal {
            return self.fenced(state, cause);
        }
        warn!("aborting the transaction: {cause}");
        for _ in 0..ABORT_RESUMES {
            match self.producer.abort_transaction(Timeout::Never) {
                Ok(()) => return CommitResult::Aborted(cause),
                Err(e) if Failure::of(&e) == Failure::Retriable => {
                    warn!("transaction abort not done yet ({e}); resuming it");
                }
                Err(e) => return self.fenced(state, e),
            }
        }
        self.fenced(state, cause)
    }

    fn fenced(&self, state: &mut State, e: KafkaError) -> CommitResult {
        error!(
            "transactional producer {} is fenced or failed for good: {e}",
            self.id
        );
        *state = State::Fenced(e.clone());
        CommitResult::Fenced(e)
    }

    /// Queues one output, waiting while librdkafka's queue is full.
    fn send(&self, record: &ProducerRecord) -> Result<(), KafkaError> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for h in &record.headers {
            headers = headers.insert(KafkaHeader {
                key: &h.key,
                value: h.value.as_deref(),
            });
        }
        let mut base: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&record.topic).headers(headers);
        if let Some(key) = &record.key {
            base = base.key(key.as_slice());
        }
        if let Some(payload) = &record.payload {
            base = base.payload(payload.as_slice());
        }
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    debug!("producer queue full; waiting for deliveries");
                    self.producer.poll(QUEUE_FULL_WAIT);
                    base = back;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    fn take_failed_delivery(&self) -> Option<KafkaError> {
        let context = self.producer.context();
        context.failed_delivery.lock().ok()?.take()
    }

    /// librdkafka says only that records failed; the last delivery error says why.
    fn with_delivery_cause(&self, e: KafkaError) -> KafkaError {
        match self.take_failed_delivery() {
            Some(cause) => {
                warn!("a record of the transaction was not delivered: {cause}");
                cause
            }
            None => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librdkafka_flags_decide_what_a_failure_asks_for() {
        assert_eq!(Failure::from_flags(true, true, true), Failure::Fatal);
        assert_eq!(Failure::from_flags(false, true, true), Failure::Abortable);
        assert_eq!(Failure::from_flags(false, false, true), Failure::Retriable);
        assert_eq!(Failure::from_flags(false, false, false), Failure::Abortable);
        let flush = KafkaError::Flush(RDKafkaErrorCode::MessageTimedOut);
        assert_eq!(Failure::of(&flush), Failure::Abortable);
    }
}
