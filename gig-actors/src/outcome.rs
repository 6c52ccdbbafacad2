//! What the AckedActor and NoAckedActor receive.
//!
//! An AckedActor is any actor that handles [`Acked`]; a NoAckedActor handles [`NoAcked`].
//! Records come in batches. Returning `Ok(())` *accepts* the batch: only then may Gig
//! commit past those records. Returning `Err` (or stopping) refuses it: Gig logs the error,
//! keeps the records and offers them again after a back-off, and the partition's commit
//! offset stays below them — nothing is committed that no handler accepted. A handler may
//! answer from a future (`ResponseFuture`) to accept only once its own write is durable.

use actix::Message;
use gig_core::{NoAckReason, Record};

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
