//! A record that fails on its first attempt succeeds on its second, after a delay.
//!
//! Five shipments are produced to `shipments`; the downstream cannot book the one whose
//! carrier is busy and nacks it. Gig's `RetrySink` sends it to `shipments.retry.1`, due
//! one second later. The same consumer reads `shipments.retry.1` with `wait_for_due`, so it
//! pauses that partition until the record is due, then delivers it, and this time it is
//! booked. A record that failed every attempt would end in `shipments.dlq`. Ends with
//! `booked=5 retried=1 waited_ms=… committed=…`.
//!
//! ```text
//! cargo run -p gig-examples --bin retry
//! ```

use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::retry::RetrySink;
use gig_actors::testkit::Broker;
use gig_core::retry::attempt_of;
use gig_examples::sink::Sink;
use log::info;

const TOPIC: &str = "shipments";
const SHIPMENTS: usize = 5;
const DELAY: Duration = Duration::from_secs(1);

/// Books shipments; the busy carrier's shipment fails on its first attempt.
struct Booking {
    first_failure: Option<Instant>,
    waited: Option<Duration>,
}

impl Actor for Booking {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Booking {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        let busy = delivery.record.payload_str() == Some("carrier=busy");
        let attempt = attempt_of(&delivery.record);
        println!(
            "{}: {:?} (attempt {attempt})",
            delivery.record,
            delivery.record.payload_str().unwrap_or("<bytes>")
        );
        if busy && attempt == 0 {
            self.first_failure = Some(Instant::now());
            delivery.nack("carrier busy");
        } else {
            if busy {
                self.waited = self.first_failure.map(|at| at.elapsed());
            }
            delivery.ack();
        }
    }
}

/// How long the retried shipment waited.
#[derive(Message)]
#[rtype(result = "Option<Duration>")]
struct Waited;

impl Handler<Waited> for Booking {
    type Result = Option<Duration>;

    fn handle(&mut self, _: Waited, _: &mut Context<Self>) -> Self::Result {
        self.waited
    }
}

async fn run(broker: &Broker) -> Result<String, GigError> {
    info!("broker: {} ({})", broker.bootstrap_servers(), broker.kind());
    let retry_topic = format!("{TOPIC}.retry.1");
    for topic in [
        TOPIC.to_string(),
        retry_topic.clone(),
        format!("{TOPIC}.dlq"),
    ] {
        broker.create_topic(&topic, 1).await?;
    }
    let producer = GigProducer::new(&broker.bootstrap_servers())?;
    for i in 0..SHIPMENTS {
        let payload = if i == 2 { "carrier=busy" } else { "carrier=ok" };
        producer
            .send(ProducerRecord::new(TOPIC, payload).key(format!("shipment-{i}")))
            .await?;
    }

    let group = format!("retry-{}", std::process::id());
    let config = ConsumerConfig::new(broker.bootstrap_servers(), group)
        .topics([TOPIC.to_string(), retry_topic.clone()])
        .wait_for_due(true);
    let booking = Booking {
        first_failure: None,
        waited: None,
    }
    .start();
    let consumer = ConsumerActor::builder(config)
        .downstream(booking.clone().recipient())
        .acked(Sink.start().recipient())
        .no_acked(RetrySink::new(producer, [DELAY]).start().recipient())
        .start()?;
    // Done once every shipment is booked and the retry topic's offset is committed.
    gig_examples::wait_until(&consumer, |s| {
        s.acked >= SHIPMENTS as u64 && s.committed(&retry_topic, 0) == Some(1)
    })
    .await?;
    let stats = consumer.send(Stop).await??;
    let waited = booking.send(Waited).await?;
    Ok(format!(
        "booked={} retried={} waited_ms={} committed={}",
        stats.acked,
        stats.nacked,
        waited.map_or(0, |w| w.as_millis()),
        stats.committed_summary()
    ))
}

/// A record that fails on its first attempt succeeds on its second, after a delay.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
}

fn main() -> std::process::ExitCode {
    let args = <Args as clap::Parser>::parse();
    gig_examples::run_example("retry", args.broker.brokers, |broker| async move {
        run(&broker).await
    })
}
