//! The crash-loop guard's reads (gig_core::crash_marker): at each assignment, the
//! partitions' committed offsets and their metadata, and for those whose metadata shows a
//! crash the high watermark, read on the query thread; their records wait in the pipeline
//! until the answer comes.

use std::time::Duration;

use actix::prelude::*;
use gig_core::{Marker, Partition};
use log::warn;
use rdkafka::consumer::Consumer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::ConsumerActor;
use crate::driver::{self, Drives};

/// How long the read of the committed offsets may take before the guard starts afresh.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What an assignment's partitions' committed offsets say; `None` for those that could not
/// be read.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct CommittedState {
    assignment: u64,
    partitions: Vec<(Partition, Option<Read>)>,
}

/// One partition's committed offset, its metadata, and its high watermark when the metadata
/// shows a crash.
#[derive(Debug)]
struct Read {
    committed: Option<i64>,
    metadata: String,
    high_watermark: Option<i64>,
}

impl ConsumerActor {
    /// Partitions were assigned: with the crash-loop guard on, reads what their committed
    /// offsets carry.
    pub(super) fn guard_assigned(&mut self, partitions: &[Partition], ctx: &mut Context<Self>) {
        let Some(assignment) = self.driver.pipeline.handle_assigned(partitions) else {
            return;
        };
        let me = ctx.address();
        let partitions = partitions.to_vec();
        let asked = self.client.query(move |consumer| {
            let mut tpl = TopicPartitionList::new();
            for (topic, partition) in &partitions {
                tpl.add_partition(topic, *partition);
            }
            let read = consumer.committed_offsets(tpl, READ_TIMEOUT);
            let state = partitions
                .into_iter()
                .map(|p| {
                    let read = read.as_ref().ok().and_then(|tpl| {
                        let e = tpl.find_partition(&p.0, p.1)?;
                        let committed = match e.offset() {
                            Offset::Offset(o) => Some(o),
                            _ => None,
                        };
                        let metadata = e.metadata().to_string();
                        let crashed = Marker::parse(&metadata)
                            .zip(committed)
                            .is_some_and(|(m, c)| m.until > c);
                        // What the process that died could have delivered is below it.
                        let high_watermark = crashed
                            .then(|| consumer.fetch_watermarks(&p.0, p.1, READ_TIMEOUT).ok())
                            .flatten()
                            .map(|(_, high)| high);
                        Some(Read {
                            committed,
                            metadata,
                            high_watermark,
                        })
                    });
                    (p, read)
                })
                .collect();
            if let Err(e) = &read {
                warn!("crash-loop guard: the committed offsets could not be read ({e}): their partitions start afresh");
            }
            me.do_send(CommittedState {
                assignment,
                partitions: state,
            });
        });
        if let Err(e) = asked {
            warn!("crash-loop guard: {e}");
        }
    }
}

impl ConsumerActor {
    /// Pauses the partitions the guard holds back while others go one record at a time,
    /// and resumes them after.
    pub(super) fn hold_back(&mut self) {
        let held_back = self.driver.pipeline.held_back();
        if held_back != self.held_back {
            self.client.hold_back(held_back.clone());
            self.held_back = held_back;
        }
    }
}

impl Handler<CommittedState> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, state: CommittedState, ctx: &mut Context<Self>) {
        let pipeline = &mut self.driver.pipeline;
        for (partition, read) in &state.partitions {
            let (committed, metadata, high) = match read {
                Some(r) => (r.committed, Some(r.metadata.as_str()), r.high_watermark),
                None => (None, None, None),
            };
            let assignment = state.assignment;
            pipeline.handle_committed_state(partition, assignment, committed, metadata, high);
        }
        driver::deliver_now(self, ctx);
        self.progressed(ctx);
    }
}
