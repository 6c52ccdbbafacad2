//! Built without the `zstd` feature, a consumer of a zstd topic cannot decompress it. That
//! must be loud: `Stats` names the partition and librdkafka's text, `Health` is not live,
//! `CaughtUp` fails with `GigError::Unreadable`, nothing is handed over or committed.
//!
//! Runs on Apache Kafka (`GIGCI_TEST_BROKERS`), whose own producer writes the zstd records:
//! `cargo test -p gig-actors --no-default-features --test codec_missing` (CI does).

#![cfg(not(feature = "zstd"))]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;

struct AckAll;

impl Actor for AckAll {
    type Context = Context<Self>;
}

impl Handler<Delivery> for AckAll {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        delivery.ack();
    }
}

/// Accepts every outcome; the test asserts none comes.
struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Acked> for Sink {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, _: Acked, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

impl Handler<NoAcked> for Sink {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, _: NoAcked, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[actix::test]
async fn a_zstd_partition_on_a_build_without_zstd_is_named_and_not_live() {
    let Some(brokers) = std::env::var("GIGCI_TEST_BROKERS")
        .ok()
        .filter(|b| !b.trim().is_empty())
    else {
        eprintln!("SKIPPED: needs Apache Kafka (GIGCI_TEST_BROKERS) and its producer tool");
        return;
    };
    let _ = env_logger::builder().is_test(true).try_init();
    let topic = unique("zstd-unreadable");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/kafka.sh");
    let produced = Command::new("bash")
        .arg(script)
        .args(["producer-perf", &topic, "1000", "100", "zstd"])
        .output()
        .expect("run .ci/kafka.sh");
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );

    let config = ConsumerConfig::new(brokers, unique("zstd-group")).topics([topic.as_str()]);
    let sink = Sink.start();
    let consumer = ConsumerActor::builder(config)
        .downstream(AckAll.start().recipient())
        .acked(sink.clone().recipient())
        .no_acked(sink.recipient())
        .start()
        .expect("start the consumer");
    consumer
        .send(WaitForAssignment::within(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("assigned");
    let caught_up = consumer
        .send(CaughtUp::within(Duration::from_secs(60)))
        .await
        .unwrap();
    let Err(error @ GigError::Unreadable(_)) = caught_up else {
        panic!("CaughtUp should fail with the codec fault, got {caught_up:?}");
    };
    eprintln!("CaughtUp: {error}");
    let health = consumer.send(Health).await.unwrap();
    eprintln!("Health: {}", serde_json::to_string(&health).unwrap());
    assert!(!health.live);
    let stats = consumer.send(GetStats).await.unwrap();
    let fault = stats.faults.first().expect("a fault");
    assert_eq!(fault.kind, FaultKind::Codec);
    assert_eq!(
        (fault.topic.as_deref(), fault.partition),
        (Some(topic.as_str()), Some(0))
    );
    assert!(fault.message.contains("codec"), "{}", fault.message);
    assert!(stats.client_errors_by_kind["codec"] >= 1);
    assert_eq!(stats.handed_over, 0);
    let stopped = consumer.send(Stop).await.unwrap().expect("Stop answers");
    assert_eq!(stopped.committed(&topic, 0), None);
}
