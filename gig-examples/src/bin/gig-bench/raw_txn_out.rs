//! The `raw-txn-out` phase: gig-txn-out's job done with rdkafka by hand, the anchor for
//! what Gig's transactional output path adds.
//!
//! One thread: a `BaseConsumer` reads the topic, a transactional `BaseProducer` (the
//! settings Gig gives its own: 10 s transaction timeout, deliveries within half of it)
//! writes a copy of each record to `<topic>.out`, and every 100 ms (Gig's default
//! interval) the consumed offsets are sent to the transaction and it is committed. The
//! clock stops when the last transaction is committed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;

use crate::meter::{reset_peak_rss, Meter, Progress};
use crate::produce::send_waiting;
use crate::run::Run;
use crate::settings::{consumer_tuning, env_properties, fail, unique, Settings};
use crate::topics::from_beginning;

/// Gig's default `Transactional::interval`.
const INTERVAL: Duration = Duration::from_millis(100);

/// Reads every record of `topic` (already produced) and writes a copy of each, exactly once.
pub(crate) fn run(brokers: &str, topic: &str, partitions: i32, s: &Settings, label: String) -> Run {
    let output = format!("{topic}.out");
    let consumer = consumer(brokers);
    let producer = producer(brokers);
    producer
        .init_transactions(Timeout::Never)
        .unwrap_or_else(|e| fail(&format!("raw-txn-out init_transactions: {e}")));
    let done = Arc::new(AtomicU64::new(0));
    let mut progress = Progress::new(label, s.records, done.clone());
    reset_peak_rss();
    let meter = Meter::start();
    consumer
        .assign(&from_beginning(topic, partitions))
        .unwrap_or_else(|e| fail(&format!("raw-txn-out assign: {e}")));
    let group = consumer
        .group_metadata()
        .unwrap_or_else(|| fail("raw-txn-out: the consumer has no group metadata"));
    // The next offset to read, per partition: what each transaction commits.
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut count = 0u64;
    let mut began = Instant::now();
    producer
        .begin_transaction()
        .unwrap_or_else(|e| fail(&format!("raw-txn-out begin: {e}")));
    loop {
        let finished = count >= s.records;
        // The transaction open since `began` ends once it has a record and its interval is
        // over, or at the end.
        if finished || (!next.is_empty() && began.elapsed() >= INTERVAL) {
            commit(&producer, topic, &next, &group);
            next.clear();
            done.store(count, Ordering::Relaxed);
            progress.tick();
            if finished {
                break;
            }
            began = Instant::now();
            producer
                .begin_transaction()
                .unwrap_or_else(|e| fail(&format!("raw-txn-out begin: {e}")));
        }
        match consumer.poll(Duration::from_millis(10)) {
            Some(Ok(m)) => {
                let record =
                    BaseRecord::<(), [u8]>::to(&output).payload(m.payload().unwrap_or_default());
                send_waiting(&producer, record, Duration::from_millis(1));
                next.insert(m.partition(), m.offset() + 1);
                count += 1;
                if count.is_multiple_of(1024) {
                    producer.poll(Duration::ZERO);
                }
            }
            Some(Err(e)) => eprintln!("  raw-txn-out: {e}"),
            None => {}
        }
    }
    Run::measured(meter.read())
}

fn commit(
    producer: &BaseProducer,
    topic: &str,
    next: &BTreeMap<i32, i64>,
    group: &rdkafka::consumer::ConsumerGroupMetadata,
) {
    let mut offsets = TopicPartitionList::new();
    for (&partition, &offset) in next {
        let _ = offsets.add_partition_offset(topic, partition, Offset::Offset(offset));
    }
    producer
        .send_offsets_to_transaction(&offsets, group, Timeout::Never)
        .unwrap_or_else(|e| fail(&format!("raw-txn-out send_offsets_to_transaction: {e}")));
    producer
        .commit_transaction(Timeout::Never)
        .unwrap_or_else(|e| fail(&format!("raw-txn-out commit: {e}")));
}

fn consumer(brokers: &str) -> BaseConsumer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bench-raw-txn-{}", unique()))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed");
    for (key, value) in consumer_tuning() {
        config.set(key, value);
    }
    config
        .create()
        .unwrap_or_else(|e| fail(&format!("raw-txn-out consumer: {e}")))
}

/// The properties Gig's `Transactional::producer_properties` sets, and
/// `GIGCI_BENCH_TXN_PRODUCER`'s, as gig-txn-out takes them.
fn producer(brokers: &str) -> BaseProducer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("transactional.id", format!("bench-raw-txn-{}", unique()))
        .set("transaction.timeout.ms", "10000")
        .set("message.timeout.ms", "5000");
    for (key, value) in env_properties("GIGCI_BENCH_TXN_PRODUCER") {
        config.set(key, value);
    }
    config
        .create()
        .unwrap_or_else(|e| fail(&format!("raw-txn-out producer: {e}")))
}
