//! The pipeline's side of the crash-loop guard ([`crate::crash_marker`]): records held
//! until a committed marker covers them, one record at a time after a crash, and the
//! marker every commit of a guarded partition carries.
//!
//! A partition's guard starts *unknown* at its assignment: its records are held (tracked,
//! their clocks not started) until the driver reports the committed offset and its
//! metadata ([`Pipeline::handle_committed_state`]). Then:
//! - **Normal**: records below the confirmed marker are delivered as they come. Half a
//!   window before the marker, a commit carries one a window past what was fetched; a
//!   record past the confirmed marker waits until that commit is confirmed.
//! - **Careful**, when the metadata showed a marker past the committed offset (a process
//!   died with records of it in flight): one record at a time, up to the marker, and one
//!   in the whole consumer: a process that dies then died on that record, whatever the
//!   partition. Meanwhile the other partitions wait. Each is
//!   taken to have been delivered once already (to the process that died), unless the
//!   marker counts more. Before each, a commit of its offset with its delivery count, this
//!   delivery included; it is delivered once that is confirmed, and the next once it is
//!   handed over. A record whose count has reached `max_deliveries` goes to the
//!   NoAckedActor as crashed, undelivered: it was delivered that many times, as with
//!   Kafka's share groups' delivery count.
//!
//! Releasing a partition (a revocation, a stop) commits it without a marker.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use log::{info, warn};

use super::{Outbound, Pipeline};
use crate::ack_book::{AckResult, CommitOffset, Partition, Token};
use crate::crash_marker::Marker;
use crate::outcome::NoAckReason;
use crate::record::Record;

/// Every guarded partition's guard.
#[derive(Default)]
pub(super) struct Guards {
    /// Off when `max_deliveries` is 0, and in a pipeline with no group (the rehearsal).
    pub(super) enabled: bool,
    parts: HashMap<Partition, Guard>,
    next_assignment: u64,
    /// Partitions whose guard may have something to do.
    dirty: Vec<Partition>,
    /// What `admits` last looked up: records come in runs of one partition.
    last: Option<Gate>,
    /// Partitions going one record at a time; while there are any, nothing else is
    /// delivered.
    careful: usize,
    /// The careful partition whose record is on trial, or whose marker is on its way.
    trial: Option<Partition>,
}

/// One partition's gate, as `admits` caches it.
struct Gate {
    partition: Partition,
    /// Records below this are delivered at once.
    open_below: i64,
    /// A record from here on asks for the marker to move on.
    extend_at: i64,
}

struct Guard {
    assignment: u64,
    mode: Mode,
    /// Tracked records not yet delivered (their clocks not started), in offset order.
    held: VecDeque<(Token, i64)>,
    /// Where a marker is committed before this assignment hands anything over: the committed
    /// offset, or the first offset fetched when nothing was committed.
    base: Option<i64>,
    /// The marker commits of this partition carry: the last one asked for.
    marker: Option<Marker>,
    /// `marker` is not yet confirmed by the broker.
    pending: bool,
    /// A commit carrying `marker` is on its way.
    in_commit: bool,
    /// The highest `until` of a confirmed marker, in normal mode.
    confirmed_until: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The committed metadata is not known yet: everything is held.
    Unknown,
    /// Records below the confirmed marker are delivered.
    Normal,
    /// After a crash, up to `until`: one record at a time.
    Careful {
        until: i64,
        /// Deliveries of the head record so far (at least the one to the process that
        /// died); once it is counted, the one to come included.
        deliveries: u32,
        step: Step,
    },
}

/// Where the head record of a careful partition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Its delivery is to be counted in a commit.
    Next,
    /// The commit with its count is on its way.
    Counting,
    /// Delivered (or handed over as crashed), not yet resolved.
    OnTrial,
}

