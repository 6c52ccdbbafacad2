//! The commit thread: commits offsets off the actor's thread, and reports each result.
//!
//! Requests that queue up while a commit is in flight are merged (the highest offset per
//! partition wins), so at most one commit is outstanding and a burst costs one round trip.

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::sync::Weak;

use actix::Recipient;
use gig_core::{CommitOffset, Partition};
use rdkafka::consumer::BaseConsumer;

use crate::client::commit::{commit_timed, Committed};
use crate::client::context::GigContext;

/// Runs until the actor drops its sender. It holds the client only while committing, so
/// that the client closes with the actor rather than later from this thread.
pub(crate) fn run(
    consumer: Weak<BaseConsumer<GigContext>>,
    requests: Receiver<Vec<CommitOffset>>,
    report: Recipient<Committed>,
) {
    while let Ok(first) = requests.recv() {
        let mut merged: BTreeMap<Partition, i64> = BTreeMap::new();
        for c in first.into_iter().chain(requests.try_iter().flatten()) {
            let offset = merged.entry((c.topic, c.partition)).or_insert(c.offset);
            *offset = (*offset).max(c.offset);
        }
        let offsets: Vec<CommitOffset> = merged
            .into_iter()
            .map(|((topic, partition), offset)| CommitOffset {
                topic,
                partition,
                offset,
            })
            .collect();
        let Some(client) = consumer.upgrade() else {
            return;
        };
        report.do_send(commit_timed(&client, offsets));
    }
}
