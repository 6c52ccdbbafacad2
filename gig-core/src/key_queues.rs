//! Per-key ordering: at most one record per (partition, key) at the downstream, the rest
//! queued behind it in offset order. Different keys, and records without a key, flow
//! concurrently.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::ack_book::Token;
use crate::record::Record;

/// A partition, and the keys of that partition that are busy, each with its queue. Keys are
/// looked up by `&[u8]`, so checking a record allocates nothing.
type Partitions = HashMap<(Arc<str>, i32), HashMap<Vec<u8>, VecDeque<(Token, Record)>>>;

fn partition_of(record: &Record) -> (Arc<str>, i32) {
    (record.topic_arc().clone(), record.partition())
}

/// The keys with a record at the downstream, each with the records waiting behind it.
#[derive(Debug, Default)]
pub(crate) struct KeyQueues {
    busy: Partitions,
    queued: usize,
}

impl KeyQueues {
    /// No key busy.
    pub fn new() -> Self {
        Self::default()
    }

    fn queue_mut(&mut self, record: &Record) -> Option<&mut VecDeque<(Token, Record)>> {
        let key = record.key()?;
        self.busy.get_mut(&partition_of(record))?.get_mut(key)
    }

    /// Whether a record of this record's key is at the downstream, so this one must wait.
    /// A record without a key never waits.
    pub fn busy(&self, record: &Record) -> bool {
        record.key().is_some_and(|key| {
            self.busy
                .get(&partition_of(record))
                .is_some_and(|keys| keys.contains_key(key))
        })
    }

    /// Marks the record's key busy: the record went to the downstream.
    pub fn start(&mut self, record: &Record) {
        if let Some(key) = record.key() {
            let keys = self.busy.entry(partition_of(record)).or_default();
            keys.entry(key.to_vec()).or_default();
        }
    }

    /// Queues a record behind the busy one of its key (see [`busy`](Self::busy)).
    pub fn push(&mut self, token: Token, record: Record) {
        if let Some(queue) = self.queue_mut(&record) {
            queue.push_back((token, record));
            self.queued += 1;
        }
    }

    /// The record of `done`'s key to deliver next, now that `done` has an outcome; the key
    /// stays busy with it. `None` frees the key.
    pub fn next_after(&mut self, done: &Record) -> Option<(Token, Record)> {
        let next = self.queue_mut(done)?.pop_front();
        if next.is_some() {
            self.queued -= 1;
        } else {
            let partition = partition_of(done);
            if let (Some(keys), Some(key)) = (self.busy.get_mut(&partition), done.key()) {
                keys.remove(key);
                if keys.is_empty() {
                    self.busy.remove(&partition);
                }
            }
        }
        next
    }

    /// Forgets a released partition's keys and queued records.
    pub fn release_partition(&mut self, topic: &str, partition: i32) {
        if let Some(keys) = self.busy.remove(&(Arc::from(topic), partition)) {
            self.queued -= keys.values().map(VecDeque::len).sum::<usize>();
        }
    }

    /// Records waiting behind another of their key.
    pub fn queued(&self) -> usize {
        self.queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack_book::AckBook;
    use crate::record::keyed_record as keyed;
    use std::time::Instant;

    #[test]
    fn one_record_per_key_at_a_time_in_offset_order() {
        let mut book = AckBook::new();
        let mut keys = KeyQueues::new();
        let mut delivered = Vec::new();
        let records = [
            keyed(0, 0, Some("a")),
            keyed(0, 1, Some("b")),
            keyed(0, 2, Some("a")),
            keyed(0, 3, None),
            keyed(0, 4, Some("a")),
            keyed(1, 5, Some("a")), // same key, other partition: its own queue
        ];
        for record in records {
            if keys.busy(&record) {
                let token = book.track_deferred(record.clone(), Instant::now()).unwrap();
                keys.push(token, record);
            } else {
                book.track(record.clone(), Instant::now()).unwrap();
                keys.start(&record);
                delivered.push(record.offset());
            }
        }
        assert_eq!(delivered, vec![0, 1, 3, 5]);
        assert_eq!(keys.queued(), 2);

        let (_, next) = keys.next_after(&keyed(0, 0, Some("a"))).unwrap();
        assert_eq!(next.offset(), 2);
        let (_, next) = keys.next_after(&next).unwrap();
        assert_eq!(next.offset(), 4);
        assert!(keys.next_after(&next).is_none(), "the key is free again");
        assert!(!keys.busy(&keyed(0, 6, Some("a"))));
        assert!(keys.busy(&keyed(0, 7, Some("b"))));

        keys.release_partition("t", 0);
        assert!(!keys.busy(&keyed(0, 7, Some("b"))));
        assert!(keys.busy(&keyed(1, 8, Some("a"))));
        assert_eq!(keys.queued(), 0);
    }
}