impl Guard {
    fn gate(&self, partition: &Partition, window: i64, careful: bool) -> Gate {
        let open_below = match (self.mode, self.confirmed_until) {
            (Mode::Normal, Some(until)) if self.held.is_empty() && !careful => until,
            _ => i64::MIN,
        };
        Gate {
            partition: partition.clone(),
            open_below,
            extend_at: open_below.saturating_sub(window / 2),
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
            // A partition with no guard (released meanwhile): its record is discarded later.
            let careful = self.careful > 0;
            self.last = Some(match self.parts.get(&key) {
                Some(guard) => guard.gate(&key, window, careful),
                None => Gate {
                    partition: key,
                    open_below: i64::MAX,
                    extend_at: i64::MAX,
                },
            });
        }
        let gate = self.last.as_mut().expect("just set");
        let offset = record.offset();
        if offset >= gate.extend_at {
            gate.extend_at = i64::MAX;
            let partition = gate.partition.clone();
            self.mark_dirty(&partition);
        }
        offset < self.last.as_ref().map_or(i64::MAX, |g| g.open_below)
    }

    fn forget_last(&mut self) {
        self.last = None;
    }

    fn mark_dirty(&mut self, partition: &Partition) {
        if !self.dirty.contains(partition) {
            self.dirty.push(partition.clone());
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

    /// Partitions going one record at a time: each acceptance may let the next go.
    pub(super) fn careful_changed(&mut self) {
        if self.careful == 0 {
            return;
        }
        let careful: Vec<Partition> = self
            .parts
            .iter()
            .filter(|(_, g)| matches!(g.mode, Mode::Careful { .. }))
            .map(|(p, _)| p.clone())
            .collect();
        for p in careful {
            self.mark_dirty(&p);
        }
    }

    /// A careful partition went back to normal, or away: with none left, the others'
    /// records flow again.
    fn careful_ended(&mut self, partition: &Partition) {
        self.careful -= 1;
        if self.trial.as_ref() == Some(partition) {
            self.trial = None;
        }
        self.forget_last();
        let all: Vec<Partition> = self.parts.keys().cloned().collect();
        for p in all {
            self.mark_dirty(&p);
        }
    }

    /// Whether `partition`'s commits carry a marker, which its release must clear.
    pub(super) fn has_marker(&self, partition: &Partition) -> bool {
        self.parts
            .get(partition)
            .is_some_and(|g| g.marker.is_some())
    }
}

impl Pipeline {
    fn window(&self) -> i64 {
        self.config.max_in_flight.max(self.config.commit_every) as i64
    }

    /// Whether a fetched record may be delivered at once (the crash-loop guard may hold it).
    pub(super) fn admits(&mut self, record: &Record) -> bool {
        let window = self.window();
        self.guards.admits(record, window)
    }

    /// The group assigned these partitions: with the crash-loop guard on, their records are
    /// held until [`handle_committed_state`](Self::handle_committed_state) reports what
    /// their committed offsets say. Returns the assignment's number, for that report; `None`
    /// when the guard is off.
    pub fn handle_assigned(&mut self, partitions: &[Partition]) -> Option<u64> {
        if !self.guards.enabled {
            return None;
        }
        let assignment = self.guards.next_assignment;
        self.guards.next_assignment += 1;
        self.guards.forget_last();
        for partition in partitions {
            let guard = Guard {
                assignment,
                mode: Mode::Unknown,
                held: VecDeque::new(),
                base: None,
                marker: None,
                pending: false,
                in_commit: false,
                confirmed_until: None,
            };
            self.guards.parts.insert(partition.clone(), guard);
        }
        Some(assignment)
    }

    /// A partition's committed offset and its metadata, as the broker had them after
    /// assignment `assignment` (`None` metadata when they could not be read: the guard then
    /// starts afresh), and its high watermark then, if known. A marker past the committed
    /// offset means a process may have died delivering a record below it (and below the
    /// high watermark, since it died before now): those records are delivered one at a
    /// time.
    pub fn handle_committed_state(
        &mut self,
        partition: &Partition,
        assignment: u64,
        committed: Option<i64>,
        metadata: Option<&str>,
        high_watermark: Option<i64>,
    ) {
        let max = self.config.max_deliveries;
        let Some(guard) = self.guards.parts.get_mut(partition) else {
            return;
        };
        if guard.assignment != assignment || guard.mode != Mode::Unknown {
            return;
        }
        if committed.is_some() {
            guard.base = committed;
        }
        let marker = metadata.and_then(Marker::parse).map(|m| Marker {
            until: high_watermark.map_or(m.until, |high| m.until.min(high)),
            ..m
        });
        guard.mode = match (marker, committed) {
            (Some(m), Some(c)) if m.until > c => {
                let deliveries = m.deliveries.unwrap_or(1);
                warn!(
                    "{}/{}: its committed offset {c} carries a crash marker up to {}: a consumer process may have died delivering a record in between, so they are delivered one at a time (the one at {c} was delivered {deliveries} time(s) already; at most {max})",
                    partition.0, partition.1, m.until
                );
                self.guards.careful += 1;
                Mode::Careful {
                    until: m.until,
                    deliveries,
                    step: Step::Next,
                }
            }
            _ => Mode::Normal,
        };
        self.guards.forget_last();
        self.guards.mark_dirty(partition);
    }

    /// Tracks a fetched record the guard holds: it waits, its clock not started. `false`
    /// for a refetch.
    pub(super) fn hold(&mut self, record: Record, now: Instant) -> bool {
        let partition = (record.topic_arc().clone(), record.partition());
        let offset = record.offset();
        let Some(token) = self.book.track_deferred(record, now) else {
            return false;
        };
        if let Some(guard) = self.guards.parts.get_mut(&partition) {
            guard.held.push_back((token, offset));
            guard.base.get_or_insert(offset);
        }
        // Its gate is closed now: later records of the partition wait behind it.
        self.guards.forget_last();
        self.guards.mark_dirty(&partition);
        true
    }

    /// Partitions held back while others go one record at a time after a crash: their
    /// fetching should pause, and the records they hold already are not in flight in the
    /// in-flight limit's sense (see [`held_back_records`](Self::held_back_records)).
    pub fn held_back(&self) -> Vec<Partition> {
        if self.guards.careful == 0 {
            return Vec::new();
        }
        let waiting = self.guards.parts.iter();
        let waiting = waiting.filter(|(_, g)| !matches!(g.mode, Mode::Careful { .. }));
        let mut held_back: Vec<Partition> = waiting.map(|(p, _)| p.clone()).collect();
        held_back.sort();
        held_back
    }

    /// Records the held-back partitions hold: they wait for the careful ones, and counted
    /// in flight they could take the room the careful ones need to be fetched at all.
    pub fn held_back_records(&self) -> usize {
        if self.guards.careful == 0 {
            return 0;
        }
        let waiting = self.guards.parts.values();
        let waiting = waiting.filter(|g| !matches!(g.mode, Mode::Careful { .. }));
        waiting.map(|g| g.held.len()).sum()
    }

    /// Whether the guard wants a commit now: a marker no commit carries yet.
    pub fn guard_wants_commit(&self) -> bool {
        self.guards.wants_commit()
    }

    /// Does what the guards of partitions that changed can do now: deliver held records a
    /// confirmed marker covers, ask for a marker, go on one record at a time. The driver
    /// calls it before it takes the records to deliver.
    pub fn poll_guards(&mut self, now: Instant) {
        while !self.guards.dirty.is_empty() {
            for partition in std::mem::take(&mut self.guards.dirty) {
                self.poll_guard(&partition, now);
            }
        }
    }

    fn poll_guard(&mut self, partition: &Partition, now: Instant) {
        let window = self.window();
        let max = self.config.max_deliveries;
        let book = self.book.partition(&partition.0, partition.1);
        let fetched_end = book.and_then(|b| b.last_offset()).map(|o| o + 1);
        // Nothing delivered is unanswered anywhere in the consumer: only held records wait.
        let idle = self.book.unresolved() == self.guards.held();
        let careful = self.guards.careful > 0;
        let trial_elsewhere = self.guards.trial.as_ref().is_some_and(|t| t != partition);
        let Some(guard) = self.guards.parts.get_mut(partition) else {
            return;
        };
        self.guards.last = None;
        match guard.mode {
            Mode::Unknown => {}
            Mode::Normal => {
                let below = match careful {
                    true => i64::MIN,
                    false => guard.confirmed_until.unwrap_or(i64::MIN),
                };
                let mut release = Vec::new();
                while let Some(&(token, offset)) = guard.held.front() {
                    if offset >= below {
                        break;
                    }
                    guard.held.pop_front();
                    release.push(token);
                }
                // Ahead of what was fetched by a window, asked for half a window early.
                let extend = match (guard.marker, fetched_end) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(m), Some(end)) => end.saturating_add(window / 2) > m.until,
                };
                if extend && !guard.in_commit {
                    let end = fetched_end.unwrap_or_default();
                    guard.marker = Some(Marker {
                        until: end.saturating_add(window),
                        deliveries: None,
                    });
                    guard.pending = true;
                }
                for token in release {
                    self.release_held(token, now);
                }
            }
            Mode::Careful {
                until,
                deliveries,
                step,
            } => {
                // One record in the whole consumer at a time, so that a death is its own.
                if trial_elsewhere || !idle {
                    return;
                }
                let Some(&(token, head)) = guard.held.front() else {
                    // Every record below the marker was fetched and resolved (a trailing
                    // transaction marker may take the last offset before it).
                    if fetched_end.is_some_and(|end| end >= until - 1) {
                        info!(
                            "{}/{}: every record below the crash marker at {until} is resolved: records flow again",
                            partition.0, partition.1
                        );
                        guard.mode = Mode::Normal;
                        guard.marker = None;
                        guard.pending = false;
                        self.guards.careful_ended(partition);
                    } else if step == Step::OnTrial {
                        guard.mode = Mode::Careful {
                            until,
                            deliveries: 1,
                            step: Step::Next,
                        };
                        self.guards.trial = None;
                        self.guards.careful_changed();
                    }
                    return;
                };
                match step {
                    Step::OnTrial => {
                        // Resolved. The next may have been delivered to the process that died.
                        guard.mode = Mode::Careful {
                            until,
                            deliveries: 1,
                            step: Step::Next,
                        };
                        guard.marker = Some(Marker {
                            until,
                            deliveries: Some(1),
                        });
                        self.guards.trial = None;
                        self.guards.careful_changed();
                    }
                    Step::Next if head >= until => {
                        info!(
                            "{}/{}: past the crash marker at {until}: records flow again",
                            partition.0, partition.1
                        );
                        guard.mode = Mode::Normal;
                        guard.marker = None;
                        guard.pending = false;
                        self.guards.careful_ended(partition);
                    }
                    Step::Next if deliveries >= max => {
                        guard.held.pop_front();
                        guard.mode = Mode::Careful {
                            until,
                            deliveries,
                            step: Step::OnTrial,
                        };
                        self.guards.trial = Some(partition.clone());
                        self.crashed(token, deliveries);
                    }
                    Step::Next => {
                        // Counted before it is delivered: a process that dies on it leaves
                        // the count raised. Committed at its offset: all before it is
                        // handed over.
                        guard.base = Some(head);
                        guard.mode = Mode::Careful {
                            until,
                            deliveries: deliveries + 1,
                            step: Step::Counting,
                        };
                        guard.marker = Some(Marker {
                            until,
                            deliveries: Some(deliveries + 1),
                        });
                        guard.pending = true;
                        self.guards.trial = Some(partition.clone());
                    }
                    Step::Counting if !guard.pending => {
                        guard.held.pop_front();
                        guard.mode = Mode::Careful {
                            until,
                            deliveries,
                            step: Step::OnTrial,
                        };
                        self.release_held(token, now);
                    }
                    Step::Counting => {}
                }
            }
        }
    }

