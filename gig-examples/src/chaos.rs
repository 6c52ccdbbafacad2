//! Crash testing with real processes: Gig consumers run as child processes (see
//! [`crate::worker`]) that are SIGKILLed at random points and restarted, and a ledger of
//! what each handed over shows what was lost and what was repeated.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::eos::group_lag;
use crate::ledger_line::LedgerLine;

/// A record: partition and offset.
pub type Rec = (i32, i64);

/// What a worker last reported.
#[derive(Debug, Clone, Default)]
pub struct WorkerStatus {
    /// Partitions it holds.
    pub assignment: BTreeSet<i32>,
    /// The last committed offset per partition it reported.
    pub committed: BTreeMap<i32, i64>,
}

/// How to start a worker process: a program and the arguments before the worker's own.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    /// The worker binary to run.
    pub program: PathBuf,
    /// Arguments before the worker's (e.g. `["worker"]` for `gig-chaos worker …`).
    pub prefix: Vec<String>,
    /// Bootstrap servers.
    pub brokers: String,
    /// The topic the workers read.
    pub topic: String,
    /// The consumer group the workers share.
    pub group: String,
    /// Session timeout, so a killed member leaves the group soon (classic protocol).
    pub session_timeout_ms: u64,
    /// The group protocol: `classic` or `consumer` (KIP-848).
    pub group_protocol: String,
    /// Further worker options, e.g. `["--key-ordering", "--work-ms", "5"]`.
    pub options: Vec<String>,
}

/// A running worker process.
pub struct WorkerProcess {
    child: Child,
    status: Arc<Mutex<WorkerStatus>>,
    /// Its ledger file.
    pub ledger: PathBuf,
}

impl WorkerProcess {
    /// Starts worker `id`, its ledger in `dir`.
    pub fn spawn(cmd: &WorkerCommand, id: usize, dir: &Path) -> std::io::Result<Self> {
        Self::spawn_with_stderr(cmd, id, dir, Stdio::inherit())
    }

    /// Like [`WorkerProcess::spawn`], with the worker's log (its stderr) in `dir/log.{id}`:
    /// for runs that take brokers down, where librdkafka logs every refused connection.
    pub fn spawn_logged(cmd: &WorkerCommand, id: usize, dir: &Path) -> std::io::Result<Self> {
        let log = std::fs::File::create(dir.join(format!("log.{id}")))?;
        Self::spawn_with_stderr(cmd, id, dir, Stdio::from(log))
    }

    fn spawn_with_stderr(
        cmd: &WorkerCommand,
        id: usize,
        dir: &Path,
        stderr: Stdio,
    ) -> std::io::Result<Self> {
        let ledger = dir.join(format!("ledger.{id}"));
        let mut child = Command::new(&cmd.program)
            .args(&cmd.prefix)
            .args(["--brokers", &cmd.brokers, "--topic", &cmd.topic])
            .args(["--group", &cmd.group, "--id", &id.to_string()])
            .args(["--session-timeout-ms", &cmd.session_timeout_ms.to_string()])
            .args(["--group-protocol", &cmd.group_protocol])
            .args(&cmd.options)
            .arg("--ledger")
            .arg(&ledger)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let status = Arc::new(Mutex::new(WorkerStatus::default()));
        if let Some(out) = child.stdout.take() {
            let shared = status.clone();
            std::thread::spawn(move || read_status(out, &shared));
        }
        Ok(WorkerProcess {
            child,
            status,
            ledger,
        })
    }

    /// Its last reported status.
    pub fn status(&self) -> WorkerStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(|_| ())
    }

    /// Closes its stdin (a clean stop: final commit) and waits; `true` on exit 0.
    pub fn stop(&mut self) -> std::io::Result<bool> {
        drop(self.child.stdin.take());
        Ok(self.child.wait()?.success())
    }

    /// How it exited, if it has.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes its stdin, which starts a clean stop, and returns at once.
    pub fn begin_stop(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Closes its stdin and waits up to `timeout` for it to exit: `Ok(true)` on exit 0. A
    /// worker that has not exited by then is SIGKILLed and this is an error, so that a
    /// stop that hangs fails the caller instead of blocking it.
    pub async fn stop_within(&mut self, timeout: Duration) -> std::io::Result<bool> {
        self.begin_stop();
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            if Instant::now() >= until {
                self.kill()?;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("worker {} did not stop within {timeout:?}", self.pid()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for WorkerProcess {
    /// A worker left running (a test that failed half way) is SIGKILLed, not orphaned: an
    /// orphan keeps the test's output open and reads a broker that is gone.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.kill();
        }
    }
}

fn read_status(out: std::process::ChildStdout, shared: &Mutex<WorkerStatus>) {
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let Ok(mut s) = shared.lock() else { return };
        s.assignment = v["assignment"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str()?.rsplit('/').next()?.parse().ok())
            .collect();
        for c in v["committed"].as_array().into_iter().flatten() {
            if let (Some(p), Some(o)) = (c[0].as_i64(), c[1].as_i64()) {
                s.committed.insert(p as i32, o);
            }
        }
    }
}

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
