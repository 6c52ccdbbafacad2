//! One Gig consumer process, for multi-process, crash and chaos runs.
//!
//! ```text
//! WORKER --brokers B --topic T --group G --ledger FILE --id N [--session-timeout-ms MS]
//!        [--group-protocol classic|consumer] [--key-ordering] [--work-ms MS]
//!        [--ack-timeout-ms MS] [--commit-interval-ms MS] [--max-uncommitted N]
//!        [--max-in-flight N] [--commit-every N] [--abort-on PAYLOAD]
//!        [--split [--output TOPIC]]
//!        [--transactional-id ID]
//! ```
//!
//! Acks every record, `--work-ms` after it reached the downstream (at once by default);
//! `--key-ordering` turns on Gig's key ordering. `--abort-on` makes the process abort
//! (`std::process::abort`, as a fatal bug in native code would) when the downstream gets
//! the record with that payload: the crash-loop tests' poison record. Its Acked/NoAcked handler appends one line
//! per record to FILE and flushes before accepting, so the file holds every record this
//! process handed over, even after SIGKILL:
//!
//! ```text
//! PARTITION OFFSET PID OUTCOME KEY START_US END_US
//! ```
//!
//! OUTCOME is `ack`, `nack`, `timeout`, `undecodable`, `dropped`, `panicked` or `crashed`. KEY is the record's key
//! (`-` for none; `0x…` in hex unless it is printable ASCII without spaces). START_US and
//! END_US are wall-clock microseconds since the Unix epoch: when the downstream got the
//! record and when it answered it (for a timed-out record, its deadline; `-` if unknown).
//! Whenever the consumer reports a newly confirmed commit, the file gets
//! `C PARTITION OFFSET PID AT_US`, and whenever it reports another assignment (a rebalance;
//! seen within about 50 ms), `R PID AT_US REBALANCES`. Readers that need only
//! `partition offset` take the first two fields of the record lines
//! ([`crate::chaos::read_ledger`]).
//!
//! With `--split`, records `v{i}` with `i % 20` of 0 or 1 (10%) are nacked to the
//! dead-letter topic `T.dlq`, those with 2 (5%) to the retry topic `T.retry.1`, and every
//! acked record is transformed to the output topic (`T.out` unless `--output` says
//! otherwise): see [`crate::eos`]. With `--transactional-id` the consumer is transactional
//! and those records are produced in the transactions that commit their sources; without
//! it they are produced, then accepted (at-least-once). Give every incarnation of one
//! worker the same transactional id: a restarted one fences the one it replaces and aborts
//! what that one left open.
//!
//! `GIGCI_RDKAFKA_DEBUG` (e.g. `cgrp,fetch`) turns on librdkafka's debug contexts; with
//! `RUST_LOG=librdkafka=debug` their lines go to stderr. Prints a JSON status line on stdout
//! whenever its assignment or committed offsets change. Closing stdin stops it cleanly (final commit, exit 0).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use serde_json::json;

use crate::eos::{FailureRouter, Transformer, RETRY};
use crate::ledger_file::{news, wall_us, FileLedger, Onward, Times};

/// Delay of the retry topic in `--split` runs (nothing reads it back before it is due).
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// The downstream: answers every record `delay` after it arrived; acks it, or with
/// `split` nacks 10% to the dead-letter topic and 5% to the retry topic.
pub struct Work {
    delay: Duration,
    split: bool,
    times: Times,
    /// The payload the process aborts on.
    abort_on: Option<String>,
}

/// The `--split` answer for a record `v{i}`, by its number: `None` to ack.
fn split_nack(record: &Record) -> Option<&'static str> {
    let seq = record
        .payload_str()
        .and_then(|p| p.get(1..)?.parse::<u64>().ok());
    match seq.map(|i| i % 20) {
        Some(0 | 1) => Some("bad record"),
        Some(2) => Some(RETRY),
        _ => None,
    }
}

impl Work {
    /// A downstream that acks every record `delay` after it arrived, writing its times to
    /// `times` for the ledger.
    pub fn new(delay: Duration, times: Times) -> Self {
        Work {
            delay,
            split: false,
            times,
            abort_on: None,
        }
    }
}

