//! The supervised downstream's mailbox: Gig's own queue, fed to each instance in turn.
//!
//! actix drops an actor's mailbox with the actor, so a downstream that panicked would take
//! every delivery waiting in it along. Here the consumer queues deliveries (as records, not
//! yet messages) in a [`Mailbox`] that outlives instances, and each instance's [`Feeder`]
//! takes them one at a time, builds the message, and calls the actor's handler, as actix
//! would with a message from its mailbox. So the feeder knows which records are in the
//! handler: if it panics, the feeder is dropped during the unwinding with them still
//! marked, and they are the ones the handler died on. What the instance had not taken
//! stays queued for the next one.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Instant;

use actix::dev::MessageResponse;
use actix::fut::ActorFuture;
use actix::{Actor, AsyncContext, Context, Handler};
use gig_core::{Outbound, Token};

use crate::answers::AnswerQueue;
use crate::delivery::{AckHandle, Delivery, DeliveryBatch};

/// What one handler call takes: one record ([`Delivery`]) or several ([`DeliveryBatch`]).
pub(crate) trait Unit: Send + 'static {
    /// The tokens of its records, appended to `tokens`.
    fn tokens_into(&self, tokens: &mut Vec<Token>);
}

impl Unit for Outbound {
    fn tokens_into(&self, tokens: &mut Vec<Token>) {
        tokens.push(self.token);
    }
}

impl Unit for Vec<Outbound> {
    fn tokens_into(&self, tokens: &mut Vec<Token>) {
        tokens.extend(self.iter().map(|o| o.token));
    }
}

struct State<U> {
    queue: VecDeque<U>,
    /// The feeder, waiting for the queue to fill.
    waker: Option<Waker>,
    /// The consumer is gone: the feeder ends once the queue is empty.
    closed: bool,
    /// The records in the handler when its instance panicked, until the consumer asks.
    died_in_handler: Vec<Token>,
}

/// Deliveries for a supervised downstream, shared by the consumer and the instance of the
/// moment.
pub(crate) struct Mailbox<U> {
    state: Mutex<State<U>>,
}

