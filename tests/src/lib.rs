//! Shared harness for Gig's integration tests.
//!
//! The broker comes from `GIG_TEST_BROKERS` (a real Kafka-protocol broker) or, when unset,
//! is the embedded mock cluster. Every test uses fresh topic and group names, so tests can
//! share one real broker. Waiting is event-driven: the [`Ledger`] publishes its count on a
//! `watch` channel and tests await a count, with a timeout that only bounds a failure.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix::WeakAddr;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use tokio::sync::watch;

pub mod checker;

/// The env var naming an external broker for the suite.
pub const BROKERS_VAR: &str = "GIG_TEST_BROKERS";
/// The env var naming the external broker's kind: `tansu` or `kafka` (the default).
pub const KIND_VAR: &str = "GIG_TEST_BROKER_KIND";

/// Which broker the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// librdkafka's mock cluster, in process.
    Embedded,
    /// tansu, a Kafka-protocol broker.
    Tansu,
    /// Any other external Kafka-protocol broker.
    Kafka,
}

/// The suite's backend, from `GIG_TEST_BROKERS` and `GIG_TEST_BROKER_KIND`.
pub fn backend() -> Backend {
    match std::env::var(BROKERS_VAR) {
        Ok(b) if !b.trim().is_empty() => match std::env::var(KIND_VAR).as_deref() {
            Ok("tansu") => Backend::Tansu,
            _ => Backend::Kafka,
        },
        _ => Backend::Embedded,
    }
}

/// Skips the calling test on `backend`, saying so and why in the test output. Returns
/// `true` when the test should return at once.
pub fn skip_on(backend: Backend, why: &str) -> bool {
    if self::backend() == backend {
        report(&format!("SKIPPED on {backend:?}: {why}"));
        return true;
    }
    false
}

/// Prints a line that shows in the output even when the test passes: it is written to the
/// stderr handle, which the test harness does not capture.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this process and call: `prefix-pid-n`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init() {
    let _ = env_logger::builder().is_test(true).try_init();
}

/// The suite's broker.
pub fn broker() -> Broker {
    init();
    Broker::from_env(BROKERS_VAR).expect("start the broker")
}

/// The env var naming the group protocol the suite joins with: `classic` (the default) or
/// `consumer` (KIP-848; the broker then owns sessions and assignment).
pub const GROUP_PROTOCOL_VAR: &str = "GIG_TEST_GROUP_PROTOCOL";

/// The suite's group protocol, from `GIG_TEST_GROUP_PROTOCOL`.
pub fn group_protocol() -> String {
    std::env::var(GROUP_PROTOCOL_VAR)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "classic".to_string())
}

/// Whether the suite runs under the KIP-848 consumer group protocol.
pub fn consumer_protocol() -> bool {
    group_protocol().eq_ignore_ascii_case("consumer")
}

/// A config for tests: short session timeouts, so group changes settle fast on any backend.
/// `GIG_RDKAFKA_DEBUG` (e.g. `cgrp,fetch`) turns on librdkafka's debug contexts.
pub fn config(broker: &Broker, topic: &str) -> ConsumerConfig {
    let config = gig_examples::quick_group(
        ConsumerConfig::new(broker.bootstrap_servers(), unique("group")).topics([topic]),
        &group_protocol(),
        6000,
    )
    .property("topic.metadata.refresh.interval.ms", "1000");
    match std::env::var("GIG_RDKAFKA_DEBUG") {
        Ok(contexts) => config.property("debug", contexts),
        Err(_) => config,
    }
}

/// Creates a topic with a unique name.
pub async fn topic(broker: &Broker, prefix: &str, partitions: i32) -> String {
    topic_with(broker, prefix, partitions, &[]).await
}

