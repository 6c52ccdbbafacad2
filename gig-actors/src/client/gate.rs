//! The in-flight gate between the poll thread and the actor.
//!
//! The poll thread stops polling while too many records are in flight, and waits here
//! until the actor has resolved enough of them. Stopping `poll` instead of pausing the
//! partitions keeps librdkafka's prefetched queue: nothing is discarded and fetched again
//! on resume. (A broker that cannot fetch from inside a stored batch, such as tansu 0.6,
//! would stall on that refetch.) In flight = records the poll thread has sent or buffered
//! and the actor has not yet taken in, plus the actor's records not yet handed over.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Most records sent by the poll thread and not yet taken in by the actor: a few
/// milliseconds of work at full speed, enough to keep the actor busy between two polls.
pub(crate) const MOST_IN_TRANSIT: usize = 16 * 256;

pub(crate) struct InFlightGate {
    limit: usize,
    /// Sent by the poll thread, not yet taken in by the actor.
    transit: AtomicUsize,
    /// The actor's records not yet handed over, as it last published them.
    unresolved: AtomicUsize,
    /// The actor holds too many handed-over records behind unresolved ones.
    over_tracked: AtomicBool,
    /// `max_uncommitted`: in flight plus handed over and not confirmed committed, the
    /// records a crash would hand over again, stop fetching at this.
    uncommitted_limit: Option<usize>,
    /// The actor's handed-over records not yet confirmed committed, as it last published.
    unconfirmed: AtomicUsize,
    waiting: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl InFlightGate {
    pub(crate) fn new(limit: usize, uncommitted_limit: Option<usize>) -> Self {
        InFlightGate {
            limit: limit.max(1),
            transit: AtomicUsize::new(0),
            unresolved: AtomicUsize::new(0),
            over_tracked: AtomicBool::new(false),
            uncommitted_limit: uncommitted_limit.map(|u| u.max(1)),
            unconfirmed: AtomicUsize::new(0),
            waiting: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Fetching resumes once in flight is down to this (hysteresis: no wake per record).
    fn low_mark(&self) -> usize {
        self.limit / 4 * 3
    }

    fn in_flight(&self, buffered: usize) -> usize {
        self.in_transit(buffered) + self.unresolved.load(Ordering::Acquire)
    }

    /// Sent or buffered by the poll thread, not yet taken in by the actor.
    fn in_transit(&self, buffered: usize) -> usize {
        self.transit.load(Ordering::Acquire) + buffered
    }

    /// Poll thread: whether to stop fetching, given `buffered` records not yet sent and
    /// whether it is already stopped (then it waits for the low mark).
    pub(crate) fn blocks(&self, buffered: usize, stopped: bool) -> bool {
        if !stopped {
            return self.room(buffered) == 0;
        }
        let transit = self.in_transit(buffered);
        let in_flight = transit + self.unresolved.load(Ordering::Acquire);
        in_flight > self.low_mark()
            || transit > MOST_IN_TRANSIT / 2
            || self.over_tracked.load(Ordering::Acquire)
            || self.over_uncommitted(in_flight)
    }

    /// Poll thread: how many more records it may fetch, with `buffered` not yet sent,
    /// before it must stop; 0 when it must stop now (what [`blocks`](Self::blocks) says
    /// while not stopped).
    pub(crate) fn room(&self, buffered: usize) -> usize {
        if self.over_tracked.load(Ordering::Acquire) {
            return 0;
        }
        let transit = self.in_transit(buffered);
        let in_flight = transit + self.unresolved.load(Ordering::Acquire);
        let room =
            (self.limit.saturating_sub(in_flight)).min(MOST_IN_TRANSIT.saturating_sub(transit));
        let unconfirmed = self.unconfirmed.load(Ordering::Acquire);
        self.uncommitted_limit.map_or(room, |most| {
            room.min(most.saturating_sub(in_flight.saturating_add(unconfirmed)))
        })
    }

    /// Transit counts too: records already fetched are delivered and handed over whatever
    /// the gate says, so they must be within the bound before they are fetched.
    fn over_uncommitted(&self, in_flight: usize) -> bool {
        self.uncommitted_limit.is_some_and(|most| {
            in_flight.saturating_add(self.unconfirmed.load(Ordering::Acquire)) >= most
        })
    }

    /// Poll thread: `n` records sent to the actor.
    pub(crate) fn sent(&self, n: usize) {
        self.transit.fetch_add(n, Ordering::AcqRel);
    }

    /// Poll thread: waits until the actor wakes it, or `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) {
        let Ok(guard) = self.lock.lock() else { return };
        self.waiting.store(true, Ordering::Release);
        if self.blocks(0, true) {
            let _ = self.wake.wait_timeout(guard, timeout);
        }
        self.waiting.store(false, Ordering::Release);
    }

    /// Actor: `n` records taken in from the poll thread.
    pub(crate) fn received(&self, n: usize) {
        self.transit.fetch_sub(n, Ordering::AcqRel);
    }

    /// Actor: publishes its unresolved and unconfirmed counts; wakes a waiting poll thread
    /// at the low mark. Returns the records in flight.
    pub(crate) fn publish(
        &self,
        unresolved: usize,
        over_tracked: bool,
        unconfirmed: usize,
    ) -> usize {
        self.unresolved.store(unresolved, Ordering::Release);
        self.over_tracked.store(over_tracked, Ordering::Release);
        self.unconfirmed.store(unconfirmed, Ordering::Release);
        let in_flight = self.in_flight(0);
        if self.waiting.load(Ordering::Acquire) && !self.blocks(0, true) {
            let _guard = self.lock.lock();
            self.wake.notify_one();
        }
        in_flight
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn blocks_at_the_limit_and_resumes_at_the_low_mark() {
        let gate = InFlightGate::new(100, None);
        gate.sent(60);
        assert!(!gate.blocks(39, false));
        assert!(gate.blocks(40, false), "60 sent + 40 buffered = the limit");
        gate.received(60);
        gate.publish(80, false, 0);
        assert!(gate.blocks(0, true), "80 > low mark 75");
        gate.publish(75, false, 0);
        assert!(!gate.blocks(0, true));
        gate.publish(0, true, 0);
        assert!(gate.blocks(0, false), "too many tracked entries block too");
    }

    #[test]
    fn the_poll_thread_stops_when_far_ahead_of_the_actor_and_resumes_at_half() {
        let gate = InFlightGate::new(1_000_000, None);
        gate.sent(MOST_IN_TRANSIT - 256);
        assert!(!gate.blocks(255, false));
        assert!(
            gate.blocks(256, false),
            "a full batch more reaches the bound"
        );
        gate.received(MOST_IN_TRANSIT / 4);
        gate.publish(MOST_IN_TRANSIT / 4, false, 0);
        assert!(
            gate.blocks(0, true),
            "taken in but not yet below half the bound"
        );
        gate.received(MOST_IN_TRANSIT / 4);
        gate.publish(MOST_IN_TRANSIT / 2, false, 0);
        assert!(!gate.blocks(0, true), "down to half: fetching goes on");
    }

    #[test]
    fn in_flight_and_unconfirmed_records_together_stop_at_max_uncommitted() {
        let gate = InFlightGate::new(100, Some(50));
        gate.sent(20);
        gate.publish(10, false, 19);
        assert!(
            !gate.blocks(0, false),
            "20 in transit + 10 unresolved + 19 unconfirmed"
        );
        assert!(gate.blocks(1, false), "one more buffered reaches 50");
        gate.publish(10, false, 0);
        assert!(!gate.blocks(1, true), "a confirmed commit opens it again");
    }

    #[test]
    fn the_actor_wakes_a_waiting_poll_thread() {
        let gate = Arc::new(InFlightGate::new(10, None));
        gate.publish(10, false, 0);
        let waiter = gate.clone();
        let t0 = Instant::now();
        let handle = std::thread::spawn(move || waiter.wait(Duration::from_secs(30)));
        while !gate.waiting.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        gate.publish(2, false, 0);
        handle.join().unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "woken, not timed out"
        );
    }
}
