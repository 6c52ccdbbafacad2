//! Crash testing with real processes: Gig consumers run as child processes (see
//! [`crate::worker`]) that are SIGKILLed at random points and restarted, and a ledger of
//! what each handed over shows what was lost and what was repeated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::eos::group_lag;
use crate::ledger_line::LedgerLine;

/// A record: partition and offset.
pub type Rec = (i32, i64);

mod process;

pub use process::{WorkerCommand, WorkerProcess, WorkerStatus};

/// The `partition offset` of every record line of a ledger file (none if it does not exist
/// yet): its record lines' (see [`LedgerLine`]); commit and rebalance lines are left out,
/// and so is a last line the worker is still writing.
pub fn read_ledger(path: &Path) -> Vec<Rec> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter_map(|line| match line.parse() {
            Ok(LedgerLine::Record(r)) => Some((r.partition, r.offset)),
            _ => None,
        })
        .collect()
}

/// Every line of every ledger.
pub fn read_ledgers<'a>(paths: impl IntoIterator<Item = &'a PathBuf>) -> Vec<Rec> {
    paths.into_iter().flat_map(|p| read_ledger(p)).collect()
}

/// Waits until `ok`, checking every 20 ms: the workers are other processes, so no event
/// reaches this one. Errors after `timeout`.
pub async fn wait_until(
    what: &str,
    timeout: Duration,
    mut ok: impl FnMut() -> bool,
) -> Result<(), String> {
    let until = Instant::now() + timeout;
    while !ok() {
        if Instant::now() >= until {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The outcome of a crash run.
#[derive(Debug, Clone)]
pub struct CrashSummary {
    /// Records produced.
    pub records: u64,
    /// SIGKILLs.
    pub kills: usize,
    /// Ledger lines (records handed over, repeats included).
    pub handed_over: usize,
    /// Distinct records handed over.
    pub unique: usize,
    /// Records never handed over.
    pub lost: u64,
    /// Distinct records handed over more than once.
    pub duplicates: usize,
    /// Records a killed process had handed over at or past its last reported commit: the
    /// only ones allowed to repeat.
    pub duplicate_bound: usize,
    /// Whether every duplicate is within that bound.
    pub duplicates_within_bound: bool,
    /// Wall time.
    pub secs: f64,
}

impl std::fmt::Display for CrashSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "records={} kills={} handed_over={} unique={} lost={} duplicates={} duplicate_bound={} duplicates_within_bound={} secs={:.1}",
            self.records,
            self.kills,
            self.handed_over,
            self.unique,
            self.lost,
            self.duplicates,
            self.duplicate_bound,
            self.duplicates_within_bound,
            self.secs
        )
    }
}

/// A small deterministic generator for kill points.
pub struct XorShift(pub u64);

impl XorShift {
    /// A run's seed: the number in the env var `var`, so that a printed seed replays its
    /// run, else one from the clock (odd: a zero state would stay zero).
    pub fn seed_from_env(var: &str) -> u64 {
        std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| crate::ledger_file::wall_us() | 1)
    }

    /// The next number in `[lo, hi]`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo + 1)
    }
}

/// Runs one consumer process at a time over a topic holding `records` records: each is
/// SIGKILLed once it has handed over a random number of new records, and replaced, `kills`
/// times; a last one runs to the end and stops cleanly. `dir` holds the ledgers.
pub async fn crash_run(
    cmd: &WorkerCommand,
    records: u64,
    kills: usize,
    seed: u64,
    dir: &Path,
) -> Result<CrashSummary, String> {
    let started = Instant::now();
    let mut rng = XorShift(seed.max(1));
    let mut ledgers: Vec<PathBuf> = Vec::new();
    let mut windows: BTreeSet<Rec> = BTreeSet::new();
    let per_kill = (records / (kills as u64 + 1)).max(2);
    for k in 0..kills {
        let mut worker = WorkerProcess::spawn(cmd, k, dir).map_err(|e| e.to_string())?;
        ledgers.push(worker.ledger.clone());
        let before = read_ledgers(&ledgers)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len() as u64;
        let target = (before + rng.between(per_kill / 2, per_kill * 3 / 2)).min(records);
        let ledger = worker.ledger.clone();
        let reached = wait_until("records before the kill", Duration::from_secs(120), || {
            before + read_ledger(&ledger).len() as u64 >= target
        })
        .await;
        let status = worker.status();
        worker.kill().map_err(|e| e.to_string())?;
        reached?;
        // What this process handed over at or past its last reported commit may repeat.
        for (p, o) in read_ledger(&worker.ledger) {
            if o >= status.committed.get(&p).copied().unwrap_or(0) {
                windows.insert((p, o));
            }
        }
        eprintln!(
            "  kill {}/{kills}: after {target} of {records} records",
            k + 1
        );
    }
    let mut last = WorkerProcess::spawn(cmd, kills, dir).map_err(|e| e.to_string())?;
    ledgers.push(last.ledger.clone());
    let all_read = wait_until("every record", Duration::from_secs(300), || {
        read_ledgers(&ledgers)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len() as u64
            >= records
    })
    .await;
    let clean = last.stop().map_err(|e| e.to_string())?;
    all_read?;
    if !clean {
        return Err("the last worker did not stop cleanly".to_string());
    }
    let all = read_ledgers(&ledgers);
    let mut counts: BTreeMap<Rec, usize> = BTreeMap::new();
    for r in &all {
        *counts.entry(*r).or_default() += 1;
    }
    let duplicates: Vec<Rec> = counts
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(r, _)| *r)
        .collect();
    Ok(CrashSummary {
        records,
        kills,
        handed_over: all.len(),
        unique: counts.len(),
        lost: records.saturating_sub(counts.len() as u64),
        duplicates: duplicates.len(),
        duplicate_bound: windows.len(),
        duplicates_within_bound: duplicates.iter().all(|r| windows.contains(r)),
        secs: started.elapsed().as_secs_f64(),
    })
}