    /// A held record goes to the downstream (or behind its key), its clock started now.
    fn release_held(&mut self, token: Token, now: Instant) {
        let Some((record, _)) = self.book.waiting(token) else {
            return;
        };
        let record = record.clone();
        if self.config.key_ordering && self.keys.busy(&record) {
            self.keys.push(token, record);
            return;
        }
        let timeout = self.own_timeout(&record).unwrap_or(self.config.ack_timeout);
        let deadline = self.clock.at(now) + timeout;
        if self.book.start_deadline(token, deadline) {
            if self.config.key_ordering {
                self.keys.start(&record);
            }
            self.outbound.push(Outbound {
                token,
                record,
                deadline: self.clock.real(deadline),
            });
        }
    }

    /// A record delivered `deliveries` times, each time to a process that died: it goes to
    /// the NoAckedActor without a delivery.
    fn crashed(&mut self, token: Token, deliveries: u32) {
        if let AckResult::Routed(record) = self.book.route(token) {
            warn!(
                "{record}: consumer processes died in each of its last {deliveries} deliveries: it goes to the no-acked actor undelivered"
            );
            self.counters.crashed += 1;
            self.route_no_acked(token, record, NoAckReason::Crashed { deliveries });
        }
    }

    /// The last commit of a partition this member lets go (a revocation, a stop), with
    /// `committable` its book's offset: without a marker, since nothing died; or, while it
    /// went one record at a time, with the marker of the record on its way, so that the
    /// next owner goes on from there. Forgets its guard.
    pub(super) fn releasing(
        &mut self,
        partition: &Partition,
        committable: Option<i64>,
    ) -> Option<CommitOffset> {
        self.guards.forget_last();
        self.guards.dirty.retain(|p| p != partition);
        let guard = self.guards.parts.remove(partition);
        if guard
            .as_ref()
            .is_some_and(|g| matches!(g.mode, Mode::Careful { .. }))
        {
            self.guards.careful_ended(partition);
        }
        let (offset, marker) = match guard {
            None => (committable, None),
            Some(guard) => match guard.mode {
                Mode::Careful {
                    until, deliveries, ..
                } if deliveries > 0 => {
                    let at = committable.max(guard.base);
                    let marker = Marker {
                        until,
                        deliveries: Some(deliveries),
                    };
                    (at, Some(marker))
                }
                // A marker committed must be cleared, at the offset it was committed with.
                _ => (committable.or(guard.marker.and(guard.base)), None),
            },
        };
        Some(CommitOffset {
            topic: partition.0.clone(),
            partition: partition.1,
            offset: offset?,
            marker,
        })
    }

