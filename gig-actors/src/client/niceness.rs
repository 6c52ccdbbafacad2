//! Lowers the poll thread's scheduling priority (`ConsumerConfig::poll_thread_nice`), so
//! that on a machine short of CPU the consumer actor's thread, which serves deadlines, is
//! not preempted by the thread that only fetches more.

use log::{debug, warn};

/// Raises the calling thread's nice value by `by`; 0 leaves it alone.
pub(crate) fn lower_this_thread(by: u8) {
    if by == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // On Linux, nice() applies to the calling thread alone (a thread is a task with a
        // nice value of its own), and raising it needs no privilege. -1 may be a valid new
        // value, so errno tells failure apart.
        // SAFETY: nice() takes a plain int and touches only the calling thread's priority;
        // errno is the calling thread's own.
        let failed = unsafe {
            *libc::__errno_location() = 0;
            libc::nice(by.into()) == -1 && *libc::__errno_location() != 0
        };
        if failed {
            warn!(
                "poll thread's priority not lowered by {by}: {}",
                std::io::Error::last_os_error()
            );
        } else {
            debug!("poll thread runs {by} nice steps below the process's other threads");
        }
    }
    #[cfg(not(target_os = "linux"))]
    debug!("poll_thread_nice ({by}) applies on Linux only; the poll thread keeps its priority");
}
