//! The crash-loop guard's careful mode (see the guarded module): after a process died with
//! records of a partition in flight, its records go a group at a time, counted in a commit
//! before delivery, and a record's last delivery goes alone.

use std::time::Instant;

use log::{info, warn};

use super::guards::{Mode, Step, GROUP};
use super::Pipeline;
use crate::ack_book::{AckResult, Partition, Token};
use crate::crash_marker::Marker;
use crate::outcome::NoAckReason;

impl Pipeline {
    /// A group of records (or one) at a time: counted in a commit, then delivered, then
    /// the next once it is all resolved; the last delivery a record may have goes alone.
    pub(super) fn poll_careful(&mut self, partition: &Partition, now: Instant) {
        let max = self.config.max_deliveries;
        let book = self.book.partition(&partition.0, partition.1);
        let fetched_end = book.and_then(|b| b.last_offset()).map(|o| o + 1);
        let unresolved = book.map_or(0, |b| b.unresolved());
        let consumer_idle = self.book.unresolved() == self.guards.held();
        if self.guards.alone.as_ref().is_some_and(|a| a != partition) {
            return;
        }
        let Some(guard) = self.guards.parts.get_mut(partition) else {
            return;
        };
        let Mode::Careful {
            until,
            mut group_end,
            mut deliveries,
            mut singly,
            step,
        } = guard.mode
        else {
            return;
        };
        // Its records on trial, or ones before them, are still out.
        if unresolved > guard.held.len() {
            return;
        }
        let head = guard.held.front().copied();
        match step {
            Step::Counting if !guard.pending => {
                // Counted: the group (or its head alone) goes.
                let end = if singly {
                    head.map_or(group_end, |h| h.1 + 1)
                } else {
                    group_end
                };
                let mut release = Vec::new();
                while let Some(&(token, offset)) = guard.held.front() {
                    if offset >= end {
                        break;
                    }
                    guard.held.pop_front();
                    release.push(token);
                }
                guard.mode = careful(until, group_end, deliveries, singly, Step::OnTrial);
                for token in release {
                    self.release_held(token, now);
                }
                return;
            }
            Step::Counting => return,
            Step::OnTrial => {
                // Resolved. A record alone leaves the rest of its group to go the same way;
                // a whole group leaves the next to start.
                self.guards.end_alone(partition);
                self.guards.mark_dirty(partition);
            }
            Step::Next => {}
        }
        let Some(guard) = self.guards.parts.get_mut(partition) else {
            return;
        };
        // Past the marker, or every record below it fetched and resolved (a trailing
        // transaction marker may take the last offset before it).
        let done = match head {
            Some((_, offset)) => offset >= until,
            None => fetched_end.is_some_and(|end| end >= until - 1),
        };
        if done {
            info!(
                "{}/{}: every record below the crash marker at {until} went carefully: records flow again",
                partition.0, partition.1
            );
            guard.mode = Mode::Normal;
            guard.marker = None;
            guard.pending = false;
            self.guards.end_alone(partition);
            self.guards.mark_dirty(partition);
            return;
        }
        let Some((token, offset)) = head else {
            guard.mode = careful(until, group_end, deliveries, singly, Step::Next);
            return;
        };
        if offset >= group_end {
            // A new group: the next records below the marker, delivered once already.
            let members = guard
                .held
                .iter()
                .take(GROUP)
                .take_while(|(_, o)| *o < until);
            group_end = members.last().map_or(offset, |(_, o)| *o) + 1;
            deliveries = 1;
            singly = false;
        }
        // A group that processes died in twice goes one record at a time.
        singly |= deliveries + 2 >= max;
        if singly && deliveries >= max {
            guard.held.pop_front();
            guard.mode = careful(until, group_end, deliveries, singly, Step::OnTrial);
            self.crashed(token, deliveries);
            return;
        }
        // A record's last delivery goes alone, once everything else is resolved.
        if singly && deliveries + 1 >= max {
            if self.guards.alone.is_none() {
                self.guards.go_alone(partition);
            }
            if !consumer_idle {
                let Some(guard) = self.guards.parts.get_mut(partition) else {
                    return;
                };
                guard.mode = careful(until, group_end, deliveries, singly, Step::Next);
                return;
            }
        }
        let Some(guard) = self.guards.parts.get_mut(partition) else {
            return;
        };
        // Counted before it is delivered: a process that dies in it leaves the count
        // raised. Committed at its first offset: all before it is resolved.
        let end = if singly { offset + 1 } else { group_end };
        guard.base = Some(offset);
        guard.marker = Some(Marker {
            until,
            deliveries: Some(deliveries + 1),
            group_end: Some(end),
        });
        guard.pending = true;
        // Alone, a record's own count moves on; its group keeps the group's.
        let kept = if singly { deliveries } else { deliveries + 1 };
        guard.mode = careful(until, group_end, kept, singly, Step::Counting);
    }

    /// A record delivered `deliveries` times, each time to a process that died: it goes to
    /// the NoAckedActor without a delivery.
    fn crashed(&mut self, token: Token, deliveries: u32) {
        if let AckResult::Routed(record) = self.book.route(token) {
            warn!(
                "{record}: consumer processes died in each of its last {deliveries} deliveries: it goes to the no-acked actor undelivered"
            );
            self.counters.crashed += 1;
            self.route_no_acked(token, record, NoAckReason::Crashed { deliveries });
        }
    }
}

fn careful(until: i64, group_end: i64, deliveries: u32, singly: bool, step: Step) -> Mode {
    Mode::Careful {
        until,
        group_end,
        deliveries,
        singly,
        step,
    }
}
