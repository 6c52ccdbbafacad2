//! The transactional mode's bookkeeping: the outputs the outcome actors asked for, held
//! until the watermark passes their source records; the one transaction in flight; what an
//! aborted transaction rewinds; and a fenced producer.
//!
//! An output goes in the transaction that commits its source record's offset: not earlier
//! (a crash after that commit would re-read its source and produce it again), not later
//! (the source would be committed without it). So a transaction holds, per partition, the
//! outputs of the records below the offset it commits. One transaction is in flight at a
//! time: the next is planned only once the last one's result is known, so an abort can
//! rewind exactly what it held, and a revocation or a stop never commits past outputs
//! that an aborted transaction lost.

use std::collections::HashMap;

use log::{info, warn};

use super::commit::plan::{CommitPlan, Transaction};
use super::{OutcomeBatch, Pipeline};
use crate::ack_book::{CommitOffset, Partition, Token};
use crate::producer_record::ProducerRecord;
use crate::record::Record;

/// How a transaction ended, as its driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionResult {
    /// Committed: its outputs are visible to `read_committed` readers, its offsets
    /// committed.
    Committed,
    /// Not begun (no group membership yet, the producer not ready): nothing was sent. It
    /// is offered again with the next commit.
    NotStarted,
    /// Aborted (it timed out, a record could not be produced, the group moved on): none of
    /// it is visible. Its partitions are read again from their last commit.
    Aborted,
    /// The producer is fenced (another producer took its transactional id: this consumer
    /// is a zombie) or failed for good: nothing is committed from now on.
    Fenced,
    /// Never sent: the revocation it was planned for stopped waiting. Its partitions are
    /// gone; their next owner reads them from the last commit.
    Abandoned,
}

/// The most outputs whose list is kept for the next transaction once one ended: the list
/// of a burst is given back, not held for the consumer's life.
const SPARE_OUTPUTS_MOST: usize = 1 << 16;

/// A partition going back to its last commit.
#[derive(Debug)]
struct Rewind {
    target: i64,
    /// Sent to the driver; waiting for it to say the partition was rewound.
    requested: bool,
}

#[derive(Debug, Default)]
pub(super) struct Transactions {
    pub(super) enabled: bool,
    /// Accepted outputs not yet in a transaction: per partition, with their source offset,
    /// in the order they were accepted. One growing list, not a list per source: a record
    /// costs no allocation here.
    outputs: HashMap<Partition, Vec<(i64, ProducerRecord)>>,
    pub(super) in_flight: bool,
    /// How many outputs the transaction in flight holds: its driver may drop them (off
    /// the actor's thread) before it reports.
    in_flight_outputs: u64,
    /// The list of the last transaction that ended, emptied, for the next one: a fresh
    /// list per transaction would be zeroed page by page as it grows.
    spare_outputs: Vec<ProducerRecord>,
    /// A transaction that did not start: offered again, with what came since.
    retry: Option<Transaction>,
    /// Partitions rewound after an abort: their records are discarded until the driver
    /// says the consumer reads them from the target again.
    rewinding: HashMap<Partition, Rewind>,
    pub(super) fenced: bool,
}

impl Transactions {
    pub(super) fn new(enabled: bool) -> Self {
        Transactions {
            enabled,
            ..Default::default()
        }
    }

    /// Whether no transaction may be planned now.
    pub(super) fn blocked(&self) -> bool {
        self.in_flight || self.fenced
    }

    pub(super) fn is_rewinding(&self, partition: &Partition) -> bool {
        self.rewinding.contains_key(partition)
    }

    pub(super) fn any_rewinding(&self) -> bool {
        !self.rewinding.is_empty()
    }

    /// Forgets a partition's held outputs and rewind (it was released).
    pub(super) fn forget(&mut self, partition: &Partition) {
        self.outputs.remove(partition);
        self.rewinding.remove(partition);
    }
}

impl Pipeline {
    /// Whether the pipeline commits in transactions.
    pub fn is_transactional(&self) -> bool {
        self.transactions.enabled
    }

    /// Whether the producer was fenced: nothing is delivered, handed over or committed any
    /// more.
    pub fn is_fenced(&self) -> bool {
        self.transactions.fenced
    }