    /// Puts each guarded partition's marker on `offsets`, and adds a commit for each guard
    /// whose new marker no commit carries yet.
    pub(super) fn attach_markers(&mut self, offsets: &mut Vec<CommitOffset>) {
        if !self.guards.enabled {
            return;
        }
        let book = &self.book;
        for (partition, guard) in &mut self.guards.parts {
            let Some(marker) = guard.marker else { continue };
            let careful = matches!(guard.mode, Mode::Careful { .. });
            let same = |c: &&mut CommitOffset| c.partition == partition.1 && c.topic == partition.0;
            match offsets.iter_mut().find(same) {
                Some(c) => {
                    c.marker = Some(marker);
                    if careful {
                        // Everything below the record on its way is handed over.
                        c.offset = c.offset.max(guard.base.unwrap_or(c.offset));
                    }
                }
                None if guard.pending && !guard.in_commit => {
                    let committable = book.partition(&partition.0, partition.1);
                    let committable = committable.and_then(|b| b.committable());
                    let offset = match careful {
                        true => guard.base,
                        false => committable.or(guard.base),
                    };
                    let Some(offset) = offset else { continue };
                    offsets.push(CommitOffset {
                        topic: partition.0.clone(),
                        partition: partition.1,
                        offset,
                        marker: Some(marker),
                    });
                }
                None => continue,
            }
            guard.in_commit |= guard.pending;
        }
    }

