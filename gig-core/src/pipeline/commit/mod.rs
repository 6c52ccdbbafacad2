//! The pipeline's side of a commit. This module is its bookkeeping: when to commit, what the
//! broker confirmed, and the two moments a consumer commits for the last time: a revocation
//! releasing partitions, and a stop. [`plan`] is what a commit is ([`CommitPlan`]): offsets
//! on their own, or a [`Transaction`](plan::Transaction). The client makes it (gig-actors'
//! `client/commit`).

pub(super) mod plan;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use log::{info, warn};

use super::Pipeline;
use crate::ack_book::{CommitOffset, Partition};
use crate::record::Record;
use plan::CommitPlan;

/// Names one revocation in progress, so that its answer reaches the one who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseId(u64);

/// Partitions being revoked: released once their records are resolved, or at `deadline`.
struct Release {
    id: ReleaseId,
    partitions: Vec<Partition>,
    deadline: Instant,
}

/// A stop in progress.
struct Stopping {
    /// When the stop gives up waiting for unresolved records.
    deadline: Instant,
    /// The final offsets were taken: nothing is committed after them.
    final_taken: bool,
}

/// The first wait before a failed commit is sent again; it doubles, up to the commit
/// period, while commits go on failing.
const FIRST_COMMIT_RETRY: Duration = Duration::from_millis(50);

#[derive(Default)]
pub(super) struct Commits {
    handed_since_commit: usize,
    /// The wait before the next retry of a failed commit; `None` after a success.
    retry_wait: Option<Duration>,
    /// When a failed commit is sent again, until a commit is taken: no commit goes for
    /// `commit_every` before then, and the crash-loop guard asks for none of its own.
    pub(super) retry_at: Option<Instant>,
    pub(super) confirmed: BTreeMap<Partition, i64>,
    releases: Vec<Release>,
    next_release: u64,
    stop: Option<Stopping>,
}

impl Commits {
    pub(super) fn handed_over(&mut self, records: usize) {
        self.handed_since_commit += records;
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop.is_some()
    }

    fn final_taken(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.final_taken)
    }

    /// The earliest time the commits need the driver back: a revocation's or the stop's
    /// time limit, or a failed commit's retry.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let stop = self.stop.as_ref().filter(|s| !s.final_taken);
        let releases = self.releases.iter().map(|r| r.deadline);
        let limits = releases.chain(stop.map(|s| s.deadline));
        limits.chain(self.retry_at).min()
    }
}

impl Pipeline {
    /// What to commit at `now`: a failed commit's retry once its time has come (see
    /// [`handle_commit_failed`](Self::handle_commit_failed)), or because `commit_every`
    /// records were handed over since the last commit, but not while a retry waits for its
    /// time; `None` otherwise.
    pub fn poll_commit(&mut self, now: Instant) -> Option<CommitPlan> {
        match self.commits.retry_at {
            Some(at) if now < at => None,
            Some(_) => self.take_commit(),
            None if self.commits.handed_since_commit < self.config.commit_every => None,
            None => self.take_commit(),
        }
    }

    /// What to commit now (the commit interval passed, or a `Commit` was asked for):
    /// every partition whose watermark moved since it was last requested; in the
    /// transactional mode, a transaction with their outputs. `None` when none moved, after
    /// the final offsets were taken, and while a transaction is in flight.
    pub fn take_commit(&mut self) -> Option<CommitPlan> {
        self.commits.retry_at = None;
        if self.commits.final_taken() {
            return None;
        }
        if self.transactions.enabled {
            if self.transactions.blocked() {
                return None;
            }
            let mut offsets = self.book.offsets_to_commit();
            self.attach_markers(&mut offsets);
            let txn = self.plan_transaction(offsets);
            if txn.is_empty() {
                return None;
            }
            self.commits.handed_since_commit = 0;
            return Some(CommitPlan::Transaction(txn));
        }
        let mut offsets = self.book.offsets_to_commit();
        self.attach_markers(&mut offsets);
        if offsets.is_empty() {
            return None;
        }
        self.commits.handed_since_commit = 0;
        self.counters.commits += 1;
        Some(CommitPlan::Offsets(offsets))
    }

