//! A service stopped and started again in the same group, as a redeploy does, on the
//! embedded broker (or `--brokers HOST:PORT`): how long until the new instance has its
//! partitions and has caught up.
//!
//! The first instance reads 300 records from 3 partitions and stops (a clean stop: final
//! commit, leave the group). 300 more are produced, and the second instance starts in the
//! same group. It waits for its assignment (`WaitForAssignment`) and for every record up
//! to the partitions' ends (`CaughtUp`); nothing the first one handed over comes again.
//! The consumer config comes from `Broker::consumer_config`, which gives the embedded
//! broker a short group session: with librdkafka's 45 s default (`--default-session`) the
//! mock cluster makes the restarted member wait about that long.
//!
//! ```text
//! cargo run -p gig-examples --bin restart
//! ```
//! prints `first=300 second=300 again=0 restart_to_assignment_ms=… restart_to_caught_up_ms=…`.

use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::sink::Sink;

const PER_RUN: usize = 300;
const WAIT: Duration = Duration::from_secs(120);

/// Acks every record.
struct Worker;

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        delivery.ack();
    }
}

/// One instance of the service.
fn instance(
    broker: &Broker,
    group: &str,
    topic: &str,
    default_session: bool,
) -> Result<Addr<ConsumerActor>, GigError> {
    let config = match default_session {
        true => ConsumerConfig::new(broker.bootstrap_servers(), group),
        false => broker.consumer_config(group),
    };
    let sink = Sink.start();
    ConsumerActor::builder(config.topics([topic]))
        .downstream(Worker.start().recipient())
        .acked(sink.clone().recipient())
        .no_acked(sink.recipient())
        .start()
}

async fn produce(producer: &GigProducer, topic: &str, from: usize) -> Result<(), GigError> {
    let records: Vec<ProducerRecord> = (from..from + PER_RUN)
        .map(|i| {
            ProducerRecord::new(topic, format!("order {i}")).key(format!("customer {}", i % 7))
        })
        .collect();
    producer.send_batch(&records).await?;
    Ok(())
}

/// A service stopped and started again in the same group, as a redeploy does, on the
/// embedded broker (or `--brokers HOST:PORT`): how long until the new instance has its
/// partitions and has caught up.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
    /// Keep librdkafka's 45 s group session instead of the broker's short one: the
    /// restarted member then waits about that long on the embedded broker.
    #[arg(long)]
    default_session: bool,
}

fn main() -> std::process::ExitCode {
    let args = <Args as clap::Parser>::parse();
    let default_session = args.default_session;
    gig_examples::run_example("restart", args.broker.brokers, |broker| async move {
        let topic = gig_examples::run_topic("restart", &broker);
        broker.create_topic(&topic, 3).await?;
        let producer = GigProducer::new(&broker.bootstrap_servers())?;
        let group = format!("restart-{}", std::process::id());

        produce(&producer, &topic, 0).await?;
        let first = instance(&broker, &group, &topic, default_session)?;
        first.send(WaitForAssignment::within(WAIT)).await??;
        first.send(CaughtUp::within(WAIT)).await??;
        let first_stats = first.send(Stop).await??;

        produce(&producer, &topic, PER_RUN).await?;
        let restarted = Instant::now();
        let second = instance(&broker, &group, &topic, default_session)?;
        second.send(WaitForAssignment::within(WAIT)).await??;
        let to_assignment = restarted.elapsed();
        let second_stats = second.send(CaughtUp::within(WAIT)).await??;
        let to_caught_up = restarted.elapsed();
        second.send(Stop).await??;
        Ok(format!(
            "first={} second={} again={} restart_to_assignment_ms={} restart_to_caught_up_ms={}",
            first_stats.handed_over,
            second_stats.handed_over,
            // Records of the first run handed over again (a clean stop leaves none).
            (second_stats.handed_over as usize).saturating_sub(PER_RUN),
            to_assignment.as_millis(),
            to_caught_up.as_millis()
        ))
    })
}
