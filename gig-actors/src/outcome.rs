//! What the AckedActor and NoAckedActor receive.
//!
//! An AckedActor is any actor that handles [`Acked`]; a NoAckedActor handles [`NoAcked`].
//! Records come in batches. Returning `Ok(())` *accepts* the batch: only then may Gig
//! commit past those records. Returning `Err` (or stopping) refuses it: Gig logs the error,
//! keeps the records and offers them again after a back-off, and the partition's commit
//! offset stays below them — nothing is committed that no handler accepted. A handler may
//! answer from a future (`ResponseFuture`) to accept only once its own write is durable.
//!
//! A consumer in the transactional mode
//! ([`ConsumerConfig::transactional`](gig_core::ConsumerConfig::transactional)) can also
//! hand over [`AckedTx`] and [`NoAckedTx`]: the handler accepts by answering with the
//! records to produce, [`Outputs`], each tied to a record of the batch. Gig produces them in
//! the transaction that commits that record's offset, so a `read_committed` reader sees
//! each exactly once:
//!
//! ```
//! # use actix::prelude::*;
//! # use gig_actors::prelude::*;
//! struct Enrich;
//! impl Actor for Enrich { type Context = Context<Self>; }
//! impl Handler<AckedTx> for Enrich {
//!     type Result = Result<Outputs, HandOverError>;
//!     fn handle(&mut self, m: AckedTx, _: &mut Context<Self>) -> Self::Result {
//!         let enriched = |r: &Record| r.payload_str().unwrap_or_default().to_uppercase();
//!         Ok(m.records.iter()
//!             .map(|r| (r, ProducerRecord::new("orders.enriched", enriched(r))))
//!             .collect())
//!     }
//! }
//! ```

use std::future::Future;
use std::pin::Pin;

use actix::{MailboxError, Message, Recipient};
use gig_core::{OutcomeBatch, Outputs, ProducerRecord, Record, Role, Source, SourceTokens, Token};

use crate::supervisor::outcome::{DeathNotice, OutcomeActor};
use crate::supervisor::Died;

pub use gig_core::NoAckedRecord;

/// A handler's refusal of a batch, with its reason; the batch will be offered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hand-over refused: {0}")]
pub struct HandOverError(pub String);

/// Records the downstream acked.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), HandOverError>")]
pub struct Acked {
    /// The records, in the order they were acked.
    pub records: Vec<Record>,
}

/// Records nacked, timed out, dropped, or undeliverable, each with its reason.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), HandOverError>")]
pub struct NoAcked {
    /// The records with their reasons.
    pub records: Vec<NoAckedRecord>,
}

/// Records the downstream acked, for an AckedActor of a transactional consumer: it
/// accepts the batch by answering with the records to produce for it (consume, transform,
/// produce), which Gig adds to the transaction that commits their sources.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Outputs, HandOverError>")]
pub struct AckedTx {
    /// The records, in the order they were acked.
    pub records: Vec<Record>,
}

/// Records that were not acked, each with its reason, for a NoAckedActor of a
/// transactional consumer: it accepts the batch by answering with the copies to produce
/// (to a dead-letter or retry topic), which Gig adds to the transaction that commits their
/// sources.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Outputs, HandOverError>")]
pub struct NoAckedTx {
    /// The records with their reasons.
    pub records: Vec<NoAckedRecord>,
}

/// Where acked records go: an actor that only accepts, or one that answers with outputs.
pub(crate) enum AckedRecipient {
    Accepts(OutcomeActor<Acked>),
    Produces(OutcomeActor<AckedTx>),
}

/// Where records that were not acked go, as for [`AckedRecipient`].
pub(crate) enum NoAckedRecipient {
    Accepts(OutcomeActor<NoAcked>),
    Produces(OutcomeActor<NoAckedTx>),
}

/// What both kinds of outcome actor are asked by the driver, whatever their messages.
macro_rules! outcome_actor_of_either_kind {
    ($name:ident) => {
        impl $name {
            pub(crate) fn produces(&self) -> bool {
                matches!(self, $name::Produces(_))
            }

            pub(crate) fn is_supervised(&self) -> bool {
                match self {
                    $name::Accepts(actor) => actor.is_supervised(),
                    $name::Produces(actor) => actor.is_supervised(),
                }
            }

            pub(crate) fn restart(&mut self, report: &Recipient<Died>) {
                match self {
                    $name::Accepts(actor) => actor.restart(report),
                    $name::Produces(actor) => actor.restart(report),
                }
            }

            pub(crate) fn died(&mut self, generation: u64) -> bool {
                match self {
                    $name::Accepts(actor) => actor.died(generation),
                    $name::Produces(actor) => actor.died(generation),
                }
            }
        }
    };
}
outcome_actor_of_either_kind!(AckedRecipient);
outcome_actor_of_either_kind!(NoAckedRecipient);

/// The two outcome actors of a consumer.
pub(crate) struct OutcomeActors {
    pub(crate) acked: AckedRecipient,
    pub(crate) no_acked: NoAckedRecipient,
}

impl OutcomeActors {
    /// Starts the instances of those given as factories.
    pub(crate) fn start(&mut self, report: &Recipient<Died>) {
        self.acked.restart(report);
        self.no_acked.restart(report);
    }

