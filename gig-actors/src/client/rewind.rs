//! Reading partitions again from their last commit after an aborted transaction, on the
//! poll thread.
//!
//! The seek happens between two polls, on the thread that polls, so the cut is exact:
//! librdkafka drops what it fetched before a seek, everything polled after it is read from
//! the new position, and records buffered here are dropped. [`Rewound`] then goes to the
//! actor through the same mailbox as the fetched records, behind every batch fetched
//! before the seek: the actor discards the partitions' records until it arrives.

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::Message;
use gig_core::{CommitOffset, Partition, RecordBatchBuilder};
use log::{info, warn};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::Offset;

use crate::client::context::GigContext;

/// How long one seek may take.
const SEEK_TIMEOUT: Duration = Duration::from_secs(5);

/// Partitions to read again, each from the offset given.
#[derive(Debug)]
pub(crate) struct RewindRequest {
    pub(crate) targets: Vec<CommitOffset>,
    /// The poll thread's revocation count when the actor asked: a revocation since then
    /// may have given the partitions to another member, or back to this one at the group's
    /// committed offset, and a seek to an older target would read records again that are
    /// already committed.
    pub(crate) revocations: u64,
}

/// The poll thread rewound these partitions (`done`), or could not (the group changed, a
/// seek failed): then the actor asks again.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Rewound {
    pub(crate) partitions: Vec<Partition>,
    pub(crate) done: bool,
}

/// Seeks each partition back to its target and drops what `buffered` holds of them. Returns
/// one report for the partitions rewound and one for those to ask again.
pub(crate) fn rewind(
    consumer: &BaseConsumer<GigContext>,
    request: RewindRequest,
    buffered: &mut RecordBatchBuilder,
) -> Vec<Rewound> {
    let shared = consumer.context().shared();
    let partitions = |targets: &[CommitOffset]| -> Vec<Partition> {
        targets
            .iter()
            .map(|t| (t.topic.clone(), t.partition))
            .collect()
    };
    if shared.revocations.load(Ordering::SeqCst) != request.revocations {
        info!("the group changed since a rewind was asked for; asking again");
        let partitions = partitions(&request.targets);
        return vec![Rewound {
            partitions,
            done: false,
        }];
    }
    let (mut done, mut again) = (Vec::new(), Vec::new());
    for target in request.targets {
        let sought = consumer.seek(
            &target.topic,
            target.partition,
            Offset::Offset(target.offset),
            SEEK_TIMEOUT,
        );
        match sought {
            Ok(()) => {
                info!(
                    "{}/{} reads again from {}",
                    target.topic, target.partition, target.offset
                );
                done.push(target);
            }
            Err(e) => {
                warn!(
                    "{}/{}: cannot seek back to {} ({e}); trying again",
                    target.topic, target.partition, target.offset
                );
                again.push(target);
            }
        }
    }
    let done = partitions(&done);
    buffered.retain(|topic, partition| !done.iter().any(|(t, p)| *p == partition && t == topic));
    let mut reports = vec![Rewound {
        partitions: done,
        done: true,
    }];
    if !again.is_empty() {
        reports.push(Rewound {
            partitions: partitions(&again),
            done: false,
        });
    }
    reports
}
