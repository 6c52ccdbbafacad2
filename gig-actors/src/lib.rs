//! # gig-actors — Kafka for actix, where a silent consumer never blocks a partition
//!
//! A record's path, poll to commit (file: function):
//!
//! 1. `client/poller.rs: run`, the poll thread (one per consumer), polls librdkafka's
//!    consumer queue (`client/consumer_queue.rs`, with no allocation per message), copies
//!    each batch of records into one shared buffer, and sends them to the
//!    [`ConsumerActor`] (`Fetched`).
//! 2. `consumer/dispatch.rs` hands them to `driver.rs: fetched`, which gives them to the
//!    record pipeline ([`gig_core::Pipeline::handle_fetched`]: tracked in the ack book,
//!    deadline = now + ack timeout) and sends what it releases to the user's *downstream*
//!    actor (`downstream.rs: send`) as a [`Delivery`] message, or through a
//!    [`DeliveryStream`] (no message per record), or as a [`DeliveryBatch`], or decoded as
//!    [`Typed`].
//! 3. The downstream answers each record with [`Delivery::ack`] or [`Delivery::nack`], in
//!    any order, now or later; answers come back through one queue (`answers.rs`) to
//!    `driver.rs: answers_queued`. A record not answered by its deadline times out (one
//!    timer serves all deadlines); one dropped unanswered goes at once as
//!    [`NoAckReason::Dropped`].
//! 4. `driver.rs: hand_over` offers outcomes in batches (the answer comes back as
//!    `HandedOver`, through the mailbox) to the user's AckedActor
//!    ([`Acked`]) and NoAckedActor ([`NoAcked`], with the [`NoAckReason`]). Nothing is
//!    redelivered to the downstream.
//! 5. Once a handler accepts a batch, its offsets may be committed: per partition, up to
//!    the first record not yet accepted, so out-of-order acks never commit past a record
//!    whose outcome is not handed over. `consumer/commit.rs` asks the commit thread
//!    (`client/committer.rs`) every `commit_interval` or `commit_every` records; a
//!    revocation (`consumer/rebalance.rs`, `client/context.rs`) and a stop
//!    (`consumer/shutdown.rs`, `client/final_commit.rs`) commit on the poll thread. All go
//!    through `client/commit.rs: execute`.
//! 6. In the transactional mode ([`ConsumerConfig::transactional`]) the outcome actors may
//!    answer [`AckedTx`] / [`NoAckedTx`] with [`Outputs`]; the pipeline holds each until the
//!    watermark passes its source, and every commit is a Kafka transaction
//!    (`client/transactor.rs`: produce the outputs, send the offsets with the group's
//!    metadata, commit). An aborted transaction's partitions are read again from their last
//!    commit (`consumer/transactions.rs`, `client/rewind.rs`); a fenced producer stops the
//!    consumer handing over.
//!
//! An error that keeps the consumer from reading (a codec, an ACL, a refused login) is kept
//! as a fault (`client/client_errors.rs`) until what it blocks reads again: [`Stats`] names
//! it, [`Health`] says not live, and waiting commands fail with [`GigError::Unreadable`].
//!
//! User code fails: the downstream and outcome actors given to the builder as factories
//! ([`ConsumerBuilder::downstream_factory`], [`ConsumerBuilder::acked_factory`], …) are
//! started by Gig and started again when a handler panics (`supervisor/`, `driver/
//! supervision.rs`), and a panic costs the record it happened on
//! ([`NoAckReason::Panicked`]). A record that kills the whole process is found by the
//! crash-loop guard, which keeps its count in the committed offsets
//! ([`NoAckReason::Crashed`]); see docs/guarantees.md, "When user code fails".
//!
//! When more than `max_in_flight` records await their outcome, fetching stops (the poll
//! thread stops polling; nothing is dropped or fetched twice) and resumes as they resolve.
//!
//! The files, top down: [`consumer`] (the actor, one file per concern: builder, dispatch,
//! commit, rebalance, shutdown, subscribe, stats) and [`rehearsal`] (the same pipeline on
//! tokio's clock, fed by you) both drive the pipeline through `driver.rs`, which sends to
//! the `downstream.rs` and hands over ([`outcome`]); [`delivery`], [`delivery_stream`](mod@delivery_stream) and [`typed`] are what
//! the downstream gets, `answers.rs` the way back. `client/` is the Kafka side, below the
//! actor that owns it: the poll thread, librdkafka's callbacks, the commit thread, the
//! in-flight gate; its threads report through messages of their own. Beside them:
//! [`producer`] (built with [`GigProducerBuilder`]), the ready sinks [`dead_letter`] and [`retry`], [`stats`], [`error`], and
//! with the `testkit` feature, `testkit` (the embedded broker); with `service`, `service`
//! (a stop on SIGTERM, and HTTP probes); with `actix-web`, `web` (the probes as routes of an
//! actix-web `App`, and one graceful stop for the HTTP server and the consumers). Users
//! import [`prelude`].

