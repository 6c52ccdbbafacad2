//! The pipeline's part in supervising the user's actors: the records of a downstream that
//! died, the hand-overs lost with an outcome actor that died, and the stalls a probe must
//! see.
//!
//! - **A downstream that died** takes with it the record its handler panicked on: that one
//!   goes to the NoAckedActor as [`NoAckReason::Panicked`], and nowhere else. The records
//!   it had taken and not answered are delivered again to the next instance
//!   ([`Pipeline::redeliver`]); those it had not taken wait in Gig's mailbox for it. While
//!   no instance runs, ack clocks stop: a record's clock counts only the time a living
//!   downstream had it, so a restart or a dead downstream never times out a burst of
//!   records into the dead-letter path.
//! - **An outcome actor that died** during a hand-over leaves its batches' fate unknown:
//!   the actor may have died on any of their records, or on none. Their records become
//!   *suspects*, offered to the next instance one at a time, alone; an instance that dies
//!   on one alone died on it. If that was the AckedActor, the record goes to the
//!   NoAckedActor as `Panicked`; if it was the NoAckedActor, the record is set aside
//!   ([`Stuck`]): nothing is committed past it, and the consumer stops fetching.
//! - **A stall** (a role down for good, a stuck record, hand-overs refused for longer than
//!   `handover_refused_limit`) makes the consumer not live: [`Pipeline::stall`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use log::error;

use super::{Outbound, OutcomeBatch, Pipeline};
use crate::ack_book::{Partition, Token};
use crate::outcome::{NoAckReason, NoAckedRecord};
use crate::record::Record;
use crate::supervision::{AfterDeath, RestartPolicy, Role, Supervision};

/// The clock record deadlines run on: the real one, less the time no downstream ran.
#[derive(Debug, Default)]
pub(super) struct DeadlineClock {
    /// Time no downstream ran, before `down_since`.
    downtime: Duration,
    down_since: Option<Instant>,
}

impl DeadlineClock {
    /// `now` on the deadline clock: it stands still while the downstream is down.
    pub(super) fn at(&self, now: Instant) -> Instant {
        let now = self.down_since.unwrap_or(now);
        now.checked_sub(self.downtime).unwrap_or(now)
    }

    /// A deadline on the real clock, as long as the downstream stays up.
    pub(super) fn real(&self, deadline: Instant) -> Instant {
        deadline + self.downtime
    }

    pub(super) fn is_running(&self) -> bool {
        self.down_since.is_none()
    }

    fn stop(&mut self, now: Instant) {
        self.down_since.get_or_insert(now);
    }

    fn resume(&mut self, now: Instant) {
        if let Some(since) = self.down_since.take() {
            self.downtime += now.saturating_duration_since(since);
        }
    }
}

/// Records of hand-overs lost with their actor, offered again one at a time.
#[derive(Debug, Default)]
pub(super) struct Suspects {
    acked: VecDeque<(Token, Record)>,
    no_acked: VecDeque<(Token, NoAckedRecord)>,
    /// The suspect offered alone, per outcome role, until its answer.
    on_trial: [Option<Token>; 2],
}

pub(super) fn side(role: Role) -> usize {
    match role {
        Role::Acked => 0,
        _ => 1,
    }
}

impl Suspects {
    pub(super) fn holds(&self, role: Role) -> bool {
        let waiting = match role {
            Role::Acked => !self.acked.is_empty(),
            _ => !self.no_acked.is_empty(),
        };
        waiting || self.on_trial[side(role)].is_some()
    }
}

/// A record the NoAckedActor died on, alone in its hand-over: it is offered no more, its
/// partition is committed no further than below it, and the consumer stops fetching.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stuck {
    /// Its partition.
    pub partition: Partition,
    /// Its offset.
    pub offset: i64,
    /// How the NoAckedActor died on it.
    pub why: String,
}

impl Pipeline {
    /// `role` was given as a factory: it is restarted under `policy` when it dies.
    pub fn supervise(&mut self, role: Role, policy: RestartPolicy) {
        self.supervision.supervise(role, policy);
    }

    /// The life of the user's actors: restarts, deaths, whether one is down for good.
    pub fn supervision(&self) -> &Supervision {
        &self.supervision
    }

    /// `role`'s actor died, for the reason `why`. The downstream's ack clocks stop until a
    /// new instance runs. Returns when that is, if ever.
    pub fn handle_died(&mut self, role: Role, why: String, now: Instant) -> AfterDeath {
        if role == Role::Downstream {
            self.clock.stop(now);
        }
        // A suspect on trial stays so until its hand-over is reported lost (this death may
        // be reported first): that report convicts it.
        self.supervision.handle_died(role, why, now)
    }

    /// A role whose restart is due: the driver starts a new instance of it now. The
    /// downstream's ack clocks run again from here.
    pub fn poll_restart(&mut self, now: Instant) -> Option<Role> {
        let role = self.supervision.poll_restart(now)?;
        if role == Role::Downstream {
            self.clock.resume(now);
        }
        Some(role)
    }