/// Waits until the broker shows `cmd`'s group committed at `ends` on every partition (a
/// worker reports only the partitions it committed itself).
async fn committed_at(
    cmd: &WorkerCommand,
    ends: &BTreeMap<i32, i64>,
    timeout: Duration,
) -> Result<(), String> {
    let until = Instant::now() + timeout;
    loop {
        let (brokers, group, topic) = (cmd.brokers.clone(), cmd.group.clone(), cmd.topic.clone());
        let lag = tokio::task::spawn_blocking(move || group_lag(&brokers, &group, &topic))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let at_end = ends.iter().all(|(p, end)| {
            let committed = lag.partitions.get(p).and_then(|(c, _)| *c);
            committed.is_some_and(|c| c >= *end)
        });
        if at_end {
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(format!(
                "timed out after {timeout:?} waiting for commits at {ends:?}: {lag:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The outcome of [`kill_at_random_moments`].
#[derive(Debug, Clone)]
pub struct KillSummary {
    /// SIGKILLs.
    pub kills: usize,
    /// Ledger lines: records handed over, repeats included.
    pub handed_over: usize,
    /// Distinct records handed over.
    pub unique: usize,
    /// How long each killed process lived after it first held partitions, in ms.
    pub lived_ms: Vec<u64>,
    /// Wall time.
    pub secs: f64,
}

impl std::fmt::Display for KillSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kills={} handed_over={} unique={} lived_ms={:?} secs={:.1}",
            self.kills, self.handed_over, self.unique, self.lived_ms, self.secs
        )
    }
}

/// Runs one consumer process at a time while records are produced (`ends` resolves to
/// each partition's end once the producer is done): each is SIGKILLed at a random moment,
/// 0 to 2.5 s after it first holds partitions, whatever it is doing then (fetching,
/// handing over, in the middle of a commit), and replaced, `kills` times. A last one runs
/// until the broker shows its group's commits at every end, and stops cleanly. Progress is
/// measured in commits, not hand-overs: a process may hand over everything and commit
/// nothing before it dies.
pub async fn kill_at_random_moments(
    cmd: &WorkerCommand,
    kills: usize,
    seed: u64,
    dir: &Path,
    ends: impl std::future::Future<Output = Result<BTreeMap<i32, i64>, String>>,
) -> Result<KillSummary, String> {
    let started = Instant::now();
    let mut rng = XorShift(seed.max(1));
    let mut ledgers: Vec<PathBuf> = Vec::new();
    let mut lived_ms = Vec::new();
    for k in 0..kills {
        let mut worker = WorkerProcess::spawn(cmd, k, dir).map_err(|e| e.to_string())?;
        ledgers.push(worker.ledger.clone());
        let assigned = wait_until("an assignment", Duration::from_secs(120), || {
            !worker.status().assignment.is_empty()
        })
        .await;
        if let Err(e) = assigned {
            let _ = worker.kill();
            return Err(e);
        }
        // The moment itself is the point: random, not a wait for something to happen.
        let lived = rng.between(0, 2_500);
        tokio::time::sleep(Duration::from_millis(lived)).await;
        worker.kill().map_err(|e| e.to_string())?;
        lived_ms.push(lived);
        eprintln!("  kill {}/{kills}: {lived} ms after its assignment", k + 1);
    }
    let ends = ends.await?;
    let mut last = WorkerProcess::spawn(cmd, kills, dir).map_err(|e| e.to_string())?;
    ledgers.push(last.ledger.clone());
    let committed = committed_at(cmd, &ends, Duration::from_secs(300)).await;
    let clean = last.stop().map_err(|e| e.to_string())?;
    committed?;
    if !clean {
        return Err("the last worker did not stop cleanly".to_string());
    }
    let all = read_ledgers(&ledgers);
    let unique = all.iter().collect::<BTreeSet<_>>().len();
    Ok(KillSummary {
        kills,
        handed_over: all.len(),
        unique,
        lived_ms,
        secs: started.elapsed().as_secs_f64(),
    })
}