    /// Committable offsets the broker has not yet confirmed, per partition.
    pub fn uncommitted(&self) -> Vec<CommitOffset> {
        self.book
            .partitions()
            .filter_map(|book| {
                let offset = book.committable()?;
                let key = (book.topic().clone(), book.partition());
                let confirmed = self.commits.confirmed.get(&key);
                confirmed
                    .is_none_or(|&c| c < offset)
                    .then_some(CommitOffset {
                        topic: key.0,
                        partition: key.1,
                        offset,
                        marker: None,
                    })
            })
            .collect()
    }

    /// Whether the broker confirmed every one of `offsets` (or a later one).
    pub fn is_committed(&self, offsets: &[CommitOffset]) -> bool {
        offsets.iter().all(|c| {
            let key = (c.topic.clone(), c.partition);
            self.commits
                .confirmed
                .get(&key)
                .is_some_and(|&o| o >= c.offset)
        })
    }

    /// The broker confirmed a commit.
    pub fn handle_committed(&mut self, offsets: &[CommitOffset]) {
        self.markers_answered(offsets, true);
        self.commits.retry_wait = None;
        for c in offsets {
            self.book.commit_confirmed(&c.topic, c.partition, c.offset);
            let confirmed = self
                .commits
                .confirmed
                .entry((c.topic.clone(), c.partition))
                .or_insert(c.offset);
            *confirmed = (*confirmed).max(c.offset);
        }
    }

    /// A commit failed at `now`: its offsets are offered again by the next commit, which
    /// [`poll_commit`](Self::poll_commit) gives at the time returned (and
    /// [`poll_timeout`](Self::poll_timeout) reports), rather than a whole commit period
    /// later. Most failures are the group moving on (a generation or member epoch that
    /// just went stale, a rebalance in progress), and the window before the next rebalance
    /// is short under churn; the wait doubles, up to the commit period, while failures go
    /// on. After the final commit nothing is retried: `None`.
    pub fn handle_commit_failed(
        &mut self,
        offsets: &[CommitOffset],
        now: Instant,
    ) -> Option<Instant> {
        self.markers_answered(offsets, false);
        self.counters.commit_failures += 1;
        for c in offsets {
            self.book.commit_failed(&c.topic, c.partition, c.offset);
        }
        let period = self.config.commit_period();
        let commits = &mut self.commits;
        let wait = commits.retry_wait.unwrap_or(FIRST_COMMIT_RETRY).min(period);
        commits.retry_wait = Some((wait * 2).min(period));
        if commits.final_taken() {
            return None;
        }
        commits.retry_at = Some(now + wait);
        commits.retry_at
    }

    /// Partitions are being revoked: they are released (see
    /// [`poll_released`](Self::poll_released)) once their records are resolved, or after
    /// [`ConsumerConfig::revocation_wait`](crate::ConsumerConfig::revocation_wait): within
    /// the rebalance timeout this member gave the broker, which expels a member that takes
    /// longer (and refuses its commit).
    pub fn handle_revoking(&mut self, partitions: Vec<Partition>, now: Instant) -> ReleaseId {
        let id = ReleaseId(self.commits.next_release);
        self.commits.next_release += 1;
        self.commits.releases.push(Release {
            id,
            partitions,
            deadline: now + self.config.revocation_wait(),
        });
        id
    }

