//! `--soak SECONDS`: a steady rate through every kind of answer at once, for a long time.
//!
//! ```text
//! gig-bench --soak SECONDS [--soak-rate 5000] [--partitions 4] [--brokers HOST:PORT]
//!     [--json] [--plot FILE.svg] [--soak-ledger DIR]
//! ```
//!
//! A producer thread beside the consumer writes `--soak-rate` records a second (record `i`:
//! key `k{i}`, payload `v{i}`, partition `i % partitions`) to a fresh topic, and notes where
//! each landed from its delivery report. One Gig consumer, in a group subscribed to the
//! topic, delivers each record to a downstream that answers by the record's number `i`
//! (`i % 20`): 17 in 20 (85%) acked, 1 nacked, 1 never answered (it times out; the
//! delivery is held, then dropped well past its deadline, which Gig ignores), 1 answered
//! after its deadline (a late answer, counted and ignored). The ack timeout is 500 ms. The
//! AckedActor and NoAckedActor are one ledger: with `--soak-ledger DIR` the ledger file the
//! reliability checker reads (`DIR/ledger`, `gig_examples::ledger_file`), with the
//! records as produced in `DIR/produced` (`PARTITION OFFSET KEY` lines; `gig-check DIR`
//! checks them); without it an in-memory bit set per partition that keeps only the window
//! above the offsets all seen, so its memory does not grow with the run.
//!
//! Every 10 s it prints the process's RSS (kept for the report), and beside it glibc
//! malloc's own figures (`mallinfo2`: bytes in use, bytes held free), which tell a leak
//! (in use grows) from fragmentation (free grows); under valgrind they read 0, and with
//! `--features mimalloc` they leave Rust's allocations out. At the end it stops the
//! producer, waits with `CaughtUp` until everything produced is handed over and committed,
//! stops the consumer, and reports: records produced, handed over (acked, no-acked by
//! reason), late answers, commits, the lag at the end per partition (the high watermark
//! less the committed offset: 0 expected), RSS at minute 1 and at the end and the growth
//! between them, the peak RSS, and lost and duplicate records as the ledger tells.
//! `--json` prints all of it as one line, the RSS samples too; `--plot` draws RSS over the
//! soak. The embedded broker works too, but its records then live in this process's RSS:
//! give `--brokers` for a figure that means something.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::ledger_file::{news, wall_us, FileLedger, Times};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message as _};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use serde_json::json;

use crate::{counting, fail, peak_rss_mb, rss_mb, unique};

/// How long the downstream has to answer each record.
const ACK_TIMEOUT: Duration = Duration::from_millis(500);
/// How long after its deadline a late record is answered.
const LATE_BY: Duration = Duration::from_millis(200);
/// How long after its deadline a silent record's delivery is dropped (Gig has routed it by
/// then, and ignores the drop).
const SILENT_HELD: Duration = Duration::from_secs(1);
/// How often RSS is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// What the downstream does with record `i`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ack,
    Nack,
    Silent,
    Late,
}

fn answer_for(i: u64) -> Answer {
    match i % 20 {
        17 => Answer::Nack,
        18 => Answer::Silent,
        19 => Answer::Late,
        _ => Answer::Ack,
    }
}

// ---- the downstream ----

/// Answers each record by its number; holds the silent and late ones until they are due.
struct Answers {
    /// When each record reached it and was answered, for the ledger file.
    times: Option<Times>,
    /// Late records, with when to answer them (in delivery order, so in time order).
    late: VecDeque<(Instant, AckHandle)>,
    /// Silent records, with when to let their deliveries go.
    silent: VecDeque<(Instant, AckHandle)>,
    /// Records whose payload is not `v{i}` (acked): none expected.
    strangers: u64,
}

impl Answers {
    fn note(&self, at: (i32, i64), start: u64, end: Option<u64>) {
        if let Some(times) = &self.times {
            if let Ok(mut times) = times.lock() {
                times.insert(at, (start, end));
            }
        }
    }

    /// Answers the late records that are due and lets the silent ones go.
    fn tick(&mut self) {
        let now = Instant::now();
        while self.late.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, handle)) = self.late.pop_front() {
                handle.ack();
            }
        }
        while self.silent.front().is_some_and(|(due, _)| *due <= now) {
            self.silent.pop_front();
        }
    }
}

impl Actor for Answers {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_millis(20), |me, _| me.tick());
    }
}

