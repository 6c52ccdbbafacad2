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
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: setrlimit reads the struct it is given and nothing else.
            unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
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

fn arg(name: &str) -> String {
    crate::arg(name).unwrap_or_else(|| {
        eprintln!("worker: --{name} is required");
        std::process::exit(2)
    })
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

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (brokers, topic, group, path, id) = (
        arg("brokers"),
        arg("topic"),
        arg("group"),
        arg("ledger"),
        arg("id"),
    );
    let transactional_id = crate::arg("transactional-id");
    let split = crate::flag("split");
    let onward = match (split, &transactional_id) {
        (false, _) => None,
        (true, id) => {
            let output = crate::arg("output").unwrap_or_else(|| format!("{topic}.out"));
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
        .commit_interval(Duration::from_millis(crate::num_arg(
            "commit-interval-ms",
            200,
        )))
        .key_ordering(crate::flag("key-ordering"));
    // librdkafka's debug contexts (e.g. `cgrp`), as in the test suite; its log goes to stderr.
    if let Ok(contexts) = std::env::var("GIGCI_RDKAFKA_DEBUG") {
        config = config.property("debug", contexts);
    }
    if crate::arg("ack-timeout-ms").is_some() {
        config = config.ack_timeout(Duration::from_millis(crate::num_arg("ack-timeout-ms", 0)));
    }
    if crate::arg("max-uncommitted").is_some() {
        config = config.max_uncommitted(crate::num_arg("max-uncommitted", 0));
    }
    if crate::arg("max-in-flight").is_some() {
        config = config.max_in_flight(crate::num_arg("max-in-flight", 0));
    }
    if crate::arg("commit-every").is_some() {
        config = config.commit_every(crate::num_arg("commit-every", 0));
    }
    let mut config = crate::quick_group(
        config,
        &crate::group_protocol(),
        crate::num_arg("session-timeout-ms", 6000u64),
    );
    if let Some(id) = &transactional_id {
        config = config.transactional(id.as_str());
    }
    let work = Work {
        delay: Duration::from_millis(crate::num_arg("work-ms", 0)),
        split,
        times,
        abort_on: crate::arg("abort-on"),
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
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    match crate::block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker: {e}");
            ExitCode::FAILURE
        }
    }
}
