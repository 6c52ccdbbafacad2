//! The ledgers of a run, read whole ([`Ledgers`]) or followed while workers append to
//! them ([`Follower`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{CommitSeen, LedgerLine, RebalanceSeen, RecordLine};

/// What the ledgers of a run hold.
#[derive(Debug, Clone, Default)]
pub struct Ledgers {
    /// Every record line, in file order.
    pub hand_overs: Vec<RecordLine>,
    /// Every commit line.
    pub commits: Vec<CommitSeen>,
    /// Every rebalance line.
    pub rebalances: Vec<RebalanceSeen>,
}

impl Ledgers {
    /// Parses ledger text; a last line without its newline (still being written) is left out.
    pub fn parse(text: &str) -> Ledgers {
        let mut ledgers = Ledgers::default();
        ledgers.add(text);
        ledgers
    }

    /// Reads every ledger file; a file that does not exist holds nothing.
    pub fn read<'a>(paths: impl IntoIterator<Item = &'a PathBuf>) -> Ledgers {
        let mut ledgers = Ledgers::default();
        for path in paths {
            if let Ok(text) = std::fs::read_to_string(path) {
                ledgers.add(&text);
            }
        }
        ledgers
    }

    /// Adds the complete lines of `text`; returns how many bytes they span.
    fn add(&mut self, text: &str) -> usize {
        let complete = text.rfind('\n').map_or(0, |end| end + 1);
        for line in text[..complete].lines() {
            match line.parse() {
                Ok(LedgerLine::Record(r)) => self.hand_overs.push(r),
                Ok(LedgerLine::Commit(c)) => self.commits.push(c),
                Ok(LedgerLine::Rebalance(r)) => self.rebalances.push(r),
                Err(_) => {}
            }
        }
        complete
    }

    /// The records `process` handed over at or past the last commit of their partition it
    /// saw: what may be handed over again if it dies now.
    pub fn uncommitted_tail(&self, process: u32) -> BTreeSet<(i32, i64)> {
        let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
        for c in self.commits.iter().filter(|c| c.process == process) {
            let o = committed.entry(c.partition).or_insert(c.offset);
            *o = (*o).max(c.offset);
        }
        self.hand_overs
            .iter()
            .filter(|h| h.process == process)
            .filter(|h| h.offset >= committed.get(&h.partition).copied().unwrap_or(0))
            .map(|h| (h.partition, h.offset))
            .collect()
    }

    /// The distinct processes that handed over records.
    pub fn processes(&self) -> BTreeSet<u32> {
        self.hand_overs.iter().map(|h| h.process).collect()
    }
}

/// Follows ledger files while workers append to them, reading only what is new: the
/// distinct records handed over so far, for waits on a run's progress.
#[derive(Debug, Default)]
pub struct Follower {
    read: BTreeMap<PathBuf, u64>,
    seen: HashSet<(i32, i64)>,
    lines: usize,
}

impl Follower {
    /// Follows `path` too (it need not exist yet).
    pub fn watch(&mut self, path: &Path) {
        self.read.entry(path.to_path_buf()).or_insert(0);
    }

    /// Reads what was appended since the last call; returns the distinct records so far.
    pub fn poll(&mut self) -> usize {
        for (path, pos) in &mut self.read {
            let Ok(mut file) = std::fs::File::open(path) else {
                continue;
            };
            let mut text = String::new();
            if file.seek(SeekFrom::Start(*pos)).is_err() || file.read_to_string(&mut text).is_err()
            {
                continue;
            }
            let mut new = Ledgers::default();
            *pos += new.add(&text) as u64;
            self.lines += new.hand_overs.len();
            self.seen
                .extend(new.hand_overs.iter().map(|h| (h.partition, h.offset)));
        }
        self.seen.len()
    }

    /// Distinct records handed over, as of the last [`Follower::poll`].
    pub fn unique(&self) -> usize {
        self.seen.len()
    }

    /// Record lines read (records handed over, repeats included), as of the last poll.
    pub fn lines(&self) -> usize {
        self.lines
    }
}
