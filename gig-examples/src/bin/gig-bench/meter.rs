//! What a phase costs from the moment it starts: wall time, the process's CPU time (every
//! thread) and its heap allocations.

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
