//! An outcome actor (Acked or NoAcked) as the consumer holds it: an address it was given,
//! or the instance of the moment of one it starts from a factory.
//!
//! A hand-over offered to an instance that dies before answering fails with actix's
//! "mailbox closed"; the offer then waits for the instance's death notice and reports the
//! batch lost with the panic's message, so the pipeline can find the record it died on.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, Recipient};
use gig_core::Role;
use tokio::sync::watch;

use super::{instance, Died, Place};

/// How an instance ended, once it has: its panic's message, or that it stopped.
pub(crate) type DeathNotice = watch::Receiver<Option<String>>;

/// One running instance: where to send, and how to learn that it died.
pub(crate) struct Instance<M: Message + Send>
where
    M::Result: Send,
{
    pub(crate) recipient: Recipient<M>,
    pub(crate) death: DeathNotice,
}

type Starter<M> = Box<dyn Fn(u64, &Recipient<Died>) -> Instance<M>>;

/// An outcome actor for messages `M`.
pub(crate) enum OutcomeActor<M: Message + Send>
where
    M::Result: Send,
{
    /// An address: if its actor dies, nothing can start it again.
    Fixed(Recipient<M>),
    /// Instances started from a factory.
    Supervised {
        start: Starter<M>,
        current: Option<Instance<M>>,
        generation: u64,
    },
}

impl<M: Message + Send + 'static> OutcomeActor<M>
where
    M::Result: Send,
{
    /// One started from `factory` on `place`, as `role`; the first instance starts with
    /// [`restart`](Self::restart).
    pub(crate) fn supervised<A, F>(role: Role, place: Place, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<M>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let factory = Arc::new(factory);
        let start = move |generation: u64, report: &Recipient<Died>| {
            let (notify, death) = watch::channel(None);
            let (factory, report) = (factory.clone(), report.clone());
            let addr = instance::start(
                &place,
                move |_: &mut Context<A>| factory(),
                move |panic| {
                    let why = panic.unwrap_or_else(|| "it stopped".to_string());
                    notify.send_replace(Some(why.clone()));
                    report.do_send(Died {
                        role,
                        generation,
                        why,
                    });
                },
            );
            Instance {
                recipient: addr.recipient(),
                death,
            }
        };
        OutcomeActor::Supervised {
            start: Box::new(start),
            current: None,
            generation: 0,
        }
    }

    /// Where to offer a batch now, with the death notice of a supervised instance; `None`
    /// while a supervised one is not running.
    pub(crate) fn current(&self) -> Option<(Recipient<M>, Option<DeathNotice>)> {
        match self {
            OutcomeActor::Fixed(recipient) => Some((recipient.clone(), None)),
            OutcomeActor::Supervised { current, .. } => current
                .as_ref()
                .map(|i| (i.recipient.clone(), Some(i.death.clone()))),
        }
    }

    pub(crate) fn is_supervised(&self) -> bool {
        matches!(self, OutcomeActor::Supervised { .. })
    }

    /// Starts a new instance (the first, or after a death), reporting its end to `report`.
    /// Nothing for an address.
    pub(crate) fn restart(&mut self, report: &Recipient<Died>) {
        if let OutcomeActor::Supervised {
            start,
            current,
            generation,
        } = self
        {
            *generation += 1;
            *current = Some(start(*generation, report));
        }
    }

    /// The instance `generation` died: it takes nothing more. `false` for a stale report.
    pub(crate) fn died(&mut self, generation: u64) -> bool {
        match self {
            OutcomeActor::Supervised {
                current,
                generation: now,
                ..
            } if *now == generation => {
                *current = None;
                true
            }
            _ => false,
        }
    }
}
