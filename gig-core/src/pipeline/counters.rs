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
    /// Records acked in time, routed to the AckedActor (accepted or not yet: see
    /// `handed_over`).
    pub acked: u64,
    /// Records nacked by the downstream, routed to the NoAckedActor.
    pub nacked: u64,
    /// Records not answered by their deadline, routed to the NoAckedActor.
    pub timed_out: u64,
    /// Records a typed downstream could not take: their payload did not decode.
    pub undecodable: u64,
    /// Records whose delivery was dropped without an answer.
    pub dropped: u64,
    /// Records a handler panicked on (the downstream's, or the AckedActor's with the
    /// record alone in its batch), routed to the NoAckedActor.
    pub panicked: u64,
    /// Records whose deliveries consumer processes did not survive `max_deliveries`
    /// times, routed to the NoAckedActor without being delivered again.
    pub crashed: u64,
    /// Records delivered again to a restarted downstream: its dead instance had taken them
    /// and not answered them, and did not panic on them.
    pub redelivered: u64,
    /// Answers that came after the record was already routed (counted, ignored).
    pub late_answers: u64,
    /// Answers for records of a released partition (counted, ignored).
    pub unknown_answers: u64,
    /// Records of revoked partitions still unresolved when their revocation's wait ended
    /// (`ConsumerConfig::revocation_wait`): this consumer hands none of them over, and the
    /// partitions' next owner reads them again.
    pub left_to_next_owner: u64,
    /// Records the Acked or NoAcked actor accepted (answered `Ok`): only these may be
    /// committed.
    pub handed_over: u64,
    /// Hand-over batches a handler refused or could not take (offered again later).
    pub handover_failures: u64,
    /// Commit requests made.
    pub commits: u64,
    /// Commit requests that failed (their offsets are committed again).
    pub commit_failures: u64,
    /// Records the outcome actors asked to produce (transactional mode).
    pub outputs: u64,
    /// Of those, records produced in a committed transaction.
    pub outputs_committed: u64,
    /// Transactions committed.
    pub transactions: u64,
    /// Transactions aborted; their partitions were read again from their last commit.
    pub transactions_aborted: u64,
    /// Partitions read again from their last commit after an aborted transaction.
    pub rewinds: u64,
}

impl Counters {
    /// Records that went to the NoAckedActor, for whatever reason.
    pub fn no_acked(&self) -> u64 {
        self.nacked
            + self.timed_out
            + self.undecodable
            + self.dropped
            + self.panicked
            + self.crashed
    }
}
