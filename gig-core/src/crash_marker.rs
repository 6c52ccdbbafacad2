//! The crash-loop guard's marker: what Gig keeps in a partition's committed-offset metadata
//! so that a record which kills the consumer's process on every delivery is found, and
//! handed over as crashed, rather than stopping its partition for good.
//!
//! Kafka stores a metadata string with each committed offset (at most
//! `offset.metadata.max.bytes`, 4,096 by default), and any member of the group reads it
//! back with the offset. Before a member delivers a record past what its last commit covers,
//! it commits a marker `until`: it may deliver records up to there before its next commit.
//! A member that lets a partition go (a revocation, a stop) commits it without a marker. So
//! the next owner that finds a marker past the committed offset knows a process may have
//! died while delivering a record in between. It then delivers those records carefully, a
//! group at a time, and before each group commits its first offset with `deliveries`, the
//! count of the group's deliveries so far, this one included, and `group_end`, where the
//! group ends: a process that dies on one of them leaves the count raised. A group counted
//! often is delivered a record at a time; a record whose count reaches `max_deliveries` is
//! handed over as crashed instead of being delivered again.
//!
//! The text is ASCII: `gig1 h=UNTIL`, or `gig1 h=UNTIL n=DELIVERIES e=GROUP_END` while
//! records go carefully. Any other text (another library's, or none) is no marker.

use std::fmt;

const TAG: &str = "gig1";

/// A marker, as committed with an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Marker {
    /// One past the last offset that may have been delivered before the next commit.
    pub until: i64,
    /// While records go carefully: the deliveries of the records from the committed offset
    /// to `group_end`, the one in progress included.
    pub deliveries: Option<u32>,
    /// While records go carefully: one past the last offset `deliveries` counts.
    pub group_end: Option<i64>,
}

impl Marker {
    /// Reads a committed metadata string: `None` when it is no marker of Gig's.
    pub fn parse(text: &str) -> Option<Marker> {
        let mut words = text.split(' ');
        if words.next()? != TAG {
            return None;
        }
        let until = words.next()?.strip_prefix("h=")?.parse().ok()?;
        let (deliveries, group_end) = match (words.next(), words.next()) {
            (None, _) => (None, None),
            (Some(n), Some(e)) => (
                Some(n.strip_prefix("n=")?.parse().ok()?),
                Some(e.strip_prefix("e=")?.parse().ok()?),
            ),
            (Some(_), None) => return None,
        };
        if words.next().is_some() {
            return None;
        }
        Some(Marker {
            until,
            deliveries,
            group_end,
        })
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TAG} h={}", self.until)?;
        if let (Some(n), Some(e)) = (self.deliveries, self.group_end) {
            write!(f, " n={n} e={e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_read_back_as_written() {
        for marker in [
            Marker {
                until: 120,
                deliveries: None,
                group_end: None,
            },
            Marker {
                until: i64::MAX,
                deliveries: Some(4),
                group_end: Some(17),
            },
        ] {
            assert_eq!(Marker::parse(&marker.to_string()), Some(marker));
        }
        let careful = Marker {
            until: 7,
            deliveries: Some(2),
            group_end: Some(5),
        };
        assert_eq!(careful.to_string(), "gig1 h=7 n=2 e=5");
    }

    #[test]
    fn other_metadata_is_no_marker() {
        for text in [
            "",
            "gig1",
            "gig2 h=5",
            "gig1 h=x",
            "gig1 h=5 n=",
            "gig1 h=5 n=1",
            "gig1 h=5 n=1 e=3 z",
            "{}",
        ] {
            assert_eq!(Marker::parse(text), None, "{text:?}");
        }
    }
}
