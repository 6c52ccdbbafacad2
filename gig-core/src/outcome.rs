//! Why a record did not reach the AckedActor.

use std::fmt;
use std::time::{Duration, Instant};

/// The reason a record was handed to the NoAckedActor.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The downstream actor had stopped when the record was to be delivered.
    DownstreamGone,
    /// The payload could not be decoded into the type the downstream asked for.
    Undecodable(String),
}

impl fmt::Display for NoAckReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoAckReason::Nacked(why) => write!(f, "nacked: {why}"),
            NoAckReason::TimedOut { after, .. } => {
                write!(f, "timed out after {} ms", after.as_millis())
            }
            NoAckReason::DownstreamGone => f.write_str("downstream gone"),
            NoAckReason::Undecodable(why) => write!(f, "undecodable: {why}"),
        }
    }
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
        assert_eq!(NoAckReason::DownstreamGone.to_string(), "downstream gone");
    }
}
