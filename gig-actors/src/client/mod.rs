//! The Kafka side of one consumer: the librdkafka client and its two threads.
//!
//! - [`poller`]: the poll thread, the only caller of `poll`; it sends fetched records to the
//!   actor, and at a stop makes the final commit ([`commit::closing`]) and leaves the group
//!   ([`leave`]).
//! - [`context`]: librdkafka's callbacks, run inside `poll`: rebalances go to the actor,
//!   statistics to [`shared`]; errors are classified and kept in [`client_errors`], and a
//!   new fault is told to the actor.
//! - [`commit`]: every commit: the commit thread ([`commit::thread`]) and the poll thread
//!   make them through [`commit::execute`]: [`commit::commit_sync`], or in the transactional
//!   mode a transaction of the [`transactor`]; each is reported to the actor as
//!   [`commit::result::Committed`].
//! - [`rewind`]: partitions read again from their last commit after an aborted
//!   transaction, sought by the poll thread between two polls.
//! - [`query`]: questions that wait for the broker (watermarks, committed offsets), on a
//!   thread of their own.
//! - [`gate`]: the in-flight limit between the poll thread and the actor; [`due`]: delayed
//!   retries (partitions paused until a record is due); [`partitions`]: partition lists.
//!
//! The threads know the actor only through `Recipient`s of their own messages, so this
//! module sits below the actor that owns it.

pub(crate) mod client_errors;
pub(crate) mod commit;
pub(crate) mod consumer_queue;
pub(crate) mod context;
pub(crate) mod due;
pub(crate) mod fetch_queue;
pub(crate) mod gate;
pub(crate) mod leave;
pub(crate) mod log_lines;
pub(crate) mod niceness;
pub(crate) mod partitions;
pub(crate) mod polled;
pub(crate) mod poller;
pub(crate) mod query;
pub(crate) mod rewind;
pub(crate) mod shared;
pub(crate) mod topic_handles;
pub(crate) mod transactor;
pub(crate) mod txn_producer;

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix::Recipient;
use gig_core::{CommitOffset, CommitPlan, ConsumerConfig, Partition};
use log::warn;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::TopicPartitionList;

use crate::error::GigError;
use commit::result::Committed;
use consumer_queue::ConsumerQueue;
use context::{ContextLinks, GigContext, GroupEvent};
use fetch_queue::FetchQueue;
pub(crate) use poller::Faulted;
pub(crate) use poller::PollSettings;
use poller::{Closed, Fetched, PollerLinks, ToPoller};
use rewind::{RewindRequest, Rewound};
use shared::Shared;
use transactor::Transactor;

/// How much longer than the actor the poll thread waits for a revocation to resolve: the
/// actor answers at its own time limit, and that answer must arrive before the thread gives
/// up on it. Part of gig-core's `REVOCATION_MARGIN`, which keeps both inside the rebalance
/// timeout.
const REVOKE_MARGIN: Duration = Duration::from_secs(1);

/// Where the client's threads and callbacks report.
pub(crate) struct Links {
    pub(crate) fetched: Recipient<Fetched>,
    pub(crate) closed: Recipient<Closed>,
    pub(crate) group: Recipient<GroupEvent>,
    pub(crate) committed: Recipient<Committed>,
    pub(crate) rewound: Recipient<Rewound>,
    pub(crate) faulted: Recipient<Faulted>,
}

/// One consumer's librdkafka client, its poll thread and its commit thread.
pub(crate) struct Client {
    /// `None` once a stop has handed it to be closed off the actor's thread.
    consumer: Option<Arc<BaseConsumer<GigContext>>>,
    shared: Arc<Shared>,
    /// Rewinds and a stop's final commit go to the poll thread this way; dropping it ends
    /// the thread.
    to_poller: Option<mpsc::Sender<ToPoller>>,
    /// Commit requests go to the commit thread this way; dropping it ends the thread.
    to_committer: Option<mpsc::Sender<CommitPlan>>,
    poller: Option<JoinHandle<()>>,
    committer: Option<JoinHandle<()>>,
    /// Query threads that may still hold the client.
    queries: Mutex<Vec<JoinHandle<()>>>,
    /// The consumer's queue, until the poll thread takes it.
    queue: Option<ConsumerQueue<GigContext>>,
    /// The queue the poll thread reads fetched messages from, for a manual assignment to
    /// forward its partitions to. Holds the consumer, so a close drops it with it.
    fetch: Option<Arc<FetchQueue<GigContext>>>,
}

