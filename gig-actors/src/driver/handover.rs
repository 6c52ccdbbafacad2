//! Hand-overs: outcomes gathered while the mailbox is handled go to their actor in
//! batches, and the actor's answer comes back through the mailbox.

use actix::prelude::*;
use gig_core::OutcomeBatch;
use log::error;

use super::{arm_timer, expire_if_due, Drives};
use crate::metrics::Stopwatch;
use crate::outcome::{self, Accepted, HandOverFailure};

/// Sent to itself to hand over the outcomes gathered while handling the mailbox.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct FlushOutcomes;

/// An outcome actor answered an offered batch: accepted, or why not.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct BatchAnswered {
    batch: OutcomeBatch,
    result: Result<Accepted, HandOverFailure>,
    /// When the batch was offered, for the hand-over latency metric.
    offered: Stopwatch,
}

/// Hands over what the mailbox's answers routed.
pub(crate) fn flush_outcomes<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    act.driver().flush_scheduled = false;
    expire_if_due(act, A::now(), ctx);
    flush(act, ctx);
}

/// Hands over at once when a full batch is waiting; otherwise once the answers already in
/// the mailbox are handled, so that one hand-over carries many records.
pub(crate) fn schedule_flush<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let driver = act.driver();
    if driver.pipeline.has_full_batch() {
        flush(act, ctx);
    } else if !driver.flush_scheduled && driver.pipeline.has_outcomes() {
        driver.flush_scheduled = true;
        ctx.notify(FlushOutcomes);
    }
}

/// Offers the refused batches whose time has come, then the new ones.
pub(crate) fn flush<A: Drives>(act: &mut A, ctx: &mut Context<A>) {
    let now = A::now();
    while let Some(batch) = act.driver().pipeline.poll_retry(now) {
        hand_over(act, batch, ctx);
    }
    while let Some(batch) = act.driver().pipeline.poll_handover() {
        act.driver().metrics.routed(&batch);
        hand_over(act, batch, ctx);
    }
}

/// Offers a batch to its outcome actor; the answer comes back as [`BatchAnswered`], with
/// what the actor asked to produce when it accepted.
///
/// The offer waits in a task of its own, not in the actor's context: actix polls a
/// context's futures only once its mailbox is empty, so under a steady stream of fetched
/// batches the answers would wait there, unread, for as long as the stream lasts, and so
/// would further offers once the outcome actor's mailbox is full (actix parks the sender).
fn hand_over<A: Drives>(act: &mut A, batch: OutcomeBatch, ctx: &mut Context<A>) {
    let wiring = &act.driver().wiring;
    let request = outcome::offer(&batch, &wiring.outcomes);
    let offered = Stopwatch::start();
    let me = ctx.address();
    actix::spawn(async move {
        let result = request.await;
        me.do_send(BatchAnswered {
            batch,
            result,
            offered,
        });
    });
}

/// An outcome actor answered: an accepted batch may be committed; a refused one waits in
/// the pipeline for its back-off, and the timer brings it back to [`flush`]; one lost with
/// an instance that died goes to the pipeline, which tries its records again alone.
pub(crate) fn batch_answered<A: Drives>(act: &mut A, answer: BatchAnswered, ctx: &mut Context<A>) {
    let BatchAnswered {
        batch,
        result,
        offered,
    } = answer;
    let metrics = &act.driver().metrics;
    metrics.batch_answered(&batch, offered, result.is_ok());
    match result {
        Ok(outputs) => {
            let pipeline = &mut act.driver().pipeline;
            pipeline.handle_accepted_with(&batch, outputs);
            // A suspect on trial was accepted: the next may go.
            schedule_flush(act, ctx);
            act.progressed(ctx);
        }
        Err(HandOverFailure::Died(why)) => {
            act.driver().pipeline.handle_handover_lost(batch, &why);
            flush(act, ctx);
            act.progressed(ctx);
        }
        // Offered again once its actor runs; not a refusal.
        Err(HandOverFailure::NotRunning) => {
            act.driver().pipeline.handle_not_running(batch, A::now());
            arm_timer(act, ctx);
        }
        Err(why) => {
            let (kind, records) = (batch.kind(), batch.tokens().len());
            let now = A::now();
            let due = act.driver().pipeline.handle_refused(batch, now);
            error!(
                "{kind} actor did not accept {records} record(s) ({why}); offering them again in {:?}; their partitions' commits wait",
                due.saturating_duration_since(now),
            );
            arm_timer(act, ctx);
        }
    }
}
