//! Catching up: has every record below the partitions' ends, as they were when someone
//! asked, been handed over and committed? The consumer's `CaughtUp` command asks this
//! after each step; the ends come from the broker (its I/O), the answer from here.

use std::sync::Arc;

use super::Pipeline;
use crate::ack_book::CommitOffset;

/// One partition's offsets when a catch-up was asked for, as the broker gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionEnd {
    /// The topic of the partition.
    pub topic: Arc<str>,
    /// The partition within its topic.
    pub partition: i32,
    /// The low watermark: the first offset the partition still holds.
    pub low: i64,
    /// The high watermark: the offset the next produced record gets.
    pub high: i64,
    /// The group's committed offset then, if it has one.
    pub committed: Option<i64>,
}

impl PartitionEnd {
    /// The offset that must be committed for this partition to be caught up, or `None`
    /// if it already is: the group's commit reaches the high watermark, or the group has
    /// none and the partition holds no records.
    pub fn target(&self) -> Option<CommitOffset> {
        let done = match self.committed {
            Some(committed) => committed >= self.high,
            None => self.low >= self.high,
        };
        (!done).then(|| CommitOffset {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.high,
            marker: None,
        })
    }
}

/// How far the pipeline is from a catch-up's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// The broker confirmed a commit at or past every target.
    Done,
    /// Every record below the targets is handed over; the commit has yet to be confirmed
    /// (the driver should commit now rather than wait for the interval).
    Resolved,
    /// Records below a target are not handed over yet (or not even fetched).
    Waiting,
}

impl Pipeline {
    /// Where the pipeline stands against `targets` (from [`PartitionEnd::target`]).
    pub fn catch_up(&self, targets: &[CommitOffset]) -> CatchUp {
        if self.is_committed(targets) {
            return CatchUp::Done;
        }
        let resolved = targets.iter().all(|t| {
            let confirmed = self.committed().get(&(t.topic.clone(), t.partition));
            let committable = self
                .book
                .partition(&t.topic, t.partition)
                .and_then(|book| book.committable());
            confirmed
                .into_iter()
                .chain(&committable)
                .any(|&o| o >= t.offset)
        });
        match resolved {
            true => CatchUp::Resolved,
            false => CatchUp::Waiting,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::config::ConsumerConfig;
    use crate::outcome::Verdict;
    use crate::record::keyed_record as record;

    fn end(low: i64, high: i64, committed: Option<i64>) -> PartitionEnd {
        PartitionEnd {
            topic: Arc::from("t"),
            partition: 0,
            low,
            high,
            committed,
        }
    }

    #[test]
    fn a_partition_is_caught_up_already_when_its_commit_or_its_emptiness_says_so() {
        assert_eq!(end(0, 5, Some(5)).target(), None);
        assert_eq!(end(3, 3, None).target(), None);
        assert_eq!(end(0, 5, Some(2)).target().map(|t| t.offset), Some(5));
        assert_eq!(end(0, 5, None).target().map(|t| t.offset), Some(5));
    }

    #[test]
    fn catching_up_waits_for_the_hand_over_then_for_the_confirmed_commit() {
        let t0 = Instant::now();
        let mut pipeline = Pipeline::new(&ConsumerConfig::new("b", "g")).unwrap();
        let targets = [end(0, 2, None).target().unwrap()];
        assert_eq!(pipeline.catch_up(&targets), CatchUp::Waiting, "not fetched");
        pipeline.handle_fetched(vec![record(0, 0, None), record(0, 1, None)], t0);
        let out = pipeline.poll_outbound();
        pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
        pipeline.handle_answer(out[1].token, Verdict::Ack, t0);
        assert_eq!(
            pipeline.catch_up(&targets),
            CatchUp::Waiting,
            "not handed over"
        );
        while let Some(batch) = pipeline.poll_handover() {
            pipeline.handle_accepted(&batch);
        }
        assert_eq!(pipeline.catch_up(&targets), CatchUp::Resolved);
        let plan = pipeline.take_commit().expect("offsets to commit");
        pipeline.handle_committed(plan.offsets());
        assert_eq!(pipeline.catch_up(&targets), CatchUp::Done);
    }
}
