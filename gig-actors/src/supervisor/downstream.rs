//! A downstream Gig starts from a factory: its mailbox, and the instance of the moment.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Recipient};
use gig_core::{Outbound, Role, Token};

use super::mailbox::{self, Mailbox};
use super::{instance, Died, Place};
use crate::answers::AnswerQueue;
use crate::delivery::{Delivery, DeliveryBatch};

/// The mailbox, by the shape of what the downstream handles.
enum Queue {
    /// One [`Delivery`] per record.
    Records(Arc<Mailbox<Outbound>>),
    /// [`DeliveryBatch`]es of at most `max` records.
    Batches {
        mailbox: Arc<Mailbox<Vec<Outbound>>>,
        max: usize,
    },
}

type Starter = Box<dyn Fn(u64, &Arc<AnswerQueue>, &Recipient<Died>)>;

/// A downstream started from a factory, and started again when it dies.
pub(crate) struct SupervisedDownstream {
    queue: Queue,
    start: Starter,
    generation: u64,
}

/// Starts instances of `A` from `factory` on `place`, each fed by `mailbox`.
fn starter<A, U, F>(place: Place, factory: F, mailbox: Arc<Mailbox<U>>) -> Starter
where
    A: Actor<Context = Context<A>>,
    U: mailbox::Unit,
    mailbox::Feeder<U>: actix::fut::ActorFuture<A, Output = ()>,
    F: Fn() -> A + Send + Sync + 'static,
{
    let factory = Arc::new(factory);
    Box::new(move |generation, answers, report| {
        let (factory, mailbox) = (factory.clone(), mailbox.clone());
        let (answers, report) = (answers.clone(), report.clone());
        instance::start(
            &place,
            move |ctx: &mut Context<A>| {
                mailbox::attach(ctx, mailbox, answers);
                factory()
            },
            move |panic| {
                report.do_send(Died {
                    role: Role::Downstream,
                    generation,
                    why: panic.unwrap_or_else(|| "it stopped".to_string()),
                })
            },
        );
    })
}

impl SupervisedDownstream {
    /// Instances of an actor that handles [`Delivery`].
    pub(crate) fn records<A, F>(place: Place, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<Delivery>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let mailbox = Mailbox::new();
        SupervisedDownstream {
            start: starter(place, factory, mailbox.clone()),
            queue: Queue::Records(mailbox),
            generation: 0,
        }
    }

    /// Instances of an actor that handles [`DeliveryBatch`]es of at most `max` records.
    pub(crate) fn batches<A, F>(place: Place, factory: F, max: usize) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<DeliveryBatch>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let mailbox = Mailbox::new();
        SupervisedDownstream {
            start: starter(place, factory, mailbox.clone()),
            queue: Queue::Batches { mailbox, max },
            generation: 0,
        }
    }

    /// Starts a new instance (the first, or after a death): it takes what is queued.
    pub(crate) fn restart(&mut self, answers: &Arc<AnswerQueue>, report: &Recipient<Died>) {
        self.generation += 1;
        (self.start)(self.generation, answers, report);
    }

    /// Queues records for the instance of the moment, or the next; leaves `outbound` empty.
    pub(crate) fn send(&self, outbound: &mut Vec<Outbound>) {
        match &self.queue {
            Queue::Records(mailbox) => mailbox.push_back(outbound.drain(..)),
            Queue::Batches { mailbox, max } => {
                let mut batches = Vec::with_capacity(outbound.len().div_ceil(*max));
                while !outbound.is_empty() {
                    let rest = outbound.split_off(outbound.len().min(*max));
                    batches.push(std::mem::replace(outbound, rest));
                }
                mailbox.push_back(batches.into_iter());
            }
        }
    }

    /// Queues records a dead instance had taken and not answered, before everything else,
    /// each alone: a batch the instance died in is tried again a record at a time.
    pub(crate) fn redeliver(&self, outbound: Vec<Outbound>) {
        match &self.queue {
            Queue::Records(mailbox) => mailbox.push_front(outbound),
            Queue::Batches { mailbox, .. } => {
                mailbox.push_front(outbound.into_iter().map(|o| vec![o]).collect())
            }
        }
    }

    /// Instance `generation` died: the records in its handler then, if it panicked there;
    /// `None` for a stale report.
    pub(crate) fn died(&mut self, generation: u64) -> Option<Vec<Token>> {
        if generation != self.generation {
            return None;
        }
        Some(match &self.queue {
            Queue::Records(mailbox) => mailbox.take_died_in_handler(),
            Queue::Batches { mailbox, .. } => mailbox.take_died_in_handler(),
        })
    }
}

impl Drop for SupervisedDownstream {
    fn drop(&mut self) {
        match &self.queue {
            Queue::Records(mailbox) => mailbox.close(),
            Queue::Batches { mailbox, .. } => mailbox.close(),
        }
    }
}
