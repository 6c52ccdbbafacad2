//! gig-bench: Gig against raw rdkafka on the same broker, in one run.
//!
//! ```text
//! cargo run --release -p gig-examples --bin gig-bench -- [--brokers HOST:PORT] \
//!     [--partitions 1,4] [--records 2000000] [--size 100] [--repeat 3] [--json]
//!     [--memory-only] [--memory-records 5000000] [--memory-seconds 15] [--phase NAME]
//!     [--silent-in-flight 1000000] [--headers] [--plot FILE.svg] [--poll-thread-nice N]
//!     [--no-transactions]
//! ```
//!
//! `--no-transactions` leaves out gig-txn and gig-txn-out, for a broker without
//! transactions (tansu 0.6): there Gig's transactional producer is refused and its consumer
//! stops as a zombie, and those phases would wait for ever.
//!
//! `--poll-thread-nice N` sets `ConsumerConfig::poll_thread_nice` for Gig's consumers (by
//! default 0: the poll thread runs at the priority of the others).
//!
//! `--plot FILE.svg` also draws the table (records/s per phase and partition count, with
//! the ratio to raw) and the silent phase's lateness distribution (`plot.rs`).
//!
//! Gig's consumers read no headers (`ConsumerConfig::headers(false)`), as raw reads none;
//! `--headers` makes them read every record's headers, as Gig does by default.
//!
//! `--phase NAME` (one of the phases below) runs that phase alone and prints no table,
//! e.g. under `valgrind --tool=callgrind` to see where its instructions go.
//!
//! `--metrics` installs a Prometheus metrics recorder first, to show what recording Gig's
//! metrics costs.
//!
//! `--features mimalloc` builds it with mimalloc as the process's allocator (raw and Gig
//! alike); either way the allocator is wrapped to count allocations (`counting.rs`), and
//! each phase reports its allocations per record. `GIGCI_BENCH_CONSUMER` / `GIGCI_BENCH_PRODUCER` (`key=value,...`) add librdkafka
//! properties to the consumers (raw and Gig) and to the producer; `GIGCI_BENCH_TXN_PRODUCER`
//! to Gig's transactional producer (gig-txn, gig-txn-out).
//!
//! Every phase reports CPU µs per record (the whole process, every thread). `--scaling` runs
//! the scaling sweep instead (`scaling.rs`), `--soak SECONDS` the soak (`soak.rs`).
//!
//! Phases, each repeated `--repeat` times (the median is reported), per partition count;
//! the phases run round by round (raw, gig-ack, gig-stream, gig-batch, …, then again), so
//! that a change in the machine's load falls on all of them alike:
//! - **raw**: an rdkafka `BaseConsumer` reads all records, touching each payload.
//! - **java**: Kafka's own consumer (`ConsumerPerformance`, `java.rs`) reads the topic, on an
//!   external broker with Java and the Kafka jars installed; its end-to-end rate (group join
//!   included) and its fetch rate are reported.
//! - **gig-ack**: the full Gig path: each record delivered to a downstream actor that acks
//!   it, handed to an AckedActor, offsets committed. The clock stops when the last offset
//!   is committed (confirmed by the broker).
//! - **gig-stream**: gig-ack with the records delivered through a `DeliveryStream` that
//!   the downstream handles as a `StreamHandler<Delivery>`: no actix message per record.
//! - **gig-batch**: gig-ack in batch mode (batches of 1,000, one ack per batch).
//! - **gig-silent**: a downstream that never acks, 200 ms ack timeout: every record must
//!   reach the NoAckedActor; reports how late past its deadline (p50/p99/max).
//! - **gig-txn**: gig-ack in the transactional mode: the AckedActor answers `AckedTx` with
//!   no outputs, and the offsets are committed in a Kafka transaction every 100 ms. Its
//!   ratio to gig-ack is the cost of transactions alone.
//! - **gig-txn-out**: gig-txn where the AckedActor answers with one output per record (a copy
//!   to `<topic>.out`): consume, transform, produce, exactly once. The clock stops when the
//!   last transaction is committed, so every output is then visible to `read_committed`.
//! - **raw-txn-out** (external broker only): the same job with rdkafka by hand, on one
//!   thread (`raw_txn_out.rs`); gig-txn-out's ratio to it is what Gig adds there.
//! - **memory** (external broker only): a silent downstream over a backlog of
//!   `--memory-records` (5,000,000) with the default in-flight limit; RSS is sampled.
//!   `--memory-only` runs it alone, so its RSS does not include what the allocator kept of
//!   the phases before it (Linux reports a process's peak RSS since it started).
//!
//! On an external broker the records are produced first. The embedded broker keeps at most
//! 5 MB per partition, so there a producer thread produces while the phase consumes, kept
//! at most 20,000 records per partition ahead of the consumer: the figure is then bounded
//! by the in-process producer too, for raw and Gig alike. The output says which.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde_json::json;
use tokio::sync::oneshot;

use meter::{Measured, Meter};

mod counting;
mod cpu;
mod java;
mod meter;
mod plot;
mod raw_txn_out;
mod scaling;
mod soak;

