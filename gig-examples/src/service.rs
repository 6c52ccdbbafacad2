//! A Gig consumer as a deployed service: configured from the environment, probed over HTTP,
//! stopped by a signal with a final commit.
//!
//! ```text
//! GIG_BROKERS=kafka-1:9093 GIG_GROUP_ID=billing GIG_TOPICS=orders \
//! GIG_KAFKA_SECURITY_PROTOCOL=SASL_SSL GIG_KAFKA_SASL_MECHANISMS=SCRAM-SHA-512 \
//! GIG_KAFKA_SASL_USERNAME=billing GIG_KAFKA_SASL_PASSWORD=... \
//!   cargo run -p gig-examples --bin service
//! ```
//!
//! - Configuration: every `GIG_*` variable of [`gig_core::config_env`] (`GIG_BROKERS`,
//!   `GIG_GROUP_ID`, `GIG_TOPICS`, Gig's settings, `GIG_KAFKA_<PROPERTY>` for librdkafka);
//!   values are never logged. Without `GIG_BROKERS` it starts the embedded broker with 1,000
//!   records in `orders`, so that it runs anywhere.
//! - Its own settings: `SERVICE_PROBES` (the probes' address, `127.0.0.1:9095` by default;
//!   `0.0.0.0:9095` in a container), `SERVICE_WORK_MS` (how long each record takes; 0 by
//!   default), `SERVICE_DEAD_LETTERS` (a topic: the records not acked go there, written by a
//!   producer that reaches the cluster as the consumer does, `GigProducer::builder_like`),
//!   `SERVICE_LEDGER` (a file to which every handed-over record and confirmed commit is
//!   appended, the worker's format, for the reliability checker).
//! - `GET /health/live`, `GET /health/ready`, `GET /metrics` on the probes' address
//!   (gig_actors::service::Probes).
//! - SIGTERM or SIGINT: stop (resolve what is in flight within the ack timeout and 5 s more,
//!   hand it over, commit), then exit 0; a second signal exits at once. A consumer that
//!   could not read at the stop (a fault was open: a refused login, an ACL, a partition it
//!   cannot decompress) exits 1 instead, and its last line names the faults.
//! - An error (a config it cannot use, a consumer that cannot be made) exits 1, after every
//!   actor and Kafka client has been dropped: `main` returns, so no librdkafka thread is
//!   left running while the process exits.
//!
//! It prints one JSON line on stdout when it serves (`{"probes":"127.0.0.1:9095"}`), one
//! when a signal asks it to stop (`{"stopping":"Terminate"}`), and one when it stopped (its
//! final stats, and `"faults"` when any was open).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use crate::ledger_file::{news, FileLedger};
use crate::sink::Sink;
use crate::worker::Work;
use actix::prelude::*;
use gig_actors::dead_letter::DeadLetterSink;
use gig_actors::prelude::*;
use gig_actors::service::{shutdown_signal, Probes};
use gig_actors::testkit::EmbeddedBroker;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::json;

const DEMO_TOPIC: &str = "orders";

fn setting<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}: cannot use {v:?}")),
    }
}

/// The embedded broker with demo records, when no brokers are given.
async fn demo_broker() -> Result<(EmbeddedBroker, Vec<(String, String)>), Box<dyn std::error::Error>>
{
    let broker = EmbeddedBroker::start()?;
    broker.create_topic(DEMO_TOPIC, 2)?;
    let producer = GigProducer::new(&broker.bootstrap_servers())?;
    let records: Vec<_> = (0..1000)
        .map(|i| {
            ProducerRecord::new(DEMO_TOPIC, format!("order {i}"))
                .key(format!("customer {}", i % 50))
        })
        .collect();
    producer.send_batch(&records).await?;
    let vars = vec![
        ("GIG_BROKERS".to_string(), broker.bootstrap_servers()),
        ("GIG_GROUP_ID".to_string(), "service-demo".to_string()),
        ("GIG_TOPICS".to_string(), DEMO_TOPIC.to_string()),
    ];
    Ok((broker, vars))
}

/// How the service ended, when it ran.
enum Ended {
    /// Stopped by a signal with nothing blocked.
    Clean,
    /// Stopped while it could not read: faults were open.
    Unreadable,
}

