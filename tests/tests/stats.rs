//! Stats: the snapshot `GetStats` returns, the JSON line logged every `stats_interval`, and
//! librdkafka's own statistics passed through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

/// Keeps the lines logged to the `gig::stats` target.
struct StatsLines(Arc<Mutex<Vec<String>>>);

impl log::Log for StatsLines {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target() == "gig::stats"
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

#[actix::test]
async fn stats_are_logged_as_json_lines_and_carry_librdkafka_statistics() {
    // This test binary's logger: it keeps the stats lines (the harness's env_logger then
    // finds a logger set and stays out of the way).
    let lines = Arc::new(Mutex::new(Vec::new()));
    log::set_boxed_logger(Box::new(StatsLines(lines.clone()))).unwrap();
    log::set_max_level(log::LevelFilter::Info);

    let broker = broker();
    let topic = topic(&broker, "stats", 2).await;
    produce(&broker, &topic, 2, 0, 30).await;
    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|r| {
        if r.offset() == 0 {
            Action::Nack("first".into())
        } else {
            Action::Ack
        }
    });
    let config = config(&broker, &topic)
        .stats_interval(Duration::from_millis(200))
        .property("statistics.interval.ms", "200");
    let consumer = ledger.consumer(config, downstream.start().recipient());
    ledger.wait_for(30, Duration::from_secs(30)).await;
    // Statistics emitted after the commits carry the high watermarks, so the lag is 0.
    let stats = stats_until(&consumer, Duration::from_secs(30), |s| {
        s.partitions.len() == 2 && s.partitions.iter().all(|p| p.lag == Some(0))
    })
    .await;
    assert_eq!((stats.acked, stats.nacked, stats.received), (28, 2, 30));
    for p in &stats.partitions {
        assert_eq!(
            (p.committed, p.high_watermark),
            (Some(15), Some(15)),
            "{p:?}"
        );
    }
    let librdkafka = stats.librdkafka.clone().unwrap();
    assert_eq!(librdkafka["type"], "consumer");

    // Records produced now are lag until they are read and committed.
    produce(&broker, &topic, 2, 30, 10).await;
    ledger.wait_for(40, Duration::from_secs(30)).await;
    stats_until(&consumer, Duration::from_secs(30), |s| {
        s.partitions
            .iter()
            .all(|p| p.lag == Some(0) && p.committed == Some(20))
    })
    .await;

    // A logged line is the stats as JSON (without librdkafka's part).
    let line = stats_line(&lines, |v| v["acked"] == 38).await;
    report(&format!("stats line: {line}"));
    assert_eq!(line["nacked"], 2);
    assert_eq!(line["handed_over"], 40);
    assert!(line.get("librdkafka").is_none());
    assert!(line["partitions"].as_array().is_some_and(|p| p.len() == 2));
    consumer.send(Stop).await.unwrap().unwrap();
}

/// Waits for a logged stats line for which `ok` holds.
async fn stats_line(
    lines: &Arc<Mutex<Vec<String>>>,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let last = lines.lock().unwrap().last().cloned();
            if let Some(line) = last {
                let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
                if ok(&value) {
                    return value;
                }
            }
            // The next line is logged within one stats interval.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    found.expect("a stats line within 10 s")
}
