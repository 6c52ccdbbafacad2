//! The actix side of the record pipeline, shared by the consumer and the rehearsal.
//!
//! [`Pipeline`] decides; this module does what it says: it sends released records to the
//! downstream, routes the answers that come back, hands outcomes over until their actor
//! accepts them, and keeps the one timer that serves every deadline. The consumer and the
//! rehearsal each implement [`Drives`] and call these functions from their handlers: they
//! differ only in their clock and in what feeds them.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use gig_core::{ConsumerConfig, HandOver, NoAckReason, Outbound, Pipeline, Record, Token};
use log::{error, warn};

use crate::answers::{Answer, AnswerQueue, AnswersQueued};
use crate::downstream::Downstream;
use crate::metrics::{Metrics, Stopwatch};
use crate::outcome::{self, Accepted, AckedRecipient, HandOverFailure, NoAckedRecipient};

/// The actors a pipeline talks to, as a builder collects them.
pub(crate) struct Wiring {
    pub(crate) downstream: Downstream,
    pub(crate) acked: AckedRecipient,
    pub(crate) no_acked: NoAckedRecipient,
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
}

impl Driver {
    pub(crate) fn new(config: &ConsumerConfig, wiring: Wiring) -> Self {
        Driver {
            pipeline: Pipeline::new(config),
            metrics: Metrics::new(&config.group_id),
            wiring,
            answers: None,
            taken: Vec::new(),
            sending: Vec::new(),
            timer: None,
            timers_set: 0,
            flush_scheduled: false,
        }
    }
}

/// An actor that drives a pipeline.
pub(crate) trait Drives:
    Actor<Context = Context<Self>>
    + Handler<AnswersQueued>
    + Handler<FlushOutcomes>
    + Handler<HandedOver>
{
    fn driver(&mut self) -> &mut Driver;

    /// The clock the deadlines run on.
    fn now() -> Instant;

    /// Called once records may have been resolved for good (a batch was accepted, a
    /// deadline passed): the place to commit, release partitions, finish a stop, settle.
    fn progressed(&mut self, ctx: &mut Context<Self>);
}

/// The three handlers every driver has, each passing its message on to this module:
/// [`AnswersQueued`], [`FlushOutcomes`] and [`HandedOver`]. (A generic `impl` for every
/// [`Drives`] is not allowed for actix's `Handler`, a trait of another crate.)
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

        impl actix::Handler<$crate::driver::HandedOver> for $actor {
            type Result = ();

            fn handle(&mut self, m: $crate::driver::HandedOver, ctx: &mut actix::Context<Self>) {
                $crate::driver::handed_over(self, m, ctx);
            }
        }
    };
}
pub(crate) use driver_handlers;

/// Sent to itself to hand over the outcomes gathered while handling the mailbox.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct FlushOutcomes;

/// An outcome actor answered an offered batch: accepted, or why not.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct HandedOver {
    batch: HandOver,
    result: Result<Accepted, HandOverFailure>,
    /// When the batch was offered, for the hand-over latency metric.
    offered: Stopwatch,
}

/// Makes the answer queue; call from `Actor::started`.
pub(crate) fn start<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    act.driver().answers = Some(AnswerQueue::new(ctx.address().recipient()));
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
    deliver(act, now, ctx);
    schedule_flush(act, ctx);
    arm_timer(act, ctx);
}

/// Hands over what the mailbox's answers routed.
pub(crate) fn flush_outcomes<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    act.driver().flush_scheduled = false;
    expire_if_due(act, A::now(), ctx);
    flush(act, ctx);
}

/// Routes every queued answer.
fn take_answers(driver: &mut Driver, now: Instant) {
    let Driver {
        pipeline,
        metrics,
        answers,
        taken,
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
            Answer::Dropped => pipeline.handle_dropped(token, now),
        }
    }
    latencies.finish();
    metrics.late_answers(pipeline.counters().late_answers);
}

/// Sends the records the pipeline released; those the downstream cannot take go back to
/// the pipeline, which may release the next of their key.
fn deliver<A: Drives>(act: &mut A, now: Instant, ctx: &mut Context<A>) {
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
        if matches!(failed[0].1, NoAckReason::DownstreamGone) {
            warn!(
                "downstream actor is gone; {} record(s) go to the no-acked actor",
                failed.len()
            );
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

/// Hands over at once when a full batch is waiting; otherwise once the answers already in
/// the mailbox are handled, so that one hand-over carries many records.
fn schedule_flush<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let driver = act.driver();
    if driver.pipeline.has_full_batch() {
        flush(act, ctx);
    } else if !driver.flush_scheduled && driver.pipeline.has_outcomes() {
        driver.flush_scheduled = true;
        ctx.notify(FlushOutcomes);
    }
}

fn flush<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    while let Some(batch) = act.driver().pipeline.poll_handover() {
        act.driver().metrics.routed(&batch);
        hand_over(act, batch, ctx);
    }
}

/// Offers a batch to its outcome actor; the answer comes back as [`HandedOver`], with
/// what the actor asked to produce when it accepted.
///
/// The offer waits in a task of its own, not in the actor's context: actix polls a
/// context's futures only once its mailbox is empty, so under a steady stream of fetched
/// batches the answers would wait there, unread, for as long as the stream lasts, and so
/// would further offers once the outcome actor's mailbox is full (actix parks the sender).
fn hand_over<A: Drives>(act: &mut A, batch: HandOver, ctx: &mut Context<A>) {
    let wiring = &act.driver().wiring;
    let request = outcome::offer(&batch, &wiring.acked, &wiring.no_acked);
    let offered = Stopwatch::start();
    let me = ctx.address();
    actix::spawn(async move {
        let result = request.await;
        me.do_send(HandedOver {
            batch,
            result,
            offered,
        });
    });
}

/// An outcome actor answered: an accepted batch may be committed; a refused one is offered
/// again after a back-off.
pub(crate) fn handed_over<A: Drives>(act: &mut A, answer: HandedOver, ctx: &mut Context<A>) {
    let HandedOver {
        batch,
        result,
        offered,
    } = answer;
    let metrics = &act.driver().metrics;
    metrics.handed_over(&batch, offered, result.is_ok());
    match result {
        Ok(outputs) => {
            let pipeline = &mut act.driver().pipeline;
            pipeline.handle_accepted_with(batch.tokens(), outputs);
            act.progressed(ctx);
        }
        Err(why) => {
            let delay = act.driver().pipeline.handle_refused();
            error!(
                "{} actor did not accept {} record(s) ({why}); offering them again in {delay:?}; their partitions' commits wait",
                batch.kind(),
                batch.tokens().len(),
            );
            ctx.run_later(delay, move |act, ctx| {
                // Records of partitions released meanwhile are their next owner's now.
                if let Some(batch) = act.driver().pipeline.still_held(batch) {
                    hand_over(act, batch, ctx);
                }
            });
        }
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
fn expire_if_due<A: Drives>(act: &mut A, now: Instant, ctx: &mut Context<A>) {
    let driver = act.driver();
    if let Some((at, handle, _)) = driver.timer {
        if at <= now {
            ctx.cancel_future(handle);
            driver.timer = None;
            deadline_passed(act, ctx);
        }
    }
}

/// A deadline passed: records time out, and a revocation or a stop may be done waiting.
fn deadline_passed<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let now = A::now();
    let driver = act.driver();
    // Answers already given count, even if their wake-up is still in the mailbox.
    take_answers(driver, now);
    driver.pipeline.handle_timeout(now);
    deliver(act, now, ctx);
    flush(act, ctx);
    arm_timer(act, ctx);
    act.progressed(ctx);
}