impl Actor for Work {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Work {
    type Result = ();
    fn handle(&mut self, d: Delivery, ctx: &mut Context<Self>) {
        if self.abort_on.is_some() && d.record.payload_str() == self.abort_on.as_deref() {
            eprintln!("worker {}: aborting on {}", std::process::id(), d.record);
            // No core file: a crash-loop run aborts several times, on any machine's limits.
            #[cfg(unix)]
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: setrlimit reads the struct it is given and nothing else.
            #[cfg(unix)]
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &none)
            };
            std::process::abort();
        }
        let at = (d.record.partition(), d.record.offset());
        let start = wall_us();
        let nack = if self.split {
            split_nack(&d.record)
        } else {
            None
        };
        if self.delay.is_zero() {
            if let Ok(mut times) = self.times.lock() {
                times.insert(at, (start, Some(wall_us())));
            }
            match nack {
                Some(why) => d.nack(why),
                None => d.ack(),
            }
            return;
        }
        if let Ok(mut times) = self.times.lock() {
            times.insert(at, (start, None));
        }
        let (_, handle) = d.into_parts();
        let times = self.times.clone();
        ctx.run_later(self.delay, move |_, _| {
            if let Some(t) = times.lock().ok().as_mut().and_then(|t| t.get_mut(&at)) {
                t.1 = Some(wall_us());
            }
            match nack {
                Some(why) => handle.nack(why),
                None => handle.ack(),
            }
        });
    }
}

/// The worker's flags (the module's docs describe what it does with them).
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The Kafka bootstrap servers.
    #[arg(long)]
    pub brokers: String,
    /// The topic to read.
    #[arg(long)]
    pub topic: String,
    /// The consumer group.
    #[arg(long)]
    pub group: String,
    /// The ledger file to append each handed-over record, commit and rebalance to.
    #[arg(long)]
    pub ledger: String,
    /// This worker's name in its status lines.
    #[arg(long)]
    pub id: String,
    /// The group session timeout (classic protocol), so a killed member leaves soon.
    #[arg(long, default_value_t = 6000)]
    pub session_timeout_ms: u64,
    #[command(flatten)]
    pub protocol: crate::ProtocolArgs,
    /// Turn on Gig's key ordering.
    #[arg(long)]
    pub key_ordering: bool,
    /// Answer each record this many milliseconds after it reached the downstream.
    #[arg(long, default_value_t = 0)]
    pub work_ms: u64,
    /// The ack timeout (Gig's default without it).
    #[arg(long)]
    pub ack_timeout_ms: Option<u64>,
    /// How often to commit.
    #[arg(long, default_value_t = 200)]
    pub commit_interval_ms: u64,
    /// The limit of records handed over but not yet committed (none without it).
    #[arg(long)]
    pub max_uncommitted: Option<usize>,
    /// The limit of records at the downstream at once (Gig's default without it).
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Commit after this many records as well as every interval (Gig's default without it).
    #[arg(long)]
    pub commit_every: Option<usize>,
    /// Abort the process (as a fatal bug in native code would) when the downstream gets the
    /// record with this payload.
    #[arg(long)]
    pub abort_on: Option<String>,
    /// Nack 10% of the records to `TOPIC.dlq`, 5% to `TOPIC.retry.1`, and transform the
    /// acked ones to the output topic.
    #[arg(long)]
    pub split: bool,
    /// The output topic of `--split` (`TOPIC.out` without it).
    #[arg(long, requires = "split")]
    pub output: Option<String>,
    /// Consume transactionally with this transactional id: `--split`'s records are
    /// produced in the transactions that commit their sources.
    #[arg(long)]
    pub transactional_id: Option<String>,
}

/// One Gig consumer process for multi-process, crash and chaos runs: acks every record and
/// writes each to its ledger file. Closing stdin stops it cleanly.
#[derive(clap::Parser)]
#[command(name = "worker")]
struct Cli {
    #[command(flatten)]
    args: WorkerArgs,
}

