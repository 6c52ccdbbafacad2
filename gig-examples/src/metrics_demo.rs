//! The `metrics` example, as a library so that a test can run it and scrape it: Gig's
//! series served at `/metrics` by `metrics-exporter-prometheus` while a consumer works
//! through records with every kind of answer.
//!
//! The downstream acks most records, nacks every tenth, and leaves every 25th unanswered
//! until just after its deadline, so it times out and its answer then counts as late.
//! [`run`] returns once every record is handed over and committed, with the consumer's
//! [`Stats`] as the summary that `/metrics` must agree with.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

use crate::sink::Sink;

/// The port `/metrics` is served on by default (OpenTelemetry's Prometheus exporter's).
pub const DEFAULT_PORT: u16 = 9464;

/// The ack timeout of the demo: the silent records time out after it.
const ACK_TIMEOUT: Duration = Duration::from_millis(500);

/// Histogram buckets for Gig's `*_seconds` series: 100 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Installs the Prometheus recorder and serves it on `127.0.0.1:port` (any path answers;
/// `/metrics` by convention); port 0 picks a free port. Returns the address served. Call it
/// before building a consumer: Gig registers its series then. The listener runs on a thread
/// of its own, so a busy actor thread does not delay a scrape.
pub fn serve_metrics(port: u16) -> Result<SocketAddr, String> {
    let mut addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if port == 0 {
        // The exporter does not say which port it bound, so pick a free one for it.
        let probe = TcpListener::bind(addr).map_err(|e| format!("finding a free port: {e}"))?;
        addr = probe.local_addr().map_err(|e| e.to_string())?;
    }
    let builder = PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), BUCKETS)
        .map_err(|e| e.to_string())?;
    // Off any tokio runtime, `install` starts the listener on a runtime thread of its own
    // (inside actix's it would share the actor thread).
    std::thread::spawn(move || builder.install())
        .join()
        .map_err(|_| "the exporter's install panicked".to_string())?
        .map_err(|e| format!("serving /metrics on {addr}: {e}"))?;
    Ok(addr)
}

/// Installs the Prometheus recorder with no listener: Gig's series are recorded, and
/// nothing serves them (for `gig-bench --metrics`). Exits if a recorder is installed
/// already.
pub fn install_recorder() {
    if let Err(e) = PrometheusBuilder::new().install_recorder() {
        eprintln!("installing the metrics recorder: {e}");
        std::process::exit(1);
    }
}

/// What a run consumes, and how its consumer joins.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records to produce and consume.
    pub records: usize,
    /// The topic (created with 2 partitions).
    pub topic: String,
    /// The consumer group, the `group` label of every series.
    pub group: String,
    /// `classic` or `consumer` (KIP-848).
    pub group_protocol: String,
}

/// How a run ended: the consumer's own counters, to compare with `/metrics`.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The consumer group.
    pub group: String,
    /// The consumer's stats once every record was handed over and committed.
    pub stats: Stats,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "group={} acked={} nacked={} timed_out={} late_answers={} handed_over={} committed={}",
            self.group,
            s.acked,
            s.nacked,
            s.timed_out,
            s.late_answers,
            s.handed_over,
            s.committed_summary()
        )
    }
}

/// The demo's answer for record number `i`.
enum Answer {
    Ack,
    Nack,
    /// After the deadline: the record times out, and the answer is late.
    Late,
}

fn answer_for(i: usize) -> Answer {
    match i {
        i if i % 25 == 24 => Answer::Late,
        i if i % 10 == 9 => Answer::Nack,
        _ => Answer::Ack,
    }
}

/// Acks, nacks, or answers just after the deadline, by the record's number.
struct Worker;

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        let i: usize = delivery
            .record
            .payload_str()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default();
        match answer_for(i) {
            Answer::Ack => delivery.ack(),
            Answer::Nack => delivery.nack("every tenth fails"),
            Answer::Late => {
                let (_, handle) = delivery.into_parts();
                let after = handle
                    .deadline()
                    .saturating_duration_since(std::time::Instant::now());
                ctx.run_later(after + Duration::from_millis(50), move |_, _| handle.ack());
            }
        }
    }
}

/// Produces `options.records` records, consumes them until every one is handed over, its
/// late answer counted and its offset committed, and returns the summary with the consumer,
/// still running (stop it with [`Stop`]). Install the recorder first ([`serve_metrics`]).
pub async fn run(
    broker: &Broker,
    options: &Options,
) -> Result<(Summary, Addr<ConsumerActor>), GigError> {
    let topic = options.topic.as_str();
    broker.create_topic(topic, 2).await?;
    let producer = GigProducer::new(&broker.bootstrap_servers())?;
    let mut ends = [0i64; 2];
    for i in 0..options.records {
        let partition = (i % 2) as i32;
        let record = ProducerRecord::new(topic, i.to_string()).partition(partition);
        let delivered = producer.send(record).await?;
        ends[partition as usize] = delivered.offset + 1;
    }
    let late = (0..options.records)
        .filter(|&i| matches!(answer_for(i), Answer::Late))
        .count() as u64;

    let config = ConsumerConfig::new(broker.bootstrap_servers(), options.group.clone())
        .topics([topic])
        .ack_timeout(ACK_TIMEOUT)
        // librdkafka's statistics give the high watermarks, hence the lag gauges.
        .property("statistics.interval.ms", "500");
    let config = crate::quick_group(config, &options.group_protocol, 6000);
    let sink = Sink.start();
    let consumer = ConsumerActor::builder(config)
        .downstream(Worker.start().recipient())
        .acked(sink.clone().recipient())
        .no_acked(sink.recipient())
        .start()?;
    let records = options.records as u64;
    crate::wait_until(&consumer, |s| {
        s.handed_over >= records && s.late_answers >= late
    })
    .await?;
    // Commit now rather than at the next interval; the summary waits for the confirmation.
    consumer.send(Commit).await??;
    let committed =
        |s: &Stats| (0..2).all(|p| ends[p] == 0 || s.committed(topic, p as i32) == Some(ends[p]));
    crate::wait_until(&consumer, committed).await?;
    let stats = consumer.send(GetStats).await?;
    let summary = Summary {
        group: options.group.clone(),
        stats,
    };
    Ok((summary, consumer))
}
