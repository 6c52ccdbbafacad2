//! The way back from a downstream: answers for delivered records, queued for the driver.
//!
//! Every [`AckHandle`](crate::AckHandle) and batch pushes its answer here; the answer that
//! finds the queue empty also sends the driver (the consumer or the rehearsal) one
//! [`AnswersQueued`], and the driver then takes every answer queued by that time. Under
//! load one mailbox message carries many answers. The lock is held for one push or one swap,
//! and the driver and its downstream usually share a thread, so it is not contended.

use std::sync::{Arc, Mutex, PoisonError};

use actix::{Message, Recipient};
use gig_core::{Token, Verdict};

/// What became of one delivered record at the downstream.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The downstream answered.
    Given(Verdict),
    /// Its handle was dropped unanswered: nothing can answer it any more.
    Dropped,
    /// Its handle was dropped unanswered while its thread was unwinding from a panic: the
    /// actor that held it most likely died. Not an outcome: the record waits, and is
    /// delivered again if its downstream is restarted.
    Orphaned,
}

impl Answer {
    /// What a handle dropped unanswered says: dropped, or orphaned by a panic.
    pub(crate) fn unanswered() -> Answer {
        if std::thread::panicking() {
            Answer::Orphaned
        } else {
            Answer::Dropped
        }
    }
}

/// Tells the driver that its [`AnswerQueue`] has answers.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct AnswersQueued;

/// Answers on their way to one driver.
#[derive(Debug)]
pub(crate) struct AnswerQueue {
    answers: Mutex<Vec<(Token, Answer)>>,
    wake: Recipient<AnswersQueued>,
}

impl AnswerQueue {
    pub(crate) fn new(wake: Recipient<AnswersQueued>) -> Arc<Self> {
        Arc::new(AnswerQueue {
            answers: Mutex::new(Vec::new()),
            wake,
        })
    }

    /// Queues one answer.
    pub(crate) fn push(&self, token: Token, answer: Answer) {
        self.push_all(std::iter::once((token, answer)));
    }

    /// Queues several answers under one lock.
    pub(crate) fn push_all(&self, answers: impl IntoIterator<Item = (Token, Answer)>) {
        let mut queued = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let wake = queued.is_empty();
        queued.extend(answers);
        let wake = wake && !queued.is_empty();
        drop(queued);
        if wake {
            self.wake.do_send(AnswersQueued);
        }
    }

    /// Driver: moves every queued answer into `taken` (which must be empty), leaving its
    /// allocation to the queue for the next answers.
    pub(crate) fn take(&self, taken: &mut Vec<(Token, Answer)>) {
        let mut queued = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *queued, taken);
    }
}
