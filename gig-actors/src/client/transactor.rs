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
//! A fatal error after a transaction outlived its timeout is the broker's own abort, which
//! fences the producer too; a new producer then takes the id.
//! Every call is synchronous; this runs on the commit thread, or on the poll thread for a
//! revocation or a stop, never on the actor's thread. Its lock makes sure two threads never
//! call it at once (librdkafka refuses concurrent transactional calls).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gig_core::{ConsumerConfig, ProducerRecord, Transaction, Transactional};
use log::{debug, error, info, warn};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;

use crate::client::commit_result::CommitResult;
use crate::client::log_lines;
use crate::client::partitions::to_tpl;
use crate::client::topic_handles::TopicHandles;
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
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_lines::forward(level, facility, message);
    }

    /// At `debug`: a failure that keeps the producer from its work fails its transactional
    /// calls, and the consumer reports it there, once per fault (`cannot commit: …`).
    fn error(&self, error: KafkaError, reason: &str) {
        debug!("transactional producer: {error}: {reason}");
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

/// The producer and where it is, replaced together when the broker aborted a transaction
/// that outlived its timeout.
struct Session {
    /// Before the producer: its handles are released before the producer is.
    topics: TopicHandles,
    producer: ThreadedProducer<TxnContext>,
    state: State,
}

/// One consumer's transactional producer.
pub(crate) struct Transactor {
    settings: Transactional,
    properties: ClientConfig,
    session: Mutex<Session>,
    /// Whether `init` succeeded, readable without the lock (a transaction may hold it for
    /// seconds) for `Stats`.
    ready: AtomicBool,
    /// How many producers replaced one the broker's own abort had fenced.
    replaced: AtomicU64,
}

impl Transactor {
    /// The producer for `config`'s transactional settings; `None` for an at-least-once
    /// consumer. Nothing is sent until [`init`](Self::init).
    pub(crate) fn for_config(config: &ConsumerConfig) -> Result<Option<Self>, GigError> {
        let Some(settings) = config.transactional_settings() else {
            return Ok(None);
        };
        let mut properties = ClientConfig::new();
        for (key, value) in settings.producer_properties(config.brokers(), config.properties()) {
            properties.set(key, value);
        }
        let producer = properties
            .create_with_context(TxnContext::default())
            .map_err(GigError::making(CREATING, |key| config.variable_of(key)))?;
        Ok(Some(Transactor {
            settings: settings.clone(),
            properties,
            session: Mutex::new(Session {
                topics: TopicHandles::default(),
                producer,
                state: State::New,
            }),
            ready: AtomicBool::new(false),
            replaced: AtomicU64::new(0),
        }))
    }

    /// The transactional id.
    pub(crate) fn id(&self) -> &str {
        &self.settings.id
    }

    /// Whether the transactional id is registered (and any earlier producer with it
    /// fenced).
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// How many times a new producer took over after the broker aborted a transaction
    /// that outlived its timeout.
    pub(crate) fn replaced(&self) -> u64 {
        self.replaced.load(Ordering::Relaxed)
    }

    /// Registers the transactional id with its coordinator: this fences any earlier
    /// producer with the same id (a previous incarnation of this consumer) and aborts what
    /// it left open, so its pending offsets stop holding back the group's committed ones.
    /// Done once, before the first transaction; a failure is tried again by the next one.
    pub(crate) fn init(&self) -> Result<(), CommitResult> {
        let Ok(mut session) = self.session.lock() else {
            return Err(CommitResult::Failed(KafkaError::Canceled));
        };
        self.init_locked(&mut session)
    }

    fn init_locked(&self, session: &mut Session) -> Result<(), CommitResult> {
        match &session.state {
            State::Ready => return Ok(()),
            State::Fenced(e) => return Err(CommitResult::Fenced(e.clone())),
            State::New => {}
        }
        match session.producer.init_transactions(Timeout::Never) {
            Ok(()) => {
                info!("transactional producer {} ready", self.id());
                session.state = State::Ready;
                self.ready.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) if Failure::of(&e) == Failure::Fatal => {
                error!("transactional producer {}: {e}", self.id());
                session.state = State::Fenced(e.clone());
                Err(CommitResult::Fenced(e))
            }
            Err(e) => {
                warn!("transactional producer {} not ready: {e}", self.id());
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
        let Ok(mut session) = self.session.lock() else {
            return CommitResult::Failed(KafkaError::Canceled);
        };
        if let Err(result) = self.init_locked(&mut session) {
            return result;
        }
        if txn.is_empty() {
            return CommitResult::Done;
        }
        let Some(group) = consumer.group_metadata() else {
            return CommitResult::NoGroup;
        };
        let began = Instant::now();
        if let Err(e) = session.producer.begin_transaction() {
            return self.failed_to_begin(&mut session, e);
        }
        take_failed_delivery(&session.producer);
        for record in &txn.outputs {
            if let Err(e) = send(&mut session, record) {
                return self.abort(&mut session, e, began);
            }
        }
        if !txn.offsets.is_empty() {
            let offsets = to_tpl(&txn.offsets);
            let sent =
                session
                    .producer
                    .send_offsets_to_transaction(&offsets, &group, Timeout::Never);
            if let Err(e) = sent {
                return self.abort(&mut session, e, began);
            }
        }
        self.commit(&mut session, began)
    }

    fn failed_to_begin(&self, session: &mut Session, e: KafkaError) -> CommitResult {
        match Failure::of(&e) {
            Failure::Fatal => self.fenced(session, e, Instant::now()),
            _ => CommitResult::Failed(e),
        }
    }

    /// Commits, resuming a commit that timed out (it goes on in the background).
    fn commit(&self, session: &mut Session, began: Instant) -> CommitResult {
        if let Err(e) = flush(&session.producer) {
            let cause = with_delivery_cause(&session.producer, e);
            return self.abort(session, cause, began);
        }
        let mut last = None;
        for _ in 0..COMMIT_RESUMES {
            match session.producer.commit_transaction(Timeout::Never) {
                Ok(()) => return CommitResult::Done,
                Err(e) if Failure::of(&e) == Failure::Retriable => {
                    warn!("transaction commit not done yet ({e}); resuming it");
                    last = Some(e);
                }
                Err(e) if Failure::of(&e) == Failure::Fatal => {
                    return self.fenced(session, e, began)
                }
                Err(e) => {
                    let cause = with_delivery_cause(&session.producer, e);
                    return self.abort(session, cause, began);
                }
            }
        }
        let e = last.unwrap_or(KafkaError::Canceled);
        self.abort(session, e, began)
    }

    /// Aborts the transaction because of `cause`; nothing of it becomes visible.
    fn abort(&self, session: &mut Session, cause: KafkaError, began: Instant) -> CommitResult {
        if Failure::of(&cause) == Failure::Fatal {
            return self.fenced(session, cause, began);
        }
        warn!("aborting the transaction: {cause}");
        for _ in 0..ABORT_RESUMES {
            match session.producer.abort_transaction(Timeout::Never) {
                Ok(()) => return CommitResult::Aborted(cause),
                Err(e) if Failure::of(&e) == Failure::Retriable => {
                    warn!("transaction abort not done yet ({e}); resuming it");
                }
                Err(e) => return self.fenced(session, e, began),
            }
        }
        self.fenced(session, cause, began)
    }

    /// The producer is unusable. If its transaction outlived the timeout, the broker
    /// aborted it and fenced the producer itself: a new producer takes the id (its init
    /// waits for the next transaction) and the transaction counts as aborted. Otherwise
    /// another producer has the id, and this one is fenced for good.
    fn fenced(&self, session: &mut Session, e: KafkaError, began: Instant) -> CommitResult {
        let open_for = began.elapsed();
        if self.settings.outlived(open_for) {
            match create(&self.properties) {
                Ok(producer) => {
                    warn!(
                        "transactional producer {}: its transaction was open {open_for:?}, longer than the timeout ({:?}), so the broker aborted it and fenced the producer ({e}); a new producer takes the id, and the transaction's records are read again",
                        self.id(),
                        self.settings.timeout,
                    );
                    *session = Session {
                        topics: TopicHandles::default(),
                        producer,
                        state: State::New,
                    };
                    self.ready.store(false, Ordering::Release);
                    self.replaced.fetch_add(1, Ordering::Relaxed);
                    return CommitResult::Aborted(e);
                }
                Err(create_failed) => {
                    error!("transactional producer {}: {create_failed}", self.id());
                }
            }
        }
        error!(
            "transactional producer {} is fenced or failed for good: {e}",
            self.id()
        );
        session.state = State::Fenced(e.clone());
        CommitResult::Fenced(e)
    }
}

const CREATING: &str = "creating the transactional producer";

fn create(properties: &ClientConfig) -> Result<ThreadedProducer<TxnContext>, GigError> {
    properties
        .create_with_context(TxnContext::default())
        .map_err(GigError::kafka(CREATING))
}

/// Queues one output, waiting while librdkafka's queue is full: through the session's topic
/// handles, with no allocation, unless it has headers.
fn send(session: &mut Session, record: &ProducerRecord) -> Result<(), KafkaError> {
    if !record.headers.is_empty() {
        return send_with_headers(&session.producer, record);
    }
    let client = session.producer.client().native_ptr();
    loop {
        match session.topics.produce(client, record) {
            Ok(()) => return Ok(()),
            Err(RDKafkaErrorCode::QueueFull) => {
                debug!("producer queue full; waiting for deliveries");
                session.producer.poll(QUEUE_FULL_WAIT);
            }
            Err(code) => return Err(KafkaError::MessageProduction(code)),
        }
    }
}

/// [`send`] for a record with headers, through rdkafka.
fn send_with_headers(
    producer: &ThreadedProducer<TxnContext>,
    record: &ProducerRecord,
) -> Result<(), KafkaError> {
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
        match producer.send(base) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                debug!("producer queue full; waiting for deliveries");
                producer.poll(QUEUE_FULL_WAIT);
                base = back;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Waits until every queued output is delivered (or has failed), so that rdkafka's
/// `commit_transaction` finds nothing to flush. Its own flush waits in 100 ms polls of a
/// queue the producer's thread is serving, so each nap runs to its end: up to 100 ms of
/// every commit. librdkafka's flush with a timeout waits on its message count instead.
fn flush(producer: &ThreadedProducer<TxnContext>) -> Result<(), KafkaError> {
    // SAFETY: a live producer handle; rdkafka delivers by events, which the producer's
    // thread serves, so librdkafka's flush only waits.
    let code = unsafe { rdkafka::bindings::rd_kafka_flush(producer.client().native_ptr(), -1) };
    match RDKafkaErrorCode::from(code) {
        RDKafkaErrorCode::NoError => Ok(()),
        code => Err(KafkaError::Flush(code)),
    }
}

fn take_failed_delivery(producer: &ThreadedProducer<TxnContext>) -> Option<KafkaError> {
    producer.context().failed_delivery.lock().ok()?.take()
}

/// librdkafka says only that records failed; the last delivery error says why.
fn with_delivery_cause(producer: &ThreadedProducer<TxnContext>, e: KafkaError) -> KafkaError {
    match take_failed_delivery(producer) {
        Some(cause) => {
            warn!("a record of the transaction was not delivered: {cause}");
            cause
        }
        None => e,
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
