//! The metrics hooks without the `metrics` feature: nothing to store, nothing to do.

use std::time::Duration;

use gig_core::{CommitOffset, OutcomeBatch, Role};

#[derive(Debug)]
pub(crate) struct Stopwatch;

impl Stopwatch {
    #[inline(always)]
    pub(crate) fn start() -> Self {
        Stopwatch
    }
}

pub(crate) struct Metrics;

pub(crate) struct Latencies;

impl Latencies {
    #[inline(always)]
    pub(crate) fn record(&mut self, _: impl FnOnce() -> Option<Duration>) {}
    #[inline(always)]
    pub(crate) fn finish(self) {}
}

#[allow(clippy::unused_self)]
impl Metrics {
    pub(crate) fn new(_: &str) -> Self {
        Metrics
    }
    #[inline(always)]
    pub(crate) fn routed(&self, _: &OutcomeBatch) {}
    #[inline(always)]
    pub(crate) fn latencies(&self) -> Latencies {
        Latencies
    }
    #[inline(always)]
    pub(crate) fn late_answers(&self, _: u64) {}
    #[inline(always)]
    pub(crate) fn batch_answered(&self, _: &OutcomeBatch, _: Stopwatch, _: bool) {}
    #[inline(always)]
    pub(crate) fn commit(&self, _: bool, _: Option<Duration>) {}
    #[inline(always)]
    pub(crate) fn restarted(&self, _: Role) {}
    #[inline(always)]
    pub(crate) fn in_flight(&self, _: usize, _: bool) {}
    #[inline(always)]
    pub(crate) fn committed(&self, _: &[CommitOffset]) {}
}
