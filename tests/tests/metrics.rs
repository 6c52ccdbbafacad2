//! The `metrics` example's `/metrics`, fetched over HTTP, agrees with the consumer's own
//! summary: every outcome counter, the late answers, the committed offsets, and a lag of 0
//! once everything is committed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gig_actors::prelude::*;
use gig_examples::metrics_demo::{self, Options};
use gig_tests::*;

/// `GET /metrics` over a plain TCP connection: the status line and the body.
fn get_metrics(addr: SocketAddr) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to /metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// A scrape: each sample `name{labels}` (labels sorted, as `k=v,…`) with its value.
struct Scrape(BTreeMap<(String, String), f64>);

impl Scrape {
    async fn fetch(addr: SocketAddr) -> Scrape {
        let (status, body) = tokio::task::spawn_blocking(move || get_metrics(addr))
            .await
            .unwrap();
        assert!(status.contains(" 200 "), "GET /metrics answered {status}");
        let mut samples = BTreeMap::new();
        for line in body
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let mut labels: Vec<String> = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|l| l.replace('"', ""))
                .collect();
            labels.sort();
            let value: f64 = value.parse().expect("a number");
            samples.insert((name.to_string(), labels.join(",")), value);
        }
        Scrape(samples)
    }

    /// The sample of `name` with exactly these labels (besides `group`).
    fn get(&self, name: &str, group: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut all: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        all.push(format!("group={group}"));
        all.sort();
        self.0.get(&(name.to_string(), all.join(","))).copied()
    }
}

#[actix::test]
async fn metrics_served_over_http_agree_with_the_example_summary() {
    let broker = broker();
    let addr = metrics_demo::serve_metrics(0).expect("serve /metrics");
    let options = Options {
        records: 500,
        topic: unique("metrics"),
        group: unique("metrics-group"),
        group_protocol: group_protocol(),
    };
    let (summary, consumer) = metrics_demo::run(&broker, &options).await.unwrap();
    report(&format!("summary: {summary}"));
    let stats = &summary.stats;
    let group = options.group.as_str();
    assert_eq!(stats.handed_over, 500);
    assert_eq!((stats.nacked, stats.timed_out), (40, 20), "the demo's mix");

    let scrape = Scrape::fetch(addr).await;
    let records = |outcome| scrape.get("gig_records_total", group, &[("outcome", outcome)]);
    assert_eq!(records("acked"), Some(stats.acked as f64));
    assert_eq!(records("nacked"), Some(stats.nacked as f64));
    assert_eq!(records("timed_out"), Some(stats.timed_out as f64));
    for none in ["undecodable", "dropped", "panicked", "crashed"] {
        assert_eq!(records(none), Some(0.0), "{none}");
    }
    let late = scrape.get("gig_late_answers_total", group, &[]);
    assert_eq!(late, Some(stats.late_answers as f64));
    assert_eq!(
        stats.late_answers, 20,
        "each timed-out record was answered late"
    );
    // Answers in time have a latency; late ones do not (their record had timed out).
    let answered = scrape.get("gig_ack_latency_seconds_count", group, &[]);
    assert_eq!(answered, Some((stats.acked + stats.nacked) as f64));
    for p in 0..2 {
        let partition = p.to_string();
        let labels = [("topic", options.topic.as_str()), ("partition", &partition)];
        let committed = scrape.get("gig_partition_committed_offset", group, &labels);
        assert_eq!(
            committed,
            stats.committed(&options.topic, p).map(|o| o as f64)
        );
    }
    assert!(scrape.get("gig_commits_total", group, &[("result", "ok")]) >= Some(1.0));
    assert_eq!(scrape.get("gig_in_flight", group, &[]), Some(0.0));
    assert_eq!(scrape.get("gig_paused", group, &[]), Some(0.0));
    for actor in ["acked", "no_acked"] {
        let offers = scrape.get(
            "gig_handover_latency_seconds_count",
            group,
            &[("actor", actor)],
        );
        assert!(offers >= Some(1.0), "{actor} hand-overs timed");
        let failures = scrape.get("gig_handover_failures_total", group, &[("actor", actor)]);
        assert_eq!(failures, Some(0.0));
    }

    // The lag gauges follow librdkafka's statistics (every 500 ms here): they reach 0.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let scrape = Scrape::fetch(addr).await;
        let lag: Vec<Option<f64>> = ["0", "1"]
            .map(|p| {
                let labels = [("topic", options.topic.as_str()), ("partition", p)];
                scrape.get("gig_partition_lag", group, &labels)
            })
            .into();
        if lag.iter().all(|l| *l == Some(0.0)) {
            break;
        }
        assert!(Instant::now() < deadline, "lag still {lag:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    consumer.send(Stop).await.unwrap().unwrap();
}
