//! An example run as a child process, as a deployment runs it: its stdout's JSON lines (read
//! on a thread of their own, so that a line can be awaited), signals, and its exit.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running child process and the lines it printed on stdout. Dropped before it exited,
/// it is killed.
pub struct ChildProcess {
    /// `None` once [`exit`](Self::exit) took it to wait on.
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
}

/// How a child process ended.
pub struct Exited {
    /// Its exit status.
    pub status: ExitStatus,
    /// The last line it printed on stdout.
    pub last: String,
    /// Its standard error, when that was piped.
    pub stderr: String,
}

impl ChildProcess {
    /// Starts `command` with its stdout piped.
    pub fn spawn(mut command: Command) -> ChildProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChildProcess {
            child: Some(child),
            lines,
        }
    }

    /// The next line it prints, as JSON (within `within`).
    pub fn line(&self, within: Duration) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("no line from the child within {within:?}: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the child's line {line:?}: {e}"))
    }

    /// Sends it the signal `name` (`TERM`, `INT`, …).
    pub fn signal(&self, name: &str) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {name} {pid}");
    }

    /// SIGKILLs it, if it still runs; never fails (for a test's unwinding).
    pub fn kill(&self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits for it to exit (within `within`; past that it is killed and the test fails).
    /// The wait is the process's own end, awaited on a blocking thread, not a poll.
    pub async fn exit(mut self, within: Duration) -> Exited {
        let mut child = self.child.take().expect("not waited on yet");
        let pid = child.id();
        let waiting = tokio::task::spawn_blocking(move || {
            let status = child.wait();
            let mut stderr = String::new();
            if let Some(mut piped) = child.stderr.take() {
                let _ = piped.read_to_string(&mut stderr);
            }
            (status, stderr)
        });
        let Ok(waited) = tokio::time::timeout(within, waiting).await else {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the child {pid} was still running after {within:?}: killed");
        };
        let (status, stderr) = waited.expect("the waiting thread");
        // The reader thread ends at the end of stdout, now that the process is gone.
        let last = self.lines.iter().last().unwrap_or_default();
        Exited {
            status: status.expect("the child's exit status"),
            last,
            stderr,
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
