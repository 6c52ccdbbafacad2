//! `Health`: whether the consumer can do its work, for probes and dashboards; and the
//! requests that fail at once when a fault opens, rather than wait out their timeout.

use std::time::Instant;

use actix::prelude::*;
use gig_core::{Fault, FaultKind, FaultScope};
use log::error;
use rdkafka::error::KafkaError;
use serde::Serialize;

use super::ConsumerActor;
use crate::client::client_errors::ClientError;
use crate::client::Faulted;
use crate::error::GigError;

/// Asks whether the consumer can do its work. Never fails once delivered.
///
/// ```no_run
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # async fn demo(consumer: Addr<ConsumerActor>) -> Result<(), GigError> {
/// let health = consumer.send(Health).await?;
/// if !health.live {
///     eprintln!("stuck: {}", health.reason.unwrap_or_default());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "HealthReport")]
pub struct Health;

/// The consumer's health, as [`Health`] answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// Whether the consumer can make progress by itself: false while a fault is open (a
    /// partition, topic or the client that cannot be read until someone acts: see
    /// [`Stats::faults`](crate::Stats::faults)), once its poll thread has exited, and while
    /// a user actor stalls it: one that is down for good (given as an address and gone, or
    /// given as a factory and dead too often), a record the NoAckedActor died on, or
    /// hand-overs refused for longer than `handover_refused_limit` (see
    /// [`Stats::supervision`](crate::Stats::supervision)). librdkafka retries its errors
    /// without end, and Gig its hand-overs, so without this a stalled consumer looks like
    /// one on an idle topic.
    pub live: bool,
    /// Whether it is live and holds at least one partition.
    pub ready: bool,
    /// How many partitions it holds.
    pub assigned: usize,
    /// The open faults.
    pub faults: Vec<Fault>,
    /// Why it is not live or not ready, for a person; `None` when both hold.
    pub reason: Option<String>,
}

impl HealthReport {
    /// The answer for a consumer whose actor has stopped: not live.
    pub fn stopped() -> HealthReport {
        HealthReport {
            live: false,
            ready: false,
            assigned: 0,
            faults: Vec::new(),
            reason: Some("the consumer has stopped".to_string()),
        }
    }

    pub(crate) fn of(
        faults: Vec<Fault>,
        assigned: usize,
        polling: bool,
        stall: Option<String>,
    ) -> HealthReport {
        let stalled = stall.is_some();
        let reason = if !polling {
            Some("the consumer's poll thread has exited".to_string())
        } else if stalled {
            stall
        } else if let Some(first) = faults.first() {
            let more = faults.len() - 1;
            let others = if more > 0 {
                format!(" (and {more} more fault(s))")
            } else {
                String::new()
            };
            Some(format!("{first}{others}"))
        } else if assigned == 0 {
            Some("no partition is assigned".to_string())
        } else {
            None
        };
        let live = polling && faults.is_empty() && !stalled;
        HealthReport {
            live,
            ready: live && assigned > 0,
            assigned,
            faults,
            reason,
        }
    }
}

impl Handler<Health> for ConsumerActor {
    type Result = MessageResult<Health>;

    fn handle(&mut self, _: Health, _: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        let (faults, _) = self.client.shared().errors.faults(now);
        let assigned = self.client.assignment().len();
        let stall = self.driver.pipeline.stall(now);
        let polling = self.client.is_polling();
        MessageResult(HealthReport::of(faults, assigned, polling, stall))
    }
}

impl ConsumerActor {
    /// The open fault that keeps the group from assigning anything: one of the client's
    /// (credentials, TLS, the group's ACL) or a whole topic's.
    pub(super) fn fault_blocking_assignment(&self) -> Option<Fault> {
        let (faults, _) = self.client.shared().errors.faults(Instant::now());
        faults.into_iter().find(|f| f.partition.is_none())
    }
}

impl ConsumerActor {
    /// The transactional producer could not begin or commit a transaction. An error that
    /// needs someone to act (an ACL on the transactional id) opens a fault, as a fenced
    /// producer does (it never commits again); passing ones are only counted.
    pub(super) fn producer_failed(&mut self, e: &KafkaError, fenced: bool) {
        let error = ClientError {
            error: e.clone(),
            scope: FaultScope::Transactions,
            reason: e.to_string(),
        };
        let kind = match error.kind() {
            kind if fenced && !kind.blocks_reading() => FaultKind::Fatal,
            kind => kind,
        };
        let errors = &self.client.shared().errors;
        if let Some(fault) = errors.record_as(&error, kind, Instant::now()) {
            error!("cannot commit: {fault}");
            self.faulted(&fault);
        }
    }

    /// Fails the requests waiting on what `fault` blocks.
    fn faulted(&mut self, fault: &Fault) {
        if fault.partition.is_none() {
            for waiter in self.assignment_waiters.drain(..) {
                let _ = waiter.send(Err(GigError::Unreadable(fault.clone())));
            }
        }
        self.fail_caught_up(fault);
    }
}

impl Handler<Faulted> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, Faulted(fault): Faulted, _: &mut Context<Self>) {
        self.faulted(&fault);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gig_core::FaultBook;

    fn fault() -> Vec<Fault> {
        let mut book = FaultBook::new();
        let now = Instant::now();
        let scope = FaultScope::of(Some("zstd"), 0);
        book.handle_error(scope, FaultKind::Codec, "Decompression failed", now);
        book.faults(now)
    }

    #[test]
    fn a_fault_makes_the_consumer_not_live_and_says_where() {
        let report = HealthReport::of(fault(), 3, true, None);
        assert!(!report.live && !report.ready);
        let reason = report.reason.unwrap();
        assert!(reason.contains("codec error on zstd/0"), "{reason}");
    }

    #[test]
    fn live_and_ready_need_a_poll_thread_and_a_partition() {
        assert!(HealthReport::of(Vec::new(), 1, true, None).ready);
        let idle = HealthReport::of(Vec::new(), 0, true, None);
        assert!(idle.live && !idle.ready);
        let gone = HealthReport::of(Vec::new(), 1, false, None);
        assert!(!gone.live && !gone.ready);
        assert!(gone.reason.unwrap().contains("poll thread"));
    }

    #[test]
    fn a_stalled_user_actor_makes_the_consumer_not_live_and_says_why() {
        let stall = "the downstream actor died more than 10 times".to_string();
        let report = HealthReport::of(Vec::new(), 2, true, Some(stall.clone()));
        assert!(!report.live && !report.ready);
        assert_eq!(report.reason, Some(stall));
    }
}