/// Creates a topic with a unique name and topic-level configs (external brokers only).
pub async fn topic_with(
    broker: &Broker,
    prefix: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> String {
    let name = unique(prefix);
    broker
        .create_topic_with(&name, partitions, configs)
        .await
        .expect("create topic");
    name
}

/// Produces `count` records round-robin over `partitions`; payload `v{i}`, key `k{i}`.
pub async fn produce(broker: &Broker, topic: &str, partitions: i32, from: usize, count: usize) {
    let producer = producer(broker);
    let records: Vec<ProducerRecord> = (from..from + count)
        .map(|i| {
            ProducerRecord::new(topic, format!("v{i}"))
                .key(format!("k{i}"))
                .partition((i % partitions as usize) as i32)
        })
        .collect();
    producer.send_batch(&records).await.expect("produce");
}

/// A producer for the suite's broker. On tansu every record is its own batch: tansu 0.6
/// cannot fetch from an offset inside a stored batch (see README, "Backends"), and
/// consumers resume from such offsets after a pause or a restart.
pub fn producer(broker: &Broker) -> GigProducer {
    producer_with(broker, &[])
}

/// [`producer`] with extra librdkafka properties.
pub fn producer_with(broker: &Broker, extra: &[(&str, &str)]) -> GigProducer {
    let mut properties: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if backend() == Backend::Tansu {
        properties.insert("batch.num.messages".to_string(), "1".to_string());
    }
    GigProducer::with_properties(&broker.bootstrap_servers(), &properties).expect("producer")
}

/// What the ledger saw of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Payload as text.
    pub payload: String,
    /// `None` when acked; the reason's text when no-acked.
    pub reason: Option<String>,
    /// When the ledger accepted it.
    pub at: Instant,
}

/// An Acked *and* NoAcked actor that records every record it accepts.
#[derive(Clone)]
pub struct Ledger {
    entries: Arc<Mutex<Vec<Entry>>>,
    count: Arc<watch::Sender<usize>>,
    /// Consumers started by [`Ledger::consumer`], whose stats a failed wait reports.
    consumers: Arc<Mutex<Vec<WeakAddr<ConsumerActor>>>>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            entries: Arc::default(),
            count: Arc::new(watch::channel(0).0),
            consumers: Arc::default(),
        }
    }
}

impl Ledger {
    fn push(&self, record: &Record, reason: Option<String>) {
        let mut entries = self.entries.lock().unwrap();
        entries.push(Entry {
            topic: record.topic().to_string(),
            partition: record.partition(),
            offset: record.offset(),
            payload: record.payload_str().unwrap_or_default().to_string(),
            reason,
            at: Instant::now(),
        });
        self.count.send_replace(entries.len());
    }

    /// Everything accepted so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap().clone()
    }

    /// Acked entries.
    pub fn acked(&self) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| e.reason.is_none())
            .collect()
    }

    /// No-acked entries.
    pub fn no_acked(&self) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| e.reason.is_some())
            .collect()
    }

    /// Waits until at least `n` records were accepted; panics after `timeout`, with the
    /// stats of the consumers this ledger started (did they join, fetch, hand over?).
    pub async fn wait_for(&self, n: usize, timeout: Duration) {
        let mut rx = self.count.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|&c| c >= n)).await;
        if waited.is_ok() {
            return;
        }
        let consumers = self.consumers.lock().unwrap().clone();
        let mut why = String::new();
        for consumer in consumers.iter().filter_map(WeakAddr::upgrade) {
            let stats = tokio::time::timeout(Duration::from_secs(5), consumer.send(GetStats));
            why.push_str(&format!("\n  consumer: {:?}", stats.await));
        }
        panic!(
            "waited {timeout:?} for {n} records, ledger has {}{why}",
            *self.count.borrow()
        );
    }

    /// How many times each (topic, partition, offset) was accepted.
    pub fn counts(&self) -> BTreeMap<(String, i32, i64), usize> {
        let mut counts = BTreeMap::new();
        for e in self.entries() {
            *counts.entry((e.topic, e.partition, e.offset)).or_default() += 1;
        }
        counts
    }

    /// Starts the ledger as an actor and returns both recipients.
    pub fn start(&self) -> (Recipient<Acked>, Recipient<NoAcked>) {
        let addr = LedgerActor(self.clone()).start();
        (addr.clone().recipient(), addr.recipient())
    }

    /// Starts a consumer with `config` that delivers to `downstream` and hands every
    /// outcome to this ledger.
    pub fn consumer(
        &self,
        config: ConsumerConfig,
        downstream: Recipient<Delivery>,
    ) -> Addr<ConsumerActor> {
        let (acked, no_acked) = self.start();
        let consumer = ConsumerActor::builder(config)
            .downstream(downstream)
            .acked(acked)
            .no_acked(no_acked)
            .start()
            .expect("start a consumer");
        self.consumers.lock().unwrap().push(consumer.downgrade());
        consumer
    }
}

struct LedgerActor(Ledger);

impl Actor for LedgerActor {
    type Context = Context<Self>;
}

impl Handler<Acked> for LedgerActor {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: Acked, _: &mut Context<Self>) -> Self::Result {
        for r in &msg.records {
            self.0.push(r, None);
        }
        Ok(())
    }
}

