//! # gig-core — the pure logic of Gig
//!
//! Gig connects Kafka to actix with one rule: *a slow or silent consumer never blocks a
//! partition, and no record is lost*. This crate holds everything that rule needs that is
//! not I/O, so it can be unit-tested with no broker, no actix and no clock. The actor crate,
//! gig-actors, drives it.
//!
//! ## The pipeline
//!
//! [`Pipeline`] holds the state of every record one consumer has fetched and not yet
//! committed. It does no I/O and reads no clock: `handle_*` methods take events with `now`,
//! `poll_*` methods say what to do next. The words used here (deliver, route, hand over,
//! outcome batch, commit plan, …) name one thing each: the guide's
//! [glossary](https://github.com/gig-rs/gig/blob/main/docs/guide.md#glossary) maps them
//! to the types and methods below.
//!
//! A record's path: [`Pipeline::handle_fetched`] tracks it, and
//! [`Pipeline::poll_outbound`] gives it back as an [`Outbound`] to deliver, named by a
//! [`Token`]. The downstream's [`Verdict`] arrives with [`Pipeline::handle_answer`]; a
//! record whose receiver died comes back with [`Pipeline::handle_dropped`], and one whose
//! deadline passed with [`Pipeline::handle_timeout`] ([`Pipeline::poll_timeout`] says
//! when to call it). [`Pipeline::poll_handover`] batches routed records into an
//! [`OutcomeBatch`] to hand over to the Acked or NoAcked actor, and
//! [`Pipeline::handle_accepted`] records that the actor took it: its records are handed over. [`Pipeline::poll_commit`] then yields a [`CommitPlan`]: per
//! partition, a [`CommitOffset`] one past the longest prefix of handed-over records, so a
//! commit never passes a record whose outcome is not yet accepted.
//!
//! A transactional consumer ([`Transactional`]) commits through [`Transaction`]s instead,
//! whose [`TransactionResult`] the pipeline is told. [`Counters`] and
//! [`PartitionProgress`] feed the consumer's stats; [`CatchUp`] and [`PartitionEnd`]
//! answer whether a consumer has read up to the end of its partitions.
//!
//! ## Records and outcomes
//!
//! - [`Record`]: one Kafka record, a reference count on the batch it was fetched with and
//!   an index into it ([`RecordBatchBuilder`] makes such batches; [`RecordData`] and
//!   [`Header`] are its owned parts). [`ProducerRecord`]: one record to produce.
//! - [`Verdict`]: the downstream's answer; [`NoAckReason`]: why a record was not acked,
//!   carried by a [`NoAckedRecord`].
//! - [`Outputs`]: what an outcome actor of a transactional consumer asks Gig to produce,
//!   each [`Output`] tied to its [`Source`] record.
//! - [`retry`]: the headers of a delayed retry; [`trace`]: a record's W3C trace context
//!   ([`TraceParent`]).
//!
//! ## Configuration and errors
//!
//! [`ConsumerConfig`] is built in code or parsed from JSON, and checked before a consumer
//! uses it; a bad one is a [`ConfigError`]. [`config_env`] reads the same settings from
//! environment variables, for a deployed service; [`properties`] knows which librdkafka
//! properties are secrets (never shown) and which say how to reach the cluster.
//!
//! ## Faults and supervision
//!
//! - [`FaultBook`] keeps the [`Fault`]s that stop a consumer from reading a partition, a
//!   topic or at all (a codec, an ACL, credentials) until what they block reads again.
//! - [`Supervision`] and [`RestartPolicy`] decide when a user actor of a [`Role`] that died
//!   is started again and when Gig gives up.
//! - The crash-loop guard keeps a [`Marker`] in committed offsets, so that a record that
//!   kills the consumer's process is handed over as crashed instead of stopping its
//!   partition for good.

#![warn(missing_docs)]

// The books and queues behind `Pipeline` are private: a user or gig-actors names only the
// pipeline, its inputs and outputs, the config, records, outcomes and errors, re-exported
// below. The modules left public are namespaces of constants and functions that the
// actors need by path (header names, librdkafka's property list, environment variables).
mod ack_book;
mod chunked_deque;
mod config;
pub mod config_env;
mod crash_marker;
mod duration;
mod error;
mod faults;
mod key_queues;
mod outcome;
mod outputs;
mod partition_book;
mod pipeline;
mod producer_record;
pub mod properties;
mod record;
pub mod retry;
mod source_tokens;
mod supervision;
pub mod trace;
mod transactional;

pub use ack_book::{describe as describe_offsets, CommitOffset, Partition, Token};
pub use config::{AckTimeoutHeader, ConsumerConfig};
pub use crash_marker::Marker;
pub use duration::MAX_DURATION;
pub use error::ConfigError;
pub use faults::{Fault, FaultBook, FaultKind, FaultScope};
pub use outcome::{NoAckReason, NoAckedRecord, Verdict};
pub use outputs::{Output, Outputs, Source};
pub use pipeline::{
    CatchUp, CommitPlan, Counters, Outbound, OutcomeBatch, PartitionEnd, PartitionProgress,
    Pipeline, ReleaseId, Stuck, Transaction, TransactionResult,
};
pub use producer_record::ProducerRecord;
pub use record::{Header, Record, RecordBatchBuilder, RecordData, RecordParts};
pub use source_tokens::SourceTokens;
pub use supervision::{AfterDeath, RestartPolicy, Role, Supervision};
pub use trace::{BadTraceParent, TraceParent};
pub use transactional::Transactional;
