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

async fn run() -> Result<String, String> {
    let records: u64 = gig_examples::num_arg("records", 200_000);
    let kills: usize = gig_examples::num_arg("kills", 20);
    let partitions: i32 = gig_examples::num_arg("partitions", 8);
    let seed: u64 = gig_examples::num_arg(
        "seed",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    );
    let broker =
        Broker::external_or_embedded(gig_examples::brokers()).map_err(|e| e.to_string())?;
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
        group_protocol: gig_examples::group_protocol(),
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
    if std::env::args().nth(1).as_deref() == Some("worker") {
        return gig_examples::worker::main();
    }
    gig_examples::init_logging_at("warn");
    match gig_examples::block_on(run()) {
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