impl<U> Mailbox<U> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                waker: None,
                closed: false,
                died_in_handler: Vec::new(),
            }),
        })
    }

    /// A poisoned lock means a panic while it was held; the queue itself is always whole.
    fn lock(&self) -> MutexGuard<'_, State<U>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues units at the back, in order, and wakes the feeder.
    pub(crate) fn push_back(&self, units: impl Iterator<Item = U>) {
        let waker = {
            let mut state = self.lock();
            state.queue.extend(units);
            state.waker.take()
        };
        wake(waker);
    }

    /// Queues units at the front, keeping their order: they go before everything queued.
    pub(crate) fn push_front(&self, units: Vec<U>) {
        let waker = {
            let mut state = self.lock();
            for unit in units.into_iter().rev() {
                state.queue.push_front(unit);
            }
            state.waker.take()
        };
        wake(waker);
    }

    /// The records the last instance's handler was handling when it panicked (empty if it
    /// did not panic in a handler of Gig's); asking clears them.
    pub(crate) fn take_died_in_handler(&self) -> Vec<Token> {
        std::mem::take(&mut self.lock().died_in_handler)
    }

    /// The consumer is gone: the feeder ends once it has handed out what is queued.
    pub(crate) fn close(&self) {
        let waker = {
            let mut state = self.lock();
            state.closed = true;
            state.waker.take()
        };
        wake(waker);
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// One instance's end of a [`Mailbox`]: the future its context polls, which calls the
/// actor's handler for each unit.
pub(crate) struct Feeder<U> {
    mailbox: Arc<Mailbox<U>>,
    answers: Arc<AnswerQueue>,
    /// Units taken from the mailbox in one go, handed out one by one; back to the mailbox
    /// if the instance dies.
    taken: VecDeque<U>,
    /// The records of the unit in the handler, while it is there.
    in_handler: Vec<Token>,
}

impl<U: Unit> Feeder<U> {
    pub(crate) fn new(mailbox: Arc<Mailbox<U>>, answers: Arc<AnswerQueue>) -> Self {
        Feeder {
            mailbox,
            answers,
            taken: VecDeque::new(),
            in_handler: Vec::new(),
        }
    }

    fn next(&mut self, task: &mut TaskContext<'_>) -> Poll<Option<U>> {
        if let Some(unit) = self.taken.pop_front() {
            return Poll::Ready(Some(unit));
        }
        let mut state = self.mailbox.lock();
        std::mem::swap(&mut self.taken, &mut state.queue);
        if let Some(unit) = self.taken.pop_front() {
            return Poll::Ready(Some(unit));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        if !state
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(task.waker()))
        {
            state.waker = Some(task.waker().clone());
        }
        Poll::Pending
    }

    /// Feeds units to `handle` until the mailbox is empty or the actor must wait.
    fn feed<A>(
        &mut self,
        act: &mut A,
        ctx: &mut Context<A>,
        task: &mut TaskContext<'_>,
        mut handle: impl FnMut(&mut A, &mut Context<A>, U, &Arc<AnswerQueue>),
    ) -> Poll<()>
    where
        A: Actor<Context = Context<A>>,
    {
        loop {
            let unit = match self.next(task) {
                Poll::Ready(Some(unit)) => unit,
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            };
            unit.tokens_into(&mut self.in_handler);
            handle(act, ctx, unit, &self.answers);
            self.in_handler.clear();
            // The handler made the actor wait for a future (`ctx.wait`): actix polls this
            // again once that is done.
            if ctx.waiting() {
                return Poll::Pending;
            }
        }
    }
}

impl<U> Drop for Feeder<U> {
    fn drop(&mut self) {
        let mut state = self.mailbox.lock();
        if std::thread::panicking() && !self.in_handler.is_empty() {
            state.died_in_handler = std::mem::take(&mut self.in_handler);
        }
        // What this instance took and did not start goes back, first in line.
        for unit in self.taken.drain(..).rev() {
            state.queue.push_front(unit);
        }
    }
}

fn handle_of(o: &Outbound, answers: &Arc<AnswerQueue>) -> AckHandle {
    AckHandle::new(&o.record, o.token, o.deadline, answers.clone())
}

impl<A> ActorFuture<A> for Feeder<Outbound>
where
    A: Actor<Context = Context<A>> + Handler<Delivery>,
{
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut Context<A>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        self.get_mut().feed(act, ctx, task, |act, ctx, o, answers| {
            let handle = handle_of(&o, answers);
            let response =
                <A as Handler<Delivery>>::handle(act, Delivery::new(o.record, handle), ctx);
            response.handle(ctx, None);
        })
    }
}

impl<A> ActorFuture<A> for Feeder<Vec<Outbound>>
where
    A: Actor<Context = Context<A>> + Handler<DeliveryBatch>,
{
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut Context<A>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        self.get_mut()
            .feed(act, ctx, task, |act, ctx, batch, answers| {
                let due = batch.iter().map(|o| o.deadline).min();
                let due = due.unwrap_or_else(Instant::now);
                let (tokens, records) = batch.into_iter().map(|o| (o.token, o.record)).unzip();
                let batch = DeliveryBatch::new(records, tokens, due, answers.clone());
                let response = <A as Handler<DeliveryBatch>>::handle(act, batch, ctx);
                response.handle(ctx, None);
            })
    }
}

/// Attaches a feeder of `mailbox` to a new instance's context.
pub(crate) fn attach<A, U>(
    ctx: &mut Context<A>,
    mailbox: Arc<Mailbox<U>>,
    answers: Arc<AnswerQueue>,
) where
    A: Actor<Context = Context<A>>,
    U: Unit,
    Feeder<U>: ActorFuture<A, Output = ()>,
{
    ctx.spawn(Feeder::new(mailbox, answers));
}
