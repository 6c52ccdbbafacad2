//! The pipeline's side of the crash-loop guard ([`crate::crash_marker`]): records held
//! until a committed marker covers them, one record at a time after a crash, and the
//! marker every commit of a guarded partition carries.
//!
//! A partition's guard starts *unknown* at its assignment: its records are held (tracked,
//! their clocks not started) until the driver reports the committed offset and its
//! metadata ([`Pipeline::handle_committed_state`]). Then:
//! - **Normal**: records below the confirmed marker are delivered as they come. A window
//!   before the marker, a commit carries one two windows past what was fetched, so the next
//!   marker is confirmed before the fetch reaches the last unless a commit's round trip
//!   outlasts a window of records; a record past the confirmed marker waits until it is.
//! - **Careful**, when the metadata showed a marker past the committed offset (a process
//!   died with records of it in flight): up to the marker (or the partition's end), the
//!   records go a group of [`GROUP`](super::guards::GROUP) at a time, each group taken to have been delivered once
//!   already (to the process that died), unless the marker counts more. Before a group is
//!   delivered, a commit of its first offset with its delivery count (this one included)
//!   and its end; the next group goes once it is all resolved. A process that dies leaves
//!   the count raised. A group counted `max_deliveries - 1` times goes one record at a time,
//!   each counted in its own commit. Careful partitions go on side by side, and the others
//!   flow, so a death may be counted against records that did not cause it; so a record's
//!   last delivery, the one that reaches `max_deliveries`, goes *alone* in the whole
//!   consumer, everything else held back: a process that dies then died on it. Once
//!   counted `max_deliveries` times, a record goes to the NoAckedActor as crashed,
//!   undelivered: it was delivered that many times, as with the delivery count of Kafka's
//!   share groups. A false alarm (a member that could not commit its release) costs a
//!   group's round trip per [`GROUP`](super::guards::GROUP) records.
//!
//! Releasing a partition (a revocation, a stop) commits it without a marker.

use std::sync::Arc;
use std::time::Instant;

use log::warn;

use super::guards::{Guard, Mode, Step, HORIZON, RENEW};
use super::{Outbound, Pipeline};
use crate::ack_book::{CommitOffset, Partition, Token};
use crate::crash_marker::Marker;
use crate::record::Record;

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
            self.guards
                .parts
                .insert(partition.clone(), Guard::new(assignment));
        }
        Some(assignment)
    }

    /// A partition's committed offset and its metadata, as the broker had them after
    /// assignment `assignment` (`None` metadata when they could not be read: the guard then
    /// starts afresh), and its high watermark then, if known. A marker past the committed
    /// offset means a process may have died delivering a record below it (and below the
    /// high watermark, since it died before now): those records go carefully.
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
                    "{}/{}: its committed offset {c} carries a crash marker up to {}: a consumer process may have died delivering a record in between, so they go carefully (the one at {c} was delivered {deliveries} time(s) already; at most {max})",
                    partition.0, partition.1, m.until
                );
                Mode::Careful {
                    until: m.until,
                    // Without a group in the marker, the first one starts at the head.
                    group_end: m.group_end.unwrap_or(i64::MIN),
                    deliveries,
                    singly: false,
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

    /// Partitions held back while a record goes alone: their fetching should pause, and
    /// the records they hold already are not in flight in the in-flight limit's sense (see
    /// [`held_back_records`](Self::held_back_records)).
    pub fn held_back(&self) -> Vec<Partition> {
        let Some(alone) = &self.guards.alone else {
            return Vec::new();
        };
        let mut held_back: Vec<Partition> = self
            .guards
            .parts
            .keys()
            .filter(|p| *p != alone)
            .cloned()
            .collect();
        held_back.sort();
        held_back
    }

    /// Records the held-back partitions hold: they wait for the one going alone, and
    /// counted in flight they could take the room it needs to be fetched at all.
    pub fn held_back_records(&self) -> usize {
        let Some(alone) = &self.guards.alone else {
            return 0;
        };
        let held_back = self.guards.parts.iter().filter(|(p, _)| *p != alone);
        held_back.map(|(_, g)| g.held.len()).sum()
    }

    /// Whether the guard wants a commit now: a marker no commit carries yet, and no failed
    /// commit's retry is due (that one will carry it, after its back-off).
    pub fn guard_wants_commit(&self) -> bool {
        self.commits.retry_at.is_none() && self.guards.wants_commit()
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
        let Some(mode) = self.guards.parts.get(partition).map(|g| g.mode) else {
            return;
        };
        self.guards.forget_last();
        match mode {
            Mode::Unknown => {}
            Mode::Normal => self.poll_normal(partition, now),
            Mode::Careful { .. } => self.poll_careful(partition, now),
        }
    }

    /// Releases held records the confirmed marker covers, and asks for the next marker
    /// a window before it, two windows past what was fetched.
    fn poll_normal(&mut self, partition: &Partition, now: Instant) {
        let window = self.window();
        let book = self.book.partition(&partition.0, partition.1);
        let fetched_end = book.and_then(|b| b.last_offset()).map(|o| o + 1);
        let alone = self.guards.alone.is_some();
        let Some(guard) = self.guards.parts.get_mut(partition) else {
            return;
        };
        let below = match alone {
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
        let extend = match (guard.marker, fetched_end) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(m), Some(end)) => end.saturating_add(RENEW * window) > m.until,
        };
        // Asked for even while the last one is on its way: a marker a round trip can hold
        // up would cap the rate at what a marker covers per round trip.
        if extend {
            let end = fetched_end.unwrap_or_default();
            guard.marker = Some(Marker {
                until: end.saturating_add(HORIZON * window),
                deliveries: None,
                group_end: None,
            });
            guard.pending = true;
            guard.in_commit = false;
        }
        for token in release {
            self.release_held(token, now);
        }
    }

    /// A held record goes to the downstream (or behind its key), its clock started now.
    pub(super) fn release_held(&mut self, token: Token, now: Instant) {
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

    /// The last commit of a partition this member lets go (a revocation, a stop), with
    /// `committable` its book's offset: without a marker, since nothing died; or, while it
    /// went carefully, with the marker of the record on its way, so that the next owner
    /// goes on from there. Forgets its guard.
    pub(super) fn releasing(
        &mut self,
        partition: &Partition,
        committable: Option<i64>,
    ) -> Option<CommitOffset> {
        self.guards.dirty.retain(|p| p != partition);
        self.guards.end_alone(partition);
        self.guards.forget_last();
        let guard = self.guards.parts.remove(partition);
        let (offset, marker) = match guard {
            None => (committable, None),
            Some(guard) => match (guard.mode, guard.marker) {
                // The next owner goes on carefully from the group on its way.
                (Mode::Careful { .. }, Some(marker)) if marker.deliveries.is_some() => {
                    (committable.max(guard.base), Some(marker))
                }
                // A marker committed must be cleared, at the offset it was committed with.
                (_, marker) => (committable.or(marker.and(guard.base)), None),
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
            let careful = guard.is_careful();
            let same = |c: &&mut CommitOffset| c.partition == partition.1 && c.topic == partition.0;
            match offsets.iter_mut().find(same) {
                Some(c) => {
                    c.marker = Some(marker);
                    if careful {
                        // Everything below the record on its way is resolved.
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
                        topic: Arc::clone(&partition.0),
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
