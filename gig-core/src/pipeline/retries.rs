//! Hand-overs offered again: a batch its outcome actor refused (or could not take) waits
//! here for its time, and [`Pipeline::poll_retry`] gives it back then; the driver's one
//! timer, set by [`Pipeline::poll_timeout`], wakes it for the earliest.
//!
//! A refusal backs off: the first refused batch waits [`FIRST_BACKOFF`], each further
//! refusal twice as long as the one before, up to [`MAX_BACKOFF`]; an accepted batch
//! starts it over. A batch that found its actor not running (being restarted) is no
//! refusal: it waits for the restart, at least [`NOT_RUNNING_RETRY`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{OutcomeBatch, Pipeline};
use crate::ack_book::Token;

/// The first wait before a refused hand-over is offered again; it doubles up to
/// [`MAX_BACKOFF`] while refusals go on.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How soon a batch that found its outcome actor being restarted is offered again, at the
/// soonest.
const NOT_RUNNING_RETRY: Duration = Duration::from_millis(10);

/// Batches waiting to be offered again, earliest first; of two due at once, the one that
/// came back first.
#[derive(Debug)]
pub(super) struct Retries {
    waiting: BTreeMap<(Instant, u64), OutcomeBatch>,
    /// Numbers the batches in the order they came back.
    next: u64,
    /// The wait the next refusal gets.
    backoff: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            waiting: BTreeMap::new(),
            next: 0,
            backoff: FIRST_BACKOFF,
        }
    }
}

impl Retries {
    fn wait(&mut self, batch: OutcomeBatch, due: Instant) {
        self.waiting.insert((due, self.next), batch);
        self.next += 1;
    }

    /// When the earliest batch is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.waiting.first_key_value().map(|(&(due, _), _)| due)
    }

    /// A batch was accepted: the next refusal waits the first back-off again.
    pub(super) fn accepted(&mut self) {
        self.backoff = FIRST_BACKOFF;
    }

    fn pop_due(&mut self, now: Instant) -> Option<OutcomeBatch> {
        let entry = self.waiting.first_entry()?;
        (entry.key().0 <= now).then(|| entry.remove())
    }
}

impl Pipeline {
    /// The outcome actor refused a batch (or could not take it): it is offered again after
    /// the back-off, by [`poll_retry`](Self::poll_retry). Returns when.
    pub fn handle_refused(&mut self, batch: OutcomeBatch, now: Instant) -> Instant {
        self.counters.handover_failures += 1;
        self.refused_since[super::supervised::side(batch.role())].get_or_insert(now);
        let retries = &mut self.retries;
        let due = now + retries.backoff;
        retries.backoff = (retries.backoff * 2).min(MAX_BACKOFF);
        retries.wait(batch, due);
        due
    }

    /// A batch found its outcome actor not running (it is being restarted): it is offered
    /// again once the restart is due, and no sooner than 10 ms from now. No
    /// refusal: the back-off stays as it is. Returns when.
    pub fn handle_not_running(&mut self, batch: OutcomeBatch, now: Instant) -> Instant {
        let restart = self.supervision.next_restart();
        let wait = restart.map_or(NOT_RUNNING_RETRY, |at| at.saturating_duration_since(now));
        let due = now + wait.max(NOT_RUNNING_RETRY);
        self.retries.wait(batch, due);
        due
    }

    /// A batch due at or before `now` to be offered again, without the records of
    /// partitions released since it came back (their next owner reads them again). A batch
    /// with nothing left is dropped. The driver offers these before new work from
    /// [`poll_handover`](Self::poll_handover), as they were before, whether or not their
    /// actor runs: one not running answers so, and the batch waits again.
    pub fn poll_retry(&mut self, now: Instant) -> Option<OutcomeBatch> {
        while let Some(batch) = self.retries.pop_due(now) {
            if let Some(batch) = self.still_held(batch) {
                return Some(batch);
            }
        }
        None
    }

    /// `batch` without the records of partitions released since; `None` when nothing is
    /// left of it.
    pub(super) fn still_held(&self, batch: OutcomeBatch) -> Option<OutcomeBatch> {
        let batch = match batch {
            OutcomeBatch::Acked(tokens, records) => {
                let (tokens, records) = self.held(tokens, records);
                OutcomeBatch::Acked(tokens, records)
            }
            OutcomeBatch::NoAcked(tokens, records) => {
                let (tokens, records) = self.held(tokens, records);
                OutcomeBatch::NoAcked(tokens, records)
            }
        };
        (!batch.tokens().is_empty()).then_some(batch)
    }

    /// The entries whose record's partition is still held.
    fn held<T>(&self, tokens: Vec<Token>, entries: Vec<T>) -> (Vec<Token>, Vec<T>) {
        let pairs = tokens.into_iter().zip(entries);
        pairs
            .filter(|(t, _)| self.book.locate(*t).is_some())
            .unzip()
    }
}

#[cfg(test)]
mod tests;
