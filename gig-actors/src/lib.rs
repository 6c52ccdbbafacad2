//! # gig-actors — Kafka for actix, where a silent consumer never blocks a partition
//!
//! A record's path, poll to commit:
//!
//! 1. The poll thread ([`poller`](crate::ConsumerActor), one per consumer) fetches records
//!    with rdkafka and sends them in batches to the [`ConsumerActor`].
//! 2. The consumer tracks each record in its ack book (deadline = now + ack timeout) and
//!    sends it to the user's *downstream* actor as a [`Delivery`] (or [`DeliveryBatch`]).
//! 3. The downstream answers each record with [`Delivery::ack`] or [`Delivery::nack`], in any
//!    order, now or later. A record not answered by its deadline times out. One timer
//!    serves all deadlines.
//! 4. Acked records go to the user's AckedActor ([`Acked`]); nacked, timed-out and
//!    undeliverable ones to the NoAckedActor ([`NoAcked`]), with the [`NoAckReason`].
//!    Nothing is redelivered to the downstream.
//! 5. When a handler accepts a batch, its offsets may be committed: per partition, up to the
//!    first record not yet accepted, so out-of-order acks never commit past a record whose
//!    outcome is not handed over. Commits go out every `commit_interval` or `commit_every`
//!    records, and synchronously on revocation and stop.
//!
//! When more than `max_in_flight` records await their outcome, fetching stops (the poll
//! thread stops polling; nothing is dropped or fetched twice) and resumes as they resolve.
//!
//! A downstream may instead take decoded JSON values ([`typed`]): records that do not
//! decode go to the NoAckedActor as undecodable and never reach it.
//!
//! Modules: [`consumer`] (the actor), [`dead_letter`] (a ready NoAckedActor writing to a
//! dead-letter topic), [`delivery`] (what the downstream gets and answers),
//! [`typed`] (JSON-decoded deliveries), [`outcome`] (what the Acked/NoAcked actors get), [`commands`] (subscribe, assign,
//! unsubscribe, stop, stats), [`producer`], [`testkit`] (the embedded broker), [`stats`].
//! Users import [`prelude`].

pub mod commands;
mod committer;
pub mod consumer;
pub mod dead_letter;
pub mod delivery;
mod due;
pub mod error;
pub mod outcome;
mod poller;
pub mod producer;
pub mod rehearsal;
pub mod retry;
pub mod stats;
pub mod testkit;
mod throttle;
pub mod typed;

pub use commands::{Assign, Commit, GetStats, PartitionStart, Stop, Subscribe, Unsubscribe};
pub use consumer::{committed_summary, ConsumerActor, ConsumerBuilder};
pub use delivery::{AckHandle, AckMsg, Delivery, DeliveryBatch, Verdict};
pub use error::GigError;
pub use gig_core::{ConsumerConfig, NoAckReason, Record};
pub use outcome::{Acked, HandOverError, NoAcked, NoAckedRecord};
pub use poller::GigContext;
pub use producer::{Delivered, GigProducer, ProducerRecord};
pub use stats::{PartitionStats, Stats};
pub use typed::Typed;

/// The README's Rust examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Everything a Gig user needs, in one import.
pub mod prelude {
    pub use crate::commands::{
        Assign, Commit, GetStats, PartitionStart, Stop, Subscribe, Unsubscribe,
    };
    pub use crate::consumer::{ConsumerActor, ConsumerBuilder};
    pub use crate::delivery::{AckHandle, Delivery, DeliveryBatch, Verdict};
    pub use crate::error::GigError;
    pub use crate::outcome::{Acked, HandOverError, NoAcked, NoAckedRecord};
    pub use crate::producer::{Delivered, GigProducer, ProducerRecord};
    pub use crate::stats::Stats;
    pub use crate::testkit::EmbeddedBroker;
    pub use crate::typed::Typed;
    pub use gig_core::{ConsumerConfig, NoAckReason, Record};
}
