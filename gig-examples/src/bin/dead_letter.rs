//! Failed records go to a dead-letter topic, and are read back from it.
//!
//! Ten payments are produced; the downstream nacks the ones it cannot parse. Gig's
//! `DeadLetterSink` writes them to `payments.dlq` with their origin and reason, and only
//! then lets the source offsets be committed. A second consumer reads the dead-letter topic
//! and prints each record with its headers. Ends with
//! `acked=N dead_lettered=M read_back=M committed=…`.
//!
//! ```text
//! cargo run -p gig-examples --bin dead_letter
//! ```

use std::sync::{Arc, Mutex};

use actix::prelude::*;
use gig_actors::dead_letter::{self, DeadLetterSink};
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::sink::Sink;
use log::info;

const TOPIC: &str = "payments";
const PAYMENTS: usize = 10;

/// Accepts payments that parse as an amount; nacks the rest.
struct Payments;

impl Actor for Payments {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Payments {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        let amount = delivery.record.payload_str().map(str::parse::<u64>);
        match amount {
            Some(Ok(_)) => delivery.ack(),
            _ => delivery.nack("not an amount"),
        }
    }
}

/// Prints each dead letter with its origin and reason, and acks it.
struct Reader(Arc<Mutex<usize>>);

impl Actor for Reader {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Reader {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        let header = |key| delivery.record.header_str(key).unwrap_or_default();
        println!(
            "dead letter {:?} from {}/{}@{}: {}",
            delivery.record.payload_str().unwrap_or("<bytes>"),
            header(dead_letter::ORIGINAL_TOPIC),
            header(dead_letter::ORIGINAL_PARTITION),
            header(dead_letter::ORIGINAL_OFFSET),
            header(dead_letter::REASON),
        );
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        delivery.ack();
    }
}

async fn run(broker: &Broker) -> Result<String, GigError> {
    info!("broker: {} ({})", broker.bootstrap_servers(), broker.kind());
    let dlq = format!("{TOPIC}.dlq");
    broker.create_topic(TOPIC, 1).await?;
    broker.create_topic(&dlq, 1).await?;

    let producer = GigProducer::new(&broker.bootstrap_servers())?;
    for i in 0..PAYMENTS {
        let payload = if i % 4 == 3 {
            format!("{i}€?")
        } else {
            format!("{}", i * 100)
        };
        producer
            .send(ProducerRecord::new(TOPIC, payload).key(format!("payment-{i}")))
            .await?;
    }

    let group = format!("dead-letter-{}", std::process::id());
    let config = ConsumerConfig::new(broker.bootstrap_servers(), group.clone()).topics([TOPIC]);
    let consumer = ConsumerActor::builder(config)
        .downstream(Payments.start().recipient())
        .acked(Sink.start().recipient())
        .no_acked(DeadLetterSink::new(producer.clone()).start().recipient())
        .start()?;
    gig_examples::wait_until(&consumer, |s| s.handed_over >= PAYMENTS as u64).await?;
    let stats = consumer.send(Stop).await??;

    let read = Arc::new(Mutex::new(0));
    let config =
        ConsumerConfig::new(broker.bootstrap_servers(), format!("{group}-reader")).topics([dlq]);
    let reader = ConsumerActor::builder(config)
        .downstream(Reader(read.clone()).start().recipient())
        .acked(Sink.start().recipient())
        .no_acked(Sink.start().recipient())
        .start()?;
    gig_examples::wait_until(&reader, |s| s.handed_over >= stats.nacked).await?;
    reader.send(Stop).await??;
    let read_back = *read.lock().unwrap_or_else(|e| e.into_inner());
    Ok(format!(
        "acked={} dead_lettered={} read_back={read_back} committed={}",
        stats.acked,
        stats.nacked,
        stats.committed_summary()
    ))
}

/// Failed records go to a dead-letter topic, and are read back from it.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
}

fn main() -> std::process::ExitCode {
    let args = <Args as clap::Parser>::parse();
    gig_examples::run_example("dead_letter", args.broker.brokers, |broker| async move {
        run(&broker).await
    })
}
