//! A checker for runs of many consumer processes, after Jepsen's Kafka checker and LINE
//! Decaton's `ProcessorTestSuite`.
//!
//! It reads the ledgers the `gig-worker` processes write (one line per record handed over:
//! partition, offset, process id, outcome, key, and when the downstream got the record and
//! answered it; one line per commit a process saw confirmed, and per rebalance it took part
//! in; see `gig_examples::worker`) and compares them with what was produced. It counts:
//!
//! - `lost`: produced records no process handed over.
//! - `duplicates`: records handed over more than once.
//! - `poll_skips`: offsets a process moved past in a partition without handing them over,
//!   and then committed past, while no other process handed them over (Jepsen's poll skip,
//!   seen from the ledgers: a hole that stays uncommitted, such as the records still in
//!   flight when a process is killed, is not a skip: the group reads them again).
//! - `order_violations`: per key (per partition without key ordering), in the order the
//!   downstreams got them: a gap (1, 3) or a step back (1, 2, 1) that is not a rewind
//!   after a restart (a change of process) or a rebalance (one the process reported between
//!   the two deliveries). A rewind is followed in order from where it lands (1, 2, 1, 2, 3
//!   is fine after a restart; 1, 3, 2 never is). A record handed over as `crashed` (the
//!   crash-loop guard's: processes died delivering it) is not delivered: order skips it.
//! - `serial_violations` (key-ordered runs): a record of a key reaching a downstream while
//!   another of that key was still there, across all processes. A record is "there" from
//!   when its downstream got it until it answered (until its deadline, if it timed out).
//! - `reprocessed_after_commit`: a record reaching a downstream after some process saw a
//!   commit of its partition past it confirmed. The next owner of a partition starts at the
//!   committed offset, so Gig never does this, crash or not; every duplicate is therefore
//!   a record that was in flight (handed over, or delivered, but not yet committed).
//!
//! Times are wall-clock microseconds, which all processes of one machine share.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

pub use gig_examples::ledger_line::{CommitSeen, LedgerLine, RebalanceSeen, RecordLine};
pub use ledgers::{Follower, Ledgers};

mod ledgers;
#[cfg(test)]
mod tests;

/// A produced record, where the producer's delivery report placed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The key as the worker writes it (`k17` stays `k17`).
    pub key: Option<String>,
}

/// What the checker found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Records produced.
    pub records: usize,
    /// Record lines in the ledgers (repeats included).
    pub handed_over: usize,
    /// Processes that handed over records.
    pub processes: usize,
    /// Rewinds after a rebalance or restart (allowed).
    pub rewinds: usize,
    /// See the module docs for these.
    pub lost: usize,
    /// Records handed over more than once.
    pub duplicates: usize,
    /// Offsets a process skipped.
    pub poll_skips: usize,
    /// Gaps and unexplained steps back, per key.
    pub order_violations: usize,
    /// A key at two downstreams (or twice at one) at once.
    pub serial_violations: usize,
    /// Records delivered again below a commit already confirmed.
    pub reprocessed_after_commit: usize,
    /// The first findings of each kind, for a failure message.
    pub examples: Vec<String>,
}

impl Report {
    /// Whether every figure but `duplicates` (and the allowed rewinds) is 0.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.poll_skips == 0
            && self.order_violations == 0
            && self.serial_violations == 0
            && self.reprocessed_after_commit == 0
    }

    fn note(&mut self, example: String) {
        const KEEP: usize = 20;
        if self.examples.len() < KEEP {
            self.examples.push(example);
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "records={} handed_over={} processes={} rewinds={} lost={} poll_skips={} \
             order_violations={} serial_violations={} reprocessed_after_commit={} duplicates={}",
            self.records,
            self.handed_over,
            self.processes,
            self.rewinds,
            self.lost,
            self.poll_skips,
            self.order_violations,
            self.serial_violations,
            self.reprocessed_after_commit,
            self.duplicates
        )
    }
}

/// Checks a run: `produced` is what the log holds, `ledgers` what the processes handed
/// over. With `key_ordered`, order and
/// serial processing are checked per (partition, key) and records without a key are left
/// out of both; otherwise order is checked per partition and serial processing is not
/// promised, so not checked.
pub fn check(produced: &[Produced], ledgers: &Ledgers, key_ordered: bool) -> Report {
    let mut report = Report {
        records: produced.len(),
        handed_over: ledgers.hand_overs.len(),
        processes: ledgers.processes().len(),
        ..Report::default()
    };
    let mut copies: HashMap<(i32, i64), usize> = HashMap::new();
    for h in &ledgers.hand_overs {
        *copies.entry((h.partition, h.offset)).or_default() += 1;
    }
    for p in produced {
        if !copies.contains_key(&(p.partition, p.offset)) {
            report.lost += 1;
            report.note(format!("lost {}/{}", p.partition, p.offset));
        }
    }
    report.duplicates = copies.values().filter(|&&n| n > 1).count();
    poll_skips(produced, ledgers, &mut report);
    order(produced, ledgers, key_ordered, &mut report);
    if key_ordered {
        serial(ledgers, &mut report);
    }
    reprocessed(ledgers, &mut report);
    report
}