impl Client {
    /// Creates the librdkafka client with `config`'s properties; no thread runs yet.
    pub(crate) fn new(config: &ConsumerConfig) -> Result<Self, GigError> {
        let mut properties = ClientConfig::new();
        for (key, value) in config.client_properties() {
            properties.set(key, value);
        }
        let transactor = Transactor::for_config(config)?.map(Arc::new);
        let shared = Arc::new(Shared::new(
            config.in_flight_limit(),
            config.uncommitted_limit(),
            transactor,
        ));
        if let Some(warning) = config.revocation_warning() {
            warn!("{warning}");
        }
        let revoke_wait = config.revocation_wait() + REVOKE_MARGIN;
        let context = GigContext::new(shared.clone(), revoke_wait);
        let consumer: BaseConsumer<GigContext> =
            properties
                .create_with_context(context)
                .map_err(GigError::making("creating the consumer", |key| {
                    config.variable_of(key)
                }))?;
        let consumer = Arc::new(consumer);
        let queue = ConsumerQueue::of(&consumer).ok_or_else(|| {
            let no_queue = KafkaError::ClientCreation("no consumer queue".to_string());
            GigError::kafka("creating the consumer")(no_queue)
        })?;
        let fetch = Some(queue.fetch_queue());
        Ok(Client {
            consumer: Some(consumer),
            shared,
            to_poller: None,
            to_committer: None,
            poller: None,
            committer: None,
            queries: Mutex::new(Vec::new()),
            queue: Some(queue),
            fetch,
        })
    }

    /// Starts the poll and commit threads, reporting to `links`.
    pub(crate) fn start(&mut self, links: Links, settings: PollSettings) -> std::io::Result<()> {
        let (Some(consumer), Some(queue)) = (self.consumer.clone(), self.queue.take()) else {
            return Ok(());
        };
        consumer.context().attach(ContextLinks {
            group: links.group,
            committed: links.committed.clone(),
        });
        let (to_poller, poller_requests) = mpsc::channel();
        let (to_committer, requests) = mpsc::channel();
        let committer_consumer = Arc::downgrade(&consumer);
        let poller_links = PollerLinks {
            fetched: links.fetched,
            closed: links.closed,
            rewound: links.rewound,
            faulted: links.faulted,
        };
        let poller = std::thread::Builder::new()
            .name("gig-poller".to_string())
            .spawn(move || poller::run(consumer, queue, poller_requests, poller_links, settings))?;
        self.poller = Some(poller);
        self.to_poller = Some(to_poller);
        let committed = links.committed;
        let transactor = self.shared.transactor.clone();
        let committer = std::thread::Builder::new()
            .name("gig-committer".to_string())
            .spawn(move || {
                commit::thread::run(committer_consumer, transactor, requests, committed)
            })?;
        self.committer = Some(committer);
        self.to_committer = Some(to_committer);
        Ok(())
    }

    /// What the threads and callbacks share with the actor.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Whether the poll thread runs (it exits at a stop, or if the actor is gone).
    pub(crate) fn is_polling(&self) -> bool {
        self.poller.as_ref().is_some_and(|p| !p.is_finished())
    }

    /// The librdkafka client, unless a stop has closed it.
    pub(crate) fn kafka(&self) -> Result<&BaseConsumer<GigContext>, GigError> {
        self.consumer.as_deref().ok_or(GigError::Stopped)
    }

    /// Runs `ask` with the client on a thread of its own (see [`query`]).
    pub(crate) fn query(
        &self,
        ask: impl FnOnce(&BaseConsumer<GigContext>) + Send + 'static,
    ) -> Result<(), GigError> {
        let consumer = self.consumer.as_ref().ok_or(GigError::Stopped)?;
        let thread = query::spawn(Arc::downgrade(consumer), ask)?;
        if let Ok(mut queries) = self.queries.lock() {
            queries.retain(|q| !q.is_finished());
            queries.push(thread);
        }
        Ok(())
    }

    /// Asks the commit thread to commit; gives the plan back if it has exited.
    pub(crate) fn commit(&self, plan: CommitPlan) -> Result<(), CommitPlan> {
        match &self.to_committer {
            Some(tx) => tx.send(plan).map_err(|mpsc::SendError(p)| p),
            None => Err(plan),
        }
    }

    /// Asks the poll thread to read partitions again from these offsets; it answers with
    /// [`Rewound`]. `false` if it has exited.
    pub(crate) fn rewind(&self, targets: Vec<CommitOffset>) -> bool {
        let revocations = self.shared.revocations.load(Ordering::SeqCst);
        let request = ToPoller::Rewind(RewindRequest {
            targets,
            revocations,
        });
        let to_poller = self.to_poller.as_ref();
        to_poller.is_some_and(|tx| tx.send(request).is_ok())
    }

