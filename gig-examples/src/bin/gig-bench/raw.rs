//! The `raw` phase: an rdkafka `BaseConsumer` reads every record, touching each payload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;

use crate::meter::{reset_peak_rss, Meter, Progress};
use crate::produce::{feeder, finish_feed};
use crate::run::Run;
use crate::settings::{consumer_tuning, fail, unique, Settings};
use crate::topics::from_beginning;

pub(crate) fn raw_run(
    brokers: &str,
    topic: &str,
    partitions: i32,
    s: &Settings,
    label: String,
) -> Run {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bench-raw-{}", unique()))
        .set("enable.auto.commit", "false");
    if let Ok(contexts) = std::env::var("GIGCI_BENCH_DEBUG") {
        config.set("debug", contexts);
    }
    for (key, value) in consumer_tuning() {
        config.set(key, value);
    }
    let consumer: BaseConsumer = config
        .create()
        .unwrap_or_else(|e| fail(&format!("raw consumer: {e}")));
    let done = Arc::new(AtomicU64::new(0));
    let mut progress = Progress::new(label, s.records, done.clone());
    reset_peak_rss();
    let embedded_feed = feeder(brokers, topic, partitions, s, &done);
    let meter = Meter::start();
    consumer
        .assign(&from_beginning(topic, partitions))
        .unwrap_or_else(|e| fail(&format!("assign: {e}")));
    let mut touched = 0u64;
    let mut count = 0u64;
    while count < s.records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if count == 0 {
                    eprintln!("  raw: first record after {:?}", meter.elapsed());
                }
                touched += m.payload().map_or(0, |p| p.len() as u64 + p[0] as u64);
                count += 1;
                if count.is_multiple_of(1024) {
                    done.store(count, Ordering::Relaxed);
                    progress.tick();
                }
            }
            Some(Err(e)) => eprintln!("  raw: {e}"),
            None => {
                done.store(count, Ordering::Relaxed);
                progress.tick();
            }
        }
    }
    let measured = meter.read();
    done.store(count, Ordering::Relaxed);
    finish_feed(embedded_feed);
    assert!(touched > 0);
    Run::measured(measured)
}
