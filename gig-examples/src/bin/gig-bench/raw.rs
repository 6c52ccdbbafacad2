//! The `raw` phase: an rdkafka `BaseConsumer` reads every record, touching each payload.
//!
//! By default one record per call, as rdkafka's `BaseConsumer::poll` (and Gig's poll thread)
//! reads them: `rd_kafka_queue_poll`, one event per record. `GIGCI_BENCH_RAW_BATCH=N` reads
//! them N at a time from the same consumer queue with `rd_kafka_consume_batch_queue`
//! instead, as librdkafka's own `rdkafka_performance -B N` does: raw librdkafka's best rate
//! on this machine (issue 30, docs/performance.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;

use crate::meter::{reset_peak_rss, Meter, Progress};
use crate::produce::{feeder, finish_feed};
use crate::run::Run;
use crate::settings::{consumer_tuning, fail, unique, Settings};
use crate::topics::from_zero;

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
        .assign(&from_zero(topic, partitions))
        .unwrap_or_else(|e| fail(&format!("assign: {e}")));
    let mut touched = 0u64;
    let mut count = 0u64;
    if let Some(batch) = batch_size() {
        let (t, c) = read_batches(&consumer, batch, s.records, &meter, &done, &mut progress);
        (touched, count) = (t, c);
    }
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

/// `GIGCI_BENCH_RAW_BATCH=N` (N ≥ 1): the raw phase reads N records a call.
fn batch_size() -> Option<usize> {
    let n = std::env::var("GIGCI_BENCH_RAW_BATCH").ok()?;
    match n.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Some(n),
        _ => fail(&format!(
            "GIGCI_BENCH_RAW_BATCH={n}: a batch size, 1 or more"
        )),
    }
}

/// Reads `records` records from the consumer's queue, up to `batch` a call with
/// `rd_kafka_consume_batch_queue`, touching each payload: (bytes touched, records read).
fn read_batches(
    consumer: &BaseConsumer,
    batch: usize,
    records: u64,
    meter: &Meter,
    done: &AtomicU64,
    progress: &mut Progress,
) -> (u64, u64) {
    eprintln!("  raw: reading {batch} records a call (GIGCI_BENCH_RAW_BATCH)");
    // SAFETY: the client is valid while `consumer` is; this is a new reference to its
    // consumer queue (the group's queue, which assign() feeds), released below.
    let queue = unsafe { rdsys::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
    if queue.is_null() {
        fail("raw: the consumer has no consumer queue");
    }
    let mut messages: Vec<*mut rdsys::rd_kafka_message_t> = vec![std::ptr::null_mut(); batch];
    let (mut touched, mut count) = (0u64, 0u64);
    while count < records {
        // SAFETY: `messages` has room for `batch` pointers; each one returned is ours to
        // destroy, once.
        let got = unsafe {
            rdsys::rd_kafka_consume_batch_queue(queue, 100, messages.as_mut_ptr(), batch)
        };
        if got < 0 {
            fail("raw: rd_kafka_consume_batch_queue failed");
        }
        for &m in &messages[..got as usize] {
            // SAFETY: a message librdkafka returned, valid until destroyed below.
            let msg = unsafe { &*m };
            if msg.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                // SAFETY: librdkafka's static string for a known code.
                let why = unsafe { std::ffi::CStr::from_ptr(rdsys::rd_kafka_err2str(msg.err)) };
                eprintln!("  raw: {}", why.to_string_lossy());
            } else if !msg.payload.is_null() && msg.len > 0 {
                // SAFETY: `len` bytes at `payload`, alive as long as the message.
                let first = unsafe { *(msg.payload as *const u8) };
                if count == 0 {
                    eprintln!("  raw: first record after {:?}", meter.elapsed());
                }
                touched += msg.len as u64 + first as u64;
                count += 1;
            }
            // SAFETY: destroyed once; nothing above kept a borrow of it.
            unsafe { rdsys::rd_kafka_message_destroy(m) };
        }
        done.store(count, Ordering::Relaxed);
        progress.tick();
    }
    // SAFETY: the reference taken above, released once.
    unsafe { rdsys::rd_kafka_queue_destroy(queue) };
    (touched, count)
}
