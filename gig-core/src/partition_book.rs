//! The ledger of one partition: each tracked record's state and deadline, and the commit
//! watermark that never passes a record whose outcome is not yet accepted.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use crate::chunked_deque::ChunkedDeque;
use crate::record::Record;

/// Where a tracked record is on its way to an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordState {
    /// Delivered to the downstream; waiting for an ack, a nack or the deadline.
    Waiting,
    /// Routed to the Acked or NoAcked actor; not yet accepted there.
    Routed,
    /// Accepted by the Acked or NoAcked actor: its offset may be committed.
    HandedOver,
}

#[derive(Debug)]
struct Entry {
    offset: i64,
    deadline: Instant,
    // Held only while waiting, so the timeout path can hand the record over.
    record: Option<Record>,
    state: RecordState,
    // Tracked with its own timeout: expired from `custom`, skipped by the cursor.
    custom: bool,
}

/// One partition's tracked records, in offset order.
///
/// Records are addressed by a sequence number that grows by one per tracked record, so a
/// lookup is an index into a chunked deque, not a search. Every record of a partition gets the
/// same timeout and arrives in offset order, so arrival order is deadline order: the next
/// deadline is that of the first waiting record, found by a cursor that only moves forward.
/// The few records with a timeout of their own (a header override) sit in a heap instead,
/// so they cost O(log n) and everyone else still O(1).
#[derive(Debug)]
pub(crate) struct PartitionBook {
    topic: Arc<str>,
    partition: i32,
    head_seq: u64,
    entries: ChunkedDeque<Entry>,
    // Every default-deadline entry with a smaller seq is no longer waiting.
    expiry_cursor: u64,
    // (deadline, seq) of records with a custom deadline; resolved ones are dropped lazily.
    custom: BinaryHeap<Reverse<(Instant, u64)>>,
    unresolved: usize,
    // The first offset tracked in this assignment: where a rewind goes back to before the
    // first commit.
    first_offset: Option<i64>,
    last_offset: Option<i64>,
    // The next offset to commit: one past the longest handed-over prefix.
    committable: Option<i64>,
    commit_requested: Option<i64>,
    commit_confirmed: Option<i64>,
}

impl PartitionBook {
    /// An empty book for one partition.
    pub fn new(topic: Arc<str>, partition: i32) -> Self {
        PartitionBook {
            topic,
            partition,
            head_seq: 0,
            entries: ChunkedDeque::default(),
            expiry_cursor: 0,
            custom: BinaryHeap::new(),
            unresolved: 0,
            first_offset: None,
            last_offset: None,
            committable: None,
            commit_requested: None,
            commit_confirmed: None,
        }
    }

    /// The topic of this partition, shared with its records.
    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    /// The partition's number within its topic.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Starts tracking a record with the partition's default timeout; returns its sequence
    /// number, or `None` when its offset is not past the last tracked one (a refetch): such
    /// a record is never delivered twice. Default deadlines must not decrease.
    pub fn track(&mut self, record: Record, deadline: Instant) -> Option<u64> {
        self.track_entry(record, deadline, false)
    }

    /// Like [`track`](Self::track), for a record with a timeout of its own: its deadline
    /// may be before or after those of the records around it.
    pub fn track_custom(&mut self, record: Record, deadline: Instant) -> Option<u64> {
        let seq = self.track_entry(record, deadline, true)?;
        self.custom.push(Reverse((deadline, seq)));
        Some(seq)
    }

    /// Tracks a record whose clock has not started: it holds the commit watermark but
    /// cannot time out until [`start_deadline`](Self::start_deadline) (for a record queued
    /// behind another of its key). `now` stands in for its deadline, unread until then (a
    /// time passed in rather than read here: no clock read per record).
    pub fn track_deferred(&mut self, record: Record, now: Instant) -> Option<u64> {
        self.track_entry(record, now, true)
    }

    /// Starts the clock of a deferred record. Returns `false` if it is no longer waiting.
    pub fn start_deadline(&mut self, seq: u64, deadline: Instant) -> bool {
        match self.entry_mut(seq) {
            Some(entry) if entry.state == RecordState::Waiting && entry.custom => {
                entry.deadline = deadline;
                self.custom.push(Reverse((deadline, seq)));
                true
            }
            _ => false,
        }
    }

    fn track_entry(&mut self, record: Record, deadline: Instant, custom: bool) -> Option<u64> {
        let offset = record.offset();
        if self.last_offset.is_some_and(|last| offset <= last) {
            return None;
        }
        self.first_offset.get_or_insert(offset);
        self.last_offset = Some(offset);
        let seq = self.head_seq + self.entries.len() as u64;
        self.entries.push_back(Entry {
            offset,
            deadline,
            record: Some(record),
            state: RecordState::Waiting,
            custom,
        });
        self.unresolved += 1;
        Some(seq)
    }

