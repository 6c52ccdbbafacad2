//! A downstream that takes decoded JSON values instead of bytes.
//!
//! Six records are produced to `orders`: four orders and two that are not. The downstream
//! handles `Typed<Order>` and never sees the two: Gig sends them to the NoAckedActor as
//! undecodable, with serde_json's error. Ends with
//! `orders=4 total_cents=… undecodable=2 committed=orders/0=6`.
//!
//! ```text
//! cargo run -p gig-examples --bin typed_json
//! ```

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use serde::Deserialize;

const TOPIC: &str = "orders";

/// What the downstream asks for.
#[derive(Debug, Deserialize)]
struct Order {
    id: u64,
    cents: u64,
}

/// Adds up the orders it gets.
#[derive(Default)]
struct Till {
    total_cents: u64,
}

impl Actor for Till {
    type Context = Context<Self>;
}

impl Handler<Typed<Order>> for Till {
    type Result = ();

    fn handle(&mut self, order: Typed<Order>, _: &mut Context<Self>) {
        println!("order {} for {} cents", order.value.id, order.value.cents);
        self.total_cents += order.value.cents;
        order.ack();
    }
}

/// Reports the total on request.
struct Total;

impl Message for Total {
    type Result = u64;
}

impl Handler<Total> for Till {
    type Result = u64;

    fn handle(&mut self, _: Total, _: &mut Context<Self>) -> u64 {
        self.total_cents
    }
}

/// Accepts every outcome; prints the failures.
struct Outcomes;

impl Actor for Outcomes {
    type Context = Context<Self>;
}

impl Handler<Acked> for Outcomes {
    type Result = Result<(), HandOverError>;

    fn handle(&mut self, _: Acked, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

impl Handler<NoAcked> for Outcomes {
    type Result = Result<(), HandOverError>;

    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        for failed in &msg.records {
            println!("not an order: {} ({})", failed.record, failed.reason);
        }
        Ok(())
    }
}

async fn run(broker: &Broker) -> Result<String, GigError> {
    broker.create_topic(TOPIC, 1).await?;
    let producer = GigProducer::new(&broker.bootstrap_servers())?;
    let payloads = [
        r#"{"id":1,"cents":250}"#,
        r#"{"id":2,"cents":1200}"#,
        "hello",
        r#"{"id":3,"cents":99}"#,
        r#"{"id":"four","cents":5}"#,
        r#"{"id":5,"cents":4000}"#,
    ];
    for payload in payloads {
        producer.send(ProducerRecord::new(TOPIC, payload)).await?;
    }

    let group = format!("typed-json-{}", std::process::id());
    let config = ConsumerConfig::new(broker.bootstrap_servers(), group).topics([TOPIC]);
    let till = Till::default().start();
    let outcomes = Outcomes.start();
    let consumer = ConsumerActor::builder(config)
        .json_downstream(till.clone().recipient())
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .start()?;
    gig_examples::wait_until(&consumer, |s| s.handed_over >= payloads.len() as u64).await?;
    let stats = consumer.send(Stop).await??;
    let total = till.send(Total).await?;
    Ok(format!(
        "orders={} total_cents={total} undecodable={} committed={}",
        stats.acked,
        stats.undecodable,
        stats.committed_summary()
    ))
}

/// A downstream that takes decoded JSON values instead of bytes.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
}

fn main() -> std::process::ExitCode {
    let args = <Args as clap::Parser>::parse();
    gig_examples::run_example("typed_json", args.broker.brokers, |broker| async move {
        run(&broker).await
    })
}