/// A process that handed a record over, and when the record reached its downstream.
type Reader = (u32, Option<u64>);

/// Per process and partition: offsets between two it handed over that it did not hand
/// over, that no other process handed over between those two deliveries, and that the
/// process then saw committed.
fn poll_skips(produced: &[Produced], ledgers: &Ledgers, report: &mut Report) {
    let mut committed: HashMap<(u32, i32), i64> = HashMap::new();
    for c in &ledgers.commits {
        let o = committed
            .entry((c.process, c.partition))
            .or_insert(c.offset);
        *o = (*o).max(c.offset);
    }
    let exists: HashSet<(i32, i64)> = produced.iter().map(|p| (p.partition, p.offset)).collect();
    // Per record: who handed it over, and when it reached their downstream.
    let mut by_record: HashMap<(i32, i64), Vec<Reader>> = HashMap::new();
    // Per (process, partition): offset → when it was first delivered there.
    let mut read: BTreeMap<(u32, i32), BTreeMap<i64, Option<u64>>> = BTreeMap::new();
    for h in &ledgers.hand_overs {
        by_record
            .entry((h.partition, h.offset))
            .or_default()
            .push((h.process, h.start_us));
        let start = read
            .entry((h.process, h.partition))
            .or_default()
            .entry(h.offset)
            .or_insert(h.start_us);
        *start = match (*start, h.start_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    for ((process, partition), offsets) in &read {
        let passed = committed.get(&(*process, *partition)).copied().unwrap_or(0);
        let offsets: Vec<(i64, Option<u64>)> = offsets.iter().map(|(o, t)| (*o, *t)).collect();
        for pair in offsets.windows(2) {
            let ((o1, t1), (o2, t2)) = (pair[0], pair[1]);
            let (from, to) = match (t1, t2) {
                (Some(a), Some(b)) => (a.min(b), a.max(b)),
                _ => (0, u64::MAX),
            };
            for gap in o1 + 1..o2.min(passed) {
                if !exists.contains(&(*partition, gap)) {
                    continue;
                }
                let covered = by_record.get(&(*partition, gap)).is_some_and(|hs| {
                    hs.iter().any(|(other, at)| {
                        other != process && at.is_none_or(|at| (from..=to).contains(&at))
                    })
                });
                if !covered {
                    report.poll_skips += 1;
                    report.note(format!(
                        "poll skip: process {process} read {partition}/{o1} then {partition}/{o2} \
                         and committed {passed}; no one read {partition}/{gap} in between"
                    ));
                }
            }
        }
    }
}

/// The unit whose order is promised: (partition, key) with key ordering, else the
/// partition. `None` for what is not ordered (a record without a key, with key ordering).
type Unit = (i32, Option<String>);

fn unit(partition: i32, key: &Option<String>, key_ordered: bool) -> Option<Unit> {
    match (key_ordered, key) {
        (false, _) => Some((partition, None)),
        (true, Some(k)) => Some((partition, Some(k.clone()))),
        (true, None) => None,
    }
}

fn order(produced: &[Produced], ledgers: &Ledgers, key_ordered: bool, report: &mut Report) {
    // A record the crash-loop guard handed over as crashed was not delivered again: the
    // order goes on past it.
    let crashed: HashSet<(i32, i64)> = ledgers
        .hand_overs
        .iter()
        .filter(|h| h.outcome == "crashed")
        .map(|h| (h.partition, h.offset))
        .collect();
    // Each unit's offsets in log order, and each record's place among them.
    let mut sequence: HashMap<Unit, Vec<i64>> = HashMap::new();
    for p in produced {
        if crashed.contains(&(p.partition, p.offset)) {
            continue;
        }
        if let Some(u) = unit(p.partition, &p.key, key_ordered) {
            sequence.entry(u).or_default().push(p.offset);
        }
    }
    let mut place: HashMap<(i32, i64), usize> = HashMap::new();
    for ((partition, _), offsets) in &mut sequence {
        offsets.sort_unstable();
        for (i, o) in offsets.iter().enumerate() {
            place.insert((*partition, *o), i);
        }
    }
    let mut seen: HashMap<Unit, Vec<&RecordLine>> = HashMap::new();
    for h in &ledgers.hand_overs {
        if h.start_us.is_none() || !place.contains_key(&(h.partition, h.offset)) {
            continue;
        }
        if let Some(u) = unit(h.partition, &h.key, key_ordered) {
            seen.entry(u).or_default().push(h);
        }
    }
    // A process notices its rebalance a little after the assignment, which comes before
    // any delivery it brings; a rebalance seen up to this long after such a delivery counts.
    const NOTICED_WITHIN: u64 = 2_000_000;
    let rebalanced = |process: u32, after: u64, until: u64| {
        ledgers
            .rebalances
            .iter()
            .any(|r| r.process == process && r.at_us > after && r.at_us <= until + NOTICED_WITHIN)
    };
    for (u, mut hs) in seen {
        hs.sort_by_key(|h| (h.start_us, h.process, h.offset));
        let mut last: Option<(usize, &RecordLine)> = None;
        for h in hs {
            let i = place[&(h.partition, h.offset)];
            let what = match last {
                None if i == 0 => None,
                None => Some(format!("starts at {}/{}", h.partition, h.offset)),
                Some((j, _)) if i == j + 1 => None,
                Some((j, prev)) if i <= j => {
                    let (from, to) = (prev.start_us.unwrap_or(0), h.start_us.unwrap_or(0));
                    if prev.process != h.process || rebalanced(h.process, from, to) {
                        report.rewinds += 1;
                        None
                    } else {
                        Some(format!(
                            "{}/{} again after {}/{} in process {} with no rebalance between",
                            h.partition, h.offset, prev.partition, prev.offset, h.process
                        ))
                    }
                }
                Some((_, prev)) => Some(format!(
                    "gap: {}/{} (process {}) after {}/{} (process {})",
                    h.partition, h.offset, h.process, prev.partition, prev.offset, prev.process
                )),
            };
            if let Some(what) = what {
                report.order_violations += 1;
                report.note(format!("order {u:?}: {what}"));
            }
            last = Some((i, h));
        }
    }
}

fn serial(ledgers: &Ledgers, report: &mut Report) {
    let mut by_key: HashMap<Unit, Vec<(u64, u64, &RecordLine)>> = HashMap::new();
    for h in &ledgers.hand_overs {
        if let (Some(k), Some(start), Some(end)) = (&h.key, h.start_us, h.end_us) {
            by_key
                .entry((h.partition, Some(k.clone())))
                .or_default()
                .push((start, end, h));
        }
    }
    for (u, mut spans) in by_key {
        spans.sort_by_key(|(start, end, _)| (*start, *end));
        let mut busy: Option<(u64, &RecordLine)> = None;
        for (start, end, h) in spans {
            if let Some((until, other)) = busy {
                if start < until {
                    report.serial_violations += 1;
                    report.note(format!(
                        "serial {u:?}: {}/{} (process {}) started while {}/{} (process {}) was at a downstream",
                        h.partition, h.offset, h.process, other.partition, other.offset, other.process
                    ));
                }
            }
            if busy.is_none_or(|(until, _)| end > until) {
                busy = Some((end, h));
            }
        }
    }
}

fn reprocessed(ledgers: &Ledgers, report: &mut Report) {
    // Per partition, the commits seen in time order, with the highest offset so far.
    let mut commits: BTreeMap<i32, Vec<(u64, i64)>> = BTreeMap::new();
    for c in &ledgers.commits {
        commits
            .entry(c.partition)
            .or_default()
            .push((c.at_us, c.offset));
    }
    for seen in commits.values_mut() {
        seen.sort_unstable();
        let mut highest = i64::MIN;
        for (_, o) in seen.iter_mut() {
            highest = highest.max(*o);
            *o = highest;
        }
    }
    for h in &ledgers.hand_overs {
        let (Some(start), Some(seen)) = (h.start_us, commits.get(&h.partition)) else {
            continue;
        };
        let before = seen.partition_point(|(at, _)| *at < start);
        if let Some((at, committed)) = before.checked_sub(1).map(|i| seen[i]) {
            if committed > h.offset {
                report.reprocessed_after_commit += 1;
                report.note(format!(
                    "{}/{} delivered to process {} at {start} µs, after a commit at {committed} was seen at {at} µs",
                    h.partition, h.offset, h.process
                ));
            }
        }
    }
}