    fn entry_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let index = seq.checked_sub(self.head_seq)?;
        self.entries.get_mut(usize::try_from(index).ok()?)
    }

    /// The highest offset tracked in this assignment.
    pub fn last_offset(&self) -> Option<i64> {
        self.last_offset
    }

    /// The offset of a tracked record; `None` once it is committable and forgotten.
    pub fn offset_of(&self, seq: u64) -> Option<i64> {
        let index = usize::try_from(seq.checked_sub(self.head_seq)?).ok()?;
        self.entries.get(index).map(|e| e.offset)
    }

    /// Where this assignment would be read again from: the last committed offset, or the
    /// first offset tracked before any commit.
    pub fn restart_offset(&self) -> Option<i64> {
        self.commit_confirmed.or(self.first_offset)
    }

    /// The state of a tracked record; `None` once it is committable and forgotten.
    pub fn state(&self, seq: u64) -> Option<RecordState> {
        let index = usize::try_from(seq.checked_sub(self.head_seq)?).ok()?;
        self.entries.get(index).map(|e| e.state)
    }

    /// A record still waiting for its answer, with its deadline; `None` otherwise.
    pub fn waiting(&self, seq: u64) -> Option<(&Record, Instant)> {
        let index = usize::try_from(seq.checked_sub(self.head_seq)?).ok()?;
        let entry = self.entries.get(index)?;
        let record = entry.record.as_ref()?;
        (entry.state == RecordState::Waiting).then_some((record, entry.deadline))
    }

    /// Routes a waiting record to an outcome and gives it back for the hand-over;
    /// `None` if it is no longer waiting (already acked, nacked or timed out).
    pub fn route(&mut self, seq: u64) -> Option<Record> {
        let entry = self.entry_mut(seq)?;
        if entry.state != RecordState::Waiting {
            return None;
        }
        entry.state = RecordState::Routed;
        entry.record.take()
    }

    fn advance_expiry_cursor(&mut self) {
        self.expiry_cursor = self.expiry_cursor.max(self.head_seq);
        while let Some(entry) = self
            .entries
            .get((self.expiry_cursor - self.head_seq) as usize)
        {
            if entry.state == RecordState::Waiting && !entry.custom {
                break;
            }
            self.expiry_cursor += 1;
        }
    }

    /// Drops heap entries of custom-deadline records that are no longer waiting.
    fn drop_resolved_custom(&mut self) {
        while let Some(&Reverse((_, seq))) = self.custom.peek() {
            if self.state(seq) == Some(RecordState::Waiting) {
                break;
            }
            self.custom.pop();
        }
    }

    /// The earliest deadline among waiting records.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.advance_expiry_cursor();
        self.drop_resolved_custom();
        let default = self
            .entries
            .get((self.expiry_cursor - self.head_seq) as usize)
            .map(|e| e.deadline);
        let custom = self.custom.peek().map(|Reverse((deadline, _))| *deadline);
        default.into_iter().chain(custom).min()
    }

    /// Routes every waiting record whose deadline is at or before `now`; appends each
    /// `(seq, record, deadline)` to `expired`.
    pub fn expire(&mut self, now: Instant, expired: &mut Vec<(u64, Record, Instant)>) {
        loop {
            self.advance_expiry_cursor();
            let seq = self.expiry_cursor;
            match self.entries.get_mut((seq - self.head_seq) as usize) {
                Some(entry) if entry.deadline <= now => {
                    entry.state = RecordState::Routed;
                    if let Some(record) = entry.record.take() {
                        expired.push((seq, record, entry.deadline));
                    }
                }
                _ => break,
            }
        }
        loop {
            self.drop_resolved_custom();
            match self.custom.peek() {
                Some(&Reverse((deadline, seq))) if deadline <= now => {
                    self.custom.pop();
                    if let Some(record) = self.route(seq) {
                        expired.push((seq, record, deadline));
                    }
                }
                _ => return,
            }
        }
    }

    /// Records that the outcome actor accepted a routed record. Returns `true` when this
    /// moved the commit watermark.
    pub fn handed_over(&mut self, seq: u64) -> bool {
        match self.entry_mut(seq) {
            Some(entry) if entry.state == RecordState::Routed => {
                entry.state = RecordState::HandedOver;
            }
            _ => return false,
        }
        self.unresolved -= 1;
        let mut moved = false;
        while let Some(front) = self.entries.front() {
            if front.state != RecordState::HandedOver {
                break;
            }
            self.committable = Some(front.offset + 1);
            self.entries.pop_front();
            self.head_seq += 1;
            moved = true;
        }
        moved
    }

    /// Records not yet handed over (waiting or routed).
    pub fn unresolved(&self) -> usize {
        self.unresolved
    }

    /// Records held in the book: unresolved ones and handed-over ones behind an unresolved
    /// one, which wait there for the watermark to pass them.
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    /// The next offset to commit: one past the longest prefix of handed-over records.
    pub fn committable(&self) -> Option<i64> {
        self.committable
    }

    /// Offsets handed over (the committable prefix) past the last confirmed commit, or past
    /// the first offset tracked before any commit.
    pub fn unconfirmed(&self) -> u64 {
        match (self.committable, self.restart_offset()) {
            (Some(committable), Some(base)) => committable.saturating_sub(base).max(0) as u64,
            _ => 0,
        }
    }

    /// The last offset whose commit the broker confirmed.
    pub fn committed(&self) -> Option<i64> {
        self.commit_confirmed
    }

    /// The committable offset if it is past what was last requested; marks it requested.
    pub fn take_commit(&mut self) -> Option<i64> {
        let offset = self.committable?;
        if self.commit_requested.is_some_and(|r| r >= offset) {
            return None;
        }
        self.commit_requested = Some(offset);
        Some(offset)
    }

    /// The broker confirmed a commit.
    pub fn commit_confirmed(&mut self, offset: i64) {
        if self.commit_confirmed.is_none_or(|c| c < offset) {
            self.commit_confirmed = Some(offset);
        }
    }

    /// A commit failed: forget the request so that the next commit round sends it again.
    pub fn commit_failed(&mut self, offset: i64) {
        if self.commit_requested == Some(offset) {
            self.commit_requested = self.commit_confirmed;
        }
    }
}

#[cfg(test)]
mod tests;
