//! What one run of one phase measured, and its summaries: shared by every phase, the
//! rounds that run them and the report.

use crate::meter::{peak_rss_mb, Measured};

/// One measured run of one phase.
#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    pub(crate) secs: f64,
    /// CPU time of the whole process (every thread) while the phase ran.
    pub(crate) cpu_secs: f64,
    /// The Java consumer's fetch rate (its group join left out): the `java` phase only.
    pub(crate) java_fetch_rps: Option<f64>,
    /// The CPU time of a JVM that only starts, joins and reads one record: the `java` phase.
    pub(crate) java_startup_cpu_secs: Option<f64>,
    /// Heap allocations in the process while the phase ran.
    pub(crate) allocs: u64,
    pub(crate) peak_rss_mb: f64,
    pub(crate) late_ms: Option<(f64, f64, f64)>,
    /// The silent phase's lateness percentiles 0..=100, for `--plot`.
    pub(crate) late_quantiles: Vec<f64>,
}

impl Run {
    /// A run of what `measured` counted, with the process's peak RSS since the phase began.
    pub(crate) fn measured(measured: Measured) -> Run {
        Run {
            secs: measured.secs,
            cpu_secs: measured.cpu_secs,
            allocs: measured.allocs,
            peak_rss_mb: peak_rss_mb(),
            ..Run::default()
        }
    }
}

/// p50, p99 and max of `v`.
pub(crate) fn percentiles(mut v: Vec<f32>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64;
    (at(0.5), at(0.99), at(1.0))
}