impl Handler<Delivery> for Answers {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let at = (d.record.partition(), d.record.offset());
        let start = wall_us();
        let number = d
            .record
            .payload_str()
            .and_then(|p| p.strip_prefix('v')?.parse::<u64>().ok());
        let Some(i) = number else {
            self.strangers += 1;
            self.note(at, start, Some(wall_us()));
            d.ack();
            return;
        };
        let deadline = d.deadline();
        match answer_for(i) {
            Answer::Ack => {
                self.note(at, start, Some(wall_us()));
                d.ack();
            }
            Answer::Nack => {
                self.note(at, start, Some(wall_us()));
                d.nack("soak: every 20th record");
            }
            // The ledger writes a timed-out record's deadline as its end.
            Answer::Silent => {
                self.note(at, start, None);
                let (_, handle) = d.into_parts();
                self.silent.push_back((deadline + SILENT_HELD, handle));
            }
            Answer::Late => {
                self.note(at, start, None);
                let (_, handle) = d.into_parts();
                self.late.push_back((deadline + LATE_BY, handle));
            }
        }
    }
}

// ---- the in-memory ledger ----

/// Per partition, the offsets handed over: everything below `base`, and a bit per offset
/// from `base` on. Words that fill up leave the window, so it spans only the offsets still
/// in flight (and any record never handed over, which is lost).
#[derive(Default)]
struct Window {
    base: i64,
    words: VecDeque<u64>,
}

/// Records handed over, per partition, and the extra copies.
#[derive(Default)]
struct Seen {
    partitions: BTreeMap<i32, Window>,
    /// Copies of a record beyond its first.
    duplicates: u64,
}

impl Seen {
    fn mark(&mut self, partition: i32, offset: i64) {
        let w = self.partitions.entry(partition).or_default();
        if offset < w.base {
            self.duplicates += 1;
            return;
        }
        let i = (offset - w.base) as usize;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if w.words.len() <= word {
            w.words.resize(word + 1, 0);
        }
        if w.words[word] & bit != 0 {
            self.duplicates += 1;
            return;
        }
        w.words[word] |= bit;
        while w.words.front() == Some(&u64::MAX) {
            w.words.pop_front();
            w.base += 64;
        }
    }

    /// Offsets below each partition's end (offsets start at 0: the topic is new) that were
    /// never handed over.
    fn lost(&self, ends: &BTreeMap<i32, i64>) -> u64 {
        let mut lost = 0;
        for (partition, &end) in ends {
            let Some(w) = self.partitions.get(partition) else {
                lost += end.max(0) as u64;
                continue;
            };
            for offset in w.base..end {
                let i = (offset - w.base) as usize;
                let set = w
                    .words
                    .get(i / 64)
                    .is_some_and(|word| word & (1u64 << (i % 64)) != 0);
                lost += u64::from(!set);
            }
        }
        lost
    }
}

/// The AckedActor and NoAckedActor without `--soak-ledger`.
struct MemLedger(Seen);

impl Actor for MemLedger {
    type Context = Context<Self>;
}

impl Handler<Acked> for MemLedger {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        for r in &m.records {
            self.0.mark(r.partition(), r.offset());
        }
        Ok(())
    }
}

impl Handler<NoAcked> for MemLedger {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        for r in &m.records {
            self.0.mark(r.record.partition(), r.record.offset());
        }
        Ok(())
    }
}

/// Lost records and extra copies, given each partition's end.
#[derive(Message)]
#[rtype(result = "(u64, u64)")]
struct Tally(BTreeMap<i32, i64>);

impl Handler<Tally> for MemLedger {
    type Result = MessageResult<Tally>;
    fn handle(&mut self, m: Tally, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.0.lost(&m.0), self.0.duplicates))
    }
}

/// The ledger the consumer hands over to.
enum Ledger {
    File(Addr<FileLedger>, PathBuf),
    Memory(Addr<MemLedger>),
}

/// Lost records and extra copies from a ledger file, read line by line.
fn tally_file(path: &Path, ends: &BTreeMap<i32, i64>) -> (u64, u64) {
    let file = File::open(path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    let mut seen = Seen::default();
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        let mut f = line.split_whitespace();
        let (Some(Ok(partition)), Some(Ok(offset))) = (
            f.next().map(str::parse::<i32>),
            f.next().map(str::parse::<i64>),
        ) else {
            continue; // a commit or rebalance line
        };
        seen.mark(partition, offset);
    }
    (seen.lost(ends), seen.duplicates)
}

// ---- the producer ----

