//! What the pipeline decides to commit: offsets on their own, or a Kafka transaction. The
//! commit bookkeeping (this module's parent) and the transactions (`pipeline/transactions`)
//! both plan them; neither imports the other.

use crate::ack_book::CommitOffset;
use crate::producer_record::ProducerRecord;

/// What to commit, as the pipeline decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitPlan {
    /// Offsets committed on their own (at-least-once).
    Offsets(Vec<CommitOffset>),
    /// A Kafka transaction: outputs and offsets together (transactional mode).
    Transaction(Transaction),
}

impl CommitPlan {
    /// The offsets it commits.
    pub fn offsets(&self) -> &[CommitOffset] {
        match self {
            CommitPlan::Offsets(offsets) => offsets,
            CommitPlan::Transaction(txn) => &txn.offsets,
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        match self {
            CommitPlan::Offsets(offsets) => offsets.is_empty(),
            CommitPlan::Transaction(txn) => txn.is_empty(),
        }
    }
}

/// One Kafka transaction: produce `outputs`, send `offsets` to the transaction, commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// The offsets it commits, one per partition.
    pub offsets: Vec<CommitOffset>,
    /// What the outcome actors asked to produce for the records below those offsets: per
    /// partition in offset order, each record's outputs in the order given.
    pub outputs: Vec<ProducerRecord>,
    /// Where each of its partitions is read again from if it is aborted: the last
    /// committed offset (or, before any commit, the first record read).
    pub rewind: Vec<CommitOffset>,
}

impl Transaction {
    /// Whether there is nothing to produce and no offset to commit.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty() && self.outputs.is_empty()
    }
}
