//! The record pipeline of one consumer, with no I/O and no clock: every method that needs
//! the time is given `now`.
//!
//! Its methods come in the kinds quinn-proto's `Connection` has. `handle_*` take what
//! arrives from outside: fetched records, answers, a dropped delivery, a deadline passing,
//! a batch accepted or refused, a commit confirmed, a revocation, a stop. `poll_*` say what
//! the driver must do next: records to deliver ([`poll_outbound`](Pipeline::poll_outbound)),
//! batches to hand over, refused ones again first ([`poll_retry`](Pipeline::poll_retry),
//! [`poll_handover`](Pipeline::poll_handover)), offsets to commit, a failed one again
//! ([`poll_commit`](Pipeline::poll_commit)), partitions to release, the final commit, and
//! when the driver's one timer calls back ([`poll_timeout`](Pipeline::poll_timeout)).

mod careful;
mod catch_up;
mod commit;
mod counters;
mod guarded;
mod guards;
mod handover;
mod progress;
mod retries;
mod supervised;
mod transactions;
mod waited;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::ack_book::{AckBook, AckResult, Token};
use crate::config::ConsumerConfig;
use crate::error::ConfigError;
use crate::key_queues::KeyQueues;
use crate::outcome::{NoAckReason, NoAckedRecord, Verdict};
use crate::record::Record;
use crate::supervision::{Role, Supervision};

pub use catch_up::{CatchUp, PartitionEnd};
pub use commit::plan::{CommitPlan, Transaction};
pub use commit::ReleaseId;
pub use counters::Counters;
pub use handover::{Outbound, OutcomeBatch};
pub use progress::PartitionProgress;
pub use supervised::Stuck;
pub use transactions::TransactionResult;

/// The state of every record one consumer holds, from fetch to commit.
pub struct Pipeline {
    config: ConsumerConfig,
    book: AckBook,
    /// With key ordering: the keys at the downstream and the records queued behind them.
    keys: KeyQueues,
    outbound: Vec<Outbound>,
    /// Outcomes waiting to be handed over, oldest first: a burst of timeouts can leave many
    /// batches' worth here, taken off the front one batch at a time.
    acked: VecDeque<(Token, Record)>,
    no_acked: VecDeque<(Token, NoAckedRecord)>,
    counters: Counters,
    /// Refused hand-overs, waiting for their time to be offered again.
    retries: retries::Retries,
    commits: commit::Commits,
    transactions: transactions::Transactions,
    /// The user actors' lives: restarts, and roles down for good.
    supervision: Supervision,
    /// What record deadlines are measured on: it stands still while no downstream runs.
    clock: supervised::DeadlineClock,
    /// Records of hand-overs lost with their actor, offered again one at a time.
    suspects: supervised::Suspects,
    /// Records the NoAckedActor died on alone.
    stuck: Vec<Stuck>,
    /// Since when each outcome actor (acked, no-acked) has refused every hand-over.
    refused_since: [Option<Instant>; 2],
    /// The crash-loop guard of each assigned partition.
    guards: guards::Guards,
}

