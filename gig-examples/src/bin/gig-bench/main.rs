//! gig-bench: Gig against raw rdkafka on the same broker, in one run.
//!
//! ```text
//! cargo run --release -p gig-examples --bin gig-bench -- [--brokers HOST:PORT] \
//!     [--partitions 1,4] [--records 2000000] [--size 100] [--repeat 3] [--json]
//!     [--memory-only] [--memory-records 5000000] [--memory-seconds 15] [--phase NAME]
//!     [--silent-in-flight 1000000] [--headers] [--plot FILE.svg] [--poll-thread-nice N]
//!     [--no-transactions] [--anchor]  (gig-bench --help explains each)
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
//! the scaling sweep instead (`scaling.rs`), `--soak SECONDS` the soak (`soak/`).
//!
//! Phases, each repeated `--repeat` times (the median is reported), per partition count;
//! the phases run round by round (raw, gig-ack, gig-stream, gig-batch, …, then again), so
//! that a change in the machine's load falls on all of them alike:
//! - **raw**: an rdkafka `BaseConsumer` reads all records, touching each payload.
//! - **java**: Kafka's own consumer (`ConsumerPerformance`, `java.rs`) reads the topic, on an
//!   external broker with Java and the Kafka jars installed; its end-to-end rate (group join
//!   included), its fetch rate and the JVM's CPU time per record are reported. `--anchor`
//!   runs raw, java, gig-ack and gig-batch alone with 10 M records (about 5 s a phase), long
//!   enough for Java's JIT, and prints gig-ack ÷ Java end to end, gig-batch ÷ Java fetch
//!   only and gig-ack ÷ raw, with each side's CPU per record.
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
//!
//! The modules: `args` (the command line), `settings` (what every phase shares), `produce` and `topics` (the records
//! and where they live), `phases` (the rounds), `raw`, `gig` (the Gig phases and the memory
//! phase), `java`, `raw_txn_out`, `report` (the table and `--json`), `plot`, `scaling`,
//! `soak`; `meter`, `cpu` and `counting` measure.

use actix::prelude::*;
use gig_actors::testkit::Broker;

use args::{Args, Phase};
use clap::{Parser, ValueEnum};
use settings::fail;

mod args;
mod counting;
mod cpu;
mod gig;
mod java;
mod meter;
mod phases;
mod plot;
mod produce;
mod raw;
mod raw_txn_out;
mod report;
mod run;
mod scaling;
mod settings;
mod soak;
mod topics;

#[cfg(not(feature = "mimalloc"))]
#[global_allocator]
static ALLOCATOR: counting::Counting<std::alloc::System> = counting::Counting(std::alloc::System);

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: counting::Counting<mimalloc::MiMalloc> = counting::Counting(mimalloc::MiMalloc);

async fn run(args: Args) {
    if let Some(seconds) = args.soak {
        soak::run(seconds, &args).await;
        return;
    }
    let s = args.settings();
    if let (Some(topic), Some(brokers)) = (&args.produce_to, args.brokers()) {
        produce::produce(&brokers, topic, 1, s.records, s.size, None, None);
        return;
    }
    // The memory phase alone: its RSS then starts from a fresh process, not from what the
    // allocator kept of the phases before it.
    let memory_only = args.memory_only;
    let partition_counts = match &args.partitions {
        _ if memory_only => Vec::new(),
        Some(counts) => counts.clone(),
        None => vec![1, 4],
    };
    let broker = Broker::external_or_embedded(args.brokers())
        .unwrap_or_else(|e| fail(&format!("broker: {e}")));
    let embedded = broker.embedded().is_some();
    settings::set_embedded(embedded);
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

    let actix_allocs = gig::actix_cost::actix_allocs_per_message().await;
    eprintln!("actix: {actix_allocs:.2} allocations per message sent");
    if args.scaling {
        scaling::run(&broker, &s, &args).await;
        return;
    }
    let transactions = !args.no_transactions;
    // Kafka's own consumer reads the same topic, where there is one to read: not on the
    // embedded broker, whose records are produced while a phase consumes.
    let java_skipped = match (embedded, java::unavailable()) {
        (true, _) => Some("the embedded broker has no topic for it to read".to_string()),
        (false, why) => why,
    };
    if let Some(why) = &java_skipped {
        eprintln!("java phase (Kafka's ConsumerPerformance) skipped: {why}");
    }
    let phases: Vec<Phase> = match args.phase {
        Some(only) => vec![only],
        None => Phase::value_variants()
            .iter()
            .copied()
            .filter(|p| !args.anchor || p.anchor())
            .filter(|p| transactions || !p.transactional())
            .filter(|p| *p != Phase::Java || java_skipped.is_none())
            // Its records must be there before it starts: not on the embedded broker.
            .filter(|p| *p != Phase::RawTxnOut || (transactions && !embedded))
            .collect(),
    };
    if embedded && phases.contains(&Phase::RawTxnOut) {
        fail("raw-txn-out reads records produced before it starts: run it with --brokers");
    }
    let results = phases::run_rounds(&broker, &partition_counts, &phases, &s).await;
    if args.phase.is_some() {
        return;
    }
    let memory = if args.anchor {
        None
    } else if embedded {
        eprintln!("memory phase: skipped on the embedded broker (its backlog would live in this process); run with --brokers");
        None
    } else {
        Some(gig::memory::memory_phase(&brokers, &s).await)
    };

    let report = report::Report {
        broker: &broker,
        mode,
        s: &s,
        results: &results,
        memory: memory.as_ref(),
        actix_allocs,
        first_partitions: partition_counts.first().copied().unwrap_or(1),
    };
    report::print_table(&report);
    if let Some(path) = args.plot.as_ref().filter(|_| !memory_only) {
        let title = format!(
            "gig-bench on the {} broker, {} records of {} B",
            broker.kind(),
            s.records,
            s.size
        );
        match plot::draw(path, &results.table, s.records, &title) {
            Ok(()) => eprintln!("plot: {path}"),
            Err(e) => fail(&format!("--plot {path}: {e}")),
        }
    }
    if args.json && memory_only {
        report::print_memory_json(&report);
    } else if args.json {
        report::print_json(&report);
    }
}

fn main() {
    // An unknown flag or phase name ends here, with clap's message and usage.
    let args = Args::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_millis()
        .init();
    // `--metrics`: the phases run with a Prometheus recorder installed, so that Gig's
    // metrics are recorded (nothing scrapes them); compare with a run without it.
    if args.metrics {
        gig_examples::metrics_demo::install_recorder();
        eprintln!("gig-bench: a Prometheus metrics recorder is installed (--metrics)");
    }
    System::new().block_on(run(args));
}
