//! # gig-actors — Kafka for actix, where a silent consumer never blocks a partition
//!
//! A [`ConsumerActor`] reads Kafka partitions and hands each record to an actor of yours,
//! the *downstream*, which answers it with an ack or a nack, in any order, now or later.
//! Every record then reaches exactly one of two more actors of yours, the AckedActor or the
//! NoAckedActor, with its outcome; only once they accepted it may its offset be committed.
//! A record its downstream never answers times out to the NoAckedActor: it costs its ack
//! timeout, never the partition behind it.
//!
//! ## A record's path, poll to commit
//!
//! Each word in bold below names one thing, in these docs and in the code: the guide's
//! [glossary](https://github.com/gig-rs/gig/blob/main/docs/guide.md#glossary) says which
//! types and functions each maps to.
//!
//! 1. **Poll.** Each consumer has a poll thread of its own that reads librdkafka's queue and
//!    sends the records to the actor in batches. When more than `max_in_flight` records
//!    await their outcome, it stops polling (nothing is dropped or fetched twice) and
//!    resumes as they resolve.
//! 2. **Deliver.** The actor's record pipeline ([`gig_core::Pipeline`]) gives each record a
//!    deadline (now + the ack timeout; with key ordering, one record per key at a time)
//!    and releases it to the downstream: as a [`Delivery`] message, a [`DeliveryBatch`],
//!    through a [`DeliveryStream`] (no message per record), or decoded as [`Typed`].
//! 3. **Answer.** The downstream calls [`Delivery::ack`] or [`Delivery::nack`] (or the
//!    [`AckHandle`] it split off). A record not answered by its deadline times out, and one
//!    dropped unanswered goes at once, with its [`NoAckReason`]. Nothing is redelivered to
//!    the downstream.
//! 4. **Hand over.** Outcomes go in batches to the AckedActor ([`Acked`]) and the
//!    NoAckedActor ([`NoAcked`]). A handler that refuses a batch ([`HandOverError`]) is
//!    offered it again; until it accepts, nothing at or past it is committed.
//! 5. **Commit.** Per partition, the offset up to the first record whose outcome is not yet
//!    accepted, so out-of-order acks never commit past a record still in flight: every
//!    `commit_interval` or `commit_every` records on a thread of its own, on a revocation
//!    and at a [`Stop`]. In the transactional mode ([`ConsumerConfig::transactional`]) the
//!    outcome actors answer [`AckedTx`] / [`NoAckedTx`] with [`Outputs`], and every commit
//!    is a Kafka transaction that produces those outputs and commits their sources'
//!    offsets together.
//!
//! ## What you implement
//!
//! Three actix actors, each with one handler: the downstream (`Handler<Delivery>`, or
//! [`Typed`], or [`DeliveryBatch`]), the AckedActor (`Handler<Acked>`) and the NoAckedActor
//! (`Handler<NoAcked>`), given to [`ConsumerActor::builder`] ([`ConsumerBuilder`]) with a
//! [`ConsumerConfig`]. Ready-made outcome actors: the [`dead_letter`] sink and the
//! [`retry`] sink. Given as factories ([`ConsumerBuilder::downstream_factory`], …), Gig
//! starts your actors and starts them again when a handler panics; the record it panicked
//! on goes to the NoAckedActor ([`NoAckReason::Panicked`]), and a record that kills the
//! whole process is found by the crash-loop guard ([`NoAckReason::Crashed`]).
//!
//! ## Watching it
//!
//! Ask the actor for [`Stats`] ([`GetStats`]) or its [`Health`]; wait for an assignment
//! ([`WaitForAssignment`]) or for it to catch up ([`CaughtUp`]). An error that keeps it from
//! reading (a codec, an ACL, a refused login) stays a [`Fault`] in both until it reads
//! again, and commands waiting on it fail with [`GigError::Unreadable`]. With the
//! `metrics` feature it records counters and histograms through the `metrics` facade.
//!
//! ## The rest of the crate
//!
//! [`GigProducer`] produces (built with [`GigProducerBuilder`]); [`rehearsal`] drives the
//! same pipeline on tokio's clock, fed by you, for tests without a broker. Features add
//! `testkit` (an embedded broker), `service` (a stop on SIGTERM and HTTP probes) and
//! `actix-web` (the probes as routes of an actix-web `App`, one graceful stop for the
//! server and the consumers). Users import [`prelude`].

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
