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
//!
//! Its parts: `answers` (the downstream), `ledger` (the AckedActor and NoAckedActor, and the
//! tally of lost records and copies), `producer` (the producer thread), `report` (the line,
//! `--json` and `--plot`); the run's steps here.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::ledger_file::news;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::args::Args;
use crate::counting;
use crate::meter::{peak_rss_mb, rss_mb};
use crate::settings::{fail, unique};
use answers::{Answers, Strangers};
use ledger::{Ledger, Tally};
use producer::{produce_steadily, Landed};

mod answers;
mod ledger;
mod producer;
mod report;

/// How long the downstream has to answer each record.
const ACK_TIMEOUT: Duration = Duration::from_millis(500);
/// How often RSS is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

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

/// What the soak sampled while it ran.
struct Watched {
    samples: Vec<Sample>,
    /// glibc's heap at each sample: (seconds, in use, free).
    heap: Vec<Option<(f64, f64, f64)>>,
    peak_rss_mb: f64,
    /// Heap allocations of the process while the soak ran.
    allocs: u64,
}

/// The soak, `seconds` long.
pub(crate) async fn run(seconds: u64, args: &Args) {
    let rate = args.soak_rate;
    let partitions = args.soak_partitions();
    let broker = Broker::external_or_embedded(args.brokers())
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

    let (ledger, list, times) = ledger::open(args.soak_ledger.as_deref());
    let answers = Answers::new(times).start();
    let consumer = start_consumer(&brokers, &topic, &ledger, &answers).await;

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

    let mut logged = (BTreeMap::new(), 0);
    let watched = watch(&consumer, &ledger, &landed, seconds, &mut logged).await;

    // Stop the producer, then wait until everything it produced is handed over and committed.
    stop.store(true, Ordering::Relaxed);
    let sent = producer
        .join()
        .unwrap_or_else(|_| fail("the producer thread panicked"));
    if let Some(list) = &landed.list {
        if let Ok(mut list) = list.lock() {
            use std::io::Write as _;
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
    let committed: i64 = (0..partitions)
        .map(|p| stats.committed(&topic, p).unwrap_or(0))
        .sum();
    let (lost, duplicates) = match &ledger {
        Ledger::Memory(l) => l
            .send(Tally(ends.clone()))
            .await
            .unwrap_or_else(|e| fail(&format!("tally: {e}"))),
        Ledger::File(_, path) => ledger::tally_file(path, &ends),
    };
    let strangers = answers.send(Strangers).await.unwrap_or(0);
    let ledger_path = match &ledger {
        Ledger::File(_, path) => Some(path.to_string_lossy().into_owned()),
        Ledger::Memory(_) => None,
    };
    drop(ledger);
    crate::topics::delete_topic(&brokers, &topic).await;

    let soak = report::Soak::new(
        report::Setup {
            seconds,
            rate,
            partitions,
            broker: broker.kind(),
        },
        &watched,
        report::Ending {
            produced: landed.delivered.load(Ordering::Relaxed),
            sent,
            failed: landed.failed.load(Ordering::Relaxed),
            stats: &stats,
            committed,
            caught_up: caught_up.is_ok(),
            lag,
            lost,
            duplicates,
            strangers,
            ledger: ledger_path,
        },
    );
    soak.print();
    if let Some(path) = &args.plot {
        soak.draw(path);
    }
    if args.json {
        soak.print_json();
    }
    drop(broker);
}

/// The consumer, in a new group subscribed to `topic`, once it has its partitions.
async fn start_consumer(
    brokers: &str,
    topic: &str,
    ledger: &Ledger,
    answers: &Addr<Answers>,
) -> Addr<ConsumerActor> {
    let group = format!("soak-{}", unique());
    let config = ConsumerConfig::new(brokers, &group)
        .topics([topic])
        .ack_timeout(ACK_TIMEOUT);
    let builder = ConsumerActor::builder(config).downstream(answers.clone().recipient());
    let builder = match ledger {
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
    consumer
}

/// The soak itself: `seconds` of samples (RSS and heap every `SAMPLE_EVERY`), the ledger fed
/// with the consumer's news (commits, rebalances) meanwhile.
async fn watch(
    consumer: &Addr<ConsumerActor>,
    ledger: &Ledger,
    landed: &Landed,
    seconds: u64,
    logged: &mut (BTreeMap<i32, i64>, u64),
) -> Watched {
    let allocs = counting::allocations();
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut samples: Vec<Sample> = Vec::new();
    let mut heap: Vec<Option<(f64, f64, f64)>> = Vec::new();
    let mut next_sample = start + SAMPLE_EVERY;
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
        if let (Ledger::File(l, _), Some(news)) = (ledger, news(&stats, logged)) {
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
    let peak_rss_mb = peak_rss_mb();
    let allocs = counting::allocations() - allocs;
    eprintln!(
        "  soak t={t:.0}s rss={:.1} MB: end of the soak",
        samples.last().map_or(0.0, |s| s.1)
    );
    Watched {
        samples,
        heap,
        peak_rss_mb,
        allocs,
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
