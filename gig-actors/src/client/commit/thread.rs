//! The commit thread: commits off the actor's thread, and reports each result.
//!
//! Offset commits that queue up while one is in flight are merged (the highest offset per
//! partition wins), so at most one is outstanding and a burst costs one round trip. In the
//! transactional mode it first registers the transactional id (fencing a previous
//! incarnation), then runs each transaction the actor plans; the actor plans one at a time.

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Weak};

use actix::Recipient;
use gig_core::{CommitOffset, CommitPlan, Marker, Partition};
use rdkafka::consumer::BaseConsumer;

use super::execute_timed;
use super::result::Committed;
use crate::client::context::GigContext;
use crate::client::transactor::Transactor;

/// Runs until the actor drops its sender. It holds the client only while committing, so
/// that the client closes with the actor rather than later from this thread.
pub(crate) fn run(
    consumer: Weak<BaseConsumer<GigContext>>,
    transactor: Option<Arc<Transactor>>,
    requests: Receiver<CommitPlan>,
    report: Recipient<Committed>,
) {
    if let Some(transactor) = &transactor {
        // A failure here is met again, and reported, by the first transaction.
        let _ = transactor.init();
    }
    while let Ok(first) = requests.recv() {
        let mut offsets: BTreeMap<Partition, (i64, Option<Marker>)> = BTreeMap::new();
        let mut transactions = Vec::new();
        for plan in std::iter::once(first).chain(requests.try_iter()) {
            match plan {
                CommitPlan::Offsets(list) => {
                    for c in list {
                        let entry = offsets
                            .entry((c.topic, c.partition))
                            .or_insert((c.offset, c.marker));
                        // The later request's crash marker: markers only move on.
                        *entry = (entry.0.max(c.offset), c.marker);
                    }
                }
                transaction => transactions.push(transaction),
            }
        }
        let mut plans = transactions;
        if !offsets.is_empty() {
            let merged = offsets
                .into_iter()
                .map(|((topic, partition), (offset, marker))| CommitOffset {
                    topic,
                    partition,
                    offset,
                    marker,
                });
            plans.push(CommitPlan::Offsets(merged.collect()));
        }
        let Some(client) = consumer.upgrade() else {
            return;
        };
        for plan in plans {
            report.do_send(execute_timed(&client, transactor.as_deref(), plan));
        }
    }
}
