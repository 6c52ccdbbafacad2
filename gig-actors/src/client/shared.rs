//! What the consumer actor, its poll thread and the librdkafka callbacks share.
//!
//! The actor runs on an actix arbiter; the poll thread runs `BaseConsumer::poll`, and the
//! librdkafka callbacks (rebalance, errors, statistics) run inside that poll, on the poll
//! thread. Each field says who writes it and who reads it. Flags and counters are atomics;
//! the rest are `std::sync::Mutex`es held for one copy or swap, never across a wait, so a
//! blocking lock is cheaper than an async one and cannot stall the arbiter.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gig_core::Partition;

use crate::client::client_errors::ClientErrors;
use crate::client::commit::closing::FinalCommit;
use crate::client::gate::InFlightGate;
use crate::client::transactor::Transactor;

pub(crate) struct Shared {
    /// Written by the actor when it stops delivering (a stop began, or it stopped). Read
    /// by the poll thread, which then drops what it fetches (uncommitted: the next owner
    /// reads it), and by the revocation callback, which then commits the final offsets
    /// itself rather than ask the actor.
    pub(crate) halted: AtomicBool,
    /// Bumped by the revocation callback on each revocation. Read by the poll thread after
    /// each poll: a change means its buffered records may belong to revoked partitions.
    pub(crate) revocations: AtomicU64,
    /// Partitions revoked and not assigned again: added by the revocation callback,
    /// removed by the assignment callback, read by the poll thread to drop their buffered
    /// records.
    pub(crate) revoked: Mutex<HashSet<Partition>>,
    /// The in-flight count: the poll thread adds what it sends, the actor subtracts what it
    /// takes in and publishes what it has not handed over; the poll thread stops polling
    /// at the limit.
    pub(crate) gate: InFlightGate,
    /// Written by the poll thread (errors, fetched records, assignments); read by the
    /// actor for `Stats` and `Health`.
    pub(crate) errors: ClientErrors,
    /// librdkafka's last statistics JSON, when `statistics.interval.ms` is set: written by
    /// the statistics callback, read by the actor for `Stats`.
    pub(crate) librdkafka_stats: Mutex<Option<Vec<u8>>>,
    /// The offsets of a stop's final commit: written by the poll thread when the stop
    /// begins its final commit, read by a revocation that comes meanwhile.
    pub(crate) final_commit: FinalCommit,
    /// The transactional producer (transactional mode): used by the commit thread, and by
    /// the poll thread for a revocation's or a stop's transaction; the actor plans one
    /// transaction at a time, and the transactor's lock serialises its calls.
    pub(crate) transactor: Option<Arc<Transactor>>,
    /// Partitions the crash-loop guard holds back while another goes one record at a time:
    /// written by the actor, which pauses and resumes them; read by the poll thread, which
    /// pauses them again after it resumed the whole assignment.
    pub(crate) held_back: Mutex<Vec<Partition>>,
}

impl Shared {
    pub(crate) fn new(
        max_in_flight: usize,
        max_uncommitted: Option<usize>,
        transactor: Option<Arc<Transactor>>,
    ) -> Self {
        Shared {
            halted: AtomicBool::new(false),
            revocations: AtomicU64::new(0),
            revoked: Mutex::new(HashSet::new()),
            gate: InFlightGate::new(max_in_flight, max_uncommitted),
            errors: ClientErrors::default(),
            librdkafka_stats: Mutex::new(None),
            final_commit: FinalCommit::default(),
            transactor,
            held_back: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn halted(&self) -> bool {
        self.halted.load(Ordering::SeqCst)
    }
}
