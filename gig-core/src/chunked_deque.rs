//! A double-ended queue stored in fixed-size chunks, so that it never moves what it holds.
//!
//! A partition's book holds up to `max_in_flight` entries (a million and more). A
//! `VecDeque` that size grows by doubling: one push copies every entry into a fresh
//! allocation twice the size, which stalls the consumer's thread for milliseconds, and
//! every record waiting on that thread is late by as much. Here a push allocates at most
//! one chunk of [`CHUNK`] entries, and chunks emptied at the front are kept for reuse.

use std::collections::VecDeque;

/// Entries per chunk: large enough that chunk bookkeeping is rare, small enough that one
/// chunk's allocation is cheap.
const CHUNK: usize = 4096;

/// A FIFO queue with O(1) indexing, push at the back and pop at the front, whose pushes
/// never copy its entries.
///
/// Every chunk but the first and the last is full: entries are pushed at the back of the
/// last and popped from the front of the first, so an index maps to a chunk arithmetically.
#[derive(Debug)]
pub(crate) struct ChunkedDeque<T> {
    chunks: VecDeque<VecDeque<T>>,
    /// One emptied chunk, kept so that a queue hovering at a chunk boundary does not
    /// allocate and free a chunk each time it crosses it.
    spare: Option<VecDeque<T>>,
    len: usize,
}

impl<T> Default for ChunkedDeque<T> {
    fn default() -> Self {
        ChunkedDeque {
            chunks: VecDeque::new(),
            spare: None,
            len: 0,
        }
    }
}

impl<T> ChunkedDeque<T> {
    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value` at the back.
    pub(crate) fn push_back(&mut self, value: T) {
        let last_full = self.chunks.back().is_none_or(|c| c.len() == CHUNK);
        if last_full {
            let chunk = self
                .spare
                .take()
                .unwrap_or_else(|| VecDeque::with_capacity(CHUNK));
            self.chunks.push_back(chunk);
        }
        if let Some(last) = self.chunks.back_mut() {
            last.push_back(value);
            self.len += 1;
        }
    }

    /// Removes and returns the front entry.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let first = self.chunks.front_mut()?;
        let value = first.pop_front()?;
        self.len -= 1;
        if first.is_empty() {
            self.spare = self.chunks.pop_front();
        }
        Some(value)
    }

    /// The front entry.
    pub(crate) fn front(&self) -> Option<&T> {
        self.chunks.front()?.front()
    }

    /// The entry `index` places behind the front.
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        let (chunk, at) = self.locate(index)?;
        self.chunks[chunk].get(at)
    }

    /// The entry `index` places behind the front, to change it.
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        let (chunk, at) = self.locate(index)?;
        self.chunks[chunk].get_mut(at)
    }

    /// The chunk and the position in it of the entry at `index`.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        let first = self.chunks.front()?.len();
        if index < first {
            return Some((0, index));
        }
        let behind_first = index - first;
        Some((1 + behind_first / CHUNK, behind_first % CHUNK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a `ChunkedDeque` and a `VecDeque` with the same pseudo-random pushes, pops
    /// and lookups across many chunk boundaries; they must agree throughout.
    #[test]
    fn behaves_as_a_vec_deque() {
        let mut chunked = ChunkedDeque::default();
        let mut model = VecDeque::new();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = 0u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Pushes outweigh pops, so the queue grows over several chunks, then drains.
            let push = model.len() < 3 * CHUNK && state % 5 < 3;
            if push {
                chunked.push_back(next);
                model.push_back(next);
                next += 1;
            } else {
                assert_eq!(chunked.pop_front(), model.pop_front());
            }
            assert_eq!(chunked.len(), model.len());
            assert_eq!(chunked.front(), model.front());
            let probe = (state >> 20) as usize % (model.len() + 2);
            assert_eq!(chunked.get(probe), model.get(probe));
            assert_eq!(chunked.get_mut(probe), model.get_mut(probe));
        }
        while let Some(v) = model.pop_front() {
            assert_eq!(chunked.pop_front(), Some(v));
        }
        assert_eq!(chunked.pop_front(), None);
        assert_eq!(chunked.len(), 0);
        assert_eq!(chunked.get(0), None);
    }

    #[test]
    fn changes_through_get_mut_are_kept() {
        let mut chunked = ChunkedDeque::default();
        for i in 0..(2 * CHUNK + 10) {
            chunked.push_back(i);
        }
        for _ in 0..7 {
            chunked.pop_front();
        }
        let index = CHUNK + 3;
        *chunked.get_mut(index).expect("in range") = usize::MAX;
        assert_eq!(chunked.get(index), Some(&usize::MAX));
        assert_eq!(chunked.get(index - 1), Some(&(index - 1 + 7)));
        assert_eq!(chunked.get(index + 1), Some(&(index + 1 + 7)));
    }

    #[test]
    fn a_push_never_moves_existing_entries() {
        let mut chunked = ChunkedDeque::default();
        chunked.push_back(0u64);
        let first = chunked.get(0).map(|v| v as *const u64);
        for i in 1..(4 * CHUNK as u64) {
            chunked.push_back(i);
        }
        assert_eq!(chunked.get(0).map(|v| v as *const u64), first);
    }
}
