//! The actix side of the record pipeline, shared by the consumer and the rehearsal.
//!
//! [`Pipeline`] decides; this module does what it says: it sends released records to the
//! downstream, routes the answers that come back, hands outcomes over until their actor
//! accepts them, starts again the user's actors that died (`supervision`), and keeps the
//! one timer that serves every deadline. The consumer and the rehearsal each implement
//! [`Drives`] and call these functions from their handlers: they differ only in their
//! clock and in what feeds them.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use gig_core::{
    ConfigError, ConsumerConfig, Outbound, Pipeline, Record, RestartPolicy, Role, Token,
};

use crate::answers::{Answer, AnswerQueue, AnswersQueued};
use crate::downstream::Downstream;
use crate::metrics::Metrics;
use crate::outcome::OutcomeActors;
use crate::supervisor::Died;

mod handover;
mod supervision;

pub(crate) use handover::{
    batch_answered, flush, flush_outcomes, schedule_flush, BatchAnswered, FlushOutcomes,
};
pub(crate) use supervision::died;

/// The actors a pipeline talks to, as a builder collects them.
pub(crate) struct Wiring {
    pub(crate) downstream: Downstream,
    pub(crate) outcomes: OutcomeActors,
    /// How those given as factories are restarted.
    pub(crate) restarts: RestartPolicy,
}

/// A pipeline and everything its driver holds.
pub(crate) struct Driver {
    pub(crate) pipeline: Pipeline,
    /// The consumer's series (feature `metrics`; nothing without it).
    pub(crate) metrics: Metrics,
    wiring: Wiring,
    /// Where handles put their answers; made once the actor has an address.
    answers: Option<Arc<AnswerQueue>>,
    /// The queue's answers being routed; kept to reuse its allocation.
    taken: Vec<(Token, Answer)>,
    /// Records being sent to the downstream; kept to reuse its allocation (a large
    /// allocation per batch also makes glibc's malloc consolidate its freed small blocks,
    /// of which actix leaves two per message).
    sending: Vec<Outbound>,
    /// The timer: the instant it is set for, its handle and its number. actix may still
    /// run a cancelled timer whose time has come (it polls the timer before it reaps the
    /// cancellation), so a timer acts only if it is still the one set: a stale one that
    /// acted would drop the current one's place here and set another, and the timers kept
    /// piling up (thousands an hour, each a boxed future in the actor's context).
    timer: Option<(Instant, SpawnHandle, u64)>,
    /// Timers set so far, to number them.
    timers_set: u64,
    /// A [`FlushOutcomes`] is in the mailbox.
    flush_scheduled: bool,
    /// Records whose handles were dropped unanswered during a panic: delivered again once
    /// the downstream that held them is restarted.
    orphans: Vec<Token>,
    /// Where the instances of the user's actors report their deaths: the driver itself.
    report: Option<Recipient<Died>>,
}

impl Driver {
    pub(crate) fn new(config: &ConsumerConfig, wiring: Wiring) -> Result<Self, ConfigError> {
        let mut pipeline = Pipeline::new(config)?;
        if matches!(wiring.downstream, Downstream::Supervised(_)) {
            pipeline.supervise(Role::Downstream, wiring.restarts.clone());
        }
        for role in [Role::Acked, Role::NoAcked] {
            if wiring.outcomes.is_supervised(role) {
                pipeline.supervise(role, wiring.restarts.clone());
            }
        }
        Ok(Driver {
            pipeline,
            metrics: Metrics::new(config.group_id()),
            wiring,
            answers: None,
            taken: Vec::new(),
            sending: Vec::new(),
            timer: None,
            timers_set: 0,
            flush_scheduled: false,
            orphans: Vec::new(),
            report: None,
        })
    }
}

