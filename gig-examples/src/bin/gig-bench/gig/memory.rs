//! The `memory` phase (external broker only): a silent downstream over a backlog of
//! `--memory-records` with the default in-flight limit; RSS is sampled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use tokio::sync::oneshot;

use crate::gig::actors::{Down, Outcomes};
use crate::meter::{peak_rss_mb, reset_peak_rss, rss_mb};
use crate::produce::produce_elsewhere;
use crate::settings::{fail, unique, Settings, SILENT_TIMEOUT};
use crate::topics::{create_topic, delete_topic};

pub(crate) async fn memory_phase(brokers: &str, s: &Settings) -> (f64, Vec<(f64, f64)>) {
    let topic = format!("bench-memory-{}", unique());
    create_topic(brokers, &topic, 1).await;
    eprintln!(
        "  memory: producing a backlog of {} records",
        s.memory_records
    );
    produce_elsewhere(brokers, &topic, s.memory_records, s.size);
    let delivered = Arc::new(AtomicU64::new(0));
    let (done_tx, _done_rx) = oneshot::channel();
    let settled = Arc::new(AtomicU64::new(0));
    let outcomes = Outcomes {
        expected: u64::MAX,
        seen: 0,
        output: None,
        settled: settled.clone(),
        late_ms: Vec::new(),
        done: Some(done_tx),
    }
    .start();
    // The default in-flight limit; a short timeout so the backlog moves.
    let config = ConsumerConfig::new(brokers, format!("bench-mem-{}", unique()))
        .topics([topic.as_str()])
        .ack_timeout(SILENT_TIMEOUT);
    let down = Down::new(config.in_flight_limit(), delivered.clone(), settled).start();
    let consumer = ConsumerActor::builder(config)
        .downstream(down.recipient())
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .start()
        .unwrap_or_else(|e| fail(&format!("consumer: {e}")));
    reset_peak_rss();
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(s.memory_seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = start.elapsed().as_secs_f64();
        samples.push((t, rss_mb()));
        eprintln!(
            "  memory: t={t:.1}s delivered={} rss={:.1} MB",
            delivered.load(Ordering::Relaxed),
            rss_mb()
        );
    }
    let peak = peak_rss_mb();
    let _ = consumer.send(Stop).await;
    delete_topic(brokers, &topic).await;
    (peak, samples)
}
