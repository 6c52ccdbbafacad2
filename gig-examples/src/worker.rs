//! One Gig consumer process, for multi-process, crash and chaos runs.
//!
//! ```text
//! WORKER --brokers B --topic T --group G --ledger FILE --id N [--session-timeout-ms MS]
//!        [--group-protocol classic|consumer] [--split [--output TOPIC]]
//!        [--transactional-id ID]
//! ```
//!
//! Acks every record. Its Acked/NoAcked handler appends `partition offset` per record to
//! FILE and flushes before accepting, so the file holds every record this process handed
//! over, even after SIGKILL. Prints a JSON status line on stdout whenever its assignment
//! or committed offsets change. Closing stdin stops it cleanly (final commit, exit 0).
//!
//! With `--split`, records `v{i}` with `i % 20` of 0 or 1 (10%) are nacked to the
//! dead-letter topic `T.dlq`, those with 2 (5%) to the retry topic `T.retry.1`, and every
//! acked record is transformed to the output topic (`T.out` unless `--output` says
//! otherwise): see [`crate::eos`]. With `--transactional-id` the consumer is transactional
//! and those records are produced in the transactions that commit their sources; without
//! it they are produced, then accepted (at-least-once). Give every incarnation of one
//! worker the same transactional id: a restarted one fences the one it replaces and aborts
//! what that one left open.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use serde_json::json;

use crate::eos::{FailureRouter, Transformer, RETRY};

/// Delay of the retry topic in `--split` runs (nothing reads it back before it is due).
const RETRY_DELAY: Duration = Duration::from_secs(1);

struct AckAll;
impl Actor for AckAll {
    type Context = Context<Self>;
}
impl Handler<Delivery> for AckAll {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        d.ack();
    }
}

/// `--split`: 10% dead-lettered, 5% retried, the rest acked, by the record's number.
struct Split;
impl Actor for Split {
    type Context = Context<Self>;
}
impl Handler<Delivery> for Split {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let seq = d
            .record
            .payload_str()
            .and_then(|p| p[1..].parse::<u64>().ok());
        match seq.map(|i| i % 20) {
            Some(0 | 1) => d.nack("bad record"),
            Some(2) => d.nack(RETRY),
            _ => d.ack(),
        }
    }
}

/// The actors a `--split` ledger hands each batch on to, once it is written down.
struct Onward {
    transformer: Addr<Transformer>,
    router: Addr<FailureRouter>,
}

/// Appends every accepted record to the ledger file, and with `--split` hands the batch on.
struct FileLedger {
    file: std::io::BufWriter<File>,
    onward: Option<Onward>,
}

impl FileLedger {
    fn append<'a>(
        &mut self,
        records: impl Iterator<Item = &'a Record>,
    ) -> Result<(), HandOverError> {
        for r in records {
            writeln!(self.file, "{} {}", r.partition(), r.offset()).map_err(io)?;
        }
        self.file.flush().map_err(io)
    }

    fn onward(&self) -> Result<&Onward, HandOverError> {
        self.onward
            .as_ref()
            .ok_or_else(|| HandOverError("not a --split worker".to_string()))
    }
}

fn io(e: std::io::Error) -> HandOverError {
    HandOverError(format!("ledger write failed: {e}"))
}

fn unreachable(e: MailboxError) -> HandOverError {
    HandOverError(format!("outcome actor unreachable: {e}"))
}

impl Actor for FileLedger {
    type Context = Context<Self>;
}

impl Handler<Acked> for FileLedger {
    type Result = ResponseFuture<Result<(), HandOverError>>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.append(m.records.iter()) {
            return Box::pin(async move { Err(e) });
        }
        let Some(onward) = &self.onward else {
            return Box::pin(async { Ok(()) });
        };
        let written = onward.transformer.send(m);
        Box::pin(async move { written.await.map_err(unreachable)? })
    }
}

impl Handler<NoAcked> for FileLedger {
    type Result = ResponseFuture<Result<(), HandOverError>>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.append(m.records.iter().map(|r| &r.record)) {
            return Box::pin(async move { Err(e) });
        }
        let Some(onward) = &self.onward else {
            return Box::pin(async { Ok(()) });
        };
        let written = onward.router.send(m);
        Box::pin(async move { written.await.map_err(unreachable)? })
    }
}

impl Handler<AckedTx> for FileLedger {
    type Result = ResponseFuture<Result<Outputs, HandOverError>>;
    fn handle(&mut self, m: AckedTx, _: &mut Context<Self>) -> Self::Result {
        let made = self
            .append(m.records.iter())
            .and_then(|()| Ok(self.onward()?.transformer.send(m)));
        Box::pin(async move { made?.await.map_err(unreachable)? })
    }
}

impl Handler<NoAckedTx> for FileLedger {
    type Result = ResponseFuture<Result<Outputs, HandOverError>>;
    fn handle(&mut self, m: NoAckedTx, _: &mut Context<Self>) -> Self::Result {
        let made = self
            .append(m.records.iter().map(|r| &r.record))
            .and_then(|()| Ok(self.onward()?.router.send(m)));
        Box::pin(async move { made?.await.map_err(unreachable)? })
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
    json!({ "id": id, "assignment": stats.assignment, "committed": committed }).to_string()
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
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open ledger {path}: {e}"))?;
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
    let ledger = FileLedger {
        file: std::io::BufWriter::new(file),
        onward,
    }
    .start();
    let mut config = crate::quick_group(
        ConsumerConfig::new(&brokers, group)
            .topics([topic])
            .commit_interval(Duration::from_millis(200)),
        &crate::group_protocol(),
        crate::num_arg("session-timeout-ms", 6000u64),
    );
    if let Some(id) = &transactional_id {
        config = config.transactional(id.as_str());
    }
    let builder = ConsumerActor::builder(config);
    let builder = match split {
        true => builder.downstream(Split.start().recipient()),
        false => builder.downstream(AckAll.start().recipient()),
    };
    let consumer = match transactional_id {
        Some(_) => builder
            .acked_tx(ledger.clone().recipient())
            .no_acked_tx(ledger.recipient()),
        None => builder
            .acked(ledger.clone().recipient())
            .no_acked(ledger.recipient()),
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
    loop {
        tokio::select! {
            _ = &mut closed => break,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        let stats = consumer.send(GetStats).await?;
        let line = status(&id, &stats);
        if line != last {
            println!("{line}");
            let _ = std::io::stdout().flush();
            last = line;
        }
    }
    let stats = consumer.send(Stop).await??;
    println!("{}", status(&id, &stats));
    Ok(())
}

/// Runs the worker with the process's arguments; exits 1 on error.
pub fn main() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    if let Err(e) = System::new().block_on(run()) {
        eprintln!("worker: {e}");
        std::process::exit(1);
    }
}
