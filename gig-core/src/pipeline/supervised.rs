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

use super::{HandOver, Outbound, Pipeline};
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

fn side(role: Role) -> usize {
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
    pub fn handle_handover_lost(&mut self, batch: HandOver, why: &str) {
        let role = batch.role();
        let trial = &mut self.suspects.on_trial[side(role)];
        let convicted = batch.tokens().len() == 1 && *trial == Some(batch.tokens()[0]);
        if batch.tokens().first() == trial.as_ref() {
            *trial = None;
        }
        match batch {
            HandOver::Acked(tokens, records) if convicted => {
                for (token, record) in tokens.into_iter().zip(records) {
                    error!("the acked actor died on {record} alone: it goes to the no-acked actor ({why})");
                    self.counters.panicked += 1;
                    let message = why.to_string();
                    self.route_no_acked(token, record, NoAckReason::Panicked { message });
                }
            }
            HandOver::NoAcked(_, records) if convicted => {
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
            HandOver::Acked(tokens, records) => {
                self.suspects.acked.extend(tokens.into_iter().zip(records));
            }
            HandOver::NoAcked(tokens, records) => {
                self.suspects
                    .no_acked
                    .extend(tokens.into_iter().zip(records));
            }
        }
    }

    /// The next suspect to offer alone to `role`'s actor, unless one is on trial.
    pub(super) fn poll_suspect(&mut self, role: Role) -> Option<HandOver> {
        let trial = &mut self.suspects.on_trial[side(role)];
        if trial.is_some() {
            return None;
        }
        let batch = match role {
            Role::Acked => {
                let (token, record) = self.suspects.acked.pop_front()?;
                HandOver::Acked(vec![token], vec![record])
            }
            _ => {
                let (token, record) = self.suspects.no_acked.pop_front()?;
                HandOver::NoAcked(vec![token], vec![record])
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

    /// The outcome actor refused a batch (or could not take it): returns how long to wait
    /// before offering it again.
    pub fn handle_refused(&mut self, batch: &HandOver, now: Instant) -> Duration {
        self.counters.handover_failures += 1;
        self.refused_since[side(batch.role())].get_or_insert(now);
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(super::MAX_BACKOFF);
        delay
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
mod tests {
    use super::*;
    use crate::record::keyed_record as record;
    use crate::{ConsumerConfig, Verdict};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn pipeline() -> Pipeline {
        let config = ConsumerConfig::new("b", "g").ack_timeout(ms(1000));
        let mut pipeline = Pipeline::new(&config);
        pipeline.supervise(Role::Downstream, RestartPolicy::default());
        pipeline.supervise(Role::Acked, RestartPolicy::default());
        pipeline.supervise(Role::NoAcked, RestartPolicy::default());
        pipeline
    }

    #[test]
    fn ack_clocks_stand_still_while_the_downstream_is_down() {
        let mut p = pipeline();
        let t0 = Instant::now();
        p.handle_fetched(vec![record(0, 0, None), record(0, 1, None)], t0);
        let out = p.poll_outbound();
        assert_eq!(out[0].deadline, t0 + ms(1000));
        p.handle_died(Role::Downstream, "boom".into(), t0 + ms(500));
        assert_eq!(p.poll_timeout(), Some(t0 + ms(600)), "only the restart");
        p.handle_timeout(t0 + ms(5000));
        assert_eq!(p.counters().timed_out, 0, "no clock runs while it is down");
        assert_eq!(p.poll_restart(t0 + ms(5500)), Some(Role::Downstream));
        // Down for 5 s: the deadlines moved by as much.
        assert_eq!(p.poll_timeout(), Some(t0 + ms(6000)));
        let again = p.redeliver(out[1].token).unwrap();
        assert_eq!(again.deadline, t0 + ms(6000));
        assert_eq!(p.counters().redelivered, 1);
        p.handle_timeout(t0 + ms(5999));
        assert_eq!(p.counters().timed_out, 0);
        p.handle_timeout(t0 + ms(6000));
        assert_eq!(p.counters().timed_out, 2);
    }

    #[test]
    fn the_record_a_handler_panicked_on_goes_to_no_acked_as_panicked() {
        let mut p = pipeline();
        let t0 = Instant::now();
        p.handle_fetched(vec![record(0, 0, None)], t0);
        let token = p.poll_outbound()[0].token;
        p.handle_panicked(token, "boom".into(), t0);
        p.handle_answer(token, Verdict::Ack, t0);
        assert_eq!(p.counters().panicked, 1);
        assert_eq!(p.counters().late_answers, 1);
        let Some(HandOver::NoAcked(_, records)) = p.poll_handover() else {
            panic!("a no-acked hand-over");
        };
        let reason = NoAckReason::Panicked {
            message: "boom".into(),
        };
        assert_eq!(records[0].reason, reason);
        assert!(p.redeliver(token).is_none(), "it has an outcome");
    }

    /// Hands over what is pending, as an outcome actor that died on record `dies_on` would.
    fn acked_batch(p: &mut Pipeline, t0: Instant, n: i64) -> HandOver {
        let records = (0..n).map(|o| record(0, o, None)).collect();
        p.handle_fetched(records, t0);
        for o in p.poll_outbound() {
            p.handle_answer(o.token, Verdict::Ack, t0);
        }
        p.poll_handover().unwrap()
    }

    #[test]
    fn an_acked_batch_lost_with_its_actor_is_offered_again_one_record_at_a_time() {
        let mut p = pipeline();
        let t0 = Instant::now();
        let batch = acked_batch(&mut p, t0, 3);
        assert_eq!(batch.tokens().len(), 3);
        p.handle_died(Role::Acked, "boom on 1".into(), t0);
        p.handle_handover_lost(batch, "boom on 1");
        assert!(p.poll_handover().is_none(), "nothing while it restarts");
        assert_eq!(p.poll_restart(t0 + ms(100)), Some(Role::Acked));
        let first = p.poll_handover().unwrap();
        assert_eq!(first.tokens().len(), 1);
        assert!(p.poll_handover().is_none(), "one suspect at a time");
        p.handle_accepted(&first);
        let second = p.poll_handover().unwrap();
        // The actor dies on the second record alone: it goes to no-acked as panicked.
        p.handle_died(Role::Acked, "boom on 1".into(), t0 + ms(200));
        p.handle_handover_lost(second, "boom on 1");
        assert_eq!(p.counters().panicked, 1);
        assert_eq!(p.poll_restart(t0 + ms(400)), Some(Role::Acked));
        let mut kinds = Vec::new();
        while let Some(batch) = p.poll_handover() {
            kinds.push((batch.role(), batch.tokens().len()));
            p.handle_accepted(&batch);
        }
        assert_eq!(kinds, [(Role::Acked, 1), (Role::NoAcked, 1)]);
        assert_eq!(p.counters().handed_over, 3);
        assert!(p.stall(t0).is_none());
    }

    #[test]
    fn a_no_acked_record_its_actor_dies_on_alone_is_set_aside_and_stalls_the_consumer() {
        let mut p = pipeline();
        let t0 = Instant::now();
        p.handle_fetched(vec![record(0, 0, None), record(0, 1, None)], t0);
        for o in p.poll_outbound() {
            p.handle_answer(o.token, Verdict::Nack("bad".into()), t0);
        }
        let batch = p.poll_handover().unwrap();
        p.handle_died(Role::NoAcked, "boom".into(), t0);
        p.handle_handover_lost(batch, "boom");
        p.poll_restart(t0 + ms(100));
        let first = p.poll_handover().unwrap();
        p.handle_died(Role::NoAcked, "boom".into(), t0 + ms(100));
        p.handle_handover_lost(first, "boom");
        assert_eq!(p.stuck().len(), 1);
        assert_eq!(p.stuck()[0].offset, 0);
        assert!(p.must_pause());
        let stall = p.stall(t0).unwrap();
        assert!(stall.contains("/0@0 alone (boom)"), "{stall}");
        p.poll_restart(t0 + ms(400));
        let second = p.poll_handover().unwrap();
        p.handle_accepted(&second);
        assert!(
            p.take_commit().is_none(),
            "nothing committed past the stuck record"
        );
    }

    #[test]
    fn hand_overs_refused_past_the_limit_stall_the_consumer_until_one_is_accepted() {
        let mut p = pipeline();
        let t0 = Instant::now();
        let batch = acked_batch(&mut p, t0, 1);
        p.handle_refused(&batch, t0);
        let limit = p.config.handover_refused_limit;
        assert!(p.stall(t0 + limit - ms(1)).is_none());
        let stall = p.stall(t0 + limit).unwrap();
        assert!(stall.contains("acked actor has refused"), "{stall}");
        p.handle_accepted(&batch);
        assert!(p.stall(t0 + limit).is_none());
    }
}