impl Pipeline {
    /// A pipeline with `config`'s ack timeouts, key ordering, batch size and commit count;
    /// Kafka's settings in it have no part here. A config that does not
    /// [`validate`](ConsumerConfig::validate) is refused: a zero in-flight limit or batch
    /// size would stall the pipeline instead of failing.
    pub fn new(config: &ConsumerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Pipeline {
            config: config.clone(),
            book: AckBook::new(),
            keys: KeyQueues::new(),
            outbound: Vec::new(),
            acked: VecDeque::new(),
            no_acked: VecDeque::new(),
            counters: Counters::default(),
            retries: retries::Retries::default(),
            commits: commit::Commits::default(),
            transactions: transactions::Transactions::new(config.transactional.is_some()),
            supervision: Supervision::new(),
            clock: supervised::DeadlineClock::default(),
            suspects: supervised::Suspects::default(),
            stuck: Vec::new(),
            refused_since: [None; 2],
            guards: guards::Guards::new(config.max_deliveries > 0),
        })
    }

    /// Turns the crash-loop guard off: for a pipeline whose driver has no group to keep its
    /// markers in (the rehearsal).
    pub fn disable_crash_guard(&mut self) {
        self.guards.enabled = false;
    }

    /// Fetched records, in fetch order: each is tracked with its deadline and queued for
    /// delivery, or (with key ordering) queued behind the record of its key at the
    /// downstream. After a stop, and for a refetch below an offset already tracked, they
    /// are discarded; so are all after the producer was fenced, and those of a partition
    /// being rewound after an aborted transaction, until it is read again.
    pub fn handle_fetched(&mut self, mut records: Vec<Record>, now: Instant) {
        if self.commits.stopping() || self.transactions.fenced {
            self.counters.discarded += records.len() as u64;
            return;
        }
        if self.transactions.any_rewinding() {
            let before = records.len();
            let rewinding = &self.transactions;
            records.retain(|r| !rewinding.is_rewinding(&(r.topic_arc().clone(), r.partition())));
            self.counters.discarded += (before - records.len()) as u64;
        }
        let clock = self.clock.at(now);
        let deadline = clock + self.config.ack_timeout;
        self.outbound.reserve(records.len());
        for record in records {
            if !self.admits(&record) {
                match self.hold(record, now) {
                    true => self.counters.received += 1,
                    false => self.counters.discarded += 1,
                }
                continue;
            }
            if self.config.key_ordering && self.keys.busy(&record) {
                // Its clock starts when the record ahead of it has an outcome.
                match self.book.track_deferred(record.clone(), now) {
                    Some(token) => {
                        self.counters.received += 1;
                        self.keys.push(token, record);
                    }
                    None => self.counters.discarded += 1,
                }
                continue;
            }
            let tracked = match self.own_timeout(&record) {
                None => self
                    .book
                    .track(record.clone(), deadline)
                    .map(|token| (token, deadline)),
                Some(own) => self
                    .book
                    .track_custom(record.clone(), clock + own)
                    .map(|token| (token, clock + own)),
            };
            let Some((token, deadline)) = tracked else {
                self.counters.discarded += 1;
                continue;
            };
            if self.config.key_ordering {
                self.keys.start(&record);
            }
            self.counters.received += 1;
            self.outbound.push(Outbound {
                token,
                record,
                deadline: self.clock.real(deadline),
            });
        }
    }

    /// Records to deliver now: fetched ones, and (with key ordering) the next of a key
    /// whose record has an outcome. The driver reports each one it cannot deliver with
    /// [`handle_undeliverable`](Self::handle_undeliverable).
    pub fn poll_outbound(&mut self) -> Vec<Outbound> {
        std::mem::take(&mut self.outbound)
    }

    /// Like [`poll_outbound`](Self::poll_outbound), into `outbound`, which must be empty:
    /// the two vectors trade places, so a driver that empties `outbound` each time
    /// allocates none after the first.
    pub fn poll_outbound_into(&mut self, outbound: &mut Vec<Outbound>) {
        debug_assert!(outbound.is_empty());
        std::mem::swap(&mut self.outbound, outbound);
    }

    /// The downstream's answer for a record.
    pub fn handle_answer(&mut self, token: Token, verdict: Verdict, now: Instant) {
        match self.book.route(token) {
            AckResult::Routed(record) => {
                self.release_next_of_key(&record, now);
                match verdict {
                    Verdict::Ack => {
                        self.counters.acked += 1;
                        self.acked.push_back((token, record));
                    }
                    Verdict::Nack(why) => {
                        self.counters.nacked += 1;
                        self.route_no_acked(token, record, NoAckReason::Nacked(why));
                    }
                }
            }
            AckResult::Late => self.counters.late_answers += 1,
            AckResult::Unknown => self.counters.unknown_answers += 1,
        }
    }

    /// A delivery was dropped unanswered: its record goes to the NoAckedActor now, as
    /// [`NoAckReason::Dropped`]. Nothing happens for a record that already has an outcome.
    pub fn handle_dropped(&mut self, token: Token, now: Instant) {
        if let AckResult::Routed(record) = self.book.route(token) {
            self.counters.dropped += 1;
            self.release_next_of_key(&record, now);
            self.route_no_acked(token, record, NoAckReason::Dropped);
        }
    }

    /// A record from [`poll_outbound`](Self::poll_outbound) could not be delivered (its
    /// payload does not decode): it goes to the NoAckedActor.
    pub fn handle_undeliverable(&mut self, token: Token, reason: NoAckReason, now: Instant) {
        let AckResult::Routed(record) = self.book.route(token) else {
            return;
        };
        if let NoAckReason::Undecodable(why) = &reason {
            debug!("{record}: undecodable: {why}");
            self.counters.undecodable += 1;
        }
        self.release_next_of_key(&record, now);
        self.route_no_acked(token, record, reason);
    }

    /// Routes every waiting record whose deadline is at or before `now` to the NoAckedActor.
    /// Nothing times out while the downstream is down (see [`handle_died`](Self::handle_died)).
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.clock.is_running() {
            return;
        }
        let expired = self.book.expire(self.clock.at(now));
        if expired.is_empty() {
            return;
        }
        self.counters.timed_out += expired.len() as u64;
        debug!("{} record(s) timed out", expired.len());
        for (token, record, deadline) in expired {
            self.release_next_of_key(&record, now);
            let after = self.config.ack_timeout_of(&record);
            let deadline = self.clock.real(deadline);
            self.route_no_acked(token, record, NoAckReason::TimedOut { after, deadline });
        }
    }

    /// The earliest time the driver must call back: the next record deadline (none while
    /// the downstream is down), a restart, a refused hand-over's or a failed commit's
    /// retry, a revocation's or the stop's time limit.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let records = self.book.next_deadline();
        let records = records
            .filter(|_| self.clock.is_running())
            .map(|deadline| self.clock.real(deadline));
        let restart = self.supervision.next_restart();
        let others = self.commits.deadline().into_iter().chain(restart);
        let others = others.chain(self.retries.next_due());
        records.into_iter().chain(others).min()
    }

    /// [`poll_timeout`](Self::poll_timeout) for a driver whose call-back is set for
    /// `armed`: `None` while that one still comes first, found without looking at every
    /// partition (no deadline given since the last look, nor a retry, comes before it). A
    /// call-back that comes early is harmless: the driver then looks again.
    pub fn poll_timeout_before(&mut self, armed: Option<Instant>) -> Option<Instant> {
        match armed {
            Some(at)
                if !self.book.has_new_deadline_before(self.clock.at(at))
                    && self.commits.deadline().is_none_or(|c| c >= at)
                    && self.retries.next_due().is_none_or(|r| r >= at)
                    && self.supervision.next_restart().is_none_or(|r| r >= at) =>
            {
                None
            }
            _ => self.poll_timeout(),
        }
    }

    /// The next new batch of outcomes to hand over (after [`poll_retry`](Self::poll_retry)'s),
    /// at most `handover_batch` records. None once the producer is fenced: what a zombie
    /// hands over could never be committed. Nothing goes to an outcome actor that is not
    /// running; while records lost with its last instance are on trial, one at a time.
    pub fn poll_handover(&mut self) -> Option<OutcomeBatch> {
        if self.transactions.fenced {
            return None;
        }
        let size = self.config.handover_batch;
        for role in [Role::Acked, Role::NoAcked] {
            if !self.supervision.is_running(role) {
                continue;
            }
            if self.suspects.holds(role) {
                match self.poll_suspect(role) {
                    Some(batch) => return Some(batch),
                    None => continue,
                }
            }
            match role {
                Role::Acked if !self.acked.is_empty() => {
                    let (tokens, records) = handover::first(&mut self.acked, size);
                    return Some(OutcomeBatch::Acked(tokens, records));
                }
                Role::NoAcked if !self.no_acked.is_empty() => {
                    let (tokens, records) = handover::first(&mut self.no_acked, size);
                    return Some(OutcomeBatch::NoAcked(tokens, records));
                }
                _ => {}
            }
        }
        None
    }

    /// The outcome actor accepted a batch: its records may be committed.
    pub fn handle_accepted(&mut self, batch: &OutcomeBatch) {
        self.guards.careful_changed();
        self.retries.accepted();
        let tokens = batch.tokens();
        for &token in tokens {
            self.book.handed_over(token);
        }
        self.counters.handed_over += tokens.len() as u64;
        self.commits.handed_over(tokens.len());
        self.end_trial(tokens, batch.role());
        self.accepted_by(batch.role());
    }

    fn route_no_acked(&mut self, token: Token, record: Record, reason: NoAckReason) {
        self.no_acked
            .push_back((token, NoAckedRecord { record, reason }));
    }

    /// With key ordering, once `done` has an outcome: queues the next record of its key
    /// for delivery and starts its clock. A queued record that is no longer waiting (its
    /// partition was released) is passed over.
    fn release_next_of_key(&mut self, done: &Record, now: Instant) {
        if !self.config.key_ordering {
            return;
        }
        let mut next = self.keys.next_after(done);
        while let Some((token, record)) = next {
            let timeout = self.own_timeout(&record).unwrap_or(self.config.ack_timeout);
            let deadline = self.clock.at(now) + timeout;
            if self.book.start_deadline(token, deadline) {
                self.outbound.push(Outbound {
                    token,
                    record,
                    deadline: self.clock.real(deadline),
                });
                return;
            }
            next = self.keys.next_after(&record);
        }
    }

    /// The timeout `record` asks for in the ack-timeout header, if any: `None` means the
    /// default. A header that is not a number of milliseconds is logged, and the record gets
    /// the default.
    fn own_timeout(&self, record: &Record) -> Option<Duration> {
        match self
            .config
            .ack_timeout_header
            .as_ref()?
            .timeout_of(record)?
        {
            Ok(timeout) => Some(timeout),
            Err(why) => {
                warn!("{record}: {why}; it gets the default ack timeout");
                None
            }
        }
    }
}

#[cfg(test)]
mod guarded_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transaction_tests;
