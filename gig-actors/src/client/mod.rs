//! The Kafka side of one consumer: the librdkafka client and its two threads.
//!
//! - [`poller`]: the poll thread, the only caller of `poll`; it sends fetched records to the
//!   actor, and at a stop makes the final commit ([`final_commit`]) and leaves the group
//!   ([`leave`]).
//! - [`context`]: librdkafka's callbacks, run inside `poll`: rebalances go to the actor,
//!   errors and statistics to [`shared`].
//! - [`committer`]: the commit thread; every commit, here or on the poll thread, is the one
//!   [`commit::commit_sync`], reported to the actor as [`commit::Committed`].
//! - [`gate`]: the in-flight limit between the poll thread and the actor; [`due`]: delayed
//!   retries (partitions paused until a record is due); [`partitions`]: partition lists.
//!
//! The threads know the actor only through `Recipient`s of their own messages, so this
//! module sits below the actor that owns it.

pub(crate) mod commit;
pub(crate) mod committer;
pub(crate) mod context;
pub(crate) mod due;
pub(crate) mod final_commit;
pub(crate) mod gate;
pub(crate) mod leave;
pub(crate) mod partitions;
pub(crate) mod poller;
pub(crate) mod shared;

use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use actix::Recipient;
use gig_core::{CommitOffset, ConsumerConfig};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::error::GigError;
use commit::Committed;
use context::{ContextLinks, GigContext, GroupEvent};
use poller::{Closed, Fetched, PollerLinks};
use shared::Shared;

/// How much longer than the actor the poll thread waits for a revocation to resolve: the
/// actor answers at its own time limit, and that answer must arrive before the thread gives
/// up on it.
const REVOKE_MARGIN: Duration = Duration::from_secs(2);

/// Where the client's threads and callbacks report.
pub(crate) struct Links {
    pub(crate) fetched: Recipient<Fetched>,
    pub(crate) closed: Recipient<Closed>,
    pub(crate) group: Recipient<GroupEvent>,
    pub(crate) committed: Recipient<Committed>,
}

/// One consumer's librdkafka client, its poll thread and its commit thread.
pub(crate) struct Client {
    /// `None` once a stop has handed it to be closed off the actor's thread.
    consumer: Option<Arc<BaseConsumer<GigContext>>>,
    shared: Arc<Shared>,
    /// A stop's final offsets go to the poll thread this way; dropping it ends the thread.
    to_poller: Option<mpsc::Sender<Vec<CommitOffset>>>,
    /// Commit requests go to the commit thread this way; dropping it ends the thread.
    to_committer: Option<mpsc::Sender<Vec<CommitOffset>>>,
    poller: Option<JoinHandle<()>>,
}

impl Client {
    /// Creates the librdkafka client with `config`'s properties; no thread runs yet.
    pub(crate) fn new(config: &ConsumerConfig) -> Result<Self, GigError> {
        let mut properties = ClientConfig::new();
        for (key, value) in config.client_properties() {
            properties.set(key, value);
        }
        let shared = Arc::new(Shared::new(config.max_in_flight));
        let revoke_wait = config.resolve_wait() + REVOKE_MARGIN;
        let context = GigContext::new(shared.clone(), revoke_wait);
        let consumer: BaseConsumer<GigContext> = properties
            .create_with_context(context)
            .map_err(GigError::kafka("creating the consumer"))?;
        Ok(Client {
            consumer: Some(Arc::new(consumer)),
            shared,
            to_poller: None,
            to_committer: None,
            poller: None,
        })
    }

    /// Starts the poll and commit threads, reporting to `links`.
    pub(crate) fn start(&mut self, links: Links, wait_for_due: bool) -> std::io::Result<()> {
        let Some(consumer) = self.consumer.clone() else {
            return Ok(());
        };
        consumer.context().attach(ContextLinks {
            group: links.group,
            committed: links.committed.clone(),
        });
        let (to_poller, final_offsets) = mpsc::channel();
        let (to_committer, requests) = mpsc::channel();
        let committer_consumer = Arc::downgrade(&consumer);
        let poller_links = PollerLinks {
            fetched: links.fetched,
            closed: links.closed,
        };
        let poller = std::thread::Builder::new()
            .name("gig-poller".to_string())
            .spawn(move || poller::run(consumer, final_offsets, poller_links, wait_for_due))?;
        self.poller = Some(poller);
        self.to_poller = Some(to_poller);
        let committed = links.committed;
        std::thread::Builder::new()
            .name("gig-committer".to_string())
            .spawn(move || committer::run(committer_consumer, requests, committed))?;
        self.to_committer = Some(to_committer);
        Ok(())
    }

    /// What the threads and callbacks share with the actor.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The librdkafka client, unless a stop has closed it.
    pub(crate) fn kafka(&self) -> Result<&BaseConsumer<GigContext>, GigError> {
        self.consumer.as_deref().ok_or(GigError::Stopped)
    }

    /// Asks the commit thread to commit; gives the offsets back if it has exited.
    pub(crate) fn commit(&self, offsets: Vec<CommitOffset>) -> Result<(), Vec<CommitOffset>> {
        match &self.to_committer {
            Some(tx) => tx.send(offsets).map_err(|mpsc::SendError(o)| o),
            None => Err(offsets),
        }
    }

    /// Stops delivering: the poll thread drops what it fetches from now on, and fetching
    /// pauses.
    pub(crate) fn halt(&self) {
        self.shared
            .halted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(consumer) = &self.consumer {
            partitions::set_paused(consumer, true);
        }
    }

    /// Hands a stop's final offsets to the poll thread, which commits them, leaves the
    /// group and answers with [`Closed`]. `false` if the poll thread has exited.
    pub(crate) fn close_with(&self, final_offsets: Vec<CommitOffset>) -> bool {
        let to_poller = self.to_poller.as_ref();
        to_poller.is_some_and(|tx| tx.send(final_offsets).is_ok())
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

    /// Ends both threads and returns the work of closing the client, to run off the
    /// actor's thread: it blocks while the member leaves its group. The poll thread is
    /// joined first, so that the client closes here and not later on that thread.
    pub(crate) fn close(&mut self) -> impl FnOnce() + Send + 'static {
        self.shared
            .halted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.to_poller = None;
        self.to_committer = None;
        let (consumer, poller) = (self.consumer.take(), self.poller.take());
        move || {
            if let Some(poller) = poller {
                let _ = poller.join();
            }
            drop(consumer);
        }
    }
}