/// Where the producer's records landed, from its delivery reports.
struct Landed {
    /// `PARTITION OFFSET KEY` per record, with `--soak-ledger`.
    list: Option<Mutex<BufWriter<File>>>,
    /// Per partition, one past the highest offset delivered.
    ends: Vec<AtomicI64>,
    delivered: AtomicU64,
    failed: AtomicU64,
}

struct Reports(Arc<Landed>);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let (partition, offset) = (m.partition(), m.offset());
                if let Some(end) = self.0.ends.get(partition as usize) {
                    end.fetch_max(offset + 1, Ordering::Relaxed);
                }
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(list) = &self.0.list {
                    let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                    if let Ok(mut list) = list.lock() {
                        let _ = writeln!(list, "{partition} {offset} {key}");
                    }
                }
            }
            Err((e, _)) => {
                if self.0.failed.fetch_add(1, Ordering::Relaxed) < 10 {
                    eprintln!("soak: a record was not produced: {e}");
                }
            }
        }
    }
}

/// Produces `rate` records a second until `stop`; returns how many it sent.
fn produce_steadily(
    brokers: &str,
    topic: &str,
    partitions: i32,
    rate: u64,
    landed: Arc<Landed>,
    stop: &AtomicBool,
) -> u64 {
    let producer: BaseProducer<Reports> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .create_with_context(Reports(landed))
        .unwrap_or_else(|e| fail(&format!("soak producer: {e}")));
    let (mut key, mut payload) = (String::new(), String::new());
    let start = Instant::now();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while i < due {
            use std::fmt::Write as _;
            key.clear();
            payload.clear();
            let _ = write!(key, "k{i}");
            let _ = write!(payload, "v{i}");
            let mut record = BaseRecord::to(topic)
                .key(key.as_str())
                .payload(payload.as_str())
                .partition((i % partitions as u64) as i32);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(5));
                    }
                }
            }
            i += 1;
        }
        // Serves every delivery report that comes within 2 ms: with a zero timeout `poll`
        // serves one event (one batch), and the reports would queue up.
        producer.poll(Duration::from_millis(2));
    }
    if let Err(e) = producer.flush(Duration::from_secs(60)) {
        fail(&format!("soak producer flush: {e}"));
    }
    i
}

// ---- the run ----

/// One RSS sample: seconds into the soak, MB.
type Sample = (f64, f64);

/// glibc malloc's own figures, in MB: bytes allocated and not freed (every arena, and the
/// large blocks it maps on its own), and bytes it holds free. With RSS they tell a leak
/// (in use grows) from fragmentation (free grows). Every malloc of the process counts:
/// Rust's (unless built with `--features mimalloc`) and librdkafka's.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_mb() -> Option<(f64, f64)> {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
    Some((mb(m.uordblks + m.hblkhd), mb(m.fordblks)))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_mb() -> Option<(f64, f64)> {
    None
}

