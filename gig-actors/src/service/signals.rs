//! Stopping on SIGTERM (what Kubernetes and systemd send) or SIGINT (Ctrl-C).

use log::{error, warn};
use tokio::signal::unix::{signal, SignalKind};

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// SIGTERM.
    Terminate,
    /// SIGINT.
    Interrupt,
}

impl Signal {
    /// The exit status a shell gives a process this signal ended: 128 + its number.
    pub fn exit_status(self) -> i32 {
        match self {
            Signal::Terminate => 128 + 15,
            Signal::Interrupt => 128 + 2,
        }
    }
}

/// Waits for the first SIGTERM or SIGINT and returns which. From then on a second one
/// exits the process at once with 128 + its number, for an operator who will not wait for
/// the drain: nothing is committed past what the outcome actors accepted, so nothing is
/// lost, and what was handed over since the last commit is read again by the group.
///
/// Call it from the actix system's thread (it spawns the second signal's watch there).
pub async fn shutdown_signal() -> std::io::Result<Signal> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let first = tokio::select! {
        _ = terminate.recv() => Signal::Terminate,
        _ = interrupt.recv() => Signal::Interrupt,
    };
    warn!("{first:?}: stopping (resolve what is in flight, hand it over, commit); a second signal exits at once");
    actix::spawn(async move {
        let second = tokio::select! {
            _ = terminate.recv() => Signal::Terminate,
            _ = interrupt.recv() => Signal::Interrupt,
        };
        error!("{second:?} again: exiting at once; records handed over since the last commit are read again by the group");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let _ = std::io::Write::flush(&mut std::io::stderr());
        // `_exit`, not `exit`: the Kafka clients are still running, and `exit`'s cleanup
        // (OpenSSL's among it) under a librdkafka thread in a TLS call can crash the
        // process instead of ending it with this status.
        // SAFETY: ends the process; nothing runs after it.
        unsafe { libc::_exit(second.exit_status()) }
    });
    Ok(first)
}
