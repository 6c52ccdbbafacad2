//! Every partition one consumer tracks, and the counters that drive pausing and stats.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::crash_marker::Marker;
use crate::partition_book::PartitionBook;
use crate::record::Record;

/// Names one tracked record: which partition book (slot and epoch) and which entry in it.
///
/// The epoch changes each time a partition is (re)assigned, so an ack for a record of a
/// revoked partition can never touch the book of its next assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    slot: u32,
    epoch: u32,
    seq: u64,
}

/// What became of an ack or nack.
#[derive(Debug)]
pub(crate) enum AckResult {
    /// The record was waiting: it is now routed, and here for its hand-over.
    Routed(Record),
    /// The record had already been routed (timed out, or acked before): ignored.
    Late,
    /// The token names no tracked record (its partition was revoked): ignored.
    Unknown,
}

/// A partition: its topic and its number.
pub type Partition = (Arc<str>, i32);

/// One partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOffset {
    /// The topic of the partition.
    pub topic: Arc<str>,
    /// The partition within its topic.
    pub partition: i32,
    /// The next offset to consume: one past the last handed-over record.
    pub offset: i64,
    /// The crash-loop guard's marker, committed as the offset's metadata; `None` commits
    /// none (an empty string).
    pub marker: Option<Marker>,
}

impl fmt::Display for CommitOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}={}", self.topic, self.partition, self.offset)?;
        if let Some(marker) = self.marker {
            write!(f, " ({marker})")?;
        }
        Ok(())
    }
}

/// `topic/partition=offset, …` for a log line or an error.
pub fn describe(offsets: &[CommitOffset]) -> String {
    let parts: Vec<String> = offsets.iter().map(CommitOffset::to_string).collect();
    parts.join(", ")
}

/// When a tracked record's ack timer runs.
enum Clock {
    /// The consumer's timeout, from now: deadlines in arrival order.
    Default(Instant),
    /// A timeout of its own.
    Custom(Instant),
    /// Not yet: it starts when the record is delivered; until then the time it was
    /// tracked stands in for its deadline.
    Deferred(Instant),
}

struct Slot {
    epoch: u32,
    book: PartitionBook,
}

/// The ack books of every partition a consumer holds.
#[derive(Default)]
pub(crate) struct AckBook {
    slots: Vec<Option<Slot>>,
    index: HashMap<Partition, u32>,
    free: Vec<u32>,
    next_epoch: u32,
    unresolved: usize,
    tracked: usize,
    // The slot of the last partition tracked: consecutive records usually share it, and
    // this spares hashing the topic name per record.
    last: Option<(Arc<str>, i32, u32)>,
    // The earliest deadline given since `next_deadline` last looked at every partition:
    // while none comes before a call-back already set, that one still comes first, and
    // no partition need be looked at (that look grew with the partitions held).
    new_deadlines: Option<Instant>,
}

