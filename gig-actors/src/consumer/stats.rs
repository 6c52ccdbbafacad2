//! `GetStats`, and the stats line logged every `stats_interval`.

use std::time::Instant;

use actix::prelude::*;
use log::{info, warn};

use super::ConsumerActor;
use crate::stats::{Stats, TransactionStats};

/// Asks for a snapshot of the consumer's counters and offsets ([`Stats`], which says what
/// each one counts). To wait until the consumer has read everything, send
/// [`CaughtUp`](crate::CaughtUp) rather than polling this for a count.
///
/// ```no_run
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # async fn demo(consumer: Addr<ConsumerActor>) -> Result<(), GigError> {
/// let stats = consumer.send(GetStats).await?; // never fails once delivered
/// println!("in flight {}, paused {}", stats.in_flight, stats.paused);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Stats")]
pub struct GetStats;

impl ConsumerActor {
    /// The pipeline's stats, with what the client adds: errors, pausing, rebalances, the
    /// assignment, and librdkafka's statistics with each partition's high watermark and lag.
    pub(super) fn snapshot(&self) -> Stats {
        let mut stats = Stats::of(&self.driver.pipeline, Instant::now());
        stats.rebalances = self.rebalances;
        stats.paused = self.paused;
        let shared = self.client.shared();
        (stats.client_errors, stats.last_client_error) = shared.errors.snapshot();
        let (faults, totals) = shared.errors.faults(Instant::now());
        stats.faults = faults;
        stats.client_errors_by_kind = totals
            .into_iter()
            .map(|(kind, n)| (kind.name().to_string(), n))
            .collect();
        if let Ok(raw) = shared.librdkafka_stats.lock() {
            stats.librdkafka = raw.as_deref().and_then(|r| serde_json::from_slice(r).ok());
        }
        if let Some(librdkafka) = &stats.librdkafka {
            for p in &mut stats.partitions {
                let hi = &librdkafka["topics"][&p.topic]["partitions"][p.partition.to_string()];
                // librdkafka reports -1 until a fetch has told it the watermark.
                p.high_watermark = hi["hi_offset"].as_i64().filter(|&hi| hi >= 0);
                p.lag = p.high_watermark.zip(p.committed).map(|(hi, c)| hi - c);
            }
        }
        stats.assignment = self.client.assignment();
        stats.transactional = self.client.transactor().map(|transactor| TransactionStats {
            id: transactor.id().to_string(),
            ready: transactor.is_ready(),
            fenced: self.driver.pipeline.is_fenced(),
            in_transaction: self.driver.pipeline.in_transaction(),
            producers_replaced: transactor.replaced(),
            last_error: self.last_transaction_error.clone(),
        });
        stats
    }

    /// Sets the lag gauges from librdkafka's latest statistics, and the client error and
    /// fault series (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(super) fn publish_gauges(&self) {
        let (faults, totals) = self.client.shared().errors.faults(Instant::now());
        self.driver.metrics.faults(&totals, &faults);
        if self
            .config
            .properties()
            .contains_key("statistics.interval.ms")
        {
            self.driver.metrics.lag(&self.snapshot().partitions);
        }
    }

    /// Logs the stats as one JSON line, for log pipelines. librdkafka's own statistics are
    /// left out of the line (they run to kilobytes); `GetStats` has them.
    pub(super) fn log_stats(&self) {
        let stats = Stats {
            librdkafka: None,
            ..self.snapshot()
        };
        match serde_json::to_string(&stats) {
            Ok(line) => info!(target: "gig::stats", "{line}"),
            Err(e) => warn!("cannot serialise the stats: {e}"),
        }
    }
}

impl Handler<GetStats> for ConsumerActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.snapshot())
    }
}
