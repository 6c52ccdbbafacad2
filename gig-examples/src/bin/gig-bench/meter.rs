//! What a phase costs from the moment it starts: wall time, the process's CPU time (every
//! thread), its heap allocations and its memory; and the progress printed meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{counting, cpu};

/// Started at a phase's first step; read when its last record is settled.
pub(crate) struct Meter {
    start: Instant,
    cpu: Duration,
    allocs: u64,
}

/// What a [`Meter`] counted.
pub(crate) struct Measured {
    pub(crate) secs: f64,
    pub(crate) cpu_secs: f64,
    pub(crate) allocs: u64,
}

impl Meter {
    pub(crate) fn start() -> Self {
        Meter {
            allocs: counting::allocations(),
            cpu: cpu::process_cpu(),
            start: Instant::now(),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub(crate) fn read(&self) -> Measured {
        Measured {
            secs: self.start.elapsed().as_secs_f64(),
            cpu_secs: (cpu::process_cpu() - self.cpu).as_secs_f64(),
            allocs: counting::allocations() - self.allocs,
        }
    }
}

// ---- process memory ----

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak-RSS mark (Linux: writing 5 to clear_refs), so each phase reports its own.
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub(crate) fn peak_rss_mb() -> f64 {
    rss_kb("VmHWM:") as f64 / 1024.0
}

pub(crate) fn rss_mb() -> f64 {
    rss_kb("VmRSS:") as f64 / 1024.0
}

// ---- progress ----

/// Prints `label: done/total` at most once a second.
pub(crate) struct Progress {
    label: String,
    total: u64,
    done: Arc<AtomicU64>,
    last: Instant,
}

impl Progress {
    pub(crate) fn new(label: String, total: u64, done: Arc<AtomicU64>) -> Self {
        Progress {
            label,
            total,
            done,
            last: Instant::now(),
        }
    }

    pub(crate) fn tick(&mut self) {
        if self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            eprintln!(
                "  {}: {}/{}",
                self.label,
                self.done.load(Ordering::Relaxed),
                self.total
            );
        }
    }
}