    /// The transactional producer, in the transactional mode.
    pub(crate) fn transactor(&self) -> Option<&Transactor> {
        self.shared.transactor.as_deref()
    }

    /// The transactional id, in the transactional mode.
    pub(crate) fn transactional_id(&self) -> Option<&str> {
        self.transactor().map(Transactor::id)
    }

    /// Stops delivering: the poll thread drops what it fetches from now on, and fetching
    /// pauses.
    pub(crate) fn halt(&self) {
        self.shared.halted.store(true, Ordering::SeqCst);
        if let Some(consumer) = &self.consumer {
            partitions::set_paused(consumer, true);
        }
    }

    /// Hands a stop's final commit to the poll thread, which makes it, leaves the group and
    /// answers with [`Closed`]. `false` if the poll thread has exited.
    pub(crate) fn close_with(&self, plan: CommitPlan) -> bool {
        let to_poller = self.to_poller.as_ref();
        to_poller.is_some_and(|tx| tx.send(ToPoller::Close(plan)).is_ok())
    }

    /// Holds back fetching of exactly these partitions (the crash-loop guard's, while
    /// another partition goes one record at a time): pauses those newly in the list,
    /// resumes those no longer in it.
    pub(crate) fn hold_back(&self, partitions: Vec<Partition>) {
        let (Some(consumer), Ok(mut held)) = (&self.consumer, self.shared.held_back.lock()) else {
            return;
        };
        let added: Vec<Partition> = partitions
            .iter()
            .filter(|p| !held.contains(p))
            .cloned()
            .collect();
        let freed: Vec<Partition> = held
            .iter()
            .filter(|p| !partitions.contains(p))
            .cloned()
            .collect();
        partitions::set_paused_only(consumer, &added, true);
        partitions::set_paused_only(consumer, &freed, false);
        *held = partitions;
    }

    /// Assigns `partitions` (a manual assignment), their fetched messages forwarded to the
    /// poll thread's fetch queue first.
    pub(crate) fn assign(&self, partitions: &TopicPartitionList) -> Result<(), GigError> {
        let (Some(consumer), Some(fetch)) = (&self.consumer, &self.fetch) else {
            return Err(GigError::Stopped);
        };
        fetch.adopt(partitions);
        consumer
            .assign(partitions)
            .map_err(GigError::kafka("assign"))
    }

    /// The assigned partitions, as `topic/partition`.
    pub(crate) fn assignment(&self) -> Vec<String> {
        let Some(Ok(assignment)) = self.consumer.as_ref().map(|c| c.assignment()) else {
            return Vec::new();
        };
        let elements = assignment.elements();
        elements
            .iter()
            .map(|e| format!("{}/{}", e.topic(), e.partition()))
            .collect()
    }

    /// Ends the client's threads and returns the work of closing the client, to run off the
    /// actor's thread: it blocks while the member leaves its group. The poll, commit and
    /// query threads are joined first, so that the client, and the transactional producer
    /// the commit thread shares, close here and not later on one of those: once it returns,
    /// no librdkafka thread of this consumer runs. (A commit, a query or the registration
    /// of a transactional id may be under way: the last takes at most twice the
    /// transaction timeout.)
    pub(crate) fn close(&mut self) -> impl FnOnce() + Send + 'static {
        self.shared.halted.store(true, Ordering::SeqCst);
        self.to_poller = None;
        self.to_committer = None;
        let mut threads: Vec<JoinHandle<()>> = [self.poller.take(), self.committer.take()]
            .into_iter()
            .flatten()
            .collect();
        if let Ok(mut queries) = self.queries.lock() {
            threads.append(&mut queries);
        }
        let (queue, fetch) = (self.queue.take(), self.fetch.take());
        let consumer = self.consumer.take();
        move || {
            for thread in threads {
                let _ = thread.join();
            }
            drop((queue, fetch));
            drop(consumer);
        }
    }
}

impl Drop for Client {
    /// A client dropped without a stop (its actor dropped as the system shuts down, or
    /// stopped by an error) ends its threads and closes librdkafka here, before the drop
    /// returns. No librdkafka thread may outlive it: a process that exits while one is in a
    /// TLS handshake crashes in OpenSSL's exit-time cleanup (SIGSEGV, 4 runs in 20 before).
    fn drop(&mut self) {
        if self.consumer.is_some() {
            (self.close())();
        }
    }
}