    /// A revocation that is done: its partitions are forgotten (later answers for them are
    /// counted as unknown), and here is what to commit for them before they go to another
    /// member. Records still unresolved are left uncommitted for the next owner, and none
    /// of them is handed over from now on: outcomes routed but not yet offered to an
    /// outcome actor are dropped (a batch already offered cannot be taken back). In the
    /// transactional mode a revocation waits for the transaction in flight (an abort must
    /// rewind first), and its commit is a transaction of its partitions; past its time
    /// limit with a transaction still in flight, it commits nothing, and the next owner
    /// reads from the last commit.
    pub fn poll_released(&mut self, now: Instant) -> Option<(ReleaseId, CommitPlan)> {
        let (book, guards) = (&self.book, &self.guards);
        let waits_for_transaction = self.transactions.in_flight;
        // Records the crash-loop guard holds were never delivered: nothing to wait for.
        let resolved = |p: &Partition| book.unresolved_in(&p.0, p.1) == guards.held_in(p);
        let done = self.commits.releases.iter().position(|r| {
            now >= r.deadline || !waits_for_transaction && r.partitions.iter().all(resolved)
        })?;
        let release = self.commits.releases.swap_remove(done);
        let transaction = self
            .transactions
            .enabled
            .then(|| self.final_transaction(&release.partitions));
        let mut offsets = Vec::new();
        for (topic, partition) in &release.partitions {
            let key = (topic.clone(), *partition);
            self.transactions.forget(&key);
            self.keys.release_partition(topic, *partition);
            let held = self.guards.held_in(&key);
            let book = self.book.remove(topic, *partition);
            let unresolved = book.as_ref().map_or(0, |b| b.unresolved()) - held;
            if unresolved > 0 {
                self.counters.left_to_next_owner += unresolved as u64;
                warn!(
                    "{topic}/{partition} released with {unresolved} record(s) unresolved after {:?}; its next owner reads them again",
                    self.config.revocation_wait()
                );
            }
            let committable = book.and_then(|b| b.committable());
            offsets.extend(self.releasing(&key, committable));
        }
        self.forget_outcomes(&release.partitions);
        let plan = transaction.unwrap_or(CommitPlan::Offsets(offsets));
        Some((release.id, plan))
    }

    /// Drops the outcomes of released partitions that wait to be handed over: the next
    /// owner reads those records again, and two members must not hand one over at once.
    fn forget_outcomes(&mut self, released: &[Partition]) {
        if self.acked.is_empty() && self.no_acked.is_empty() {
            return;
        }
        let released: HashSet<(&str, i32)> = released.iter().map(|(t, p)| (&**t, *p)).collect();
        let kept = |record: &Record| !released.contains(&(record.topic(), record.partition()));
        self.acked.retain(|(_, record)| kept(record));
        self.no_acked.retain(|(_, no_acked)| kept(&no_acked.record));
    }

    /// Stops: records fetched from now on are discarded; those in flight are resolved until
    /// [`ConsumerConfig::resolve_wait`](crate::ConsumerConfig::resolve_wait) has passed.
    pub fn handle_stop(&mut self, now: Instant) {
        if self.commits.stop.is_some() {
            return;
        }
        info!(
            "stopping: no new deliveries; resolving {} in-flight record(s)",
            self.book.unresolved()
        );
        self.commits.stop = Some(Stopping {
            deadline: now + self.config.resolve_wait(),
            final_taken: false,
        });
    }

    /// Whether a stop has begun.
    pub fn is_stopping(&self) -> bool {
        self.commits.stopping()
    }

    /// Once a stop's records are resolved (or its time is up): the final commit, every
    /// partition's committable offset (in the transactional mode, once the transaction in
    /// flight has ended, a transaction with their outputs). Given once; no commit is
    /// offered after it.
    pub fn poll_stop(&mut self, now: Instant) -> Option<CommitPlan> {
        // A fenced consumer hands nothing over: its unresolved records never resolve. Those
        // the crash-loop guard holds were never delivered.
        let unresolved = match self.transactions.fenced {
            true => 0,
            false => self.book.unresolved() - self.guards.held(),
        };
        let in_flight = self.transactions.in_flight;
        let stop = self.commits.stop.as_mut()?;
        if stop.final_taken || (unresolved > 0 && now < stop.deadline) || in_flight {
            return None;
        }
        if unresolved > 0 {
            warn!(
                "stop: {unresolved} record(s) still unresolved after {:?}; they stay uncommitted and are read again",
                self.config.resolve_wait()
            );
        }
        stop.final_taken = true;
        if self.transactions.enabled {
            let partitions: Vec<Partition> = self
                .book
                .partitions()
                .map(|book| (book.topic().clone(), book.partition()))
                .collect();
            return Some(self.final_transaction(&partitions));
        }
        let partitions: Vec<(Partition, Option<i64>)> = self
            .book
            .partitions()
            .map(|book| ((book.topic().clone(), book.partition()), book.committable()))
            .collect();
        let offsets = partitions
            .into_iter()
            .filter_map(|(partition, committable)| self.releasing(&partition, committable))
            .collect();
        Some(CommitPlan::Offsets(offsets))
    }
}
