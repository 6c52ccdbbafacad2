//! The smallest complete Gig program.
//!
//! An embedded broker (or `--brokers HOST:PORT` / `GIG_BROKERS`), 100 records produced, a
//! downstream that acks most records and never answers every tenth, and Acked/NoAcked
//! actors that log. Unanswered records reach the NoAckedActor when their 1 s ack timeout
//! passes; nothing is redelivered. Ends with `acked=N noacked=M committed=...`.
//!
//! ```text
//! cargo run -p gig-examples --bin quickstart
//! ```

use std::process::ExitCode;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use log::info;

const RECORDS: usize = 100;

/// Acks every record except every tenth, which it keeps unanswered (so it times out; a
/// delivery it dropped would go to the NoAckedActor at once, as dropped).
#[derive(Default)]
struct Worker {
    unanswered: Vec<Delivery>,
}

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        if delivery.record.offset() % 10 == 9 {
            info!("worker ignores {}", delivery.record);
            self.unanswered.push(delivery);
            return;
        }
        delivery.ack();
    }
}

/// Logs acked records.
struct AckedLog;

impl Actor for AckedLog {
    type Context = Context<Self>;
}

impl Handler<Acked> for AckedLog {
    type Result = Result<(), HandOverError>;

    fn handle(&mut self, msg: Acked, _: &mut Context<Self>) -> Self::Result {
        info!(
            "acked: {} record(s), last {}",
            msg.records.len(),
            msg.records[msg.records.len() - 1]
        );
        Ok(())
    }
}

/// Logs records that were not acked, with the reason.
struct NoAckedLog;

impl Actor for NoAckedLog {
    type Context = Context<Self>;
}

impl Handler<NoAcked> for NoAckedLog {
    type Result = Result<(), HandOverError>;

    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        for r in &msg.records {
            info!("no-acked: {} ({})", r.record, r.reason);
        }
        Ok(())
    }
}

async fn run(brokers: Option<String>) -> Result<Stats, GigError> {
    let broker = Broker::external_or_embedded(brokers)?;
    info!("broker: {} ({})", broker.bootstrap_servers(), broker.kind());
    let topic = gig_examples::run_topic("quickstart", &broker);
    broker.create_topic(&topic, 2).await?;

    let producer = GigProducer::new(&broker.bootstrap_servers())?;
    for i in 0..RECORDS {
        let record =
            ProducerRecord::new(topic.as_str(), format!("value{i}")).key(format!("key{i}"));
        producer.send(record).await?;
    }
    info!("produced {RECORDS} records to {topic}");

    let group = format!("quickstart-{}", std::process::id());
    // The broker's own config: on the embedded broker a short group session, so that a
    // restart in the same group takes seconds (see `testkit`).
    let config = broker
        .consumer_config(group)
        .topics([topic.as_str()])
        .ack_timeout(Duration::from_secs(1));
    let consumer = ConsumerActor::builder(config)
        .downstream(Worker::default().start().recipient())
        .acked(AckedLog.start().recipient())
        .no_acked(NoAckedLog.start().recipient())
        .start()?;

    // Wait until every record has reached one of the outcome actors.
    gig_examples::wait_until(&consumer, |s| s.handed_over >= RECORDS as u64).await?;
    consumer.send(Stop).await?
}

/// The smallest complete Gig program: 100 records, most acked, every tenth left unanswered
/// until its ack timeout hands it to the NoAckedActor.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    gig_examples::init_logging();
    // The system, its actors and their Kafka clients are gone before `main` returns.
    match gig_examples::block_on(run(args.broker.brokers)) {
        Ok(stats) => {
            println!(
                "acked={} noacked={} committed={}",
                stats.acked,
                stats.nacked + stats.timed_out,
                stats.committed_summary()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}