fn status(id: &str, stats: &Stats) -> String {
    let committed: Vec<_> = stats
        .partitions
        .iter()
        .filter_map(|p| p.committed.map(|c| json!([p.partition, c])))
        .collect();
    json!({
        "id": id,
        "pid": std::process::id(),
        "assignment": stats.assignment,
        "committed": committed
    })
    .to_string()
}

async fn run(args: WorkerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let WorkerArgs {
        brokers,
        topic,
        group,
        ledger: path,
        id,
        transactional_id,
        split,
        ..
    } = args.clone();
    let onward = match (split, &transactional_id) {
        (false, _) => None,
        (true, id) => {
            let output = args.output.unwrap_or_else(|| format!("{topic}.out"));
            let (transformer, router) = match id {
                Some(_) => (
                    Transformer::transactional(output),
                    FailureRouter::transactional(RETRY_DELAY),
                ),
                None => {
                    let producer = GigProducer::new(&brokers)?;
                    (
                        Transformer::producing(output, producer.clone()),
                        FailureRouter::producing(producer, RETRY_DELAY),
                    )
                }
            };
            Some(Onward {
                transformer: transformer.start(),
                router: router.start(),
            })
        }
    };
    let (ledger, times) = FileLedger::open(&path, onward)?;
    let ledger = ledger.start();
    let mut config = ConsumerConfig::new(&brokers, group)
        .topics([topic])
        .commit_interval(Duration::from_millis(args.commit_interval_ms))
        .key_ordering(args.key_ordering);
    // librdkafka's debug contexts (e.g. `cgrp`), as in the test suite; its log goes to stderr.
    if let Ok(contexts) = std::env::var("GIGCI_RDKAFKA_DEBUG") {
        config = config.property("debug", contexts);
    }
    if let Some(ms) = args.ack_timeout_ms {
        config = config.ack_timeout(Duration::from_millis(ms));
    }
    if let Some(limit) = args.max_uncommitted {
        config = config.max_uncommitted(limit);
    }
    if let Some(limit) = args.max_in_flight {
        config = config.max_in_flight(limit);
    }
    if let Some(count) = args.commit_every {
        config = config.commit_every(count);
    }
    let mut config = crate::quick_group(
        config,
        &args.protocol.group_protocol,
        args.session_timeout_ms,
    );
    if let Some(id) = &transactional_id {
        config = config.transactional(id.as_str());
    }
    let work = Work {
        delay: Duration::from_millis(args.work_ms),
        split,
        times,
        abort_on: args.abort_on,
    };
    let builder = ConsumerActor::builder(config).downstream(work.start().recipient());
    let consumer = match transactional_id {
        Some(_) => builder
            .acked_tx(ledger.clone().recipient())
            .no_acked_tx(ledger.clone().recipient()),
        None => builder
            .acked(ledger.clone().recipient())
            .no_acked(ledger.clone().recipient()),
    }
    .start()?;

    let (closed_tx, mut closed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
        let _ = closed_tx.send(());
    });
    let mut last = String::new();
    let mut logged = (BTreeMap::new(), 0);
    loop {
        tokio::select! {
            _ = &mut closed => break,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        let stats = consumer.send(GetStats).await?;
        if let Some(news) = news(&stats, &mut logged) {
            let _ = ledger.send(news).await;
        }
        let line = status(&id, &stats);
        if line != last {
            println!("{line}");
            let _ = std::io::stdout().flush();
            last = line;
        }
    }
    let stats = consumer.send(Stop).await??;
    if let Some(news) = news(&stats, &mut logged) {
        let _ = ledger.send(news).await;
    }
    println!("{}", status(&id, &stats));
    Ok(())
}

/// Runs the worker with the process's arguments; 1 on error, once its clients are gone.
pub fn main() -> ExitCode {
    run_with(<Cli as clap::Parser>::parse().args)
}

/// Runs the worker with `args` (for a binary that parsed them as a subcommand, as
/// `gig-chaos worker …`); 1 on error, once its clients are gone.
pub fn run_with(args: WorkerArgs) -> ExitCode {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    match crate::block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker: {e}");
            ExitCode::FAILURE
        }
    }
}
