//! The metrics hooks with the `metrics` feature: counters, gauges and histograms through
//! the `metrics` facade.

use std::time::{Duration, Instant};

use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Gauge, Histogram, Unit,
};
use gig_core::{CommitOffset, Fault, FaultKind, NoAckReason, OutcomeBatch, Role};

use super::names::*;
use crate::stats::PartitionStats;

/// When something began, for a latency.
#[derive(Debug)]
pub(crate) struct Stopwatch(Instant);

/// Ack latencies of answers taken together. Records fetched together were delivered
/// at one instant and their answers are taken at one instant, so runs of equal
/// latencies are common: each run is one histogram update.
pub(crate) struct Latencies<'a> {
    histogram: &'a Histogram,
    run: Option<(Duration, usize)>,
}

impl Latencies<'_> {
    /// An answer reached the consumer: `waited` gives how long its record waited, if
    /// it was still waiting.
    pub(crate) fn record(&mut self, waited: impl FnOnce() -> Option<Duration>) {
        let Some(waited) = waited() else {
            return;
        };
        match &mut self.run {
            Some((value, count)) if *value == waited => *count += 1,
            run => {
                if let Some((value, count)) = run.take() {
                    self.histogram.record_many(value, count);
                }
                *run = Some((waited, 1));
            }
        }
    }
}

impl Latencies<'_> {
    /// Records the last run.
    pub(crate) fn finish(self) {
        if let Some((value, count)) = self.run {
            self.histogram.record_many(value, count);
        }
    }
}

impl Stopwatch {
    pub(crate) fn start() -> Self {
        Stopwatch(Instant::now())
    }
}

/// One consumer's series, registered once so that each hook is a handle update.
pub(crate) struct Metrics {
    group: String,
    acked: Counter,
    nacked: Counter,
    timed_out: Counter,
    undecodable: Counter,
    dropped: Counter,
    panicked: Counter,
    crashed: Counter,
    late_answers: Counter,
    commits_ok: Counter,
    commits_error: Counter,
    handover_failures: [Counter; 2],
    in_flight: Gauge,
    paused: Gauge,
    ack_latency: Histogram,
    handover_latency: [Histogram; 2],
    commit_latency: Histogram,
}

/// The index of an outcome batch's actor in the per-actor handles (`acked`, `no_acked`).
fn actor(batch: &OutcomeBatch) -> usize {
    match batch {
        OutcomeBatch::Acked(..) => 0,
        OutcomeBatch::NoAcked(..) => 1,
    }
}

impl Metrics {
    pub(crate) fn new(group: &str) -> Self {
        describe();
        let g = || ("group", group.to_string());
        let with = |key: &'static str, value: &str| [g(), (key, value.to_string())];
        let records = |outcome| counter!(RECORDS, &with("outcome", outcome));
        let actors = ["acked", "no_acked"].map(|a| with("actor", a));
        Metrics {
            group: group.to_string(),
            acked: records("acked"),
            nacked: records("nacked"),
            timed_out: records("timed_out"),
            undecodable: records("undecodable"),
            dropped: records("dropped"),
            panicked: records("panicked"),
            crashed: records("crashed"),
            late_answers: counter!(LATE_ANSWERS, &[g()]),
            commits_ok: counter!(COMMITS, &with("result", "ok")),
            commits_error: counter!(COMMITS, &with("result", "error")),
            handover_failures: actors.clone().map(|l| counter!(HANDOVER_FAILURES, &l)),
            in_flight: gauge!(IN_FLIGHT, &[g()]),
            paused: gauge!(PAUSED, &[g()]),
            ack_latency: histogram!(ACK_LATENCY, &[g()]),
            handover_latency: actors.map(|l| histogram!(HANDOVER_LATENCY, &l)),
            commit_latency: histogram!(COMMIT_LATENCY, &[g()]),
        }
    }

    /// A batch leaves the pipeline for its outcome actor: its records' outcomes count
    /// once, however often the batch is offered.
    pub(crate) fn routed(&self, batch: &OutcomeBatch) {
        let records = match batch {
            OutcomeBatch::Acked(_, records) => return self.acked.increment(records.len() as u64),
            OutcomeBatch::NoAcked(_, records) => records,
        };
        // Counted per reason first: one counter update per reason, not per record.
        let mut counts = [0u64; 6];
        for r in records {
            let i = match r.reason {
                NoAckReason::Nacked(_) => 0,
                NoAckReason::TimedOut { .. } => 1,
                NoAckReason::Undecodable(_) => 2,
                NoAckReason::Dropped => 3,
                NoAckReason::Panicked { .. } => 4,
                NoAckReason::Crashed { .. } => 5,
                // A reason added to gig-core later counts as what it is closest to: the
                // downstream did not ack.
                _ => 0,
            };
            counts[i] += 1;
        }
        let counters = [
            &self.nacked,
            &self.timed_out,
            &self.undecodable,
            &self.dropped,
            &self.panicked,
            &self.crashed,
        ];
        for (counter, n) in counters.into_iter().zip(counts) {
            if n > 0 {
                counter.increment(n);
            }
        }
    }

