//! The process's CPU time, every thread's user and system time together: a per-record cost
//! that does not depend on how many cores were free, as records per second does.

use std::time::Duration;

/// CPU time the process has used since it started.
pub(crate) fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given; a zeroed one is a valid start.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