/// An actor that drives a pipeline.
pub(crate) trait Drives:
    Actor<Context = Context<Self>>
    + Handler<AnswersQueued>
    + Handler<FlushOutcomes>
    + Handler<BatchAnswered>
    + Handler<Died>
{
    fn driver(&mut self) -> &mut Driver;

    /// The clock the deadlines run on.
    fn now() -> Instant;

    /// Called once records may have been resolved for good (a batch was accepted, a
    /// deadline passed): the place to commit, release partitions, finish a stop, settle.
    fn progressed(&mut self, ctx: &mut Context<Self>);
}

/// The four handlers every driver has, each passing its message on to this module:
/// [`AnswersQueued`], [`FlushOutcomes`], [`BatchAnswered`] and [`Died`]. (A generic `impl`
/// for every [`Drives`] is not allowed for actix's `Handler`, a trait of another crate.)
macro_rules! driver_handlers {
    ($actor:ty) => {
        impl actix::Handler<$crate::answers::AnswersQueued> for $actor {
            type Result = ();

            fn handle(
                &mut self,
                _: $crate::answers::AnswersQueued,
                ctx: &mut actix::Context<Self>,
            ) {
                $crate::driver::answers_queued(self, ctx);
            }
        }

        impl actix::Handler<$crate::driver::FlushOutcomes> for $actor {
            type Result = ();

            fn handle(&mut self, _: $crate::driver::FlushOutcomes, ctx: &mut actix::Context<Self>) {
                $crate::driver::flush_outcomes(self, ctx);
            }
        }

        impl actix::Handler<$crate::driver::BatchAnswered> for $actor {
            type Result = ();

            fn handle(&mut self, m: $crate::driver::BatchAnswered, ctx: &mut actix::Context<Self>) {
                $crate::driver::batch_answered(self, m, ctx);
            }
        }

        impl actix::Handler<$crate::supervisor::Died> for $actor {
            type Result = ();

            fn handle(&mut self, m: $crate::supervisor::Died, ctx: &mut actix::Context<Self>) {
                $crate::driver::died(self, m, ctx);
            }
        }
    };
}
pub(crate) use driver_handlers;

/// Makes the answer queue and starts the user's actors given as factories; call from
/// `Actor::started`.
pub(crate) fn start<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let driver = act.driver();
    let answers = AnswerQueue::new(ctx.address().recipient());
    let report = ctx.address().recipient();
    if let Downstream::Supervised(downstream) = &mut driver.wiring.downstream {
        downstream.restart(&answers, &report);
    }
    driver.wiring.outcomes.start(&report);
    driver.answers = Some(answers);
    driver.report = Some(report);
}

/// Records fetched (or fed): track and deliver them.
pub(crate) fn fetched<A: Drives>(act: &mut A, records: Vec<Record>, ctx: &mut Context<A>) {
    let now = A::now();
    // Under load the timer is served only between long runs of mailbox messages; checking
    // here too bounds how late a record is by one batch, not by the backlog.
    expire_if_due(act, now, ctx);
    act.driver().pipeline.handle_fetched(records, now);
    deliver(act, now, ctx);
    arm_timer(act, ctx);
}

/// Routes the answers handles queued, and delivers what they released (key ordering).
pub(crate) fn answers_queued<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let now = A::now();
    // As for fetched records: a steady stream of answers keeps the timer from being served.
    expire_if_due(act, now, ctx);
    take_answers(act.driver(), now);
    supervision::check_downstream(act, now);
    deliver(act, now, ctx);
    schedule_flush(act, ctx);
    arm_timer(act, ctx);
}

