//! The soak's ledger: the AckedActor and NoAckedActor, a file the reliability checker reads
//! (`--soak-ledger DIR`) or an in-memory window; and the tally of lost records and copies.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_examples::ledger_file::{FileLedger, Times};

use crate::settings::fail;

/// Per partition, the offsets handed over: everything below `base`, and a bit per offset
/// from `base` on. Words that fill up leave the window, so it spans only the offsets still
/// in flight (and any record never handed over, which is lost).
#[derive(Default)]
struct Window {
    base: i64,
    words: VecDeque<u64>,
}

/// Records handed over, per partition, and the extra copies.
#[derive(Default)]
struct Seen {
    partitions: BTreeMap<i32, Window>,
    /// Copies of a record beyond its first.
    duplicates: u64,
}

impl Seen {
    fn mark(&mut self, partition: i32, offset: i64) {
        let w = self.partitions.entry(partition).or_default();
        if offset < w.base {
            self.duplicates += 1;
            return;
        }
        let i = (offset - w.base) as usize;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if w.words.len() <= word {
            w.words.resize(word + 1, 0);
        }
        if w.words[word] & bit != 0 {
            self.duplicates += 1;
            return;
        }
        w.words[word] |= bit;
        while w.words.front() == Some(&u64::MAX) {
            w.words.pop_front();
            w.base += 64;
        }
    }

    /// Offsets below each partition's end (offsets start at 0: the topic is new) that were
    /// never handed over.
    fn lost(&self, ends: &BTreeMap<i32, i64>) -> u64 {
        let mut lost = 0;
        for (partition, &end) in ends {
            let Some(w) = self.partitions.get(partition) else {
                lost += end.max(0) as u64;
                continue;
            };
            for offset in w.base..end {
                let i = (offset - w.base) as usize;
                let set = w
                    .words
                    .get(i / 64)
                    .is_some_and(|word| word & (1u64 << (i % 64)) != 0);
                lost += u64::from(!set);
            }
        }
        lost
    }
}

/// The AckedActor and NoAckedActor without `--soak-ledger`.
#[derive(Default)]
pub(crate) struct MemLedger(Seen);

impl Actor for MemLedger {
    type Context = Context<Self>;
}

impl Handler<Acked> for MemLedger {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        for r in &m.records {
            self.0.mark(r.partition(), r.offset());
        }
        Ok(())
    }
}

impl Handler<NoAcked> for MemLedger {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        for r in &m.records {
            self.0.mark(r.record.partition(), r.record.offset());
        }
        Ok(())
    }
}

/// Lost records and extra copies, given each partition's end.
#[derive(Message)]
#[rtype(result = "(u64, u64)")]
pub(crate) struct Tally(pub(crate) BTreeMap<i32, i64>);

impl Handler<Tally> for MemLedger {
    type Result = MessageResult<Tally>;
    fn handle(&mut self, m: Tally, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.0.lost(&m.0), self.0.duplicates))
    }
}

/// The ledger the consumer hands over to.
pub(crate) enum Ledger {
    File(Addr<FileLedger>, PathBuf),
    Memory(Addr<MemLedger>),
}

/// The ledger, with `--soak-ledger DIR` in `DIR/ledger` (and the list of records produced
/// in `DIR/produced`, with the times the downstream notes), else in memory.
pub(crate) fn open(dir: Option<&Path>) -> (Ledger, Option<Mutex<BufWriter<File>>>, Option<Times>) {
    let Some(dir) = dir else {
        return (Ledger::Memory(MemLedger::default().start()), None, None);
    };
    std::fs::create_dir_all(dir)
        .unwrap_or_else(|e| fail(&format!("--soak-ledger {}: {e}", dir.display())));
    let path = dir.join("ledger");
    let produced = dir.join("produced");
    for old in [&path, &produced] {
        let _ = std::fs::remove_file(old);
    }
    let (file_ledger, times) =
        FileLedger::open(&path.to_string_lossy(), None).unwrap_or_else(|e| fail(&e));
    let list =
        File::create(&produced).unwrap_or_else(|e| fail(&format!("{}: {e}", produced.display())));
    (
        Ledger::File(file_ledger.start(), path),
        Some(Mutex::new(BufWriter::new(list))),
        Some(times),
    )
}

/// Lost records and extra copies from a ledger file, read line by line.
pub(crate) fn tally_file(path: &Path, ends: &BTreeMap<i32, i64>) -> (u64, u64) {
    let file = File::open(path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    let mut seen = Seen::default();
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        let mut f = line.split_whitespace();
        let (Some(Ok(partition)), Some(Ok(offset))) = (
            f.next().map(str::parse::<i32>),
            f.next().map(str::parse::<i64>),
        ) else {
            continue; // a commit or rebalance line
        };
        seen.mark(partition, offset);
    }
    (seen.lost(ends), seen.duplicates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_lost_records_and_copies() {
        let mut seen = Seen::default();
        for o in (0..200).filter(|o| *o != 70) {
            seen.mark(0, o);
        }
        seen.mark(0, 3);
        seen.mark(0, 150);
        seen.mark(1, 0);
        let ends = BTreeMap::from([(0, 202), (1, 1), (2, 5)]);
        // 70, 200 and 201 on partition 0; all 5 of partition 2.
        assert_eq!(seen.lost(&ends), 8);
        assert_eq!(seen.duplicates, 2);
        assert_eq!(seen.partitions[&0].base, 64);
    }
}