impl AckBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot_for(&mut self, topic: &Arc<str>, partition: i32) -> u32 {
        if let Some((t, p, slot)) = &self.last {
            if *p == partition && Arc::ptr_eq(t, topic) {
                return *slot;
            }
        }
        let slot = self.find_or_insert_slot(topic, partition);
        self.last = Some((topic.clone(), partition, slot));
        slot
    }

    fn find_or_insert_slot(&mut self, topic: &Arc<str>, partition: i32) -> u32 {
        if let Some(&slot) = self.index.get(&(topic.clone(), partition)) {
            return slot;
        }
        let epoch = self.next_epoch;
        self.next_epoch = self.next_epoch.wrapping_add(1);
        let new = Slot {
            epoch,
            book: PartitionBook::new(topic.clone(), partition),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(new);
                slot
            }
            None => {
                self.slots.push(Some(new));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert((topic.clone(), partition), slot);
        slot
    }

    fn book_mut(&mut self, token: Token) -> Option<&mut PartitionBook> {
        match self.slots.get_mut(token.slot as usize) {
            Some(Some(slot)) if slot.epoch == token.epoch => Some(&mut slot.book),
            _ => None,
        }
    }

    /// Starts tracking a fetched record whose ack is due by `deadline`. Returns `None` for
    /// a record at or below an offset already tracked in this assignment (a refetch).
    pub fn track(&mut self, record: Record, deadline: Instant) -> Option<Token> {
        self.track_entry(record, Clock::Default(deadline))
    }

    /// Like [`track`](Self::track), for a record with a timeout of its own (a per-record
    /// override), whose deadline need not follow its partition's arrival order.
    pub fn track_custom(&mut self, record: Record, deadline: Instant) -> Option<Token> {
        self.track_entry(record, Clock::Custom(deadline))
    }

    /// Tracks a record whose clock starts later, with [`start_deadline`](Self::start_deadline):
    /// it holds its partition's commit watermark meanwhile.
    pub fn track_deferred(&mut self, record: Record, now: Instant) -> Option<Token> {
        self.track_entry(record, Clock::Deferred(now))
    }

    /// Starts the clock of a deferred record; `false` if it is no longer tracked or waiting.
    pub fn start_deadline(&mut self, token: Token, deadline: Instant) -> bool {
        let started = self
            .book_mut(token)
            .is_some_and(|book| book.start_deadline(token.seq, deadline));
        if started {
            self.note_deadline(deadline);
        }
        started
    }

    fn track_entry(&mut self, record: Record, clock: Clock) -> Option<Token> {
        let slot = self.slot_for(record.topic_arc(), record.partition());
        let entry = self.slots[slot as usize].as_mut()?;
        let (seq, deadline) = match clock {
            Clock::Default(deadline) => (entry.book.track(record, deadline)?, Some(deadline)),
            Clock::Custom(deadline) => (entry.book.track_custom(record, deadline)?, Some(deadline)),
            Clock::Deferred(now) => (entry.book.track_deferred(record, now)?, None),
        };
        let epoch = entry.epoch;
        if let Some(deadline) = deadline {
            self.note_deadline(deadline);
        }
        self.unresolved += 1;
        self.tracked += 1;
        Some(Token { slot, epoch, seq })
    }

    fn note_deadline(&mut self, deadline: Instant) {
        self.new_deadlines = Some(self.new_deadlines.map_or(deadline, |d| d.min(deadline)));
    }

    /// Whether a deadline given since [`next_deadline`](Self::next_deadline) last looked
    /// comes before `at`. If not, a call-back set for `at` by that look, or later, still
    /// comes first or on time.
    pub fn has_new_deadline_before(&self, at: Instant) -> bool {
        self.new_deadlines.is_some_and(|d| d < at)
    }

    /// The partition and offset of a tracked record; `None` once it is committable and
    /// forgotten, or when its partition was released.
    pub fn locate(&self, token: Token) -> Option<(Partition, i64)> {
        let slot = self.slots.get(token.slot as usize)?.as_ref()?;
        if slot.epoch != token.epoch {
            return None;
        }
        let offset = slot.book.offset_of(token.seq)?;
        Some(((slot.book.topic().clone(), slot.book.partition()), offset))
    }

    /// A record still waiting for its answer, with its deadline; `None` otherwise.
    pub fn waiting(&self, token: Token) -> Option<(&Record, Instant)> {
        match self.slots.get(token.slot as usize) {
            Some(Some(slot)) if slot.epoch == token.epoch => slot.book.waiting(token.seq),
            _ => None,
        }
    }

    /// Routes a waiting record to an outcome (an ack or a nack: the caller knows which).
    pub fn route(&mut self, token: Token) -> AckResult {
        match self.book_mut(token) {
            None => AckResult::Unknown,
            Some(book) => match book.route(token.seq) {
                Some(record) => AckResult::Routed(record),
                None => AckResult::Late,
            },
        }
    }

    /// Routes every waiting record whose deadline is at or before `now`; each comes with
    /// the deadline it missed.
    pub fn expire(&mut self, now: Instant) -> Vec<(Token, Record, Instant)> {
        let mut expired = Vec::new();
        let mut in_book = Vec::new();
        for (slot, entry) in self.slots.iter_mut().enumerate() {
            let Some(entry) = entry else { continue };
            entry.book.expire(now, &mut in_book);
            expired.extend(in_book.drain(..).map(|(seq, record, deadline)| {
                let token = Token {
                    slot: slot as u32,
                    epoch: entry.epoch,
                    seq,
                };
                (token, record, deadline)
            }));
        }
        expired
    }

    /// The earliest deadline of any waiting record.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.new_deadlines = None;
        self.slots
            .iter_mut()
            .flatten()
            .filter_map(|s| s.book.next_deadline())
            .min()
    }

    /// The outcome actor accepted a routed record. Returns `true` when it moved its
    /// partition's commit watermark.
    pub fn handed_over(&mut self, token: Token) -> bool {
        let Some(book) = self.book_mut(token) else {
            return false;
        };
        let before = book.tracked();
        let unresolved_before = book.unresolved();
        let moved = book.handed_over(token.seq);
        let (freed, resolved) = (
            before - book.tracked(),
            unresolved_before - book.unresolved(),
        );
        self.tracked -= freed;
        self.unresolved -= resolved;
        moved
    }

    /// Records not yet handed over: each holds its bytes (and its batch's), so this bounds
    /// memory.
    pub fn unresolved(&self) -> usize {
        self.unresolved
    }

    /// Entries held, including handed-over ones that wait behind an unresolved record.
    pub fn tracked(&self) -> usize {
        self.tracked
    }

    /// Unresolved records of one partition (0 when it is not tracked).
    pub fn unresolved_in(&self, topic: &str, partition: i32) -> usize {
        self.partition(topic, partition)
            .map_or(0, PartitionBook::unresolved)
    }

    /// The book of one partition, if tracked.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionBook> {
        let slot = *self.index.get(&(Arc::from(topic), partition))?;
        self.slots[slot as usize].as_ref().map(|s| &s.book)
    }

    /// Every tracked partition's book.
    pub fn partitions(&self) -> impl Iterator<Item = &PartitionBook> {
        self.slots.iter().flatten().map(|s| &s.book)
    }

    /// Offsets that moved since the last call, one per partition; each is marked requested.
    pub fn offsets_to_commit(&mut self) -> Vec<CommitOffset> {
        self.slots
            .iter_mut()
            .flatten()
            .filter_map(|s| {
                s.book.take_commit().map(|offset| CommitOffset {
                    topic: s.book.topic().clone(),
                    partition: s.book.partition(),
                    offset,
                    marker: None,
                })
            })
            .collect()
    }

    /// The broker confirmed a commit of `offset` for a partition.
    pub fn commit_confirmed(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(book) = self.partition_mut(topic, partition) {
            book.commit_confirmed(offset);
        }
    }

    /// A commit of `offset` failed: it will be offered again by `offsets_to_commit`.
    pub fn commit_failed(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(book) = self.partition_mut(topic, partition) {
            book.commit_failed(offset);
        }
    }

    fn partition_mut(&mut self, topic: &str, partition: i32) -> Option<&mut PartitionBook> {
        let slot = *self.index.get(&(Arc::from(topic), partition))?;
        self.slots[slot as usize].as_mut().map(|s| &mut s.book)
    }

    /// Forgets a partition (revoked or stopped): later acks for its records are `Unknown`.
    /// Returns its book, so the caller can commit what was resolved and report the rest.
    pub fn remove(&mut self, topic: &str, partition: i32) -> Option<PartitionBook> {
        let slot = self.index.remove(&(Arc::from(topic), partition))?;
        if self.last.as_ref().is_some_and(|l| l.2 == slot) {
            self.last = None;
        }
        let removed = self.slots[slot as usize].take()?;
        self.free.push(slot);
        self.unresolved -= removed.book.unresolved();
        self.tracked -= removed.book.tracked();
        Some(removed.book)
    }
}

#[cfg(test)]
mod tests;