pub(crate) async fn run() {
    let seconds: u64 = gig_examples::num_arg("soak", 0);
    if seconds == 0 {
        fail("--soak: the soak's length in seconds, e.g. --soak 1800");
    }
    let rate: u64 = gig_examples::num_arg("soak-rate", 5000).max(1);
    let partitions: i32 = gig_examples::num_arg("partitions", 4);
    if partitions < 1 {
        fail("--partitions: one number for the soak, e.g. 4");
    }
    let ledger_dir = gig_examples::arg("soak-ledger").map(PathBuf::from);
    let broker = Broker::external_or_embedded(gig_examples::brokers())
        .unwrap_or_else(|e| fail(&format!("broker: {e}")));
    let brokers = broker.bootstrap_servers();
    let topic = format!("soak-{}", unique());
    broker
        .create_topic(&topic, partitions)
        .await
        .unwrap_or_else(|e| fail(&format!("create topic {topic}: {e}")));
    eprintln!(
        "soak: {seconds}s at {rate} records/s on {topic} ({partitions} partitions, {} broker {brokers}), \
         ack timeout {ACK_TIMEOUT:?}: 85% ack, 5% nack, 5% silent, 5% late",
        broker.kind()
    );
    if broker.embedded().is_some() {
        eprintln!(
            "soak: on the embedded broker the records live in this process: its RSS includes them"
        );
    }

    // The ledger.
    let (ledger, list, times) = match &ledger_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| fail(&format!("--soak-ledger {}: {e}", dir.display())));
            let path = dir.join("ledger");
            let produced = dir.join("produced");
            for old in [&path, &produced] {
                let _ = std::fs::remove_file(old);
            }
            let (file_ledger, times) =
                FileLedger::open(&path.to_string_lossy(), None).unwrap_or_else(|e| fail(&e));
            let list = File::create(&produced)
                .unwrap_or_else(|e| fail(&format!("{}: {e}", produced.display())));
            (
                Ledger::File(file_ledger.start(), path),
                Some(Mutex::new(BufWriter::new(list))),
                Some(times),
            )
        }
        None => (
            Ledger::Memory(MemLedger(Seen::default()).start()),
            None,
            None,
        ),
    };
    let answers = Answers {
        times,
        late: VecDeque::new(),
        silent: VecDeque::new(),
        strangers: 0,
    }
    .start();

    let group = format!("soak-{}", unique());
    let config = ConsumerConfig::new(&brokers, &group)
        .topics([topic.as_str()])
        .ack_timeout(ACK_TIMEOUT);
    let builder = ConsumerActor::builder(config).downstream(answers.clone().recipient());
    let builder = match &ledger {
        Ledger::File(l, _) => builder
            .acked(l.clone().recipient())
            .no_acked(l.clone().recipient()),
        Ledger::Memory(l) => builder
            .acked(l.clone().recipient())
            .no_acked(l.clone().recipient()),
    };
    let consumer = builder
        .start()
        .unwrap_or_else(|e| fail(&format!("consumer: {e}")));
    consumer
        .send(WaitForAssignment::within(Duration::from_secs(60)))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| fail("the soak consumer got no assignment within 60 s"));

    // The producer beside it.
    let landed = Arc::new(Landed {
        list,
        ends: (0..partitions).map(|_| AtomicI64::new(0)).collect(),
        delivered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (brokers, topic, landed, stop) =
            (brokers.clone(), topic.clone(), landed.clone(), stop.clone());
        std::thread::Builder::new()
            .name("soak-producer".into())
            .spawn(move || produce_steadily(&brokers, &topic, partitions, rate, landed, &stop))
            .unwrap_or_else(|e| fail(&format!("producer thread: {e}")))
    };

    let allocs = counting::allocations();
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut samples: Vec<Sample> = Vec::new();
    let mut heap: Vec<Option<(f64, f64, f64)>> = Vec::new();
    let mut next_sample = start + SAMPLE_EVERY;
    let mut logged = (BTreeMap::new(), 0);
    loop {
        let now = Instant::now();
        if now >= until {
            break;
        }
        tokio::time::sleep((until.min(next_sample) - now).min(Duration::from_secs(1))).await;
        let stats = consumer
            .send(GetStats)
            .await
            .unwrap_or_else(|e| fail(&format!("stats: {e}")));
        if let (Ledger::File(l, _), Some(news)) = (&ledger, news(&stats, &mut logged)) {
            l.do_send(news);
        }
        if Instant::now() >= next_sample && Instant::now() < until {
            next_sample += SAMPLE_EVERY;
            let t = start.elapsed().as_secs_f64();
            let rss = rss_mb();
            samples.push((t, rss));
            let h = heap_mb();
            heap.push(h.map(|h| (t, h.0, h.1)));
            let h = h.map_or(String::new(), |(used, free)| {
                format!(" heap in use {used:.1} MB, free {free:.1} MB")
            });
            eprintln!(
                "  soak t={t:.0}s rss={rss:.1} MB{h} produced={} handed_over={} in_flight={} late_answers={} committed={}",
                landed.delivered.load(Ordering::Relaxed),
                stats.handed_over,
                stats.in_flight,
                stats.late_answers,
                stats.committed_summary()
            );
        }
    }
    // The end of the soak: the last sample, before anything stops.
    let t = start.elapsed().as_secs_f64();
    samples.push((t, rss_mb()));
    heap.push(heap_mb().map(|h| (t, h.0, h.1)));
    let peak = peak_rss_mb();
    let allocs = counting::allocations() - allocs;
    eprintln!(
        "  soak t={t:.0}s rss={:.1} MB: end of the soak",
        samples.last().map_or(0.0, |s| s.1)
    );

    // Stop the producer, then wait until everything it produced is handed over and committed.
    stop.store(true, Ordering::Relaxed);
    let sent = producer
        .join()
        .unwrap_or_else(|_| fail("the producer thread panicked"));
    let produced = landed.delivered.load(Ordering::Relaxed);
    let failed = landed.failed.load(Ordering::Relaxed);
    if let Some(list) = &landed.list {
        if let Ok(mut list) = list.lock() {
            list.flush()
                .unwrap_or_else(|e| fail(&format!("the produced list: {e}")));
        }
    }
    let caught_up = consumer
        .send(CaughtUp::within(Duration::from_secs(120)))
        .await
        .unwrap_or(Err(GigError::Stopped));
    if let Err(e) = &caught_up {
        eprintln!("soak: the consumer did not catch up: {e}");
    }
    let ends: BTreeMap<i32, i64> = landed
        .ends
        .iter()
        .enumerate()
        .map(|(p, end)| (p as i32, end.load(Ordering::Relaxed)))
        .collect();
    let watermarks = high_watermarks(&brokers, &topic, partitions);
    let stats = consumer
        .send(Stop)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| fail("stop failed"));
    if let (Ledger::File(l, _), Some(news)) = (&ledger, news(&stats, &mut logged)) {
        let _ = l.send(news).await;
    }
    // Lag per partition: the high watermark (the producer's end where the broker does not
    // tell) less the committed offset.
    let lag: BTreeMap<i32, i64> = ends
        .iter()
        .map(|(&p, &end)| {
            let high = watermarks.get(&p).copied().unwrap_or(end);
            (p, high - stats.committed(&topic, p).unwrap_or(0))
        })
        .collect();
    let total_lag: i64 = lag.values().sum();
    let committed: i64 = (0..partitions)
        .map(|p| stats.committed(&topic, p).unwrap_or(0))
        .sum();
    let (lost, duplicates) = match &ledger {
        Ledger::Memory(l) => l
            .send(Tally(ends.clone()))
            .await
            .unwrap_or_else(|e| fail(&format!("tally: {e}"))),
        Ledger::File(_, path) => tally_file(path, &ends),
    };
    let strangers = answers.send(Strangers).await.unwrap_or(0);
    let ledger_path = match &ledger {
        Ledger::File(_, path) => Some(path.to_string_lossy().into_owned()),
        Ledger::Memory(_) => None,
    };
    drop(ledger);
    crate::delete_topic(&brokers, &topic).await;

    // RSS at minute 1 (the first sample from 60 s on; the first one in a shorter soak).
    let first = samples
        .iter()
        .find(|s| s.0 >= 59.5)
        .or(samples.first())
        .copied()
        .unwrap_or((0.0, 0.0));
    let end = samples.last().copied().unwrap_or((0.0, 0.0));
    // The heap at the same two moments: (in use, free) MB.
    let heap_at = |t: f64| heap.iter().flatten().find(|h| h.0 == t).map(|h| (h.1, h.2));
    let (heap_first, heap_end) = (heap_at(first.0), heap_at(end.0));
    let growth = if first.1 > 0.0 {
        (end.1 - first.1) / first.1 * 100.0
    } else {
        0.0
    };
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    let handed_over = stats.handed_over;
    println!(
        "soak: {seconds}s at {rate} records/s, {partitions} partitions: produced {produced} ({failed} failed), \
         handed over {handed_over} (acked {}, no-acked {}: nacked {}, timed out {}, dropped {}), \
         late answers {}, commits {}, committed {committed}, lag at the end {total_lag} {lag:?}, \
         RSS {:.1} MB at {:.0}s, {:.1} MB at the end ({growth:+.2}%), peak {peak:.1} MB, \
         heap in use {} MB at {:.0}s, {} MB at the end, \
         lost {lost}, duplicates {duplicates}, allocations per record {:.2}",
        stats.acked,
        stats.no_acked(),
        stats.nacked,
        stats.timed_out,
        stats.dropped,
        stats.late_answers,
        stats.commits,
        first.1,
        first.0,
        end.1,
        heap_first.map_or("-".to_string(), |h| format!("{:.1}", h.0)),
        first.0,
        heap_end.map_or("-".to_string(), |h| format!("{:.1}", h.0)),
        allocs as f64 / produced.max(1) as f64,
    );
    if caught_up.is_err() || total_lag != 0 || lost != 0 {
        eprintln!(
            "soak: NOT CLEAN: caught up {}, lag {total_lag}, lost {lost}",
            caught_up.is_ok()
        );
    }

    if let Some(path) = gig_examples::arg("plot") {
        let title = format!(
            "gig-bench --soak {seconds}: {rate} records/s, {partitions} partitions, {} broker",
            broker.kind()
        );
        match draw(&path, &samples, first, end, &title) {
            Ok(()) => eprintln!("plot: {path}"),
            Err(e) => fail(&format!("--plot {path}: {e}")),
        }
    }
    if gig_examples::flag("json") {
        let line = json!({
            "soak_seconds": seconds,
            "duration_s": round1(end.0),
            "rate": rate,
            "partitions": partitions,
            "broker": broker.kind(),
            "ack_timeout_ms": ACK_TIMEOUT.as_millis() as u64,
            "produced": produced,
            "sent": sent,
            "produce_failures": failed,
            "handed_over": handed_over,
            "acked": stats.acked,
            "no_acked": stats.no_acked(),
            "nacked": stats.nacked,
            "timed_out": stats.timed_out,
            "dropped": stats.dropped,
            "late_answers": stats.late_answers,
            "unknown_answers": stats.unknown_answers,
            "commits": stats.commits,
            "commit_failures": stats.commit_failures,
            "committed": committed,
            "caught_up": caught_up.is_ok(),
            "lag": total_lag,
            "lag_by_partition": lag,
            "rss_mb_minute_1": round1(first.1),
            "rss_mb_end": round1(end.1),
            "rss_growth_pct": round2(growth),
            "peak_rss_mb": round1(peak),
            "heap_in_use_mb_minute_1": heap_first.map(|h| round1(h.0)),
            "heap_in_use_mb_end": heap_end.map(|h| round1(h.0)),
            "heap_free_mb_minute_1": heap_first.map(|h| round1(h.1)),
            "heap_free_mb_end": heap_end.map(|h| round1(h.1)),
            "lost": lost,
            "duplicates": duplicates,
            "strangers": strangers,
            "allocs_per_record": round2(allocs as f64 / produced.max(1) as f64),
            "ledger": ledger_path,
            "rss_samples": samples.iter().map(|s| [s.0.round(), round1(s.1)]).collect::<Vec<_>>(),
        });
        println!("{line}");
    }
    drop(broker);
}

