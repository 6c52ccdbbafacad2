//! Revocations: the revoked partitions' in-flight records are resolved (answered, or timed
//! out) and handed over, then their offsets go back to the poll thread, which commits them
//! before the partitions go to another member.

use std::time::Instant;

use actix::prelude::*;
use log::debug;

use super::ConsumerActor;
use crate::client::context::GroupEvent;
use crate::driver;

impl ConsumerActor {
    /// Answers every revocation whose partitions are resolved or whose time is up.
    pub(super) fn release_resolved(&mut self) {
        let now = Instant::now();
        while let Some((id, offsets)) = self.driver.pipeline.poll_released(now) {
            if let Some(i) = self.releases.iter().position(|(r, _)| *r == id) {
                let (_, reply) = self.releases.swap_remove(i);
                // The poll thread may have stopped waiting; then there is no one to tell.
                let _ = reply.try_send(offsets);
            }
            self.publish_in_flight();
        }
    }
}

impl Handler<GroupEvent> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, event: GroupEvent, ctx: &mut Context<Self>) {
        match event {
            GroupEvent::Revoking { partitions, reply } => {
                let id = self
                    .driver
                    .pipeline
                    .handle_revoking(partitions, Instant::now());
                self.releases.push((id, reply));
                self.release_resolved();
                driver::arm_timer(self, ctx);
            }
            GroupEvent::Assigned(partitions) => {
                debug!("{} partition(s) assigned", partitions.len());
                self.rebalances += 1;
            }
        }
    }
}