async fn run() -> Result<Ended, Box<dyn std::error::Error>> {
    let mut vars: BTreeMap<String, String> = std::env::vars().collect();
    let _embedded = match vars.contains_key("GIG_BROKERS") {
        true => None,
        false => {
            let (broker, demo) = demo_broker().await?;
            for (k, v) in demo {
                vars.entry(k).or_insert(v);
            }
            Some(broker)
        }
    };
    let config = ConsumerConfig::from_vars("GIG_", vars)?;
    let probes_at: std::net::SocketAddr = setting("SERVICE_PROBES", "127.0.0.1:9095".parse()?)?;
    let work = Duration::from_millis(setting("SERVICE_WORK_MS", 0)?);
    // Before the consumer is built: Gig registers its series then.
    let metrics = PrometheusBuilder::new().install_recorder()?;

    // The dead-letter producer before the consumer, as a service wires them: it logs in as
    // the consumer does.
    let dead_letters = match std::env::var("SERVICE_DEAD_LETTERS") {
        Ok(topic) => {
            let producer = GigProducer::builder_like(&config).build()?;
            let sink = DeadLetterSink::new(producer).to_topic(topic.trim().to_string());
            Some(sink.start())
        }
        Err(_) => None,
    };
    let (acked, no_acked, times, ledger) = match std::env::var("SERVICE_LEDGER") {
        Ok(path) => {
            let (ledger, times) = FileLedger::open(&path, None)?;
            let ledger = ledger.start();
            (
                ledger.clone().recipient(),
                ledger.clone().recipient(),
                times,
                Some(ledger),
            )
        }
        Err(_) => {
            let sink = Sink.start();
            (
                sink.clone().recipient(),
                sink.recipient(),
                Default::default(),
                None,
            )
        }
    };
    let no_acked = match dead_letters {
        Some(sink) => sink.recipient(),
        None => no_acked,
    };
    let consumer = ConsumerActor::builder(config)
        .downstream(Work::new(work, times).start().recipient())
        .acked(acked)
        .no_acked(no_acked)
        .start()?;
    let probes = Probes::new(consumer.clone())
        .metrics(move || metrics.render())
        .bind(probes_at)
        .await?;
    println!("{}", json!({ "probes": probes.local_addr().to_string() }));

    // The ledger's commit lines, as the worker writes them.
    if let Some(ledger) = ledger.clone() {
        let consumer = consumer.clone();
        actix::spawn(async move {
            let mut logged = (BTreeMap::new(), 0);
            while let Ok(stats) = consumer.send(GetStats).await {
                if let Some(news) = news(&stats, &mut logged) {
                    let _ = ledger.send(news).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }

    let signal = shutdown_signal().await?;
    // For whoever waits on the drain: the stop has begun, and a second signal exits at once.
    println!("{}", json!({ "stopping": format!("{signal:?}") }));
    let stats = consumer.send(Stop).await??;
    if let Some(ledger) = ledger {
        let mut logged = (BTreeMap::new(), 0);
        if let Some(news) = news(&stats, &mut logged) {
            let _ = ledger.send(news).await;
        }
    }
    let mut line = json!({
        "stopped": format!("{signal:?}"),
        "handed_over": stats.handed_over,
        "in_flight": stats.in_flight,
        "committed": stats.committed_summary(),
    });
    if stats.faults.is_empty() {
        println!("{line}");
        return Ok(Ended::Clean);
    }
    let faults: Vec<String> = stats.faults.iter().map(ToString::to_string).collect();
    line["faults"] = json!(faults);
    println!("{line}");
    Ok(Ended::Unreadable)
}

/// Runs the service until a signal stops it. Exits 1 on an error, or when the consumer could
/// not read at the stop.
/// A Gig consumer as a deployed service, configured from the environment: the `GIG_*`
/// variables of `ConsumerConfig::from_env` (without `GIG_BROKERS`, an embedded broker with
/// 1,000 records in `orders`), and SERVICE_PROBES, SERVICE_WORK_MS, SERVICE_DEAD_LETTERS,
/// SERVICE_LEDGER. Probes at /health/live, /health/ready and /metrics; SIGTERM or SIGINT
/// stops it with a final commit.
#[derive(clap::Parser)]
#[command(name = "service")]
struct Args {}

pub fn main() -> ExitCode {
    let Args {} = <Args as clap::Parser>::parse();
    crate::init_logging();
    match crate::block_on(run()) {
        Ok(Ended::Clean) => ExitCode::SUCCESS,
        Ok(Ended::Unreadable) => {
            eprintln!("service: stopped while it could not read (see \"faults\")");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("service: {e}");
            ExitCode::FAILURE
        }
    }
}
