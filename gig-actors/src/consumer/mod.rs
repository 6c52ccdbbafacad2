//! The consumer actor: Kafka in, the record pipeline in the middle, the user's actors out.
//!
//! [`ConsumerActor`] owns a `Client` (librdkafka, its poll and commit threads) and a
//! `Driver` (the record pipeline and the actors it talks to). Its handlers sit with the
//! concern they serve, one file each:
//!
//! - `builder`: [`ConsumerBuilder`](crate::ConsumerBuilder): the config, the downstream
//!   and the outcome actors.
//! - `dispatch`: fetched records and the downstream's answers, into the pipeline; the
//!   in-flight limit published to the poll thread.
//! - `commit`: commits (interval, count, the `Commit` command) and their results.
//! - `rebalance`: revoked partitions resolved and committed before they are released.
//! - `transactions`: the transactional mode's outcomes: an abort reads partitions again
//!   from their last commit; a fenced producer stops the consumer handing over.
//! - `shutdown`: `Stop`: resolve, make the final commit, close.
//! - `subscribe`: `Subscribe`, `Assign`, `Unsubscribe`.
//! - `stats`: `GetStats`, and the stats logged every `stats_interval`.
//! - `caught_up`: `CaughtUp`, answered once the records up to the partitions' ends are
//!   handed over and committed.
//! - `assignment`: `WaitForAssignment`, and the user's rebalance listener.
//! - `health`: `Health`, and the requests that fail at once when a fault opens.
//! - `guard`: the crash-loop guard's read of each assignment's committed offsets.
//! - `inspect`: `Inspect`, read-only questions to the librdkafka client.

pub(crate) mod assignment;
pub(crate) mod builder;
pub(crate) mod caught_up;
pub(crate) mod commit;
pub(crate) mod dispatch;
pub(crate) mod guard;
pub(crate) mod health;
pub(crate) mod inspect;
pub(crate) mod rebalance;
pub(crate) mod shutdown;
pub(crate) mod stats;
pub(crate) mod subscribe;
pub(crate) mod transactions;

use std::sync::mpsc::SyncSender;
use std::time::Instant;

use actix::prelude::*;
use gig_core::{CommitOffset, CommitPlan, ConfigError, ConsumerConfig, ReleaseId};
use log::error;
use rdkafka::error::KafkaError;
use tokio::sync::oneshot;

use crate::client::{Client, Links, PollSettings};
use crate::driver::{self, Driver, Drives, Wiring};
use crate::error::GigError;
use crate::stats::Stats;

/// How often the lag gauges (from librdkafka's latest statistics) and the client error
/// series are refreshed.
#[cfg(feature = "metrics")]
const GAUGES_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The Kafka consumer actor. See the crate docs for a record's path through it.
pub struct ConsumerActor {
    /// The record pipeline, and the downstream and outcome actors it talks to.
    driver: Driver,
    /// librdkafka and its poll and commit threads.
    client: Client,
    /// The settings the actor applies itself: topics at start, the commit and stats
    /// intervals, what the poll thread reads (`wait_for_due`, headers).
    config: ConsumerConfig,
    /// Whether the in-flight limit has stopped fetching, as last published.
    paused: bool,
    /// Group assignments this member took part in.
    rebalances: u64,
    /// Revocations waiting for their partitions' records, with where to answer.
    releases: Vec<(ReleaseId, SyncSender<CommitPlan>)>,
    /// `Commit` requests waiting for the broker to confirm their offsets.
    commit_waiters: Vec<CommitWaiter>,
    /// `Stop` requests waiting for the stop to finish.
    stop_waiters: Vec<oneshot::Sender<Result<Stats, GigError>>>,
    /// When the actor last let the others on its thread run (see `dispatch`).
    last_yield: Instant,
    /// `CaughtUp` requests waiting for their targets to be committed.
    catching_up: Vec<caught_up::CatchUpWaiter>,
    /// `WaitForAssignment` requests waiting for a partition.
    assignment_waiters: Vec<oneshot::Sender<Result<Vec<String>, GigError>>>,
    /// The user's actor told of assignments and revocations, with the revocations being
    /// resolved, to tell it which partitions went.
    rebalance_listener: Option<Recipient<assignment::Rebalanced>>,
    revoking: Vec<(ReleaseId, Vec<gig_core::Partition>)>,
    /// Why the transactional producer is fenced, once it is.
    fenced: Option<KafkaError>,
    /// The last transaction that did not commit, and why, for `Stats`.
    last_transaction_error: Option<String>,
    /// Partitions the crash-loop guard holds back, as last paused.
    held_back: Vec<gig_core::Partition>,
}

/// A `Commit` waiting for the broker to confirm these offsets.
struct CommitWaiter {
    offsets: Vec<CommitOffset>,
    reply: oneshot::Sender<Result<(), GigError>>,
}

impl ConsumerActor {
    /// Refuses a config that does not validate, as [`Pipeline::new`](gig_core::Pipeline::new) does.
    fn new(config: ConsumerConfig, wiring: Wiring, client: Client) -> Result<Self, ConfigError> {
        Ok(ConsumerActor {
            driver: Driver::new(&config, wiring)?,
            client,
            config,
            paused: false,
            rebalances: 0,
            releases: Vec::new(),
            commit_waiters: Vec::new(),
            stop_waiters: Vec::new(),
            last_yield: Instant::now(),
            catching_up: Vec::new(),
            assignment_waiters: Vec::new(),
            rebalance_listener: None,
            revoking: Vec::new(),
            fenced: None,
            last_transaction_error: None,
            held_back: Vec::new(),
        })
    }
}

impl Actor for ConsumerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        driver::start(self, ctx);
        let me = ctx.address();
        let links = Links {
            fetched: me.clone().recipient(),
            closed: me.clone().recipient(),
            group: me.clone().recipient(),
            committed: me.clone().recipient(),
            rewound: me.clone().recipient(),
            faulted: me.recipient(),
        };
        let settings = PollSettings {
            wait_for_due: self.config.waits_for_due(),
            headers: self.config.reads_headers(),
            nice: self.config.poll_thread_niceness(),
        };
        if let Err(e) = self.client.start(links, settings) {
            error!("cannot start the poll and commit threads: {e}; stopping");
            ctx.stop();
            return;
        }
        ctx.run_interval(self.config.commit_period(), |act, _| act.commit_now());
        #[cfg(feature = "metrics")]
        ctx.run_interval(GAUGES_EVERY, |act, _| act.publish_gauges());
        if let Some(every) = self.config.stats_period() {
            ctx.run_interval(every, |act, _| act.log_stats());
        }
        if !self.config.topic_names().is_empty() {
            let topics: Vec<&str> = self
                .config
                .topic_names()
                .iter()
                .map(String::as_str)
                .collect();
            if let Err(e) = self.subscribe(&topics) {
                error!("{e}");
            }
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // Stopped without `Stop` (the system is shutting down): the client closes when the
        // actor is dropped, right after this, and its threads end before that returns.
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(Err(GigError::Stopped));
        }
    }
}

impl Drives for ConsumerActor {
    fn driver(&mut self) -> &mut Driver {
        &mut self.driver
    }

    fn now() -> Instant {
        Instant::now()
    }

    fn progressed(&mut self, ctx: &mut Context<Self>) {
        // The crash-loop guard may have let records go, or hold some for a marker.
        driver::deliver_now(self, ctx);
        if self.driver.pipeline.guard_wants_commit() {
            self.commit_now();
        }
        self.hold_back();
        self.commit_if_due();
        self.publish_in_flight();
        self.release_resolved();
        self.answer_caught_up();
        self.check_stop(ctx);
    }
}
