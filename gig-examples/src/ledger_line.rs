//! One line of a ledger file, the one type its writer ([`crate::ledger_file`]) and its
//! readers (the reliability checker in `tests/src/checker/`, [`crate::chaos::read_ledger`])
//! share: written with `Display`, read back with `FromStr`. The format is in
//! [`crate::worker`]'s docs; fields are separated by one space and never hold one.
//!
//! It stays a line of plain fields rather than JSON: gig-bench's soak and several tests read
//! fields by position, and a line torn by a SIGKILL is still told apart by its missing
//! newline.

use std::fmt;
use std::str::FromStr;

/// One record as one process handed it over: a record line,
/// `PARTITION OFFSET PID OUTCOME KEY START_US END_US`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLine {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The process that handed it over (its OS pid; 0 on a line without one).
    pub process: u32,
    /// `ack`, `nack`, `timeout`, `undecodable`, `dropped`, `panicked` or `crashed` (`ack`
    /// on a line without one).
    pub outcome: String,
    /// The key as one field (see [`key_field`]); `None` for a record without a key.
    pub key: Option<String>,
    /// When the downstream got it, in wall-clock µs.
    pub start_us: Option<u64>,
    /// When the downstream answered it (its deadline, if it timed out), in wall-clock µs.
    pub end_us: Option<u64>,
}

/// A commit a process saw confirmed by the broker: `C PARTITION OFFSET PID AT_US`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitSeen {
    /// Partition.
    pub partition: i32,
    /// The committed offset: the next one to read.
    pub offset: i64,
    /// The process that saw it.
    pub process: u32,
    /// When, in wall-clock µs.
    pub at_us: u64,
}

/// A rebalance a process took part in, its consumer's `rebalances`-th assignment:
/// `R PID AT_US REBALANCES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebalanceSeen {
    /// The process.
    pub process: u32,
    /// When it saw it, in wall-clock µs: a little after the assignment itself.
    pub at_us: u64,
    /// The consumer's rebalance count then (0 on a line without one).
    pub rebalances: u64,
}

/// A line of a ledger file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerLine {
    /// A record handed over.
    Record(RecordLine),
    /// A confirmed commit.
    Commit(CommitSeen),
    /// A rebalance.
    Rebalance(RebalanceSeen),
}

/// A key as one whitespace-free field: `-` for none; `0x…` in hex unless it is printable
/// ASCII without spaces (and neither `-` nor starting with `0x`).
pub fn key_field(key: Option<&[u8]>) -> String {
    match key {
        None => "-".to_string(),
        Some(k)
            if !k.is_empty()
                && k != b"-"
                && !k.starts_with(b"0x")
                && k.iter().all(u8::is_ascii_graphic) =>
        {
            String::from_utf8_lossy(k).into_owned()
        }
        Some(k) => {
            let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}")
        }
    }
}

struct Dash(Option<u64>);

impl fmt::Display for Dash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("-"),
        }
    }
}

impl fmt::Display for LedgerLine {
    /// The line without its newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerLine::Record(r) => write!(
                f,
                "{} {} {} {} {} {} {}",
                r.partition,
                r.offset,
                r.process,
                r.outcome,
                r.key.as_deref().unwrap_or("-"),
                Dash(r.start_us),
                Dash(r.end_us)
            ),
            LedgerLine::Commit(c) => {
                write!(
                    f,
                    "C {} {} {} {}",
                    c.partition, c.offset, c.process, c.at_us
                )
            }
            LedgerLine::Rebalance(r) => write!(f, "R {} {} {}", r.process, r.at_us, r.rebalances),
        }
    }
}

/// A line that is not a ledger line (a torn or foreign one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotALedgerLine;

impl FromStr for LedgerLine {
    type Err = NotALedgerLine;

    /// Reads a line; a record line needs only its partition and offset (older ledgers
    /// wrote no more), the fields after them default as [`RecordLine`] says.
    fn from_str(line: &str) -> Result<Self, NotALedgerLine> {
        let mut f = line.split_whitespace();
        let first = f.next().ok_or(NotALedgerLine)?;
        let mut next = || f.next().ok_or(NotALedgerLine);
        fn num<T: FromStr>(field: &str) -> Result<T, NotALedgerLine> {
            field.parse().map_err(|_| NotALedgerLine)
        }
        match first {
            "C" => Ok(LedgerLine::Commit(CommitSeen {
                partition: num(next()?)?,
                offset: num(next()?)?,
                process: num(next()?)?,
                at_us: num(next()?)?,
            })),
            "R" => Ok(LedgerLine::Rebalance(RebalanceSeen {
                process: num(next()?)?,
                at_us: num(next()?)?,
                rebalances: next().ok().and_then(|n| n.parse().ok()).unwrap_or(0),
            })),
            _ => {
                let partition = num(first)?;
                let offset = num(next()?)?;
                let mut rest = || next().ok();
                Ok(LedgerLine::Record(RecordLine {
                    partition,
                    offset,
                    process: rest().and_then(|p| p.parse().ok()).unwrap_or(0),
                    outcome: rest().unwrap_or("ack").to_string(),
                    key: rest().filter(|k| *k != "-").map(str::to_string),
                    start_us: rest().and_then(|t| t.parse().ok()),
                    end_us: rest().and_then(|t| t.parse().ok()),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_line_reads_back_as_written() {
        for text in [
            "2 17 41 ack k17 100 200",
            "0 3 41 timeout 0x00ff 100 -",
            "0 4 41 nack - - -",
            "C 2 18 41 300",
            "R 41 400 3",
        ] {
            let line: LedgerLine = text.parse().unwrap();
            assert_eq!(line.to_string(), text);
        }
    }

    #[test]
    fn an_old_two_field_line_is_an_acked_record_of_no_process() {
        let LedgerLine::Record(r) = "0 1".parse().unwrap() else {
            panic!("not a record line")
        };
        assert_eq!((r.partition, r.offset, r.process), (0, 1, 0));
        assert_eq!((r.outcome.as_str(), r.key), ("ack", None));
        assert!("C 0 1".parse::<LedgerLine>().is_err());
        assert!("x y".parse::<LedgerLine>().is_err());
    }

    #[test]
    fn keys_are_one_field() {
        assert_eq!(key_field(None), "-");
        assert_eq!(key_field(Some(b"k1")), "k1");
        assert_eq!(key_field(Some(b"a b")), "0x612062");
        assert_eq!(key_field(Some(b"-")), "0x2d");
        assert_eq!(key_field(Some(b"")), "0x");
    }
}
