//! A program that ends without stopping its Kafka clients: it makes a consumer and a
//! dead-letter producer from the environment (`GIG_…`, as the service does), lets them
//! connect for `DROP_AFTER_MS` milliseconds, then returns from `main`, which drops the actix
//! system with both, and no `Stop`. For `service.rs`, which runs it many times against the
//! secured node: a client dropped on any path must end its threads before the process exits.
//! Exits 0, or 1 with the error.

use std::process::ExitCode;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::DeadLetterSink;
use gig_actors::prelude::*;
use gig_examples::sink::Sink;
use gig_examples::worker::Work;

async fn run(after: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let config = ConsumerConfig::from_env("GIG_")?;
    let producer = GigProducer::builder_like(&config).build()?;
    let letters = DeadLetterSink::new(producer).start();
    let sink = Sink.start();
    let _consumer = ConsumerActor::builder(config)
        .downstream(
            Work::new(Duration::ZERO, Default::default())
                .start()
                .recipient(),
        )
        .acked(sink.recipient())
        .no_acked(letters.recipient())
        .start()?;
    tokio::time::sleep(after).await;
    Ok(())
}

/// Makes a consumer and a dead-letter producer from the `GIG_*` environment, lets them
/// connect for DROP_AFTER_MS milliseconds, then returns from `main` without stopping them.
#[derive(clap::Parser)]
struct Args {}

fn main() -> ExitCode {
    let Args {} = <Args as clap::Parser>::parse();
    let after = std::env::var("DROP_AFTER_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    match gig_examples::block_on(run(after)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gig-drop: {e}");
            ExitCode::FAILURE
        }
    }
}
