//! Records into the pipeline and on to the downstream, answers back; and the in-flight
//! count published to the poll thread, which stops fetching at the limit.

use std::time::{Duration, Instant};

use actix::prelude::*;
use log::{debug, info};

use super::ConsumerActor;
use crate::client::poller::Fetched;
use crate::driver;

/// Longest stretch of mailbox work before the actor yields to the others on its thread.
const YIELD_EVERY: Duration = Duration::from_millis(2);

impl ConsumerActor {
    /// Tells the poll thread how many records are unresolved; it stops fetching at the
    /// in-flight limit and resumes at three quarters of it, and while too many handed-over
    /// records wait for their commit (which then goes out at once).
    pub(super) fn publish_in_flight(&mut self) {
        let over_uncommitted = self.driver.pipeline.over_uncommitted();
        if over_uncommitted {
            if let Some(plan) = self.driver.pipeline.take_commit() {
                self.send_commit(plan);
            }
        }
        let pipeline = &self.driver.pipeline;
        // A user actor down for good, or a stuck record, holds fetching as a full book does.
        let over_tracked = pipeline.over_tracked() || pipeline.must_pause();
        let gate = &self.client.shared().gate;
        // Summed over every partition: only for `max_uncommitted`, which counts them. This
        // runs after every message the actor handles, and cost grew with partitions.
        let unconfirmed = match self.config.uncommitted_limit() {
            Some(_) => pipeline.unconfirmed(),
            None => 0,
        };
        // Records the crash-loop guard holds back are bounded by pausing their partitions.
        let unresolved = pipeline.unresolved() - pipeline.held_back_records();
        let in_flight = gate.publish(unresolved, over_tracked, unconfirmed);
        let over = over_tracked || over_uncommitted || in_flight >= self.config.in_flight_limit();
        self.driver.metrics.in_flight(in_flight, over);
        if over != self.paused {
            self.paused = over;
            if over {
                info!("{in_flight} record(s) in flight: limit reached, fetching stops");
            } else {
                debug!("{in_flight} record(s) in flight: fetching goes on");
            }
        }
    }
}

impl Handler<Fetched> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, Fetched(records): Fetched, ctx: &mut Context<Self>) {
        self.client.shared().gate.received(records.len());
        driver::fetched(self, records, ctx);
        if self.driver.pipeline.guard_wants_commit() {
            self.commit_now();
        }
        self.publish_in_flight();
        // actix drains a whole mailbox in one go; under load that starves the downstream
        // and outcome actors on this thread, and the deadline timer. Yielding every few
        // milliseconds keeps them served without breaking up the batches that make acks
        // and hand-overs cheap.
        let now = Instant::now();
        if now.duration_since(self.last_yield) >= YIELD_EVERY {
            self.last_yield = now;
            ctx.wait(actix::fut::wrap_future(tokio::task::yield_now()));
        }
    }
}

driver::driver_handlers!(ConsumerActor);
