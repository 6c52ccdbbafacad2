//! One Gig consumer process, for multi-process, crash and chaos runs.
//!
//! ```text
//! WORKER --brokers B --topic T --group G --ledger FILE --id N [--session-timeout-ms MS]
//!        [--group-protocol classic|consumer]
//! ```
//!
//! Acks every record. Its Acked/NoAcked handler appends `partition offset` per record to
//! FILE and flushes before accepting, so the file holds every record this process handed
//! over, even after SIGKILL. Prints a JSON status line on stdout whenever its assignment
//! or committed offsets change. Closing stdin stops it cleanly (final commit, exit 0).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use serde_json::json;

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

/// Appends every accepted record to the ledger file.
struct FileLedger {
    file: std::io::BufWriter<File>,
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
}

fn io(e: std::io::Error) -> HandOverError {
    HandOverError(format!("ledger write failed: {e}"))
}

impl Actor for FileLedger {
    type Context = Context<Self>;
}
impl Handler<Acked> for FileLedger {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        self.append(m.records.iter())
    }
}
impl Handler<NoAcked> for FileLedger {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        self.append(m.records.iter().map(|r| &r.record))
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
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open ledger {path}: {e}"))?;
    let ledger = FileLedger {
        file: std::io::BufWriter::new(file),
    }
    .start();
    let config = crate::quick_group(
        ConsumerConfig::new(brokers, group)
            .topics([topic])
            .commit_interval(Duration::from_millis(200)),
        &crate::group_protocol(),
        crate::num_arg("session-timeout-ms", 6000u64),
    );
    let consumer = ConsumerActor::builder(config)
        .downstream(AckAll.start().recipient())
        .acked(ledger.clone().recipient())
        .no_acked(ledger.recipient())
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
