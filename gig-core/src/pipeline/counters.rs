//! What the pipeline counts: every record it was given, and where each one went.

/// The pipeline's counters, as `Stats` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Counters {
    /// Records fetched and tracked.
    pub received: u64,
    /// Records fetched after a stop, or fetched again below an offset already tracked:
    /// never delivered, never committed by this consumer.
    pub discarded: u64,
    /// Records routed to the AckedActor.
    pub acked: u64,
    /// Records nacked by the downstream.
    pub nacked: u64,
    /// Records that timed out.
    pub timed_out: u64,
    /// Records a typed downstream could not take: their payload did not decode.
    pub undecodable: u64,
    /// Records not delivered because the downstream had stopped.
    pub downstream_gone: u64,
    /// Records whose delivery was dropped without an answer.
    pub dropped: u64,
    /// Answers that came after the record was already routed (counted, ignored).
    pub late_answers: u64,
    /// Answers for records of a released partition (counted, ignored).
    pub unknown_answers: u64,
    /// Records accepted by the Acked or NoAcked actor.
    pub handed_over: u64,
    /// Hand-over batches a handler refused or could not take (offered again later).
    pub handover_failures: u64,
    /// Commit requests made.
    pub commits: u64,
    /// Commit requests that failed (their offsets are committed again).
    pub commit_failures: u64,
}

impl Counters {
    /// Records that went to the NoAckedActor, for whatever reason.
    pub fn no_acked(&self) -> u64 {
        self.nacked + self.timed_out + self.undecodable + self.downstream_gone + self.dropped
    }
}