    /// Whether a transaction is in flight (planned, its result not yet known).
    pub fn in_transaction(&self) -> bool {
        self.transactions.in_flight
    }

    /// An outcome actor accepted a batch and asked for `outputs`, each named by the token
    /// of its source record in the batch. In the transactional mode they are held for the
    /// transaction that commits their source; otherwise there is no transaction to put
    /// them in, and they are dropped with a warning.
    pub fn handle_accepted_with(
        &mut self,
        batch: &OutcomeBatch,
        outputs: Vec<(Token, ProducerRecord)>,
    ) {
        if !outputs.is_empty() && !self.transactions.enabled {
            warn!(
                "{} output record(s) dropped: only a transactional consumer produces outputs",
                outputs.len()
            );
        } else {
            // Outputs come in runs of one partition: its list is taken out of the map for
            // the run and put back after it, two lookups a run rather than one an output.
            let held = &mut self.transactions.outputs;
            let mut run: Option<(Partition, Vec<(i64, ProducerRecord)>)> = None;
            for (token, record) in outputs {
                // A source no longer tracked was released or rewound: its record is read
                // again, and its outputs made again.
                let Some((partition, offset)) = self.book.locate(token) else {
                    continue;
                };
                match &mut run {
                    Some((current, list)) if *current == partition => list.push((offset, record)),
                    _ => {
                        if let Some((done, list)) = run.take() {
                            held.insert(done, list);
                        }
                        let mut list = held.remove(&partition).unwrap_or_default();
                        list.push((offset, record));
                        run = Some((partition, list));
                    }
                }
                self.counters.outputs += 1;
            }
            if let Some((done, list)) = run {
                held.insert(done, list);
            }
        }
        self.handle_accepted(batch);
    }

    /// A transaction for `offsets`: the outputs held below each, where each partition
    /// rewinds to, and whatever a transaction that did not start had. Marks it in flight
    /// unless it is empty.
    pub(super) fn plan_transaction(&mut self, offsets: Vec<CommitOffset>) -> Transaction {
        let spare = &mut self.transactions.spare_outputs;
        let mut txn = self
            .transactions
            .retry
            .take()
            .unwrap_or_else(|| Transaction {
                outputs: std::mem::take(spare),
                ..Transaction::default()
            });
        for c in offsets {
            let key = (c.topic.clone(), c.partition);
            if let Some(held) = self.transactions.outputs.get_mut(&key) {
                // By source offset; a stable sort keeps one source's outputs in their order.
                // Outputs are nearly always accepted in offset order, and the sort would
                // allocate room for half the list to find that out.
                if !held.is_sorted_by_key(|(offset, _)| *offset) {
                    held.sort_by_key(|(offset, _)| *offset);
                }
                let below = held.partition_point(|(offset, _)| *offset < c.offset);
                txn.outputs
                    .extend(held.drain(..below).map(|(_, record)| record));
            }
            let known = |o: &CommitOffset| o.topic == c.topic && o.partition == c.partition;
            if !txn.rewind.iter().any(known) {
                let restart = self.book.partition(&c.topic, c.partition);
                if let Some(offset) = restart.and_then(|b| b.restart_offset()) {
                    txn.rewind.push(CommitOffset {
                        offset,
                        ..c.clone()
                    });
                }
            }
            match txn.offsets.iter_mut().find(|o| known(o)) {
                Some(o) => {
                    o.offset = o.offset.max(c.offset);
                    o.marker = c.marker;
                }
                None => txn.offsets.push(c),
            }
        }
        if !txn.is_empty() {
            self.transactions.in_flight = true;
            self.transactions.in_flight_outputs = txn.outputs.len() as u64;
            self.counters.commits += 1;
        }
        txn
    }

