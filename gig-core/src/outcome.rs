//! What the downstream says of a record, and why a record did not reach the AckedActor.

use std::fmt;
use std::time::{Duration, Instant};

use crate::record::Record;

/// The downstream's answer for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Processed: the record goes to the AckedActor.
    Ack,
    /// Failed, with a reason: the record goes to the NoAckedActor at once.
    Nack(String),
}

/// The reason a record was handed to the NoAckedActor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoAckReason {
    /// The downstream nacked the record, with its message.
    Nacked(String),
    /// No ack arrived before the deadline.
    TimedOut {
        /// The ack timeout the record had.
        after: Duration,
        /// The deadline it missed: how late the hand-over was is `now - deadline`.
        deadline: Instant,
    },
    /// The payload could not be decoded into the type the downstream asked for.
    Undecodable(String),
    /// The delivery was dropped without an answer (a handler that returned early, a
    /// downstream that panicked or stopped with it in its mailbox): nothing can answer it
    /// any more, so it goes to the NoAckedActor at once instead of at its deadline.
    Dropped,
    /// A handler panicked on the record: the downstream's handler of its delivery, or the
    /// AckedActor's handler of a hand-over that held it alone. Its actor was restarted
    /// (when Gig started it from a factory); the record is not delivered again.
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// Processes reading the record died while it was delivered, `deliveries` times (the
    /// count is kept in the partition's committed offset, so it survives them): it is not
    /// delivered again. See the consumer's crash-loop guard.
    Crashed {
        /// How many deliveries of the record the consumer processes did not survive.
        deliveries: u32,
    },
}

impl fmt::Display for NoAckReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoAckReason::Nacked(why) => write!(f, "nacked: {why}"),
            NoAckReason::TimedOut { after, .. } => {
                write!(f, "timed out after {} ms", after.as_millis())
            }
            NoAckReason::Undecodable(why) => write!(f, "undecodable: {why}"),
            NoAckReason::Dropped => f.write_str("dropped unanswered"),
            NoAckReason::Panicked { message } => write!(f, "panicked: {message}"),
            NoAckReason::Crashed { deliveries } => write!(
                f,
                "crashed the consumer process in each of its last {deliveries} deliveries"
            ),
        }
    }
}

/// A record that was not acked, and why.
#[derive(Debug, Clone)]
pub struct NoAckedRecord {
    /// The record as it was fetched.
    pub record: Record,
    /// Why it was not acked.
    pub reason: NoAckReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences() {
        let t = NoAckReason::TimedOut {
            after: Duration::from_millis(3000),
            deadline: Instant::now(),
        };
        assert_eq!(t.to_string(), "timed out after 3000 ms");
        assert_eq!(NoAckReason::Nacked("bad".into()).to_string(), "nacked: bad");
        assert_eq!(NoAckReason::Dropped.to_string(), "dropped unanswered");
        let panicked = NoAckReason::Panicked {
            message: "index out of bounds".into(),
        };
        assert_eq!(panicked.to_string(), "panicked: index out of bounds");
    }
}
