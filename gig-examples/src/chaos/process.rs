//! Worker processes: how to start one, its status as it reports it on stdout, and how to
//! stop or kill it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