    /// A transaction planned by [`take_commit`](Self::take_commit), a revocation or the
    /// stop ended with `result`. Its driver may have dropped its outputs already, unless it
    /// did not start (they are offered again).
    pub fn handle_transaction(&mut self, mut txn: Transaction, result: TransactionResult) {
        self.transactions.in_flight = false;
        let outputs = std::mem::take(&mut self.transactions.in_flight_outputs);
        match result {
            TransactionResult::Committed => {
                self.handle_committed(&txn.offsets);
                self.counters.transactions += 1;
                self.counters.outputs_committed += outputs;
            }
            TransactionResult::NotStarted => {
                self.counters.commit_failures += 1;
                self.transactions.retry = Some(txn);
                return;
            }
            TransactionResult::Aborted => {
                self.counters.transactions_aborted += 1;
                for target in std::mem::take(&mut txn.rewind) {
                    self.rewind(target);
                }
            }
            TransactionResult::Abandoned => {}
            TransactionResult::Fenced => {
                self.transactions.fenced = true;
                self.transactions.outputs.clear();
                self.transactions.retry = None;
                self.transactions.rewinding.clear();
            }
        }
        txn.outputs.clear();
        if txn.outputs.capacity() <= SPARE_OUTPUTS_MOST {
            self.transactions.spare_outputs = txn.outputs;
        }
    }

    /// Forgets everything of a partition past its last commit, so that it is read again
    /// from there: its book, its queued outcomes and held outputs. Its records are
    /// discarded until the driver reports the rewind done. A partition released meanwhile
    /// is its next owner's to read again.
    fn rewind(&mut self, target: CommitOffset) {
        let (topic, partition) = (target.topic.clone(), target.partition);
        if self.book.remove(&topic, partition).is_none() {
            return;
        }
        info!(
            "{topic}/{partition}: transaction aborted; reading it again from {}",
            target.offset
        );
        self.keys.release_partition(&topic, partition);
        let of_other = |r: &Record| r.partition() != partition || *r.topic_arc() != topic;
        self.acked.retain(|(_, r)| of_other(r));
        self.no_acked.retain(|(_, r)| of_other(&r.record));
        let key = (topic, partition);
        self.transactions.outputs.remove(&key);
        let rewind = Rewind {
            target: target.offset,
            requested: false,
        };
        self.transactions.rewinding.insert(key, rewind);
        self.counters.rewinds += 1;
    }

    /// Partitions the driver must read again, each from the offset given: the consumer
    /// seeks there, drops what it fetched of them before, and reports with
    /// [`handle_rewound`](Self::handle_rewound). Each is given once per request.
    pub fn poll_rewind(&mut self) -> Vec<CommitOffset> {
        let mut targets = Vec::new();
        for ((topic, partition), rewind) in &mut self.transactions.rewinding {
            if !rewind.requested {
                rewind.requested = true;
                targets.push(CommitOffset {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: rewind.target,
                    marker: None,
                });
            }
        }
        targets
    }

    /// The driver rewound `partitions` (`done`): what it fetches of them from now on is read
    /// again from their targets. Not `done` (the group changed meanwhile, a seek failed):
    /// they are requested again by the next [`poll_rewind`](Self::poll_rewind).
    pub fn handle_rewound(&mut self, partitions: &[Partition], done: bool) {
        for partition in partitions {
            if done {
                self.transactions.rewinding.remove(partition);
            } else if let Some(rewind) = self.transactions.rewinding.get_mut(partition) {
                rewind.requested = false;
            }
        }
    }

    /// A transaction of everything committable of `partitions` past its last commit, for
    /// a revocation or the stop; their outputs above it are dropped with them. Empty while
    /// another transaction is in flight or after the producer was fenced.
    pub(super) fn final_transaction(&mut self, partitions: &[Partition]) -> CommitPlan {
        if self.transactions.blocked() {
            return CommitPlan::Transaction(Transaction::default());
        }
        let mut offsets = Vec::new();
        for key in partitions {
            let book = self.book.partition(&key.0, key.1);
            let committable = book.and_then(|b| b.committable());
            let committed = book.and_then(|b| b.committed());
            let moved = committable.is_some_and(|o| committed.is_none_or(|c| c < o));
            let marked = self.guards.has_marker(key);
            if let Some(c) = self.releasing(key, committable).filter(|_| moved || marked) {
                offsets.push(c);
            }
        }
        CommitPlan::Transaction(self.plan_transaction(offsets))
    }
}
