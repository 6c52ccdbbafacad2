//! The driver's part in supervision: a downstream given as an address that is gone, the
//! deaths the user's actors report ([`Died`]), and the restarts the pipeline schedules.

use std::time::Instant;

use actix::prelude::*;
use gig_core::{AfterDeath, Outbound, Role};
use log::{error, info};

use super::{arm_timer, flush, schedule_flush, take_answers, Drives};
use crate::downstream::Downstream;
use crate::supervisor::Died;

/// Whether deliveries may go to the downstream. One given as an address whose mailbox has
/// closed (it stopped, or a handler panicked) is gone for good: its records stay unanswered
/// (their clocks stopped, nothing goes to the NoAckedActor) and uncommitted, for the
/// partitions' next owner, and the consumer stops fetching and is not live. A supervised
/// one keeps its mailbox across instances.
pub(super) fn check_downstream<A: Drives>(act: &mut A, now: Instant) -> bool {
    let driver = act.driver();
    if matches!(driver.wiring.downstream, Downstream::Supervised(_)) {
        return true;
    }
    let pipeline = &mut driver.pipeline;
    if pipeline.supervision().is_down(Role::Downstream) {
        return false;
    }
    if driver.wiring.downstream.connected() {
        return true;
    }
    error!(
        "the downstream actor is gone (its mailbox closed: it stopped, or a handler panicked), and it was given as an address, so Gig cannot start it again: fetching stops, and its {} unresolved record(s) stay uncommitted for the partitions' next owner (give it as a factory, ConsumerBuilder::downstream_factory, to have it restarted)",
        pipeline.unresolved()
    );
    let why = "its mailbox closed: it stopped, or a handler panicked".to_string();
    pipeline.handle_died(Role::Downstream, why, now);
    driver.orphans.clear();
    false
}

/// Starts again each user actor whose back-off has run out.
pub(super) fn restart_due<A: Drives>(act: &mut A, now: Instant) {
    let driver = act.driver();
    while let Some(role) = driver.pipeline.poll_restart(now) {
        let (Some(answers), Some(report)) = (&driver.answers, &driver.report) else {
            return;
        };
        match (&mut driver.wiring.downstream, role) {
            (Downstream::Supervised(downstream), Role::Downstream) => {
                downstream.restart(answers, report)
            }
            (_, Role::Downstream) => {}
            (_, role) => driver.wiring.outcomes.restart(role, report),
        }
        driver.metrics.restarted(role);
        let restarts = driver.pipeline.supervision().restarts(role);
        info!("the {role} was started again ({restarts} restart(s) so far)");
    }
}

/// An instance of a user's actor ended. A downstream that panicked in a handler of Gig's
/// costs the record it was handling (to the NoAckedActor as panicked); the records it had
/// taken and not answered are delivered again to its next instance, ahead of what it had
/// not taken. An outcome actor's batches in flight come back lost, each on its own. The
/// pipeline says when the next instance starts, if one does.
pub(crate) fn died<A: Drives>(act: &mut A, report: Died, ctx: &mut Context<A>) {
    let Died {
        role,
        generation,
        why,
    } = report;
    let now = A::now();
    let driver = act.driver();
    let mut detail = String::new();
    match role {
        Role::Downstream => {
            let Downstream::Supervised(downstream) = &mut driver.wiring.downstream else {
                return;
            };
            let Some(in_handler) = downstream.died(generation) else {
                return; // stale
            };
            // The handles dropped during its unwinding are queued: take them first.
            take_answers(driver, now);
            let pipeline = &mut driver.pipeline;
            let culprit = match in_handler.as_slice() {
                [one] => Some(*one),
                _ => None, // a batch: its records are tried again alone
            };
            if let Some(record) =
                culprit.and_then(|t| pipeline.handle_panicked(t, why.clone(), now))
            {
                detail = format!(" on {record}, which goes to the no-acked actor");
            }
            let mut again: Vec<Outbound> = std::mem::take(&mut driver.orphans)
                .into_iter()
                .filter(|t| Some(*t) != culprit)
                .filter_map(|t| pipeline.redeliver(t))
                .collect();
            again.sort_by(|a, b| {
                let key = |o: &Outbound| {
                    (
                        o.record.topic_arc().clone(),
                        o.record.partition(),
                        o.record.offset(),
                    )
                };
                key(a).cmp(&key(b))
            });
            again.dedup_by_key(|o| o.token);
            if !again.is_empty() {
                detail.push_str(&format!(
                    "; {} record(s) it had taken and not answered go to its next instance",
                    again.len()
                ));
            }
            if let Downstream::Supervised(downstream) = &driver.wiring.downstream {
                downstream.redeliver(again);
            }
        }
        Role::Acked | Role::NoAcked => {
            if !driver.wiring.outcomes.died(role, generation) {
                return; // stale
            }
        }
    }
    match driver.pipeline.handle_died(role, why.clone(), now) {
        AfterDeath::Restart {
            at,
            deaths_in_window,
        } => {
            let wait = at.saturating_duration_since(now);
            error!(
                "the {role} died{detail}: {why}; starting it again in {wait:?} ({deaths_in_window} death(s) within the restart window)"
            );
        }
        AfterDeath::Final => {
            let reason = driver
                .pipeline
                .supervision()
                .down_reason()
                .unwrap_or_default();
            error!(
                "the {role} died{detail}: {why}; {reason}: fetching stops, its records stay uncommitted, and the consumer is not live"
            );
        }
    }
    arm_timer(act, ctx);
    schedule_flush(act, ctx);
    flush(act, ctx);
    act.progressed(ctx);
}