    /// The downstream's handler panicked on this record: it goes to the NoAckedActor as
    /// [`NoAckReason::Panicked`], and comes back for the log. Nothing happens for a record
    /// that already has an outcome.
    pub fn handle_panicked(
        &mut self,
        token: Token,
        message: String,
        now: Instant,
    ) -> Option<Record> {
        let crate::ack_book::AckResult::Routed(record) = self.book.route(token) else {
            return None;
        };
        self.counters.panicked += 1;
        self.release_next_of_key(&record, now);
        self.route_no_acked(token, record.clone(), NoAckReason::Panicked { message });
        Some(record)
    }

    /// A record a dead downstream instance had taken and not answered, to deliver again to
    /// the next one; `None` if it is no longer waiting.
    pub fn redeliver(&mut self, token: Token) -> Option<Outbound> {
        let (record, deadline) = self.book.waiting(token)?;
        let outbound = Outbound {
            token,
            record: record.clone(),
            deadline: self.clock.real(deadline),
        };
        self.counters.redelivered += 1;
        Some(outbound)
    }

    /// A batch was offered to an outcome actor that died before answering; `why` is how it
    /// died. A record that was offered alone is the one it died on; a larger batch's
    /// records are each offered again alone.
    pub fn handle_handover_lost(&mut self, batch: OutcomeBatch, why: &str) {
        let role = batch.role();
        let trial = &mut self.suspects.on_trial[side(role)];
        let convicted = batch.tokens().len() == 1 && *trial == Some(batch.tokens()[0]);
        if batch.tokens().first() == trial.as_ref() {
            *trial = None;
        }
        match batch {
            OutcomeBatch::Acked(tokens, records) if convicted => {
                for (token, record) in tokens.into_iter().zip(records) {
                    error!("the acked actor died on {record} alone: it goes to the no-acked actor ({why})");
                    self.counters.panicked += 1;
                    let message = why.to_string();
                    self.route_no_acked(token, record, NoAckReason::Panicked { message });
                }
            }
            OutcomeBatch::NoAcked(_, records) if convicted => {
                for NoAckedRecord { record, .. } in records {
                    error!(
                        "the no-acked actor died on {record} alone: it is offered no more, its partition is committed no further, and fetching stops ({why})"
                    );
                    self.stuck.push(Stuck {
                        partition: (record.topic_arc().clone(), record.partition()),
                        offset: record.offset(),
                        why: why.to_string(),
                    });
                }
            }
            OutcomeBatch::Acked(tokens, records) => {
                self.suspects.acked.extend(tokens.into_iter().zip(records));
            }
            OutcomeBatch::NoAcked(tokens, records) => {
                self.suspects
                    .no_acked
                    .extend(tokens.into_iter().zip(records));
            }
        }
    }

    /// The next suspect to offer alone to `role`'s actor, unless one is on trial.
    pub(super) fn poll_suspect(&mut self, role: Role) -> Option<OutcomeBatch> {
        let trial = &mut self.suspects.on_trial[side(role)];
        if trial.is_some() {
            return None;
        }
        let batch = match role {
            Role::Acked => {
                let (token, record) = self.suspects.acked.pop_front()?;
                OutcomeBatch::Acked(vec![token], vec![record])
            }
            _ => {
                let (token, record) = self.suspects.no_acked.pop_front()?;
                OutcomeBatch::NoAcked(vec![token], vec![record])
            }
        };
        *trial = Some(batch.tokens()[0]);
        Some(batch)
    }

    /// A suspect on trial was accepted or refused: the next may go.
    pub(super) fn end_trial(&mut self, batch_tokens: &[Token], role: Role) {
        let trial = &mut self.suspects.on_trial[side(role)];
        if batch_tokens.len() == 1 && *trial == Some(batch_tokens[0]) {
            *trial = None;
        }
    }

    /// Records set aside because the NoAckedActor died on them.
    pub fn stuck(&self) -> &[Stuck] {
        &self.stuck
    }

    /// Whether the consumer must stop fetching: a user actor is down for good, or a record
    /// is stuck. What it already fetched stays uncommitted for the partitions' next owner.
    pub fn must_pause(&self) -> bool {
        !self.stuck.is_empty() || self.supervision.down_reason().is_some()
    }

    /// Why the consumer cannot make progress by itself, for a person; `None` when it can.
    pub fn stall(&self, now: Instant) -> Option<String> {
        if let Some(reason) = self.supervision.down_reason() {
            return Some(reason);
        }
        if let Some(stuck) = self.stuck.first() {
            let (topic, partition) = &stuck.partition;
            return Some(format!(
                "the no-acked actor died on {topic}/{partition}@{} alone ({}); nothing is committed past it",
                stuck.offset, stuck.why
            ));
        }
        let limit = self.config.handover_refused_limit;
        [Role::Acked, Role::NoAcked].into_iter().find_map(|role| {
            let since = self.refused_since[side(role)]?;
            let refused = now.saturating_duration_since(since);
            (refused >= limit).then(|| {
                format!(
                    "the {role} has refused or not taken its hand-overs for {} s; their partitions' commits wait",
                    refused.as_secs()
                )
            })
        })
    }

    /// A hand-over of `role` was accepted: refusals end.
    pub(super) fn accepted_by(&mut self, role: Role) {
        self.refused_since[side(role)] = None;
    }
}

#[cfg(test)]
mod tests;
