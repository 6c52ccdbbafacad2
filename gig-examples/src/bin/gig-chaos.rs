//! gig-chaos: SIGKILL a Gig consumer process at random points, restart it, and count what
//! was lost and what was repeated.
//!
//! ```text
//! cargo run --release -p gig-examples --bin gig-chaos -- [--kills 20] [--records 200000] \
//!     [--partitions 8] [--seed N] [--brokers HOST:PORT]
//! ```
//!
//! The records are produced first, one per batch: a restarted consumer resumes from its
//! committed offset, and tansu 0.6 cannot fetch from inside a stored batch (docs/backends.md,
//! Backends). On the embedded broker, 8 partitions keep each under the mock's 5 MB.
//! Prints `lost=… duplicates=… duplicate_bound=…`; exits 1 unless lost=0 and every
//! duplicate was handed over at or past the killed process's last commit.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::chaos::{crash_run, WorkerCommand};
use gig_examples::worker::WorkerArgs;

/// SIGKILL a Gig consumer process at random points, restart it, and count what was lost and
/// what was repeated. Exits 1 unless nothing was lost and every duplicate was within bound.
#[derive(clap::Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
    #[command(flatten)]
    protocol: gig_examples::ProtocolArgs,
    /// How many records to produce and consume.
    #[arg(long, default_value_t = 200_000)]
    records: u64,
    /// How many times to SIGKILL the consumer process.
    #[arg(long, default_value_t = 20)]
    kills: usize,
    /// The topic's partitions.
    #[arg(long, default_value_t = 8)]
    partitions: i32,
    /// The seed of the kill points (the clock's nanoseconds without it).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Run as the consumer process gig-chaos kills (it starts itself this way).
    Worker(WorkerArgs),
}

async fn run(args: Args) -> Result<String, String> {
    let Args {
        records,
        kills,
        partitions,
        ..
    } = args;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let broker = Broker::external_or_embedded(args.broker.brokers).map_err(|e| e.to_string())?;
    let brokers = broker.bootstrap_servers();
    let topic = format!("chaos-{}", std::process::id());
    broker
        .create_topic(&topic, partitions)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("gig-chaos: broker {brokers} ({}), {records} records over {partitions} partitions, {kills} kills, seed {seed}", broker.kind());

    let one_per_batch = BTreeMap::from([("batch.num.messages".to_string(), "1".to_string())]);
    let producer =
        GigProducer::with_properties(&brokers, &one_per_batch).map_err(|e| e.to_string())?;
    let all: Vec<ProducerRecord> = (0..records)
        .map(|i| {
            ProducerRecord::new(&topic, format!("v{i}")).partition((i % partitions as u64) as i32)
        })
        .collect();
    for chunk in all.chunks(10_000) {
        producer
            .send_batch(chunk)
            .await
            .map_err(|e| e.to_string())?;
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;

    let dir = std::env::temp_dir().join(format!("gig-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let cmd = WorkerCommand {
        program: std::env::current_exe().map_err(|e| e.to_string())?,
        prefix: vec!["worker".to_string()],
        brokers,
        topic,
        group: format!("chaos-group-{}", std::process::id()),
        session_timeout_ms: 3000,
        group_protocol: args.protocol.group_protocol,
        options: Vec::new(),
    };
    let summary = crash_run(&cmd, records, kills, seed, &dir).await?;
    let _ = std::fs::remove_dir_all(&dir);
    let line = format!("gig-chaos: broker={} {summary}", broker.kind());
    if summary.lost == 0 && summary.duplicates_within_bound {
        Ok(line)
    } else {
        Err(line)
    }
}

fn main() -> ExitCode {
    let mut args = <Args as clap::Parser>::parse();
    if let Some(Command::Worker(worker)) = args.command.take() {
        return gig_examples::worker::run_with(worker);
    }
    gig_examples::init_logging_at("warn");
    match gig_examples::block_on(run(args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(line) => {
            println!("{line}");
            ExitCode::FAILURE
        }
    }
}