#[cfg(not(feature = "mimalloc"))]
#[global_allocator]
static ALLOCATOR: counting::Counting<std::alloc::System> = counting::Counting(std::alloc::System);

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: counting::Counting<mimalloc::MiMalloc> = counting::Counting(mimalloc::MiMalloc);

/// How far the embedded-broker producer may run ahead of the consumer, per partition.
const AHEAD_PER_PARTITION: u64 = 20_000;
const SILENT_TIMEOUT: Duration = Duration::from_millis(200);
/// The silent phase's in-flight limit (`--silent-in-flight`): room for several times what
/// one timeout spans at full speed (about 300,000 records at 1.5 M/s), so that the
/// deadline, not the limit, sets the pace.
const SILENT_IN_FLIGHT: usize = 1_000_000;

#[derive(Clone)]
struct Settings {
    records: u64,
    /// Records get keys `k{i % keys}` (the scaling phases); none by default.
    keys: Option<u64>,
    /// Gig's consumers order records by key.
    key_ordering: bool,
    silent_in_flight: usize,
    /// `ConsumerConfig::poll_thread_nice`, when `--poll-thread-nice` sets it.
    poll_thread_nice: Option<u8>,
    size: usize,
    repeat: usize,
    memory_records: u64,
    memory_seconds: u64,
}

/// One measured run of one phase.
#[derive(Clone, Debug, Default)]
struct Run {
    secs: f64,
    /// CPU time of the whole process (every thread) while the phase ran.
    cpu_secs: f64,
    /// The Java consumer's fetch rate (its group join left out): the `java` phase only.
    java_fetch_rps: Option<f64>,
    /// Heap allocations in the process while the phase ran.
    allocs: u64,
    peak_rss_mb: f64,
    late_ms: Option<(f64, f64, f64)>,
    /// The silent phase's lateness percentiles 0..=100, for `--plot`.
    late_quantiles: Vec<f64>,
}

impl Run {
    /// A run of what `measured` counted, with the process's peak RSS since the phase began.
    fn measured(measured: Measured) -> Run {
        Run {
            secs: measured.secs,
            cpu_secs: measured.cpu_secs,
            allocs: measured.allocs,
            peak_rss_mb: peak_rss_mb(),
            ..Run::default()
        }
    }
}

// ---- process memory ----

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak-RSS mark (Linux: writing 5 to clear_refs), so each phase reports its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> f64 {
    rss_kb("VmHWM:") as f64 / 1024.0
}

fn rss_mb() -> f64 {
    rss_kb("VmRSS:") as f64 / 1024.0
}

// ---- producing ----

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
fn produce(
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
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
        if i.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
        }
    }
    if let Err(e) = producer.flush(Duration::from_secs(60)) {
        fail(&format!("producer flush: {e}"));
    }
}

// ---- progress ----

struct Progress {
    label: String,
    total: u64,
    done: Arc<AtomicU64>,
    last: Instant,
}

impl Progress {
    fn new(label: String, total: u64, done: Arc<AtomicU64>) -> Self {
        Progress {
            label,
            total,
            done,
            last: Instant::now(),
        }
    }

    fn tick(&mut self) {
        if self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            eprintln!(
                "  {}: {}/{}",
                self.label,
                self.done.load(Ordering::Relaxed),
                self.total
            );
        }
    }
}

// ---- raw ----

fn raw_run(brokers: &str, topic: &str, partitions: i32, s: &Settings, label: String) -> Run {
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

/// Every partition of `topic` from its first record.
fn from_beginning(topic: &str, partitions: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let _ = tpl.add_partition_offset(topic, p, Offset::Beginning);
    }
    tpl
}

/// On the embedded broker, a producer thread paced by `consumed`; nothing otherwise.
type Feed = Option<(std::thread::JoinHandle<()>, Arc<AtomicBool>)>;

