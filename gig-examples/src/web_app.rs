//! An actix-web service with Gig inside: an HTTP API that takes orders and produces them to
//! Kafka, and a consumer in the same actix system that processes them with an ack per
//! record; the probes and metrics mounted in the same `App`; one graceful stop.
//!
//! ```text
//! cargo run -p gig-examples --bin web_app        # the embedded broker
//! curl -i -H 'Content-Type: application/json' -d '{"id":1,"customer":"ada","cents":1250}' \
//!   http://127.0.0.1:8080/orders                 # 201 {"offset":0,"partition":…}
//! curl -i http://127.0.0.1:8080/health/ready     # 200 once the consumer caught up
//! ```
//!
//! - `POST /orders` takes `{"id":u64,"customer":"…","cents":u64}` and answers 201 with where
//!   the order was written, once Kafka confirmed it (`GigProducer::send`). A body that is
//!   not such an order (not JSON, a missing or mistyped field, no customer, zero cents) is
//!   answered 400 with the reason, and nothing is produced.
//! - The consumer (group `GIG_GROUP_ID`) reads the orders as `Typed<Order>` and acks each
//!   one it processed.
//! - `GET /stats`: `{"produced":…,"processed":…,"acked":…,"no_acked":…,"in_flight":…}`.
//! - `GET /health/live`, `/health/ready`, `/metrics`: Gig's probes (`Probes::routes`).
//! - SIGTERM or SIGINT (`gig_actors::web::serve`): no new connection, the requests in
//!   progress finish, then the consumer resolves what it holds, hands it over and commits;
//!   exit 0. A second signal exits at once.
//!
//! Configuration: the `GIG_*` variables of `ConsumerConfig::from_env` (the orders go to the
//! first of `GIG_TOPICS`; the producer logs in as the consumer does,
//! `GigProducer::builder_like`); without `GIG_BROKERS`, the embedded broker with a topic
//! `orders`. `WEB_APP_LISTEN`: the HTTP address (`127.0.0.1:8080` by default; port 0 picks
//! one). `WEB_APP_WORK_MS`: how long each order takes to process (0 by default; the desk acks
//! it that long after it arrived, without blocking its thread, as async work would). It
//! prints `{"listening":"…"}` when it serves and its final counters when it stopped.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::{error, web, App, HttpResponse, HttpServer};
use gig_actors::prelude::*;
use gig_actors::service::Probes;
use gig_actors::testkit::EmbeddedBroker;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sink::Sink;

/// An order, as the API takes it and as it is written to Kafka.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The client's id for the order.
    pub id: u64,
    /// Who ordered: the record's key, so one customer's orders keep their order.
    pub customer: String,
    /// The amount, in cents; more than zero.
    pub cents: u64,
}

impl Order {
    /// What makes a well-formed order a bad one.
    fn invalid(&self) -> Option<&'static str> {
        if self.customer.trim().is_empty() {
            Some("customer: must not be empty")
        } else if self.cents == 0 {
            Some("cents: must be more than zero")
        } else {
            None
        }
    }
}

/// What the HTTP handlers share across the server's worker threads.
struct Shop {
    producer: GigProducer,
    topic: String,
    produced: AtomicU64,
    desk: Addr<OrderDesk>,
    consumer: Addr<ConsumerActor>,
}

/// The consumer's downstream: processes each order and acks it, `work` after it arrived.
#[derive(Default)]
struct OrderDesk {
    work: Duration,
    processed: u64,
    cents_by_customer: BTreeMap<String, u64>,
}

impl Actor for OrderDesk {
    type Context = Context<Self>;
}

impl Handler<Typed<Order>> for OrderDesk {
    type Result = ();

    fn handle(&mut self, order: Typed<Order>, ctx: &mut Context<Self>) {
        if self.work.is_zero() {
            self.process(order);
        } else {
            ctx.run_later(self.work, move |desk, _| desk.process(order));
        }
    }
}

impl OrderDesk {
    fn process(&mut self, order: Typed<Order>) {
        *self
            .cents_by_customer
            .entry(order.value.customer.clone())
            .or_default() += order.value.cents;
        self.processed += 1;
        order.ack();
    }
}

/// How many orders the desk processed.
struct Processed;

impl Message for Processed {
    type Result = u64;
}

impl Handler<Processed> for OrderDesk {
    type Result = u64;

    fn handle(&mut self, _: Processed, _: &mut Context<Self>) -> u64 {
        self.processed
    }
}

fn bad_request(reason: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": reason.to_string() }))
}

/// `POST /orders`: produces the order once it is a valid one.
async fn post_order(shop: web::Data<Shop>, order: web::Json<Order>) -> HttpResponse {
    let order = order.into_inner();
    if let Some(reason) = order.invalid() {
        return bad_request(reason);
    }
    let payload = match serde_json::to_vec(&order) {
        Ok(payload) => payload,
        Err(e) => {
            return HttpResponse::InternalServerError().json(json!({ "error": e.to_string() }))
        }
    };
    let record = ProducerRecord::new(shop.topic.clone(), payload).key(order.customer.clone());
    match shop.producer.send(record).await {
        Ok(written) => {
            shop.produced.fetch_add(1, Ordering::Relaxed);
            HttpResponse::Created()
                .json(json!({ "partition": written.partition, "offset": written.offset }))
        }
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({ "error": e.to_string() })),
    }
}

