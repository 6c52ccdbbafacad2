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
use actix::{MailboxError, Message, Recipient};
use gig_core::{HandOver, Record};

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

/// Why a hand-over did not go through.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandOverFailure {
    /// The handler answered with a refusal.
    #[error(transparent)]
    Refused(#[from] HandOverError),
    /// The handler could not be reached (it stopped, or its mailbox closed).
    #[error("handler unreachable: {0}")]
    Unreachable(#[from] MailboxError),
}

/// Offers a batch to its outcome actor: `Ok` once accepted. The message is cloned (one
/// reference count per record) so that a refused batch can be offered again: its records
/// must reach a handler before they are committed.
pub(crate) fn offer(
    batch: &HandOver,
    acked: &Recipient<Acked>,
    no_acked: &Recipient<NoAcked>,
) -> Pin<Box<dyn Future<Output = Result<(), HandOverFailure>>>> {
    match batch {
        HandOver::Acked(_, records) => settled(acked.send(Acked {
            records: records.clone(),
        })),
        HandOver::NoAcked(_, records) => settled(no_acked.send(NoAcked {
            records: records.clone(),
        })),
    }
}

fn settled<M>(
    request: RecipientRequest<M>,
) -> Pin<Box<dyn Future<Output = Result<(), HandOverFailure>>>>
where
    M: Message<Result = Result<(), HandOverError>> + Send + 'static,
{
    Box::pin(async move { Ok(request.await??) })
}