    pub(crate) fn is_supervised(&self, role: Role) -> bool {
        match role {
            Role::Acked => self.acked.is_supervised(),
            Role::NoAcked => self.no_acked.is_supervised(),
            Role::Downstream => false,
        }
    }

    /// Starts a new instance of `role`'s actor.
    pub(crate) fn restart(&mut self, role: Role, report: &Recipient<Died>) {
        match role {
            Role::Acked => self.acked.restart(report),
            Role::NoAcked => self.no_acked.restart(report),
            Role::Downstream => {}
        }
    }

    /// Instance `generation` of `role` died; `false` for a stale report.
    pub(crate) fn died(&mut self, role: Role, generation: u64) -> bool {
        match role {
            Role::Acked => self.acked.died(generation),
            Role::NoAcked => self.no_acked.died(generation),
            Role::Downstream => false,
        }
    }
}

/// Why a hand-over did not go through.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandOverFailure {
    /// The handler answered with a refusal.
    #[error(transparent)]
    Refused(#[from] HandOverError),
    /// The handler could not be reached (it stopped, or its mailbox closed).
    #[error("handler unreachable: {0}")]
    Unreachable(#[from] MailboxError),
    /// The actor, started by Gig from its factory, died before it answered: `why` is how
    /// (its panic's message). It may have died on a record of this batch, or on none.
    #[error("the actor died before it answered: {0}")]
    Died(String),
    /// The actor, started by Gig from its factory, is not running (it is being restarted):
    /// the batch was not offered.
    #[error("the actor is being restarted")]
    NotRunning,
    /// The handler answered with an output for a record that is not in the batch: Gig
    /// cannot tell which transaction it belongs in.
    #[error("an output names {}/{}@{}, which is not in the batch", .0.topic, .0.partition, .0.offset)]
    ForeignSource(Source),
}

/// The outputs of an accepted batch, each with the token of its source record.
pub(crate) type Accepted = Vec<(Token, ProducerRecord)>;

type Offer = Pin<Box<dyn Future<Output = Result<Accepted, HandOverFailure>>>>;

/// Offers a batch to its outcome actor: `Ok` once accepted, with the outputs it asked for.
/// The message is cloned (one reference count per record) so that a refused batch can be
/// offered again: its records must reach a handler before they are committed.
pub(crate) fn offer(batch: &OutcomeBatch, actors: &OutcomeActors) -> Offer {
    match (batch, &actors.acked, &actors.no_acked) {
        (OutcomeBatch::Acked(_, records), AckedRecipient::Accepts(to), _) => accepted(
            to,
            Acked {
                records: records.clone(),
            },
        ),
        (OutcomeBatch::Acked(tokens, records), AckedRecipient::Produces(to), _) => {
            let index = SourceTokens::new(records.iter().map(Source::of), tokens.iter().copied());
            let message = AckedTx {
                records: records.clone(),
            };
            produced(to, message, index)
        }
        (OutcomeBatch::NoAcked(_, records), _, NoAckedRecipient::Accepts(to)) => accepted(
            to,
            NoAcked {
                records: records.clone(),
            },
        ),
        (OutcomeBatch::NoAcked(tokens, records), _, NoAckedRecipient::Produces(to)) => {
            let sources = records.iter().map(|r| Source::of(&r.record));
            let index = SourceTokens::new(sources, tokens.iter().copied());
            let message = NoAckedTx {
                records: records.clone(),
            };
            produced(to, message, index)
        }
    }
}

/// Sends `message` to the actor of the moment and awaits its answer. An instance started
/// from a factory that dies meanwhile closes its mailbox: the answer is then how it died.
async fn ask<M>(
    to: Option<(Recipient<M>, Option<DeathNotice>)>,
    message: M,
) -> Result<M::Result, HandOverFailure>
where
    M: Message + Send + 'static,
    M::Result: Send,
{
    let Some((recipient, death)) = to else {
        return Err(HandOverFailure::NotRunning);
    };
    match (recipient.send(message).await, death) {
        (Ok(answer), _) => Ok(answer),
        (Err(MailboxError::Closed), Some(mut death)) => {
            let why = match death.wait_for(Option::is_some).await {
                Ok(why) => why.clone().unwrap_or_default(),
                Err(_) => "it stopped".to_string(),
            };
            Err(HandOverFailure::Died(why))
        }
        (Err(e), _) => Err(e.into()),
    }
}

fn accepted<M>(to: &OutcomeActor<M>, message: M) -> Offer
where
    M: Message<Result = Result<(), HandOverError>> + Send + 'static,
{
    let request = ask(to.current(), message);
    Box::pin(async move {
        request.await??;
        Ok(Vec::new())
    })
}

/// Awaits a handler that answers with outputs, and names each output's source by its
/// token in the batch.
fn produced<M>(to: &OutcomeActor<M>, message: M, mut index: SourceTokens<Token>) -> Offer
where
    M: Message<Result = Result<Outputs, HandOverError>> + Send + 'static,
{
    let request = ask(to.current(), message);
    Box::pin(async move {
        let outputs = request.await??;
        // Sized once: collecting into a `Result` would grow the list step by step.
        let mut named = Vec::with_capacity(outputs.len());
        for output in outputs {
            match index.token_of(&output.source) {
                Some(token) => named.push((token, output.record)),
                None => return Err(HandOverFailure::ForeignSource(output.source)),
            }
        }
        Ok(named)
    })
}