/// `GET /stats`: what the API produced and what the consumer made of it.
async fn get_stats(shop: web::Data<Shop>) -> HttpResponse {
    let (stats, processed) = (shop.consumer.send(GetStats), shop.desk.send(Processed));
    match (stats.await, processed.await) {
        (Ok(stats), Ok(processed)) => HttpResponse::Ok().json(json!({
            "produced": shop.produced.load(Ordering::Relaxed),
            "processed": processed,
            "acked": stats.acked,
            "no_acked": stats.no_acked(),
            "in_flight": stats.in_flight,
        })),
        _ => HttpResponse::ServiceUnavailable().json(json!({ "error": "stopped" })),
    }
}

/// The embedded broker with an `orders` topic, when no brokers are given.
fn demo_broker(vars: &mut BTreeMap<String, String>) -> Result<EmbeddedBroker, GigError> {
    let broker = EmbeddedBroker::start()?;
    broker.create_topic("orders", 2)?;
    for (key, value) in [
        ("GIG_BROKERS", broker.bootstrap_servers()),
        ("GIG_GROUP_ID", "web-app-demo".to_string()),
        ("GIG_TOPICS", "orders".to_string()),
    ] {
        vars.entry(key.to_string()).or_insert(value);
    }
    Ok(broker)
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let mut vars: BTreeMap<String, String> = std::env::vars().collect();
    let _embedded = match vars.contains_key("GIG_BROKERS") {
        true => None,
        false => Some(demo_broker(&mut vars)?),
    };
    let config = ConsumerConfig::from_vars("GIG_", vars)?;
    let topic = config
        .topic_names()
        .first()
        .cloned()
        .ok_or("GIG_TOPICS: no topic")?;
    let listen = std::env::var("WEB_APP_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let work = match std::env::var("WEB_APP_WORK_MS") {
        Ok(ms) => ms
            .trim()
            .parse()
            .map_err(|_| format!("WEB_APP_WORK_MS: cannot use {ms:?}"))?,
        Err(_) => 0,
    };
    // Before the consumer is built: Gig registers its series then.
    let metrics = PrometheusBuilder::new().install_recorder()?;

    let producer = GigProducer::builder_like(&config).build()?;
    let desk = OrderDesk {
        work: Duration::from_millis(work),
        ..OrderDesk::default()
    }
    .start();
    let sink = Sink.start();
    let consumer = ConsumerActor::builder(config)
        .json_downstream(desk.clone().recipient())
        .acked(sink.clone().recipient())
        .no_acked(sink.recipient())
        .start()?;

    let probes = Probes::named("orders", consumer.clone())
        .metrics(move || metrics.render())
        .routes();
    let shop = web::Data::new(Shop {
        producer,
        topic,
        produced: AtomicU64::new(0),
        desk,
        consumer: consumer.clone(),
    });
    let shop_for_stop = Arc::clone(&shop);
    // Every malformed body is a 400 with serde's reason, in the API's own shape.
    let json_errors = web::JsonConfig::default().error_handler(|e, _| {
        let response = bad_request(&e);
        error::InternalError::from_response(e, response).into()
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shop.clone())
            .app_data(json_errors.clone())
            .configure(|cfg| probes.configure(cfg))
            .route("/orders", web::post().to(post_order))
            .route("/stats", web::get().to(get_stats))
    })
    .bind(&listen)?;
    let listening = server
        .addrs()
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    println!("{}", json!({ "listening": listening }));

    let served = gig_actors::web::serve(server, [consumer]).await?;
    served.server?;
    let mut clean = true;
    for stopped in served.consumers {
        let stats = stopped?;
        clean &= stats.faults.is_empty();
        println!(
            "{}",
            json!({
                "stopped": served.signal.map(|s| format!("{s:?}")),
                "produced": shop_for_stop.produced.load(Ordering::Relaxed),
                "acked": stats.acked,
                "no_acked": stats.no_acked(),
                "in_flight": stats.in_flight,
                "committed": stats.committed_summary(),
                "faults": stats.faults.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        );
    }
    Ok(clean)
}

/// Serves until a signal stops it; exits 1 on an error, or when the consumer could not read
/// at the stop (its faults are in the last line).
/// An actix-web service with Gig inside: `POST /orders` produces an order, a consumer in the
/// same actix system processes it; `GET /stats` and the probes. Configured from the
/// environment: the `GIG_*` variables of `ConsumerConfig::from_env` (without `GIG_BROKERS`,
/// an embedded broker), WEB_APP_LISTEN (127.0.0.1:8080) and WEB_APP_WORK_MS.
#[derive(clap::Parser)]
#[command(name = "web_app")]
struct Args {}

pub fn main() -> ExitCode {
    let Args {} = <Args as clap::Parser>::parse();
    crate::init_logging();
    match crate::block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("web_app: {e}");
            ExitCode::FAILURE
        }
    }
}
