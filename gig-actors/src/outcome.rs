//! What the AckedActor and NoAckedActor receive.
//!
//! An AckedActor is any actor that handles [`Acked`]; a NoAckedActor handles [`NoAcked`].
//! Records come in batches. Returning `Ok(())` *accepts* the batch: only then may Gig
//! commit past those records. Returning `Err` (or stopping) refuses it: Gig logs the error,
//! keeps the records and offers them again after a back-off, and the partition's commit
//! offset stays below them — nothing is committed that no handler accepted. A handler may
//! answer from a future (`ResponseFuture`) to accept only once its own write is durable.

use std::future::Future;
use std::pin::Pin;

use actix::dev::RecipientRequest;
use actix::{Message, Recipient};
use gig_core::{NoAckReason, Record, Token};

/// A handler's refusal of a batch; the batch will be offered again.
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

/// A record that was not acked, and why.
#[derive(Debug, Clone)]
pub struct NoAckedRecord {
    /// The record.
    pub record: Record,
    /// Why it was not acked.
    pub reason: NoAckReason,
}

/// Records nacked, timed out, or undeliverable.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), HandOverError>")]
pub struct NoAcked {
    /// The records with their reasons.
    pub records: Vec<NoAckedRecord>,
}

/// A batch on its way to an outcome actor, kept until it is accepted.
pub(crate) enum HandOver {
    Acked(Vec<Token>, Acked),
    NoAcked(Vec<Token>, NoAcked),
}

impl HandOver {
    /// The records' tokens, to mark them handed over once the batch is accepted.
    pub(crate) fn tokens(&self) -> &[Token] {
        match self {
            HandOver::Acked(t, _) | HandOver::NoAcked(t, _) => t,
        }
    }

    /// Which outcome actor it goes to, for the log.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            HandOver::Acked(..) => "acked",
            HandOver::NoAcked(..) => "no-acked",
        }
    }

    /// Offers the batch to its outcome actor: `Ok` once accepted, else why not (refused, or
    /// the handler is gone). The message is cloned (one reference count per record) so that
    /// a refused batch can be offered again: its records must reach a handler before they
    /// are committed.
    pub(crate) fn send(
        &self,
        acked: &Recipient<Acked>,
        no_acked: &Recipient<NoAcked>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>>>> {
        match self {
            HandOver::Acked(_, m) => settled(acked.send(m.clone())),
            HandOver::NoAcked(_, m) => settled(no_acked.send(m.clone())),
        }
    }
}

fn settled<M>(request: RecipientRequest<M>) -> Pin<Box<dyn Future<Output = Result<(), String>>>>
where
    M: Message<Result = Result<(), HandOverError>> + Send + 'static,
{
    Box::pin(async move {
        match request.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(refused)) => Err(refused.to_string()),
            Err(mailbox) => Err(format!("handler unreachable: {mailbox}")),
        }
    })
}
