//! Exactly-once hand-off: outputs and dead letters are produced in the Kafka transaction
//! that commits their source offsets.
//!
//! 100 orders are produced. The consumer is transactional
//! (`ConsumerConfig::transactional`): its AckedActor answers each batch of acked orders
//! with the records to produce (an enriched copy of each, to `orders.enriched`), and its
//! NoAckedActor, `DeadLetterSink::transactional()`, answers with dead-letter copies of the
//! orders it could not read (to `orders.dlq`). Gig produces them in the transactions that
//! commit the orders' offsets, every 100 ms. A `read_committed` reader written with plain
//! rdkafka then reads both topics back and counts each order. Ends with
//! `orders=100 enriched=90 dead_lettered=10 transactions=N read_committed: sources=100 duplicates=0 lost=0 … committed=…`.
//!
//! ```text
//! cargo run -p gig-examples --bin exactly_once [-- --brokers HOST:PORT]
//! ```
//!
//! The embedded broker (librdkafka's mock cluster) runs the transactional protocol but
//! writes no transaction markers and keeps no offsets committed in a transaction: on it the
//! example shows the API; on Kafka (`--brokers`), what a `read_committed` reader sees.

use std::collections::BTreeSet;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::{
    DeadLetterSink, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC,
};
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::eos::{read_committed, Tally};
use log::info;

const ORDERS: usize = 100;

/// Acks orders whose amount is a number; nacks the others.
struct Orders;

impl Actor for Orders {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Orders {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        match amount(&delivery.record) {
            Some(_) => delivery.ack(),
            None => delivery.nack("no amount"),
        }
    }
}

fn amount(record: &Record) -> Option<u64> {
    record.payload_str()?.split_once(':')?.1.parse().ok()
}

/// Answers each batch of acked orders with an enriched copy of each, for the transaction.
struct Enrich {
    topic: String,
}

impl Actor for Enrich {
    type Context = Context<Self>;
}

impl Handler<AckedTx> for Enrich {
    type Result = Result<Outputs, HandOverError>;

    fn handle(&mut self, batch: AckedTx, _: &mut Context<Self>) -> Self::Result {
        let mut outputs = Outputs::new();
        for order in &batch.records {
            let cents = amount(order).unwrap_or_default();
            let enriched = format!(
                "{{\"order\":{},\"with_vat\":{}}}",
                order.offset(),
                cents * 120 / 100
            );
            // The headers name the source, so that the reader below can count each order.
            let record = ProducerRecord::new(&self.topic, enriched)
                .header(ORIGINAL_TOPIC, order.topic())
                .header(ORIGINAL_PARTITION, order.partition().to_string())
                .header(ORIGINAL_OFFSET, order.offset().to_string());
            outputs.produce(order, record);
        }
        Ok(outputs)
    }
}

async fn run(broker: &Broker) -> Result<String, GigError> {
    info!("broker: {} ({})", broker.bootstrap_servers(), broker.kind());
    let topic = gig_examples::run_topic("orders", broker);
    let (enriched, dlq) = (format!("{topic}.enriched"), format!("{topic}.dlq"));
    for t in [&topic, &enriched, &dlq] {
        broker.create_topic(t, 1).await?;
    }
    let producer = GigProducer::new(&broker.bootstrap_servers())?;
    let orders: Vec<ProducerRecord> = (0..ORDERS)
        .map(|i| {
            let amount = if i % 10 == 9 {
                "?".to_string()
            } else {
                (i * 100).to_string()
            };
            ProducerRecord::new(topic.as_str(), format!("order-{i}:{amount}"))
        })
        .collect();
    let produced = producer.send_batch(&orders).await?;

    let group = format!("exactly-once-{}", std::process::id());
    let config = ConsumerConfig::new(broker.bootstrap_servers(), group.clone())
        .topics([topic.as_str()])
        .transactional(format!("{group}-1"));
    let consumer = ConsumerActor::builder(config)
        .downstream(Orders.start().recipient())
        .acked_tx(
            Enrich {
                topic: enriched.clone(),
            }
            .start()
            .recipient(),
        )
        .no_acked_tx(DeadLetterSink::transactional().start().recipient())
        .start()?;
    let end = produced.iter().map(|d| d.offset + 1).max().unwrap_or(0);
    gig_examples::wait_until(&consumer, |s| s.committed(&topic, 0) == Some(end)).await?;
    let stats = consumer.send(Stop).await??;

    let expected: BTreeSet<(String, i32, i64)> = produced
        .iter()
        .map(|d| (topic.clone(), d.partition, d.offset))
        .collect();
    let (brokers, topics) = (broker.bootstrap_servers(), vec![enriched, dlq]);
    let read = tokio::task::spawn_blocking(move || {
        read_committed(&brokers, &topics, Duration::from_secs(30))
    });
    let tally = match read.await {
        Ok(Ok(read)) => Tally::of(&read, &expected).to_string(),
        Ok(Err(e)) => format!("not read back: {e}"),
        Err(e) => format!("not read back: {e}"),
    };
    Ok(format!(
        "orders={ORDERS} enriched={} dead_lettered={} transactions={} read_committed: {tally} committed={}",
        stats.acked,
        stats.nacked,
        stats.transactions,
        stats.committed_summary()
    ))
}

/// Exactly-once hand-off: outputs and dead letters are produced in the Kafka transaction
/// that commits their source offsets.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
}

fn main() -> std::process::ExitCode {
    let args = <Args as clap::Parser>::parse();
    gig_examples::run_example("exactly_once", args.broker.brokers, |broker| async move {
        run(&broker).await
    })
}