impl Handler<NoAcked> for LedgerActor {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        for r in &msg.records {
            self.0.push(&r.record, Some(r.reason.to_string()));
        }
        Ok(())
    }
}

/// What the scripted downstream does with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ack at once.
    Ack,
    /// Nack at once with this reason.
    Nack(String),
    /// Drop it unanswered.
    Ignore,
    /// Keep the handle until [`Release`].
    Hold,
}

/// A downstream whose answer per record is a function of the record. It records every
/// delivery, so tests can check that nothing was delivered twice.
pub struct Scripted {
    script: Box<dyn Fn(&Record) -> Action>,
    delivered: Arc<Mutex<Vec<Record>>>,
    held: Vec<AckHandle>,
}

impl Scripted {
    /// A downstream following `script`; returns it and its delivery log.
    pub fn new(script: impl Fn(&Record) -> Action + 'static) -> (Self, Arc<Mutex<Vec<Record>>>) {
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let me = Scripted {
            script: Box::new(script),
            delivered: delivered.clone(),
            held: Vec::new(),
        };
        (me, delivered)
    }
}

impl Actor for Scripted {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Scripted {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        self.delivered.lock().unwrap().push(delivery.record.clone());
        match (self.script)(&delivery.record) {
            Action::Ack => delivery.ack(),
            Action::Nack(why) => delivery.nack(why),
            Action::Ignore => {}
            Action::Hold => self.held.push(delivery.into_parts().1),
        }
    }
}

/// Answers every held record with this verdict; returns how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Release(pub Verdict);

impl Handler<Release> for Scripted {
    type Result = usize;
    fn handle(&mut self, msg: Release, _: &mut Context<Self>) -> usize {
        let n = self.held.len();
        for handle in self.held.drain(..) {
            handle.answer(msg.0.clone());
        }
        n
    }
}

/// Polls the consumer's stats until `ok` holds; panics after `timeout`. For conditions that
/// only the consumer knows (a commit confirmed by the broker), where no event reaches the
/// test.
pub async fn stats_until(
    consumer: &Addr<ConsumerActor>,
    timeout: Duration,
    ok: impl Fn(&Stats) -> bool,
) -> Stats {
    let until = Instant::now() + timeout;
    loop {
        let stats = consumer.send(GetStats).await.expect("consumer alive");
        if ok(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < until,
            "stats never matched within {timeout:?}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// Helpers for the reliability suite (broker faults, downstream and outcome failures,
// misuse, bad input).

/// The records [`produce`] would send: payload `v{i}`, key `k{i}`, round-robin partitions.
pub fn records(topic: &str, partitions: i32, from: usize, count: usize) -> Vec<ProducerRecord> {
    (from..from + count)
        .map(|i| {
            ProducerRecord::new(topic, format!("v{i}"))
                .key(format!("k{i}"))
                .partition((i % partitions as usize) as i32)
        })
        .collect()
}

/// Like [`produce`], and returns where each record landed.
pub async fn produce_positions(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    from: usize,
    count: usize,
) -> Vec<Delivered> {
    producer(broker)
        .send_batch(&records(topic, partitions, from, count))
        .await
        .expect("produce")
}

/// The produced records the ledger never accepted, as `(partition, offset)`.
pub fn lost(ledger: &Ledger, topic: &str, produced: &[Delivered]) -> Vec<(i32, i64)> {
    let counts = ledger.counts();
    produced
        .iter()
        .filter(|d| !counts.contains_key(&(topic.to_string(), d.partition, d.offset)))
        .map(|d| (d.partition, d.offset))
        .collect()
}

/// One past the highest produced offset of each partition: where its commit must reach.
pub fn ends(produced: &[Delivered]) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for d in produced {
        let end = ends.entry(d.partition).or_insert(0);
        *end = (*end).max(d.offset + 1);
    }
    ends
}

/// Skips the calling test unless the backend is the embedded broker (fault injection needs
/// the mock cluster); prints why. Returns `true` when the test should return at once.
pub fn skip_unless_embedded(why: &str) -> bool {
    skip_on(Backend::Tansu, why) || skip_on(Backend::Kafka, why)
}

impl Ledger {
    /// Waits until `ok` holds for the entries accepted so far; panics after `timeout`.
    pub async fn wait_until(&self, timeout: Duration, ok: impl Fn(&[Entry]) -> bool) {
        let mut rx = self.count.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                if ok(&self.entries()) {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The ledger holds the sender: this cannot happen while it lives.
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "waited {timeout:?}; the condition never held; ledger has {} entries",
            self.entries().len()
        );
    }
}