/// The downstream's count of records that were not `v{i}`.
#[derive(Message)]
#[rtype(result = "u64")]
struct Strangers;

impl Handler<Strangers> for Answers {
    type Result = u64;
    fn handle(&mut self, _: Strangers, _: &mut Context<Self>) -> u64 {
        self.strangers
    }
}

/// Each partition's high watermark, as the broker tells it; empty if it does not.
fn high_watermarks(brokers: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let client: Result<BaseConsumer, _> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create();
    let Ok(client) = client else {
        return BTreeMap::new();
    };
    (0..partitions)
        .filter_map(|p| {
            let (_, high) = client
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .ok()?;
            Some((p, high))
        })
        .collect()
}

/// `--plot`: RSS over the soak, with the minute-1 level and 5% above it.
fn draw(
    path: &str,
    samples: &[Sample],
    first: Sample,
    end: Sample,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let minutes = |t: f64| t / 60.0;
    let last = samples.last().map_or(1.0, |s| minutes(s.0)).max(0.1);
    let top = samples.iter().map(|s| s.1).fold(first.1 * 1.06, f64::max) * 1.1;
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..last * 1.02, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("RSS (MB)")
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|s| (minutes(s.0), s.1)),
            blue.stroke_width(2),
        ))?
        .label(format!(
            "RSS: {:.1} MB at minute {:.0}, {:.1} MB at the end ({:+.2}%)",
            first.1,
            minutes(first.0),
            end.1,
            (end.1 - first.1) / first.1.max(f64::MIN_POSITIVE) * 100.0
        ))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(2)));
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(LineSeries::new(
            [(0.0, first.1 * 1.05), (last * 1.02, first.1 * 1.05)],
            grey.stroke_width(1),
        ))?
        .label("5% above minute 1")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], grey.stroke_width(1)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_lost_records_and_copies() {
        let mut seen = Seen::default();
        for o in (0..200).filter(|o| *o != 70) {
            seen.mark(0, o);
        }
        seen.mark(0, 3);
        seen.mark(0, 150);
        seen.mark(1, 0);
        let ends = BTreeMap::from([(0, 202), (1, 1), (2, 5)]);
        // 70, 200 and 201 on partition 0; all 5 of partition 2.
        assert_eq!(seen.lost(&ends), 8);
        assert_eq!(seen.duplicates, 2);
        assert_eq!(seen.partitions[&0].base, 64);
    }

    #[test]
    fn answers_by_number() {
        let counts = (0..20).fold([0; 4], |mut c, i| {
            c[answer_for(i) as usize] += 1;
            c
        });
        assert_eq!(counts, [17, 1, 1, 1]);
    }
}
