//! What the pipeline asks its driver to send: records for the downstream, and batches of
//! outcomes for the Acked and NoAcked actors.

use std::collections::VecDeque;
use std::time::Instant;

use super::Pipeline;
use crate::ack_book::Token;
use crate::outcome::NoAckedRecord;
use crate::record::Record;
use crate::supervision::Role;

/// A record to deliver to the downstream, with the token its answer names and its deadline.
#[derive(Debug)]
pub struct Outbound {
    /// Names the record in the answer.
    pub token: Token,
    /// The record, shared with the ack book (one reference count).
    pub record: Record,
    /// When it times out if not answered.
    pub deadline: Instant,
}

/// The outcomes offered to one outcome actor in one hand-over. It is offered until
/// accepted (its records are then handed over), then its tokens go back to
/// [`Pipeline::handle_accepted`](super::Pipeline::handle_accepted).
#[derive(Debug)]
pub enum OutcomeBatch {
    /// Acked records, for the AckedActor.
    Acked(Vec<Token>, Vec<Record>),
    /// Records that were not acked, each with its reason, for the NoAckedActor.
    NoAcked(Vec<Token>, Vec<NoAckedRecord>),
}

impl OutcomeBatch {
    /// The records' tokens.
    pub fn tokens(&self) -> &[Token] {
        match self {
            OutcomeBatch::Acked(tokens, _) | OutcomeBatch::NoAcked(tokens, _) => tokens,
        }
    }

    /// Which outcome actor it goes to, for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            OutcomeBatch::Acked(..) => "acked",
            OutcomeBatch::NoAcked(..) => "no-acked",
        }
    }

    /// The role of the actor it goes to.
    pub fn role(&self) -> Role {
        match self {
            OutcomeBatch::Acked(..) => Role::Acked,
            OutcomeBatch::NoAcked(..) => Role::NoAcked,
        }
    }
}

impl Pipeline {
    /// Whether an outcome batch is full: hand it over now rather than wait for more.
    pub fn has_full_batch(&self) -> bool {
        let full = self.config.handover_batch;
        let full = self.acked.len() >= full || self.no_acked.len() >= full;
        full && !self.transactions.fenced
    }

    /// Whether any outcome waits to be handed over.
    pub fn has_outcomes(&self) -> bool {
        let suspects = self.suspects.holds(Role::Acked) || self.suspects.holds(Role::NoAcked);
        let any = !self.acked.is_empty() || !self.no_acked.is_empty() || suspects;
        any && !self.transactions.fenced
    }
}

/// Takes up to `size` entries off the front of `pending` as one batch, in time
/// proportional to the batch, not to what is left behind it.
pub(super) fn first<T>(pending: &mut VecDeque<(Token, T)>, size: usize) -> (Vec<Token>, Vec<T>) {
    let n = pending.len().min(size);
    pending.drain(..n).unzip()
}
