//! # gig-core — the pure logic of Gig
//!
//! Gig connects Kafka to actix with one rule: *a slow or silent consumer never blocks a
//! partition, and no record is lost*. This crate holds everything that rule needs that is
//! not I/O, so it can be unit-tested with no broker, no actix and no clock:
//!
//! - [`pipeline`]: [`Pipeline`], the state of every record one consumer holds, from fetch
//!   to commit. It does no I/O and reads no clock: `handle_*` methods take events (records
//!   fetched, an answer, a deadline passed, a batch accepted, a commit confirmed) with
//!   `now`; `poll_*` methods say what to do next (records to deliver, batches to hand over,
//!   offsets to commit, when to call back). The consumer actor and the rehearsal in
//!   gig-actors are its two drivers.
//! - [`ack_book`]: all partitions of one consumer, addressed by [`Token`]s that make an
//!   answer an O(1) lookup; [`partition_book`]: one partition's records, their states and
//!   deadlines, and its commit watermark.
//! - [`key_queues`]: with key ordering, the records waiting behind another of their key.
//! - [`record`]: [`Record`], one Kafka record: a reference count on the batch it was
//!   fetched with and an index into it ([`RecordBatchBuilder`] makes such batches);
//!   [`producer_record`]: [`ProducerRecord`], one record to produce.
//! - [`outputs`]: [`Outputs`], what an outcome actor of a transactional consumer asks Gig
//!   to produce, each tied to its source record.
//! - [`outcome`]: the downstream's [`Verdict`], and why a record was not acked
//!   ([`NoAckReason`]).
//! - [`retry`]: the headers of a delayed retry.
//! - [`trace`]: a record's W3C trace context ([`TraceParent`], from its `traceparent`
//!   header).
//! - [`config`]: [`ConsumerConfig`], built in code or loaded from JSON, and validated;
//!   [`config_env`]: the same from environment variables, for a deployed service;
//!   [`transactional`]: its transactional mode; [`error`]: [`ConfigError`];
//!   [`properties`]: which librdkafka properties are secrets (never shown) and which say
//!   how to reach the cluster.
//! - [`faults`]: [`FaultBook`], the errors that keep a consumer from reading a partition,
//!   a topic or at all (a codec, an ACL, credentials), kept until what they block reads.
//! - [`supervision`]: [`Supervision`] and [`RestartPolicy`], when a user actor that died is
//!   started again and when Gig gives up; [`crash_marker`]: the [`Marker`] the crash-loop
//!   guard keeps in committed offsets, so that a record that kills the consumer's process
//!   is handed over as crashed instead of stopping its partition for good.
//!
//! A record's path, in these terms: [`Pipeline::handle_fetched`] tracks it in the ack book
//! and [`Pipeline::poll_outbound`] gives it to the driver to deliver;
//! [`Pipeline::handle_answer`], [`Pipeline::handle_dropped`] or
//! [`Pipeline::handle_timeout`] route it to an outcome; [`Pipeline::poll_handover`] batches
//! it for the Acked or NoAcked actor and [`Pipeline::handle_accepted`] records that the
//! actor took it; [`Pipeline::poll_commit`] then yields per partition the offset after the
//! longest prefix of handed-over records: never past a record whose outcome is not yet
//! accepted.

#![warn(missing_docs)]

pub mod ack_book;
mod chunked_deque;
pub mod config;
pub mod config_env;
pub mod crash_marker;
mod duration;
pub mod error;
pub mod faults;
pub mod key_queues;
pub mod outcome;
pub mod outputs;
pub mod partition_book;
pub mod pipeline;
pub mod producer_record;
pub mod properties;
pub mod record;
pub mod retry;
pub mod source_tokens;
pub mod supervision;
pub mod trace;
pub mod transactional;

pub use ack_book::{AckBook, AckResult, CommitOffset, Partition, Token};
pub use config::{AckTimeoutHeader, ConsumerConfig};
pub use crash_marker::Marker;
pub use error::ConfigError;
pub use faults::{Fault, FaultBook, FaultKind, FaultScope};
pub use key_queues::KeyQueues;
pub use outcome::{NoAckReason, NoAckedRecord, Verdict};
pub use outputs::{Output, Outputs, Source};
pub use partition_book::PartitionBook;
pub use pipeline::{
    CatchUp, CommitPlan, Counters, HandOver, Outbound, PartitionEnd, Pipeline, ReleaseId, Stuck,
    Transaction, TransactionResult,
};
pub use producer_record::ProducerRecord;
pub use record::{Header, Record, RecordBatchBuilder, RecordData, RecordParts};
pub use source_tokens::SourceTokens;
pub use supervision::{AfterDeath, RestartPolicy, Role, Supervision};
pub use trace::{BadTraceParent, TraceParent};
pub use transactional::Transactional;
