//! Bad configuration is a typed error with a clear message, never a panic.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_core::ConfigError;
use gig_tests::*;

struct Nobody;
impl Actor for Nobody {
    type Context = Context<Self>;
}
impl Handler<Delivery> for Nobody {
    type Result = ();
    fn handle(&mut self, _: Delivery, _: &mut Context<Self>) {}
}

fn build(config: ConsumerConfig) -> Result<ConsumerActor, GigError> {
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    ConsumerActor::builder(config)
        .downstream(Nobody.start().recipient())
        .acked(acked)
        .no_acked(no_acked)
        .build()
}

#[actix::test]
async fn missing_brokers_and_zero_timeouts_are_config_errors() {
    let err = build(ConsumerConfig::new("", "g")).err().unwrap();
    assert!(
        matches!(err, GigError::Config(ConfigError::NoBrokers)),
        "{err}"
    );
    let err = build(ConsumerConfig::new("127.0.0.1:1", "g").ack_timeout(Duration::ZERO))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "`ack_timeout_ms` must be greater than zero"
    );
}

#[actix::test]
async fn a_property_librdkafka_rejects_is_a_kafka_error_naming_it() {
    let err = build(ConsumerConfig::new("127.0.0.1:1", "g").property("no.such.property", "1"))
        .err()
        .unwrap();
    assert!(matches!(err, GigError::Kafka { .. }), "{err}");
    assert!(err.to_string().contains("no.such.property"), "{err}");
    let err = build(ConsumerConfig::new("127.0.0.1:1", "g").property("session.timeout.ms", "soon"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("session.timeout.ms"), "{err}");
}

#[actix::test]
async fn config_files_that_are_missing_or_malformed_are_errors() {
    let err = ConsumerConfig::from_json_file("/no/such/gig.json").unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    let dir = std::env::temp_dir().join(unique("gig-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, "{ \"brokers\": \"b\", ").unwrap();
    let err = ConsumerConfig::from_json_file(&path).unwrap_err();
    assert!(err.to_string().contains("bad.json"), "{err}");
    std::fs::write(
        &path,
        r#"{"brokers":"b","group_id":"g","ack_timeout_ms":0}"#,
    )
    .unwrap();
    let err = ConsumerConfig::from_json_file(&path).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Zero {
            field: "ack_timeout_ms"
        }
    ));
    std::fs::write(
        &path,
        r#"{"brokers":"b","group_id":"g","ack_timeout_ms":250}"#,
    )
    .unwrap();
    assert!(build(ConsumerConfig::from_json_file(&path).unwrap()).is_ok());
}

#[actix::test]
async fn a_builder_without_outcome_actors_says_what_is_missing() {
    let err = ConsumerActor::builder(ConsumerConfig::new("127.0.0.1:1", "g"))
        .downstream(Nobody.start().recipient())
        .build()
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "consumer builder: an acked actor is required"
    );
}

#[actix::test]
async fn subscribing_to_no_topic_is_an_error() {
    let broker = broker();
    let consumer = build(ConsumerConfig::new(broker.bootstrap_servers(), unique("g")))
        .unwrap()
        .start();
    let err = consumer.send(Subscribe(vec![])).await.unwrap().unwrap_err();
    assert!(matches!(err, GigError::Config(ConfigError::EmptyTopic)));
    consumer.send(Stop).await.unwrap().unwrap();
    let err = consumer.send(Subscribe::to(["t"])).await;
    assert!(err.is_err(), "a stopped consumer takes no requests");
}
