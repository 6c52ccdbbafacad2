//! Gig's metrics, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`).
//!
//! Gig records; the application chooses where the numbers go by installing a recorder,
//! such as `metrics-exporter-prometheus` (the `metrics` example serves `/metrics` with it).
//! Install it before building the consumer: Gig registers its series when the consumer is
//! built, and a series registered with no recorder installed stays a no-op. With no
//! recorder, each hook costs a branch on a no-op handle; without the feature, nothing.
//!
//! Every series carries the consumer's `group`. The series, by name:
//!
//! | name | kind | labels | meaning |
//! | --- | --- | --- | --- |
//! | [`RECORDS`] | counter | `outcome` | records routed to an outcome: `acked`, `nacked`, `timed_out`, `undecodable`, `dropped`, `panicked`, `crashed` |
//! | [`LATE_ANSWERS`] | counter | | answers that came after their record's outcome (after a timeout): ignored |
//! | [`COMMITS`] | counter | `result` | commits the broker answered: `ok` or `error` |
//! | [`HANDOVER_FAILURES`] | counter | `actor` | batches the `acked` or `no_acked` actor refused or could not take (offered again) |
//! | [`RESTARTS`] | counter | `role` | user actors Gig started again from their factory after they died: `downstream`, `acked`, `no_acked` |
//! | [`IN_FLIGHT`] | gauge | | records fetched and not yet handed over: what the in-flight limit counts |
//! | [`PAUSED`] | gauge | | 1 while the in-flight limit has stopped fetching, else 0 |
//! | [`PARTITION_COMMITTED_OFFSET`] | gauge | `topic`, `partition` | the last committed offset the broker confirmed: the next offset the group reads |
//! | [`PARTITION_LAG`] | gauge | `topic`, `partition` | high watermark minus committed offset; needs librdkafka's `statistics.interval.ms` |
//! | [`ACK_LATENCY`] | histogram | | seconds from a record's delivery to the consumer taking its ack or nack |
//! | [`HANDOVER_LATENCY`] | histogram | `actor` | seconds from offering a batch to an outcome actor to its answer |
//! | [`COMMIT_LATENCY`] | histogram | | seconds a commit took, request to the broker's answer |
//! | [`CLIENT_ERRORS`] | counter | `kind` | errors the Kafka client reported, by [`FaultKind`](gig_core::FaultKind) name: `codec`, `corrupt`, `authentication`, `tls`, `authorization`, `offset_out_of_range`, `fatal`, `unknown_topic`, `transport`, `other` |
//! | [`FAULTS`] | gauge | `kind` | open faults: a partition, topic or the client that cannot be read until someone acts (see [`Stats::faults`](crate::Stats::faults)) |
//!
//! The records counters add up to the [`Stats`](crate::Stats) counters of the same names;
//! `gig_late_answers_total` is `Stats::late_answers`.

#[cfg(feature = "metrics")]
pub use names::*;

/// The series' names.
#[cfg(feature = "metrics")]
mod names {
    /// Counter: records routed to an outcome, by `outcome`.
    pub const RECORDS: &str = "gig_records_total";
    /// Counter: answers that came after their record's outcome.
    pub const LATE_ANSWERS: &str = "gig_late_answers_total";
    /// Counter: commits the broker answered, by `result` (`ok`, `error`).
    pub const COMMITS: &str = "gig_commits_total";
    /// Counter: hand-over batches refused or not taken, by `actor` (`acked`, `no_acked`).
    pub const HANDOVER_FAILURES: &str = "gig_handover_failures_total";
    /// Counter: user actors started again after they died, by `role` (`downstream`,
    /// `acked`, `no_acked`).
    pub const RESTARTS: &str = "gig_restarts_total";
    /// Gauge: records fetched and not yet handed over.
    pub const IN_FLIGHT: &str = "gig_in_flight";
    /// Gauge: 1 while the in-flight limit stops fetching.
    pub const PAUSED: &str = "gig_paused";
    /// Gauge: the committed offset per `topic` and `partition`.
    pub const PARTITION_COMMITTED_OFFSET: &str = "gig_partition_committed_offset";
    /// Gauge: high watermark minus committed offset per `topic` and `partition`.
    pub const PARTITION_LAG: &str = "gig_partition_lag";
    /// Histogram: seconds from delivery to the answer.
    pub const ACK_LATENCY: &str = "gig_ack_latency_seconds";
    /// Histogram: seconds from offering a batch to an outcome actor to its answer.
    pub const HANDOVER_LATENCY: &str = "gig_handover_latency_seconds";
    /// Histogram: seconds per commit.
    pub const COMMIT_LATENCY: &str = "gig_commit_latency_seconds";
    /// Counter: errors the Kafka client reported, by `kind`.
    pub const CLIENT_ERRORS: &str = "gig_client_errors_total";
    /// Gauge: open faults (what cannot be read until someone acts), by `kind`.
    pub const FAULTS: &str = "gig_faults";
}

#[cfg(feature = "metrics")]
pub(crate) use on::{Metrics, Stopwatch};

#[cfg(not(feature = "metrics"))]
pub(crate) use off::{Metrics, Stopwatch};

#[cfg(feature = "metrics")]
mod on;

#[cfg(not(feature = "metrics"))]
mod off;