/// Routes every queued answer.
pub(crate) fn take_answers(driver: &mut Driver, now: Instant) {
    let Driver {
        pipeline,
        metrics,
        answers,
        taken,
        wiring,
        orphans,
        ..
    } = driver;
    let Some(queue) = answers else {
        return;
    };
    queue.take(taken);
    let mut latencies = metrics.latencies();
    for (token, answer) in taken.drain(..) {
        match answer {
            Answer::Given(verdict) => {
                latencies.record(|| pipeline.waited(token, now));
                pipeline.handle_answer(token, verdict, now);
            }
            // Dropped by a downstream whose mailbox closed: it did not decide, it died.
            Answer::Dropped if wiring.downstream.connected() => pipeline.handle_dropped(token, now),
            Answer::Dropped | Answer::Orphaned => orphans.push(token),
        }
    }
    latencies.finish();
    metrics.late_answers(pipeline.counters().late_answers);
}

/// Delivers what the pipeline released since (the crash-loop guard lets records go when a
/// commit is confirmed), and sets the timer for their deadlines.
pub(crate) fn deliver_now<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    deliver(act, A::now(), ctx);
    arm_timer(act, ctx);
}

/// Sends the records the pipeline released; those the downstream cannot take go back to
/// the pipeline, which may release the next of their key.
pub(crate) fn deliver<A: Drives>(act: &mut A, now: Instant, ctx: &mut Context<A>) {
    let pipeline = &mut act.driver().pipeline;
    let outcomes = pipeline.has_outcomes();
    pipeline.poll_guards(now);
    // The guard may have handed a record over as crashed.
    if !outcomes && pipeline.has_outcomes() {
        schedule_flush(act, ctx);
    }
    if !supervision::check_downstream(act, now) {
        return; // gone for good: its records stay unanswered, for the next owner
    }
    let Driver {
        pipeline,
        wiring,
        answers,
        sending,
        ..
    } = act.driver();
    let Some(answers) = answers.as_ref() else {
        return;
    };
    let mut undeliverable = false;
    loop {
        pipeline.poll_outbound_into(sending);
        if sending.is_empty() {
            break;
        }
        let failed = wiring.downstream.send(sending, answers);
        if failed.is_empty() {
            break;
        }
        for (token, reason) in failed {
            pipeline.handle_undeliverable(token, reason, now);
        }
        undeliverable = true;
    }
    if undeliverable {
        schedule_flush(act, ctx);
    }
}

/// Sets the timer for the pipeline's next deadline, unless it is set for that or sooner.
pub(crate) fn arm_timer<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let driver = act.driver();
    let armed = driver.timer.map(|(at, _, _)| at);
    let Some(next) = driver.pipeline.poll_timeout_before(armed) else {
        return;
    };
    if let Some((at, handle, _)) = driver.timer {
        if at <= next {
            return;
        }
        ctx.cancel_future(handle);
    }
    driver.timers_set += 1;
    let number = driver.timers_set;
    let wait = next.saturating_duration_since(A::now());
    let handle = ctx.run_later(wait, move |act, ctx| {
        let driver = act.driver();
        if driver.timer.is_none_or(|(_, _, n)| n != number) {
            return; // cancelled, and run all the same
        }
        driver.timer = None;
        deadline_passed(act, ctx);
    });
    act.driver().timer = Some((next, handle, number));
}

/// Serves the timer now if its time has come.
pub(crate) fn expire_if_due<A: Drives>(act: &mut A, now: Instant, ctx: &mut Context<A>) {
    let driver = act.driver();
    if let Some((at, handle, _)) = driver.timer {
        if at <= now {
            ctx.cancel_future(handle);
            driver.timer = None;
            deadline_passed(act, ctx);
        }
    }
}

/// A deadline passed: records time out, a user actor may start again, and a revocation or
/// a stop may be done waiting.
fn deadline_passed<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let now = A::now();
    // Answers already given count, even if their wake-up is still in the mailbox.
    take_answers(act.driver(), now);
    // A downstream that died must not see its records time out.
    supervision::check_downstream(act, now);
    supervision::restart_due(act, now);
    let driver = act.driver();
    driver.pipeline.handle_timeout(now);
    deliver(act, now, ctx);
    flush(act, ctx);
    arm_timer(act, ctx);
    act.progressed(ctx);
}