    /// The broker confirmed (or refused) commits: their markers may let held records go, or
    /// are asked for again.
    pub(super) fn markers_answered(&mut self, offsets: &[CommitOffset], confirmed: bool) {
        for c in offsets {
            let Some(marker) = c.marker else { continue };
            let key = (c.topic.clone(), c.partition);
            let Some(guard) = self.guards.parts.get_mut(&key) else {
                continue;
            };
            if guard.marker == Some(marker) {
                guard.in_commit = false;
                guard.pending &= !confirmed;
            }
            if confirmed && marker.deliveries.is_none() && guard.mode == Mode::Normal {
                let until = guard
                    .confirmed_until
                    .map_or(marker.until, |u| u.max(marker.until));
                guard.confirmed_until = Some(until);
            }
            self.guards.mark_dirty(&key);
        }
        self.guards.forget_last();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::outcome::Verdict;
    use crate::record::keyed_record as record;
    use crate::{CommitPlan, ConsumerConfig, HandOver};

    fn pipeline() -> Pipeline {
        let config = ConsumerConfig::new("b", "g")
            .ack_timeout(Duration::from_secs(3))
            .max_in_flight(10)
            .commit_every(10);
        Pipeline::new(&config)
    }

    fn partition() -> Partition {
        (Arc::from("t"), 0)
    }

    fn fetch(p: &mut Pipeline, offsets: std::ops::Range<i64>, now: Instant) -> Vec<i64> {
        p.handle_fetched(offsets.map(|o| record(0, o, None)).collect(), now);
        p.poll_guards(now);
        p.poll_outbound()
            .iter()
            .map(|o| o.record.offset())
            .collect()
    }

    fn commit(p: &mut Pipeline) -> Vec<CommitOffset> {
        match p.take_commit() {
            Some(CommitPlan::Offsets(offsets)) => offsets,
            other => panic!("expected offsets, got {other:?}"),
        }
    }

    fn marker(until: i64, deliveries: Option<u32>) -> Option<Marker> {
        Some(Marker { until, deliveries })
    }

    /// Acks and hands over every record delivered so far.
    fn resolve(p: &mut Pipeline, delivered: &[Outbound], now: Instant) {
        for o in delivered {
            p.handle_answer(o.token, Verdict::Ack, now);
        }
        while let Some(batch) = p.poll_handover() {
            p.handle_accepted(&batch);
        }
    }

    #[test]
    fn records_wait_for_a_marker_that_covers_them_then_flow_until_half_a_window_before_it() {
        let (mut p, t0) = (pipeline(), Instant::now());
        let assignment = p.handle_assigned(&[partition()]).unwrap();
        assert!(fetch(&mut p, 100..103, t0).is_empty(), "unknown: held");
        p.handle_committed_state(&partition(), assignment, Some(100), None, None);
        assert!(fetch(&mut p, 103..104, t0).is_empty(), "no marker yet");
        assert!(p.guard_wants_commit());
        let offsets = commit(&mut p);
        assert_eq!(offsets.len(), 1);
        assert_eq!(
            (offsets[0].offset, offsets[0].marker),
            (100, marker(114, None))
        );
        assert!(!p.guard_wants_commit(), "on its way");
        p.handle_committed(&offsets);
        p.poll_guards(t0);
        let released: Vec<i64> = p
            .poll_outbound()
            .iter()
            .map(|o| o.record.offset())
            .collect();
        assert_eq!(released, [100, 101, 102, 103], "in offset order");
        // Below the marker, records are delivered as they come; half a window before it,
        // the next marker is asked for.
        assert_eq!(fetch(&mut p, 104..109, t0), [104, 105, 106, 107, 108]);
        assert!(!p.guard_wants_commit());
        assert_eq!(fetch(&mut p, 109..110, t0), [109]);
        assert!(p.guard_wants_commit());
        assert_eq!(commit(&mut p)[0].marker, marker(120, None));
    }

    #[test]
    fn after_a_crash_records_go_one_at_a_time_each_counted_before_it_is_delivered() {
        let (mut p, t0) = (pipeline(), Instant::now());
        let assignment = p.handle_assigned(&[partition()]).unwrap();
        p.handle_committed_state(
            &partition(),
            assignment,
            Some(100),
            Some("gig1 h=102"),
            None,
        );
        assert!(fetch(&mut p, 100..104, t0).is_empty());
        let offsets = commit(&mut p);
        assert_eq!(
            (offsets[0].offset, offsets[0].marker),
            (100, marker(102, Some(2)))
        );
        p.handle_committed(&offsets);
        p.poll_guards(t0);
        let first = p.poll_outbound();
        assert_eq!(
            first.iter().map(|o| o.record.offset()).collect::<Vec<_>>(),
            [100]
        );
        p.poll_guards(t0);
        assert!(p.poll_outbound().is_empty(), "one at a time");
        resolve(&mut p, &first, t0);
        p.poll_guards(t0);
        let offsets = commit(&mut p);
        assert_eq!(
            (offsets[0].offset, offsets[0].marker),
            (101, marker(102, Some(2)))
        );
        p.handle_committed(&offsets);
        p.poll_guards(t0);
        let second = p.poll_outbound();
        assert_eq!(
            second.iter().map(|o| o.record.offset()).collect::<Vec<_>>(),
            [101]
        );
        resolve(&mut p, &second, t0);
        // Past the marker: a normal marker, then the rest flows.
        p.poll_guards(t0);
        let offsets = commit(&mut p);
        assert_eq!(
            (offsets[0].offset, offsets[0].marker),
            (102, marker(114, None))
        );
        p.handle_committed(&offsets);
        p.poll_guards(t0);
        let rest: Vec<i64> = p
            .poll_outbound()
            .iter()
            .map(|o| o.record.offset())
            .collect();
        assert_eq!(rest, [102, 103]);
    }

    #[test]
    fn a_record_processes_died_on_max_deliveries_times_goes_to_no_acked_as_crashed() {
        let (mut p, t0) = (pipeline(), Instant::now());
        let assignment = p.handle_assigned(&[partition()]).unwrap();
        p.handle_committed_state(
            &partition(),
            assignment,
            Some(7),
            Some("gig1 h=9 n=5"),
            None,
        );
        assert!(fetch(&mut p, 7..9, t0).is_empty(), "never delivered again");
        let batch = p.poll_handover().unwrap();
        let HandOver::NoAcked(_, records) = &batch else {
            panic!("a no-acked hand-over: {batch:?}");
        };
        assert_eq!(records[0].record.offset(), 7);
        assert_eq!(records[0].reason, NoAckReason::Crashed { deliveries: 5 });
        assert_eq!(p.counters().crashed, 1);
        p.handle_accepted(&batch);
        p.poll_guards(t0);
        let offsets = commit(&mut p);
        assert_eq!(
            (offsets[0].offset, offsets[0].marker),
            (8, marker(9, Some(2)))
        );
    }

    #[test]
    fn a_released_partition_is_committed_without_its_marker() {
        let (mut p, t0) = (pipeline(), Instant::now());
        let assignment = p.handle_assigned(&[partition()]).unwrap();
        p.handle_committed_state(&partition(), assignment, Some(50), None, None);
        fetch(&mut p, 50..52, t0);
        let offsets = commit(&mut p);
        p.handle_committed(&offsets);
        p.poll_guards(t0);
        assert_eq!(p.poll_outbound().len(), 2);
        let id = p.handle_revoking(vec![partition()], t0);
        let (released, plan) = p.poll_released(t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(released, id);
        let offsets = plan.offsets().to_vec();
        assert_eq!(offsets.len(), 1);
        assert_eq!(
            (offsets[0].offset, offsets[0].marker),
            (50, None),
            "cleared where it was"
        );
    }

    #[test]
    fn while_a_partition_goes_carefully_one_record_is_out_in_the_whole_consumer() {
        let (mut p, t0) = (pipeline(), Instant::now());
        let (a, b, c) = (
            (Arc::from("t"), 0),
            (Arc::from("t"), 1),
            (Arc::from("t"), 2),
        );
        let assignment = p
            .handle_assigned(&[a.clone(), b.clone(), c.clone()])
            .unwrap();
        p.handle_committed_state(&a, assignment, Some(0), Some("gig1 h=2"), None);
        p.handle_committed_state(&b, assignment, Some(0), Some("gig1 h=2"), None);
        p.handle_committed_state(&c, assignment, Some(0), None, None);
        let records = (0..2).flat_map(|o| (0..3).map(move |part| record(part, o, None)));
        p.handle_fetched(records.collect(), t0);
        let mut order = Vec::new();
        for _ in 0..4 {
            p.poll_guards(t0);
            let offsets = commit(&mut p);
            p.handle_committed(&offsets);
            p.poll_guards(t0);
            let out = p.poll_outbound();
            assert_eq!(out.len(), 1, "one record at a time: {out:?}");
            order.push((out[0].record.partition(), out[0].record.offset()));
            resolve(&mut p, &out, t0);
        }
        order.sort();
        assert_eq!(order, [(0, 0), (0, 1), (1, 0), (1, 1)]);
        // Both past their markers: the third partition's records flow.
        p.poll_guards(t0);
        let offsets = commit(&mut p);
        p.handle_committed(&offsets);
        p.poll_guards(t0);
        let rest: Vec<(i32, i64)> = p
            .poll_outbound()
            .iter()
            .map(|o| (o.record.partition(), o.record.offset()))
            .collect();
        assert!(rest.contains(&(2, 0)) && rest.contains(&(2, 1)), "{rest:?}");
    }

    #[test]
    fn with_max_deliveries_0_there_is_no_guard() {
        let config = ConsumerConfig::new("b", "g").max_deliveries(0);
        let mut p = Pipeline::new(&config);
        assert_eq!(p.handle_assigned(&[partition()]), None);
        assert_eq!(fetch(&mut p, 0..2, Instant::now()), [0, 1]);
        assert!(!p.guard_wants_commit());
    }
}