fn feeder(
    brokers: &str,
    topic: &str,
    partitions: i32,
    s: &Settings,
    consumed: &Arc<AtomicU64>,
) -> Feed {
    if !EMBEDDED.load(Ordering::Relaxed) {
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

fn finish_feed(feed: Feed) {
    if let Some((handle, stop)) = feed {
        stop.store(true, Ordering::Relaxed);
        let _ = handle.join();
    }
}

static EMBEDDED: AtomicBool = AtomicBool::new(false);

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
fn consumer_tuning() -> Vec<(String, String)> {
    let mut properties = vec![
        ("fetch.wait.max.ms".to_string(), "5".to_string()),
        ("fetch.queue.backoff.ms".to_string(), "10".to_string()),
    ];
    properties.extend(env_properties("GIGCI_BENCH_CONSUMER"));
    properties
}

/// `key=value` pairs, comma-separated, from the env var `name`.
fn env_properties(name: &str) -> Vec<(String, String)> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

// ---- Gig actors for the benchmark ----

/// Acks each record (or, `silent`, never answers), counting deliveries.
struct Down {
    silent: bool,
    delivered: Arc<AtomicU64>,
    /// Records the outcome actor has accepted so far.
    settled: Arc<AtomicU64>,
    /// Silent: the deliveries kept unanswered (a dropped one would go to the NoAckedActor at
    /// once, as dropped, not at its deadline), each with the count of records delivered up
    /// to it. Records time out in delivery order, so one is let go once the outcome actor
    /// has accepted that many.
    held: std::collections::VecDeque<(u64, Held)>,
}

#[allow(dead_code)] // Kept, never read: holding them is the point.
enum Held {
    One(Delivery),
    Batch(DeliveryBatch),
}

impl Down {
    /// A downstream that acks everything, or with `holds` > 0 a silent one, with room for
    /// that many held deliveries.
    fn new(holds: usize, delivered: Arc<AtomicU64>, settled: Arc<AtomicU64>) -> Self {
        Down {
            silent: holds > 0,
            delivered,
            settled,
            held: std::collections::VecDeque::with_capacity(holds),
        }
    }

    /// One delivery, by message or from the stream: acked, or held when silent.
    fn take(&mut self, d: Delivery) {
        let up_to = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if self.silent {
            self.hold(up_to, Held::One(d));
        } else {
            d.ack();
        }
    }

    fn hold(&mut self, up_to: u64, held: Held) {
        let settled = self.settled.load(Ordering::Relaxed);
        while self.held.front().is_some_and(|(n, _)| *n <= settled) {
            self.held.pop_front();
        }
        self.held.push_back((up_to, held));
    }
}

impl Actor for Down {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Down {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        self.take(d);
    }
}

impl StreamHandler<Delivery> for Down {
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        self.take(d);
    }
}

impl Handler<DeliveryBatch> for Down {
    type Result = ();
    fn handle(&mut self, b: DeliveryBatch, _: &mut Context<Self>) {
        let n = b.records().len() as u64;
        let up_to = self.delivered.fetch_add(n, Ordering::Relaxed) + n;
        if self.silent {
            self.hold(up_to, Held::Batch(b));
        } else {
            b.ack_all();
        }
    }
}

/// Counts outcomes; answers `done` when `expected` records were handed over. For timed-out
/// records it keeps how late each reached it past its deadline. As a transactional
/// AckedActor it answers with a copy of each record to `output`, if set.
struct Outcomes {
    expected: u64,
    seen: u64,
    output: Option<String>,
    /// `seen`, for the downstream.
    settled: Arc<AtomicU64>,
    late_ms: Vec<f32>,
    done: Option<oneshot::Sender<Vec<f32>>>,
}

impl Outcomes {
    fn saw(&mut self, n: usize) {
        self.seen += n as u64;
        self.settled.store(self.seen, Ordering::Relaxed);
        if self.seen >= self.expected {
            if let Some(done) = self.done.take() {
                let _ = done.send(std::mem::take(&mut self.late_ms));
            }
        }
    }
}

impl Actor for Outcomes {
    type Context = Context<Self>;
}

impl Handler<Acked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        let touched: usize = m
            .records
            .iter()
            .map(|r| r.payload().map_or(0, <[u8]>::len))
            .sum();
        std::hint::black_box(touched);
        self.saw(m.records.len());
        Ok(())
    }
}

impl Handler<AckedTx> for Outcomes {
    type Result = Result<Outputs, HandOverError>;
    fn handle(&mut self, m: AckedTx, _: &mut Context<Self>) -> Self::Result {
        self.saw(m.records.len());
        let Some(topic) = &self.output else {
            return Ok(Outputs::new());
        };
        let copy = |r: &Record| ProducerRecord::new(topic, r.payload().unwrap_or_default());
        Ok(m.records.iter().map(|r| (r, copy(r))).collect())
    }
}

impl Handler<NoAcked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        for r in &m.records {
            if let NoAckReason::TimedOut { deadline, .. } = r.reason {
                let late = now.saturating_duration_since(deadline);
                self.late_ms.push(late.as_secs_f32() * 1000.0);
            }
        }
        self.saw(m.records.len());
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Ack,
    /// Ack, delivered through a `DeliveryStream`.
    Stream,
    Batch,
    Silent,
    /// Ack, committed in transactions.
    Txn,
    /// Ack, with one output per record, committed in transactions.
    TxnOut,
}

impl Mode {
    /// The mode of a Gig phase; `None` for raw.
    fn of(phase: &str) -> Option<Mode> {
        match phase {
            "raw" => None,
            "gig-ack" => Some(Mode::Ack),
            "gig-stream" => Some(Mode::Stream),
            "gig-batch" => Some(Mode::Batch),
            "gig-txn" => Some(Mode::Txn),
            "gig-txn-out" => Some(Mode::TxnOut),
            _ => Some(Mode::Silent),
        }
    }
}

