//! CPU time, every thread's user and system time together: a per-record cost that does not
//! depend on how many cores were free, as records per second does. This process's own, and
//! its finished children's (the Java anchor's JVM).

use std::time::Duration;

/// CPU time the process has used since it started.
pub(crate) fn process_cpu() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

/// CPU time of the process's children that have ended and been waited for, and of their
/// own waited-for children (a JVM started by a script): the difference across one child's
/// run is that child's CPU time, every thread of it.
pub(crate) fn children_cpu() -> Duration {
    rusage(libc::RUSAGE_CHILDREN)
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills the struct it is given; a zeroed one is a valid start.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