#![warn(missing_docs)]

mod answers;
mod client;
pub mod consumer;
pub mod dead_letter;
pub mod delivery;
pub mod delivery_stream;
mod downstream;
mod driver;
pub mod error;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
mod metrics;
pub mod outcome;
pub mod producer;
mod producer_builder;
pub mod rehearsal;
pub mod retry;
#[cfg(feature = "service")]
pub mod service;
pub mod stats;
mod supervisor;
#[cfg(feature = "testkit")]
pub mod testkit;
#[cfg(feature = "tracing")]
pub mod trace;
#[cfg(not(feature = "tracing"))]
mod trace;
pub mod typed;
// Its graceful stop waits on the Unix signals of `service::shutdown_signal`.
#[cfg(all(feature = "actix-web", unix))]
pub mod web;

pub use consumer::assignment::{Rebalanced, WaitForAssignment};
pub use consumer::builder::ConsumerBuilder;
pub use consumer::caught_up::CaughtUp;
pub use consumer::commit::Commit;
pub use consumer::health::{Health, HealthReport};
pub use consumer::inspect::{Inspect, KafkaView};
pub use consumer::shutdown::Stop;
pub use consumer::stats::GetStats;
pub use consumer::subscribe::{Assign, PartitionStart, Subscribe, Unsubscribe};
pub use consumer::ConsumerActor;
pub use delivery::{AckHandle, Delivery, DeliveryBatch};
pub use delivery_stream::{delivery_stream, DeliverySender, DeliveryStream};
pub use error::GigError;
pub use gig_core::{
    ConsumerConfig, Fault, FaultKind, Header, NoAckReason, Outputs, Record, RestartPolicy, Role,
    TraceParent, Transactional, Verdict,
};
pub use outcome::{Acked, AckedTx, HandOverError, NoAcked, NoAckedRecord, NoAckedTx};
pub use producer::{Delivered, GigProducer, ProducerRecord};
pub use producer_builder::GigProducerBuilder;
pub use stats::{PartitionStats, Stats, SupervisionStats, TransactionStats};
pub use typed::Typed;

/// The README's Rust examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// docs/service.md's Rust examples (they need the `service` feature).
#[cfg(all(doctest, feature = "service"))]
#[doc = include_str!("../../docs/service.md")]
pub struct ServiceDoctests;

/// docs/security.md's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/security.md")]
pub struct SecurityDoctests;

/// docs/guide.md's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
pub struct GuideDoctests;

/// docs/configuration.md's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/configuration.md")]
pub struct ConfigurationDoctests;

/// Everything a Gig user needs, in one import.
pub mod prelude {
    pub use crate::delivery_stream::delivery_stream;
    pub use crate::{
        AckHandle, Acked, AckedTx, Assign, CaughtUp, Commit, ConsumerActor, ConsumerBuilder,
        ConsumerConfig, Delivered, Delivery, DeliveryBatch, DeliverySender, DeliveryStream, Fault,
        FaultKind, GetStats, GigError, GigProducer, GigProducerBuilder, HandOverError, Header,
        Health, HealthReport, Inspect, KafkaView, NoAckReason, NoAcked, NoAckedRecord, NoAckedTx,
        Outputs, PartitionStart, ProducerRecord, Rebalanced, Record, RestartPolicy, Stats, Stop,
        Subscribe, TraceParent, Transactional, Typed, Unsubscribe, Verdict, WaitForAssignment,
    };
}
