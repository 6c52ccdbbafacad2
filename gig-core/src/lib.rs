//! # gig-core — the pure logic of Gig
//!
//! Gig connects Kafka to actix with one rule: *a slow or silent consumer never blocks a
//! partition, and no record is lost*. This crate holds everything that rule needs that is
//! not I/O, so it can be unit-tested with no broker, no actix and no clock:
//!
//! - [`record`]: [`Record`], one Kafka record, cheap to clone (one `Arc`).
//! - [`outcome`]: why a record was not acked ([`NoAckReason`]).
//! - [`partition_book`]: the per-partition ledger: each record's state (waiting for an
//!   ack, routed to an outcome, handed over), its ack deadline, and the commit watermark.
//! - [`ack_book`]: all partitions of one consumer, addressed by [`Token`]s that make an ack
//!   an O(1) lookup, and the in-flight count that drives pausing.
//! - [`config`]: [`ConsumerConfig`], built in code or loaded from JSON, and validated.
//! - [`error`]: [`ConfigError`], one enum for everything a configuration can get wrong.
//!
//! A record's path, in these terms: the consumer calls [`AckBook::track`] when a record is
//! fetched; [`AckBook::ack`], [`AckBook::nack`] or [`AckBook::expire`] route it to an
//! outcome; [`AckBook::handed_over`] records that the Acked/NoAcked actor accepted it; and
//! [`AckBook::offsets_to_commit`] yields per partition the offset after the longest prefix
//! of handed-over records: never past a record whose outcome is not yet accepted.

pub mod ack_book;
pub mod config;
pub mod error;
pub mod key_queues;
pub mod outcome;
pub mod partition_book;
pub mod record;
pub mod retry;

pub use ack_book::{AckBook, AckResult, CommitOffset, Token};
pub use config::{AckTimeoutHeader, ConsumerConfig};
pub use error::ConfigError;
pub use key_queues::KeyQueues;
pub use outcome::NoAckReason;
pub use partition_book::PartitionBook;
pub use record::{Header, Record, RecordData};
