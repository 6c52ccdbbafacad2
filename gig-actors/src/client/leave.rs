//! A stop leaving its group: unsubscribe, and serve the revocation that causes before the
//! client closes.
//!
//! A rebalance event served while the client closes can find the consumer group terminated,
//! and librdkafka answers no group request then (see [`GigContext`]'s `rebalance`).

use std::time::{Duration, Instant};

use log::warn;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::client::context::GigContext;

/// Longest wait, at a stop, for the revocation that unsubscribing causes.
const UNSUBSCRIBE_WAIT: Duration = Duration::from_secs(10);

/// Unsubscribes and, if the consumer was subscribed, polls until the revocation that
/// causes has been served (its assignment is empty), at most [`UNSUBSCRIBE_WAIT`]. The
/// client then closes with no rebalance event pending. Records polled here are dropped:
/// the consumer is halted and they are uncommitted.
pub(crate) fn unsubscribe(consumer: &BaseConsumer<GigContext>) {
    let subscribed = consumer
        .subscription()
        .is_ok_and(|topics| topics.count() > 0);
    consumer.unsubscribe();
    if !subscribed {
        return;
    }
    let deadline = Instant::now() + UNSUBSCRIBE_WAIT;
    while Instant::now() < deadline {
        match consumer.assignment() {
            Ok(assignment) if assignment.count() > 0 => {
                let _ = consumer.poll(Duration::from_millis(100));
            }
            _ => return,
        }
    }
    warn!("the revocation after unsubscribing did not come within {UNSUBSCRIBE_WAIT:?}");
}