    /// Ack latencies of the answers taken together: [`Latencies::record`] each, then
    /// [`Latencies::finish`].
    pub(crate) fn latencies(&self) -> Latencies<'_> {
        Latencies {
            histogram: &self.ack_latency,
            run: None,
        }
    }

    /// The pipeline's count of late answers so far.
    pub(crate) fn late_answers(&self, total: u64) {
        self.late_answers.absolute(total);
    }

    /// An outcome actor answered an offer made at `offered`.
    pub(crate) fn batch_answered(&self, batch: &OutcomeBatch, offered: Stopwatch, accepted: bool) {
        let i = actor(batch);
        self.handover_latency[i].record(offered.0.elapsed());
        if !accepted {
            self.handover_failures[i].increment(1);
        }
    }

    /// The broker answered a commit that took `took` (unknown for the final one).
    pub(crate) fn commit(&self, ok: bool, took: Option<Duration>) {
        match ok {
            true => self.commits_ok.increment(1),
            false => self.commits_error.increment(1),
        }
        if let Some(took) = took {
            self.commit_latency.record(took);
        }
    }

    /// Gig started `role`'s actor again.
    pub(crate) fn restarted(&self, role: Role) {
        let labels = [
            ("group", self.group.clone()),
            ("role", role.name().to_string()),
        ];
        counter!(RESTARTS, &labels).increment(1);
    }

    /// The in-flight count and whether the limit stops fetching, as published.
    pub(crate) fn in_flight(&self, in_flight: usize, paused: bool) {
        self.in_flight.set(in_flight as f64);
        self.paused.set(if paused { 1.0 } else { 0.0 });
    }

    /// The broker confirmed these offsets.
    pub(crate) fn committed(&self, offsets: &[CommitOffset]) {
        for c in offsets {
            self.partition_gauge(PARTITION_COMMITTED_OFFSET, &c.topic, c.partition)
                .set(c.offset as f64);
        }
    }

    /// Each partition's lag, where librdkafka's statistics give it.
    pub(crate) fn lag(&self, partitions: &[PartitionStats]) {
        for p in partitions {
            if let Some(lag) = p.lag {
                self.partition_gauge(PARTITION_LAG, &p.topic, p.partition)
                    .set(lag as f64);
            }
        }
    }

    /// The client's errors by kind (totals since the start) and its open faults.
    pub(crate) fn faults(&self, totals: &[(FaultKind, u64)], open: &[Fault]) {
        for kind in FaultKind::ALL {
            let labels = [
                ("group", self.group.clone()),
                ("kind", kind.name().to_string()),
            ];
            let total = totals.iter().find(|(k, _)| *k == kind).map_or(0, |t| t.1);
            counter!(CLIENT_ERRORS, &labels).absolute(total);
            if kind.blocks_reading() {
                let n = open.iter().filter(|f| f.kind == kind).count();
                gauge!(FAULTS, &labels).set(n as f64);
            }
        }
    }

    fn partition_gauge(&self, name: &'static str, topic: &str, partition: i32) -> Gauge {
        let labels = [
            ("group", self.group.clone()),
            ("topic", topic.to_string()),
            ("partition", partition.to_string()),
        ];
        gauge!(name, &labels)
    }
}

/// The series' units and help texts, for recorders that show them (Prometheus'
/// `# HELP`). Describing again is harmless.
fn describe() {
    describe_counter!(RECORDS, "Records routed to an outcome (label outcome).");
    describe_counter!(
        LATE_ANSWERS,
        "Answers that came after their record's outcome (ignored)."
    );
    describe_counter!(COMMITS, "Commits the broker answered (label result).");
    describe_counter!(
        HANDOVER_FAILURES,
        "Hand-over batches an outcome actor refused or could not take."
    );
    describe_counter!(
        RESTARTS,
        "User actors started again from their factory after they died (label role)."
    );
    describe_gauge!(IN_FLIGHT, "Records fetched and not yet handed over.");
    describe_gauge!(PAUSED, "1 while the in-flight limit stops fetching.");
    describe_gauge!(
        PARTITION_COMMITTED_OFFSET,
        "The committed offset the broker confirmed: the next offset the group reads."
    );
    describe_gauge!(PARTITION_LAG, "High watermark minus committed offset.");
    describe_histogram!(
        ACK_LATENCY,
        Unit::Seconds,
        "From a record's delivery to the consumer taking its answer."
    );
    describe_histogram!(
        HANDOVER_LATENCY,
        Unit::Seconds,
        "From offering a batch to an outcome actor to its answer."
    );
    describe_histogram!(COMMIT_LATENCY, Unit::Seconds, "Commit round trips.");
    describe_counter!(
        CLIENT_ERRORS,
        "Errors the Kafka client reported (label kind)."
    );
    describe_gauge!(
        FAULTS,
        "Partitions, topics or the client that cannot be read until someone acts (label kind)."
    );
}