async fn gig_run(
    brokers: &str,
    topic: &str,
    partitions: i32,
    s: &Settings,
    mode: Mode,
    label: String,
) -> Run {
    let delivered = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = oneshot::channel();
    let settled = Arc::new(AtomicU64::new(0));
    let output = (mode == Mode::TxnOut).then(|| format!("{topic}.out"));
    // The embedded broker creates a topic on first use.
    if let Some(output) = output
        .as_ref()
        .filter(|_| !EMBEDDED.load(Ordering::Relaxed))
    {
        create_topic(brokers, output, partitions).await;
    }
    let outcomes = Outcomes {
        expected: s.records,
        seen: 0,
        output,
        settled: settled.clone(),
        // Allocated up front, as the downstream's queue is: growing either would stall
        // the thread the consumer shares with them, and show as lateness of Gig's.
        late_ms: Vec::with_capacity(if mode == Mode::Silent {
            s.records as usize
        } else {
            0
        }),
        done: Some(done_tx),
    }
    .start();
    let holds = if mode == Mode::Silent {
        s.silent_in_flight
    } else {
        0
    };
    let down = Down::new(holds, delivered.clone(), settled);
    let (down, stream) = if mode == Mode::Stream {
        let (sender, stream) = delivery_stream();
        let down = Down::create(|ctx| {
            stream.attach(ctx);
            down
        });
        (down, Some(sender))
    } else {
        (down.start(), None)
    };
    let mut config = ConsumerConfig::new(brokers, format!("bench-gig-{}", unique()))
        .headers(gig_examples::flag("headers"));
    for (key, value) in consumer_tuning() {
        config = config.property(&key, &value);
    }
    if let Some(nice) = s.poll_thread_nice {
        config = config.poll_thread_nice(nice);
    }
    config = config.key_ordering(s.key_ordering);
    // GIGCI_BENCH_MAX_DELIVERIES=0 turns the crash-loop guard off, to measure what it costs.
    if let Ok(max) = std::env::var("GIGCI_BENCH_MAX_DELIVERIES") {
        let max = max
            .parse()
            .unwrap_or_else(|_| fail("GIGCI_BENCH_MAX_DELIVERIES: a number"));
        config = config.max_deliveries(max);
    }
    if mode == Mode::Silent {
        config = config
            .ack_timeout(SILENT_TIMEOUT)
            .max_in_flight(s.silent_in_flight);
    }
    let transactional = matches!(mode, Mode::Txn | Mode::TxnOut);
    if transactional {
        // GIGCI_BENCH_TXN_PRODUCER ("key=value,...") adds properties to Gig's transactional
        // producer.
        let mut settings = Transactional::new(format!("bench-txn-{}", unique()));
        for (key, value) in env_properties("GIGCI_BENCH_TXN_PRODUCER") {
            settings = settings.property(key, value);
        }
        config = config.transactional(settings);
    }
    let builder = ConsumerActor::builder(config).no_acked(outcomes.clone().recipient());
    let builder = match transactional {
        true => builder.acked_tx(outcomes.recipient()),
        false => builder.acked(outcomes.recipient()),
    };
    let builder = match (mode, stream) {
        (_, Some(deliveries)) => builder.stream_downstream(deliveries),
        (Mode::Batch, None) => builder.batch_downstream(down.recipient(), 1000),
        _ => builder.downstream(down.recipient()),
    };
    let consumer = builder
        .start()
        .unwrap_or_else(|e| fail(&format!("consumer: {e}")));
    let starts: Vec<PartitionStart> = (0..partitions)
        .map(|partition| PartitionStart {
            topic: topic.to_string(),
            partition,
            offset: Some(0),
        })
        .collect();

    reset_peak_rss();
    let feed = feeder(brokers, topic, partitions, s, &delivered);
    let meter = Meter::start();
    consumer
        .send(Assign(starts))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| fail("assign failed"));
    let mut progress = Progress::new(label, s.records, delivered.clone());
    let mut done_rx = done_rx;
    let late = loop {
        tokio::select! {
            late = &mut done_rx => break late.unwrap_or_default(),
            _ = tokio::time::sleep(Duration::from_millis(250)) => progress.tick(),
        }
    };
    if let Err(e) = consumer
        .send(Commit)
        .await
        .unwrap_or(Err(GigError::Stopped))
    {
        fail(&format!("final commit: {e}"));
    }
    let measured = meter.read();
    let peak = peak_rss_mb();
    finish_feed(feed);
    let stats = consumer
        .send(Stop)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| fail("stop failed"));
    let committed: i64 = (0..partitions)
        .map(|p| stats.committed(topic, p).unwrap_or(0))
        .sum();
    if committed as u64 != s.records {
        fail(&format!("committed {committed} of {} records", s.records));
    }
    Run {
        peak_rss_mb: peak,
        late_quantiles: match mode {
            Mode::Silent => plot::quantiles(&late),
            _ => Vec::new(),
        },
        late_ms: (mode == Mode::Silent).then(|| percentiles(late)),
        ..Run::measured(measured)
    }
}

/// One message to an actor on this thread, to count what actix allocates per message.
#[derive(Message)]
#[rtype(result = "()")]
struct Ping;

