//! Producing the records the phases read: all of them first (an external broker), or on a
//! thread beside the consumer, paced by it (the embedded broker); and the one send loop
//! every producer of the bench uses.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};

use crate::settings::{embedded, env_properties, fail, Settings, AHEAD_PER_PARTITION};

/// Sends `record`, serving delivery reports for up to `wait` at a time while librdkafka's
/// queue is full (or the send fails otherwise), until it takes the record.
pub(crate) fn send_waiting<'a, C, K, P>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
    wait: Duration,
) where
    C: ProducerContext,
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, r)) => {
                record = r;
                producer.poll(wait);
            }
        }
    }
}

fn producer(brokers: &str) -> BaseProducer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576");
    // Extra producer properties, e.g. GIGCI_BENCH_PRODUCER="batch.size=8000000,linger.ms=50".
    for (key, value) in env_properties("GIGCI_BENCH_PRODUCER") {
        config.set(key, value);
    }
    config
        .create()
        .unwrap_or_else(|e| fail(&format!("producer: {e}")))
}

/// Produces `n` records of `size` bytes round-robin over `partitions`. With `pace`, stays
/// at most `AHEAD_PER_PARTITION × partitions` records ahead of the consumed count.
pub(crate) fn produce(
    brokers: &str,
    topic: &str,
    partitions: i32,
    n: u64,
    size: usize,
    keys: Option<u64>,
    pace: Option<(&AtomicU64, &AtomicBool)>,
) {
    let producer = producer(brokers);
    let mut key = String::new();
    let payload = vec![b'x'; size];
    let ahead = AHEAD_PER_PARTITION * partitions as u64;
    for i in 0..n {
        if let Some((consumed, stop)) = pace {
            while i >= consumed.load(Ordering::Relaxed) + ahead {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                // Serve delivery reports, then let the consumer run: polling with a timeout
                // here would spin on a core the measured consumer needs.
                producer.poll(Duration::ZERO);
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        let partition = (i % partitions as u64) as i32;
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .payload(&payload[..])
            .partition(partition);
        if let Some(keys) = keys {
            use std::fmt::Write as _;
            key.clear();
            let _ = write!(key, "k{}", i % keys);
            record = record.key(key.as_bytes());
        }
        send_waiting(&producer, record, Duration::from_millis(5));
        if i.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
        }
    }
    if let Err(e) = producer.flush(Duration::from_secs(60)) {
        fail(&format!("producer flush: {e}"));
    }
}

/// On the embedded broker, a producer thread paced by `consumed`; nothing otherwise.
pub(crate) type Feed = Option<(std::thread::JoinHandle<()>, Arc<AtomicBool>)>;

pub(crate) fn feeder(
    brokers: &str,
    topic: &str,
    partitions: i32,
    s: &Settings,
    consumed: &Arc<AtomicU64>,
) -> Feed {
    if !embedded() {
        return None;
    }
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    let (n, size, keys, consumed) = (s.records, s.size, s.keys, consumed.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let stop_thread = stop.clone();
    let handle = std::thread::spawn(move || {
        produce(
            &brokers,
            &topic,
            partitions,
            n,
            size,
            keys,
            Some((&consumed, &stop_thread)),
        )
    });
    Some((handle, stop))
}

pub(crate) fn finish_feed(feed: Feed) {
    if let Some((handle, stop)) = feed {
        stop.store(true, Ordering::Relaxed);
        let _ = handle.join();
    }
}

/// Produces the backlog in a child process (this binary with `--produce-to`): librdkafka
/// queues up to a gigabyte while producing, and what the allocator keeps of it after the
/// flush would count in this process's RSS, not the consumer's.
pub(crate) fn produce_elsewhere(brokers: &str, topic: &str, records: u64, size: usize) {
    let me = std::env::current_exe().unwrap_or_else(|e| fail(&format!("own path: {e}")));
    let status = std::process::Command::new(me)
        .args(["--brokers", brokers, "--produce-to", topic])
        .args([
            "--records",
            &records.to_string(),
            "--size",
            &size.to_string(),
        ])
        .status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        fail(&format!("producing to {topic} failed: {status:?}"));
    }
}
