//! What every phase shares: the run's settings, the client properties raw and Gig both get,
//! and small helpers (unique names, failing with a message).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How far the embedded-broker producer may run ahead of the consumer, per partition.
pub(crate) const AHEAD_PER_PARTITION: u64 = 20_000;
pub(crate) const SILENT_TIMEOUT: Duration = Duration::from_millis(200);
/// The silent phase's in-flight limit (`--silent-in-flight`): room for several times what
/// one timeout spans at full speed (about 300,000 records at 1.5 M/s), so that the
/// deadline, not the limit, sets the pace.
pub(crate) const SILENT_IN_FLIGHT: usize = 1_000_000;

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) records: u64,
    /// Records get keys `k{i % keys}` (the scaling phases); none by default.
    pub(crate) keys: Option<u64>,
    /// Gig's consumers order records by key.
    pub(crate) key_ordering: bool,
    pub(crate) silent_in_flight: usize,
    /// `ConsumerConfig::poll_thread_nice`, when `--poll-thread-nice` sets it.
    pub(crate) poll_thread_nice: Option<u8>,
    pub(crate) size: usize,
    pub(crate) repeat: usize,
    pub(crate) memory_records: u64,
    pub(crate) memory_seconds: u64,
    /// Gig's consumers read every record's headers (`--headers`).
    pub(crate) headers: bool,
}

static EMBEDDED: AtomicBool = AtomicBool::new(false);

/// Whether the run is on the embedded broker (set once, before the phases).
pub(crate) fn embedded() -> bool {
    EMBEDDED.load(Ordering::Relaxed)
}

pub(crate) fn set_embedded(embedded: bool) {
    EMBEDDED.store(embedded, Ordering::Relaxed);
}

/// Consumer properties for raw and Gig alike, so that the ratio compares one client
/// configuration:
/// - `fetch.wait.max.ms=5`: the mock cluster holds a fetch for the whole wait even when
///   records arrive meanwhile, and tansu answers late at the default.
/// - `fetch.queue.backoff.ms=10`: librdkafka waits this long (1 s by default) before
///   fetching a partition again once its local queue passed `queued.min.messages`, which
///   Gig's in-flight limit makes happen. Not Gig's default.
///
/// docs/performance.md has the figures with and without them.
/// `GIGCI_BENCH_CONSUMER="key=value,..."` adds or overrides properties.
pub(crate) fn consumer_tuning() -> Vec<(String, String)> {
    let mut properties = vec![
        ("fetch.wait.max.ms".to_string(), "5".to_string()),
        ("fetch.queue.backoff.ms".to_string(), "10".to_string()),
    ];
    properties.extend(env_properties("GIGCI_BENCH_CONSUMER"));
    properties
}

/// `key=value` pairs, comma-separated, from the env var `name`.
pub(crate) fn env_properties(name: &str) -> Vec<(String, String)> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

pub(crate) fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn fail(why: &str) -> ! {
    eprintln!("gig-bench: {why}");
    std::process::exit(1)
}
