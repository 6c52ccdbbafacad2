//! The crash-loop guard's state: per partition, its mode, the records it holds and the
//! marker its commits carry; for the consumer, the one partition whose record goes alone.
//! What the pipeline does with it is in `guarded.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::ack_book::{Partition, Token};
use crate::crash_marker::Marker;
use crate::record::Record;

/// Every guarded partition's guard.
#[derive(Default)]
pub(super) struct Guards {
    /// Off when `max_deliveries` is 0, and in a pipeline with no group (the rehearsal).
    pub(super) enabled: bool,
    pub(super) parts: HashMap<Partition, Guard>,
    pub(super) next_assignment: u64,
    /// Partitions whose guard may have something to do.
    pub(super) dirty: Vec<Partition>,
    /// What `admits` last looked up: records come in runs of one partition.
    last: Option<Gate>,
    /// The careful partition whose next delivery is its record's last: it goes alone in the
    /// whole consumer, so that a process that dies then died on it. Everything else waits.
    pub(super) alone: Option<Partition>,
}

/// One partition's gate, as `admits` caches it.
struct Gate {
    partition: Partition,
    /// Records below this are delivered at once.
    open_below: i64,
    /// A record from here on asks for the marker to move on.
    extend_at: i64,
}

pub(super) struct Guard {
    pub(super) assignment: u64,
    pub(super) mode: Mode,
    /// Tracked records not yet delivered (their clocks not started), in offset order.
    pub(super) held: VecDeque<(Token, i64)>,
    /// Where a marker is committed before this assignment hands anything over (the
    /// committed offset, or the first offset fetched), or, going carefully, the offset of
    /// the record on its way.
    pub(super) base: Option<i64>,
    /// The marker commits of this partition carry: the last one asked for.
    pub(super) marker: Option<Marker>,
    /// `marker` is not yet confirmed by the broker.
    pub(super) pending: bool,
    /// A commit carrying `marker` is on its way.
    pub(super) in_commit: bool,
    /// The highest `until` of a confirmed marker, in normal mode.
    pub(super) confirmed_until: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// The committed metadata is not known yet: everything is held.
    Unknown,
    /// Records below the confirmed marker are delivered.
    Normal,
    /// After a crash, up to `until`: a group of records at a time, or one.
    Careful {
        until: i64,
        /// The records from the head up to here (exclusive) go together, counted alike.
        group_end: i64,
        /// Their deliveries so far (at least the one to the process that died); once
        /// counted, the one to come included.
        deliveries: u32,
        /// The group goes one record at a time: processes died in it more than once.
        singly: bool,
        step: Step,
    },
}

/// Where the head of a careful partition (its group, or its one record) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Its delivery is to be counted in a commit.
    Next,
    /// The commit with its count is on its way.
    Counting,
    /// Delivered (or handed over as crashed), not yet resolved.
    OnTrial,
}

/// Records of a careful partition that go together, counted in one commit.
pub(super) const GROUP: usize = 32;

/// A marker reaches this many windows past what was fetched, and is renewed once fewer than
/// [`RENEW`] are left: the next is confirmed before deliveries reach the last unless a
/// commit's round trip outlasts that many windows of records. A crash makes the next owner
/// go carefully up to the marker, so a farther one costs more after a crash.
pub(super) const HORIZON: i64 = 4;
pub(super) const RENEW: i64 = 2;

impl Guard {
    pub(super) fn new(assignment: u64) -> Self {
        Guard {
            assignment,
            mode: Mode::Unknown,
            held: VecDeque::new(),
            base: None,
            marker: None,
            pending: false,
            in_commit: false,
            confirmed_until: None,
        }
    }

    pub(super) fn is_careful(&self) -> bool {
        matches!(self.mode, Mode::Careful { .. })
    }

    fn gate(&self, partition: &Partition, window: i64, alone: bool) -> Gate {
        let open_below = match (self.mode, self.confirmed_until) {
            (Mode::Normal, Some(until)) if self.held.is_empty() && !alone => until,
            _ => i64::MIN,
        };
        // The next marker is asked for before the fetch nears the last one asked for.
        let asked = match self.marker {
            Some(m) if m.deliveries.is_none() => m.until,
            _ => open_below,
        };
        Gate {
            partition: partition.clone(),
            open_below,
            extend_at: asked.saturating_sub(RENEW * window),
        }
    }
}

impl Guards {
    pub(super) fn new(enabled: bool) -> Self {
        Guards {
            enabled,
            ..Guards::default()
        }
    }

    /// Whether a fetched record may be delivered at once; `false` holds it.
    pub(super) fn admits(&mut self, record: &Record, window: i64) -> bool {
        if !self.enabled {
            return true;
        }
        let same = |g: &Gate| {
            g.partition.1 == record.partition() && Arc::ptr_eq(&g.partition.0, record.topic_arc())
        };
        if !self.last.as_ref().is_some_and(same) {
            let key = (record.topic_arc().clone(), record.partition());
            let alone = self.alone.is_some();
            // A partition with no guard (released meanwhile): its record is discarded later.
            self.last = Some(match self.parts.get(&key) {
                Some(guard) => guard.gate(&key, window, alone),
                None => Gate {
                    partition: key,
                    open_below: i64::MAX,
                    extend_at: i64::MAX,
                },
            });
        }
        let gate = self.last.as_mut().expect("just set");
        let offset = record.offset();
        let open = offset < gate.open_below;
        if offset >= gate.extend_at {
            gate.extend_at = i64::MAX;
            let partition = gate.partition.clone();
            self.mark_dirty(&partition);
        }
        open
    }

    pub(super) fn forget_last(&mut self) {
        self.last = None;
    }

    pub(super) fn mark_dirty(&mut self, partition: &Partition) {
        if !self.dirty.contains(partition) {
            self.dirty.push(partition.clone());
        }
    }

    fn mark_all_dirty(&mut self) {
        self.forget_last();
        let all: Vec<Partition> = self.parts.keys().cloned().collect();
        for p in all {
            self.mark_dirty(&p);
        }
    }

    /// Held records of `partition`, which a revocation need not wait for.
    pub(super) fn held_in(&self, partition: &Partition) -> usize {
        self.parts.get(partition).map_or(0, |g| g.held.len())
    }

    /// Held records of every partition.
    pub(super) fn held(&self) -> usize {
        self.parts.values().map(|g| g.held.len()).sum()
    }

    /// Whether a guard has a marker to commit that no commit carries yet.
    pub(super) fn wants_commit(&self) -> bool {
        self.parts.values().any(|g| g.pending && !g.in_commit)
    }

    /// Whether `partition`'s commits carry a marker, which its release must clear.
    pub(super) fn has_marker(&self, partition: &Partition) -> bool {
        self.parts
            .get(partition)
            .is_some_and(|g| g.marker.is_some())
    }

    /// A record was accepted: a careful partition may go on with its next.
    pub(super) fn careful_changed(&mut self) {
        let careful: Vec<Partition> = self
            .parts
            .iter()
            .filter(|(_, g)| g.is_careful())
            .map(|(p, _)| p.clone())
            .collect();
        for p in careful {
            self.mark_dirty(&p);
        }
    }

    /// `partition` goes alone from now: every other waits.
    pub(super) fn go_alone(&mut self, partition: &Partition) {
        self.alone = Some(partition.clone());
        self.mark_all_dirty();
    }

    /// `partition` no longer goes alone (its record resolved, or it went away).
    pub(super) fn end_alone(&mut self, partition: &Partition) {
        if self.alone.as_ref() == Some(partition) {
            self.alone = None;
            self.mark_all_dirty();
        }
    }
}