struct Pinged {
    left: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Pinged {
    type Context = Context<Self>;
}

impl Handler<Ping> for Pinged {
    type Result = ();
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {
        self.left -= 1;
        if self.left == 0 {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// Heap allocations actix makes per `do_send` through a `Recipient` (as Gig sends each
/// `Delivery`) to an actor on the same thread: its envelope and its mailbox queue node.
/// Measured, so that per-record counts can be split into actix's and Gig's own.
async fn actix_allocs_per_message() -> f64 {
    const N: u64 = 100_000;
    let (tx, rx) = oneshot::channel();
    let recipient = Pinged {
        left: N,
        done: Some(tx),
    }
    .start()
    .recipient::<Ping>();
    let before = counting::allocations();
    for _ in 0..N {
        recipient.do_send(Ping);
    }
    let _ = rx.await;
    (counting::allocations() - before) as f64 / N as f64
}

fn percentiles(mut v: Vec<f32>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64;
    (at(0.5), at(0.99), at(1.0))
}

// ---- memory ----

async fn memory_phase(brokers: &str, s: &Settings) -> (f64, Vec<(f64, f64)>) {
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

/// Produces the backlog in a child process (this binary with `--produce-to`): librdkafka
/// queues up to a gigabyte while producing, and what the allocator keeps of it after the
/// flush would count in this process's RSS, not the consumer's.
fn produce_elsewhere(brokers: &str, topic: &str, records: u64, size: usize) {
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

/// Deletes a topic the benchmark made, so that repeated runs do not fill the broker's disk
/// (each holds 200-500 MB); a failure only warns.
async fn delete_topic(brokers: &str, topic: &str) {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;

    let admin: Result<AdminClient<DefaultClientContext>, _> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let deleted = match admin {
        Ok(admin) => admin.delete_topics(&[topic], &options).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = deleted {
        eprintln!("gig-bench: could not delete topic {topic}: {e}");
    }
}

async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let broker = Broker::External(brokers.to_string());
    if let Err(e) = broker.create_topic(topic, partitions).await {
        fail(&format!("create topic {topic}: {e}"));
    }
}

fn fail(why: &str) -> ! {
    eprintln!("gig-bench: {why}");
    std::process::exit(1)
}

/// The `java` phase: Kafka's ConsumerPerformance on the topic.
fn java_run(brokers: &str, topic: &str, s: &Settings) -> Run {
    let java = java::consumer_performance(brokers, topic, s.records).unwrap_or_else(|e| fail(&e));
    Run {
        secs: s.records as f64 / java.rps,
        java_fetch_rps: Some(java.fetch_rps),
        ..Run::default()
    }
}

fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    sorted[sorted.len() / 2].clone()
}

async fn run() {
    // `--soak SECONDS`: soak.rs.
    if gig_examples::arg("soak").is_some() {
        soak::run().await;
        return;
    }
    let s = Settings {
        records: gig_examples::num_arg("records", 2_000_000),
        keys: None,
        key_ordering: false,
        silent_in_flight: gig_examples::num_arg("silent-in-flight", SILENT_IN_FLIGHT),
        poll_thread_nice: gig_examples::arg("poll-thread-nice").map(|n| {
            n.parse()
                .unwrap_or_else(|_| fail("--poll-thread-nice: a number from 0 to 19"))
        }),
        size: gig_examples::num_arg("size", 100),
        repeat: gig_examples::num_arg("repeat", 3).max(1),
        memory_records: gig_examples::num_arg("memory-records", 5_000_000),
        memory_seconds: gig_examples::num_arg("memory-seconds", 15),
    };
    if let (Some(topic), Some(brokers)) = (gig_examples::arg("produce-to"), gig_examples::brokers())
    {
        produce(&brokers, &topic, 1, s.records, s.size, None, None);
        return;
    }
    // The memory phase alone: its RSS then starts from a fresh process, not from what the
    // allocator kept of the phases before it.
    let memory_only = gig_examples::flag("memory-only");
    let partition_counts: Vec<i32> = gig_examples::arg("partitions")
        .unwrap_or_else(|| "1,4".to_string())
        .split(',')
        .map(|p| {
            p.trim()
                .parse()
                .unwrap_or_else(|_| fail("--partitions: numbers, e.g. 1,4"))
        })
        .collect();
    let partition_counts = if memory_only {
        Vec::new()
    } else {
        partition_counts
    };
    let broker = Broker::external_or_embedded(gig_examples::brokers())
        .unwrap_or_else(|e| fail(&format!("broker: {e}")));
    let embedded = broker.embedded().is_some();
    EMBEDDED.store(embedded, Ordering::Relaxed);
    let brokers = broker.bootstrap_servers();
    let mode = if embedded {
        "produce-while-consume (embedded broker keeps <= 5 MB per partition)"
    } else {
        "produce-first"
    };
    eprintln!(
        "gig-bench: broker={} ({}), mode={mode}, records={}, size={} B, repeat={}, cpus={}",
        brokers,
        broker.kind(),
        s.records,
        s.size,
        s.repeat,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let actix_allocs = actix_allocs_per_message().await;
    eprintln!("actix: {actix_allocs:.2} allocations per message sent");
    if gig_examples::flag("scaling") {
        scaling::run(&broker, &s).await;
        return;
    }
    let all_phases = [
        "raw",
        "java",
        "gig-ack",
        "gig-stream",
        "gig-batch",
        "gig-silent",
        "gig-txn",
        "gig-txn-out",
        "raw-txn-out",
    ];
    let only = gig_examples::arg("phase");
    let transactions = !gig_examples::flag("no-transactions");
    // Kafka's own consumer reads the same topic, where there is one to read: not on the
    // embedded broker, whose records are produced while a phase consumes.
    let java_skipped = match (embedded, java::unavailable()) {
        (true, _) => Some("the embedded broker has no topic for it to read".to_string()),
        (false, why) => why,
    };
    if let Some(why) = &java_skipped {
        eprintln!("java phase (Kafka's ConsumerPerformance) skipped: {why}");
    }
    let phases: Vec<&str> = match &only {
        Some(only) => all_phases.into_iter().filter(|p| p == only).collect(),
        None => all_phases
            .into_iter()
            .filter(|p| transactions || !p.contains("txn"))
            .filter(|p| *p != "java" || java_skipped.is_none())
            // Its records must be there before it starts: not on the embedded broker.
            .filter(|p| *p != "raw-txn-out" || (transactions && !embedded))
            .collect(),
    };
    if embedded && phases.contains(&"raw-txn-out") {
        fail("raw-txn-out reads records produced before it starts: run it with --brokers");
    }
    if phases.is_empty() {
        fail(
            "--phase: one of raw, java, gig-ack, gig-stream, gig-batch, gig-silent, gig-txn, gig-txn-out, raw-txn-out",
        );
    }
    let mut table: BTreeMap<i32, BTreeMap<&str, Run>> = BTreeMap::new();
    // How fast this machine and broker take the records in (rdkafka's producer, acks=all):
    // the ceiling of any phase that writes as many as it reads (gig-txn-out).
    let mut produce_rps: BTreeMap<i32, f64> = BTreeMap::new();
    for &partitions in &partition_counts {
        let mut topics = Vec::new();
        if !embedded {
            let topic = format!("bench-{partitions}p-{}", unique());
            create_topic(&brokers, &topic, partitions).await;
            eprintln!("producing {} records to {topic}", s.records);
            let t = Instant::now();
            produce(&brokers, &topic, partitions, s.records, s.size, None, None);
            let secs = t.elapsed().as_secs_f64();
            eprintln!("  produced in {secs:.2}s");
            produce_rps.insert(partitions, s.records as f64 / secs);
            topics.push(topic);
        }
        // Round by round, every phase once per round: the load of other work on the machine
        // changes over minutes, and phases run side by side see about the same.
        let mut runs: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
        for r in 0..s.repeat {
            for &phase in &phases {
                let topic = if embedded {
                    let topic = format!("bench-{partitions}p-{}", unique());
                    if let Some(b) = broker.embedded() {
                        b.create_topic(&topic, partitions)
                            .unwrap_or_else(|e| fail(&format!("create topic: {e}")));
                    }
                    topic
                } else {
                    topics[0].clone()
                };
                let label = format!("{phase} p={partitions} run {}/{}", r + 1, s.repeat);
                let run = match (phase, Mode::of(phase)) {
                    ("java", _) => java_run(&brokers, &topic, &s),
                    ("raw-txn-out", _) => {
                        create_topic(&brokers, &format!("{topic}.out"), partitions).await;
                        raw_txn_out::run(&brokers, &topic, partitions, &s, label)
                    }
                    (_, None) => raw_run(&brokers, &topic, partitions, &s, label),
                    (_, Some(mode)) => gig_run(&brokers, &topic, partitions, &s, mode, label).await,
                };
                let late = run.late_ms.map_or(String::new(), |(p50, p99, max)| {
                    format!(", late p50 {p50:.1} p99 {p99:.1} max {max:.1} ms")
                });
                eprintln!(
                    "  {phase} p={partitions} run {}: {:.0} records/s ({:.3}s), {:.3} allocations per record, peak RSS {:.0} MB{late}",
                    r + 1,
                    s.records as f64 / run.secs,
                    run.secs,
                    run.allocs as f64 / s.records as f64,
                    run.peak_rss_mb
                );
                runs.entry(phase).or_default().push(run);
            }
        }
        for (phase, runs) in &runs {
            table
                .entry(partitions)
                .or_default()
                .insert(phase, median(runs));
        }
        for topic in &topics {
            delete_topic(&brokers, topic).await;
        }
    }

    if only.is_some() {
        return;
    }
    let memory = if embedded {
        eprintln!("memory phase: skipped on the embedded broker (its backlog would live in this process); run with --brokers");
        None
    } else {
        Some(memory_phase(&brokers, &s).await)
    };

    // The table.
    let rps = |r: &Run| s.records as f64 / r.secs;
    let per_record = |r: &Run| (r.allocs as f64 / s.records as f64 * 1000.0).round() / 1000.0;
    let cpu_us = |r: &Run| (r.cpu_secs * 1e6 / s.records as f64 * 1000.0).round() / 1000.0;
    println!();
    println!(
        "broker: {} ({}), mode: {mode}, {} records of {} B, median of {}",
        brokers,
        broker.kind(),
        s.records,
        s.size,
        s.repeat
    );
    let tuning: Vec<String> = consumer_tuning()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!("consumer properties (raw and Gig): {}", tuning.join(", "));
    let headers = if gig_examples::flag("headers") {
        "Gig reads every record's headers (raw reads none)"
    } else {
        "neither raw nor Gig reads headers (--headers: Gig does)"
    };
    println!("{headers}");
    println!(
        "allocations per record: the whole process's; actix makes {actix_allocs:.2} per message sent"
    );
    println!(
        "{:<11} {:>5} {:>12} {:>8} {:>8} {:>12} {:>10} {:>11} {:>10}",
        "phase",
        "parts",
        "records/s",
        "MB/s",
        "x raw",
        "p99 late ms",
        "allocs/rec",
        "CPU µs/rec",
        "peak RSS"
    );
    let mut by_partitions = serde_json::Map::new();
    for (partitions, phases) in &table {
        let raw = rps(&phases["raw"]);
        let mut entry = serde_json::Map::new();
        for (phase, run) in phases {
            let r = rps(run);
            // The Java consumer is another process: its allocations and CPU are not seen.
            let own = |figure: String| {
                if *phase == "java" {
                    "-".to_string()
                } else {
                    figure
                }
            };
            println!(
                "{:<11} {:>5} {:>12.0} {:>8.1} {:>8.2} {:>12} {:>10} {:>11} {:>7.0} MB",
                phase,
                partitions,
                r,
                r * s.size as f64 / 1e6,
                r / raw,
                run.late_ms
                    .map_or("-".to_string(), |l| format!("{:.1}", l.1)),
                own(format!("{:.3}", per_record(run))),
                own(format!("{:.3}", cpu_us(run))),
                run.peak_rss_mb
            );
            entry.insert(format!("{phase}_cpu_us_per_record"), json!(cpu_us(run)));
            if let Some(fetch) = run.java_fetch_rps {
                entry.insert("java_fetch_rps".into(), json!(fetch.round()));
            }
            entry.insert(format!("{phase}_rps"), json!(r.round()));
            entry.insert(
                format!("{phase}_ratio"),
                json!((r / raw * 1000.0).round() / 1000.0),
            );
            entry.insert(format!("{phase}_allocs_per_record"), json!(per_record(run)));
            entry.insert(
                format!("{phase}_peak_rss_mb"),
                json!(run.peak_rss_mb.round()),
            );
            if let Some((p50, p99, max)) = run.late_ms {
                entry.insert(
                    "silent_late_ms".into(),
                    json!({"p50": p50, "p99": p99, "max": max}),
                );
            }
        }
        by_partitions.insert(partitions.to_string(), serde_json::Value::Object(entry));
    }
    for (partitions, phases) in &table {
        let (Some(ack), Some(txn), Some(out)) = (
            phases.get("gig-ack"),
            phases.get("gig-txn"),
            phases.get("gig-txn-out"),
        ) else {
            continue;
        };
        let plain = rps(ack);
        if let Some(produced) = produce_rps.get(partitions) {
            println!(
                "producing the records ({partitions} partition(s), rdkafka, acks=all) ran at {produced:.0} records/s; gig-txn-out, which writes as many as it reads, at {:.2}x that",
                rps(out) / produced
            );
        }
        println!(
            "allocations per record, gig-txn-out: {:.3} ({:.3} in gig-ack), CPU µs per record {:.3} ({:.3})",
            per_record(out),
            per_record(ack),
            cpu_us(out),
            cpu_us(ack)
        );
        println!(
            "transactional vs plain, {partitions} partition(s): gig-txn {:.0} records/s = {:.2}x gig-ack ({plain:.0}); gig-txn-out {:.0} records/s = {:.2}x gig-ack",
            rps(txn),
            rps(txn) / plain,
            rps(out),
            rps(out) / plain,
        );
        if let Some(by_hand) = phases.get("raw-txn-out") {
            println!(
                "the same job with rdkafka by hand (raw-txn-out), {partitions} partition(s): {:.0} records/s; gig-txn-out at {:.2}x that, {:.3} CPU µs per record ({:.3})",
                rps(by_hand),
                rps(out) / rps(by_hand),
                cpu_us(by_hand),
                cpu_us(out)
            );
        }
    }
    if let Some((peak, samples)) = &memory {
        let first = samples.first().map_or(0.0, |s| s.1);
        let last = samples.last().map_or(0.0, |s| s.1);
        println!(
            "memory: silent downstream over a {}-record backlog, default in-flight limit: RSS {first:.0} MB at {:.1}s, {last:.0} MB at {:.1}s, peak {peak:.0} MB",
            s.memory_records,
            samples.first().map_or(0.0, |s| s.0),
            samples.last().map_or(0.0, |s| s.0),
        );
    }

    if let Some(path) = gig_examples::arg("plot").filter(|_| !memory_only) {
        let title = format!(
            "gig-bench on the {} broker, {} records of {} B",
            broker.kind(),
            s.records,
            s.size
        );
        match plot::draw(&path, &table, s.records, &title) {
            Ok(()) => eprintln!("plot: {path}"),
            Err(e) => fail(&format!("--plot {path}: {e}")),
        }
    }

    if gig_examples::flag("json") && memory_only {
        let first = memory.as_ref().and_then(|m| m.1.first()).map(|s| s.1);
        let line = json!({
            "broker": broker.kind(),
            "memory_records": s.memory_records,
            "memory_first_rss_mb": first.map(f64::round),
            "memory_peak_rss_mb": memory.as_ref().map(|m| m.0.round()),
        });
        println!("{line}");
    } else if gig_examples::flag("json") {
        let head = partition_counts[0];
        let phases = &table[&head];
        let raw = rps(&phases["raw"]);
        let java = phases.get("java").map(rps);
        let ratio = |a: f64, b: Option<f64>| b.map(|b| (a / b * 1000.0).round() / 1000.0);
        let mut line = json!({
            "java_rps": java.map(f64::round),
            "java_fetch_rps": phases.get("java").and_then(|r| r.java_fetch_rps).map(f64::round),
            "ratio_ack_to_java": ratio(rps(&phases["gig-ack"]), java),
            "ratio_batch_to_java": ratio(rps(&phases["gig-batch"]), java),
            "ratio_ack_to_java_fetch": ratio(rps(&phases["gig-ack"]), phases.get("java").and_then(|r| r.java_fetch_rps)),
            "cpu_us_per_record_raw": cpu_us(&phases["raw"]),
            "cpu_us_per_record_ack": cpu_us(&phases["gig-ack"]),
            "cpu_us_per_record_batch": cpu_us(&phases["gig-batch"]),
            "cpu_us_per_record_txn_out": phases.get("gig-txn-out").map(cpu_us),
            "produce_rps": produce_rps.get(&head).map(|r| r.round()),
            "ratio_txn_out_to_produce": phases.get("gig-txn-out").and_then(|r| ratio(rps(r), produce_rps.get(&head).copied())),
            "allocs_per_record_txn_out": phases.get("gig-txn-out").map(per_record),
            "broker": broker.kind(),
            "mode": mode,
            "records": s.records,
            "size": s.size,
            "partitions": head,
            "raw_rps": raw.round(),
            "gig_ack_rps": rps(&phases["gig-ack"]).round(),
            "gig_stream_rps": rps(&phases["gig-stream"]).round(),
            "gig_batch_rps": rps(&phases["gig-batch"]).round(),
            "gig_silent_rps": rps(&phases["gig-silent"]).round(),
            "gig_txn_rps": phases.get("gig-txn").map(|r| rps(r).round()),
            "gig_txn_out_rps": phases.get("gig-txn-out").map(|r| rps(r).round()),
            "ratio_txn_to_ack": phases.get("gig-txn").map(|r| (rps(r) / rps(&phases["gig-ack"]) * 1000.0).round() / 1000.0),
            "ratio_txn_out_to_ack": phases.get("gig-txn-out").map(|r| (rps(r) / rps(&phases["gig-ack"]) * 1000.0).round() / 1000.0),
            "ratio_ack": (rps(&phases["gig-ack"]) / raw * 1000.0).round() / 1000.0,
            "ratio_stream": (rps(&phases["gig-stream"]) / raw * 1000.0).round() / 1000.0,
            "ratio_batch": (rps(&phases["gig-batch"]) / raw * 1000.0).round() / 1000.0,
            "ratio_silent": (rps(&phases["gig-silent"]) / raw * 1000.0).round() / 1000.0,
            "silent_late_p99_ms": phases["gig-silent"].late_ms.map(|l| (l.1 * 10.0).round() / 10.0),
            "allocs_per_record_raw": per_record(&phases["raw"]),
            "allocs_per_record_ack": per_record(&phases["gig-ack"]),
            "allocs_per_record_stream": per_record(&phases["gig-stream"]),
            "allocs_per_record_batch": per_record(&phases["gig-batch"]),
            "allocs_per_record_silent": per_record(&phases["gig-silent"]),
            "actix_allocs_per_message": (actix_allocs * 100.0).round() / 100.0,
            "gig_reads_headers": gig_examples::flag("headers"),
            "silent_in_flight": s.silent_in_flight,
            "memory_peak_rss_mb": memory.as_ref().map(|m| m.0.round()),
            "by_partitions": by_partitions,
        });
        // Past what one `json!` may hold (its recursion limit).
        let by_hand = phases.get("raw-txn-out");
        line["raw_txn_out_rps"] = json!(by_hand.map(|r| rps(r).round()));
        line["cpu_us_per_record_raw_txn_out"] = json!(by_hand.map(cpu_us));
        line["ratio_txn_out_to_raw_txn_out"] = json!(phases
            .get("gig-txn-out")
            .and_then(|r| ratio(rps(r), by_hand.map(rps))));
        println!("{line}");
    }
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_millis()
        .init();
    // `--metrics`: the phases run with a Prometheus recorder installed, so that Gig's
    // metrics are recorded (nothing scrapes them); compare with a run without it.
    if gig_examples::flag("metrics") {
        gig_examples::metrics_demo::install_recorder();
        eprintln!("gig-bench: a Prometheus metrics recorder is installed (--metrics)");
    }
    System::new().block_on(run());
}
