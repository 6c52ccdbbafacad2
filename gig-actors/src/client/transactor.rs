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
use std::time::Instant;

use gig_core::{ConsumerConfig, Transaction, Transactional};
use log::{error, info, warn};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::util::Timeout;

use crate::client::commit::result::CommitResult;
use crate::client::partitions::to_tpl;
use crate::client::topic_handles::TopicHandles;
use crate::client::txn_producer::{
    flush, send, take_failed_delivery, with_delivery_cause, TxnContext,
};
use crate::error::GigError;

/// How many times a commit that timed out (and goes on in the background) is resumed
/// before the transaction is aborted.
const COMMIT_RESUMES: usize = 3;
/// How many times an abort that timed out is resumed before the producer is given up.
const ABORT_RESUMES: usize = 3;
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
            let Session {
                topics, producer, ..
            } = &mut *session;
            if let Err(e) = send(topics, producer, record) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::RDKafkaErrorCode;

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
