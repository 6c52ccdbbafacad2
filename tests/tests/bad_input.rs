//! Awkward records: empty and null payloads, null keys, a 1 MB payload, invalid UTF-8.
//! A bytes downstream gets each unchanged; a typed (JSON) downstream gets only what
//! decodes, and the rest goes to NoAcked as undecodable with serde_json's error. Nothing
//! panics, and the commit passes them all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_tests::*;
use serde::Deserialize;

/// The awkward records, in the order they are produced to one partition.
fn awkward(topic: &str) -> Vec<ProducerRecord> {
    let record = |payload: Option<Vec<u8>>, key: Option<&str>| ProducerRecord {
        topic: topic.to_string(),
        partition: Some(0),
        key: key.map(|k| k.as_bytes().to_vec()),
        payload,
        headers: Vec::new(),
    };
    vec![
        record(Some(br#"{"id":1,"name":"first"}"#.to_vec()), Some("k")),
        record(Some(Vec::new()), Some("empty")),
        record(None, Some("null payload")),
        record(Some(b"plain text".to_vec()), None),
        record(Some(vec![0xff, 0xfe, 0x00, 0x80]), Some("not utf-8")),
        record(Some(vec![b'x'; 1 << 20]), Some("1 MB")),
        record(Some(br#"{"id":"two","name":"wrong type"}"#.to_vec()), None),
        record(Some(br#"{"id":3,"name":"last"}"#.to_vec()), None),
    ]
}

/// Produces the awkward records one by one (a 1 MB record needs a larger
/// `message.max.bytes` than librdkafka's default).
async fn produce_awkward(broker: &Broker, topic: &str) -> Vec<ProducerRecord> {
    let producer = producer_with(broker, &[("message.max.bytes", "2000000")]);
    let records = awkward(topic);
    for (i, record) in records.iter().enumerate() {
        let at = producer.send(record.clone()).await.expect("produce");
        assert_eq!(at.offset, i as i64);
    }
    records
}

/// A topic that takes the 1 MB record: Kafka's default `max.message.bytes` (1 MiB + 12 B)
/// is smaller than a batch holding it.
async fn roomy_topic(broker: &Broker, prefix: &str) -> String {
    topic_with(broker, prefix, 1, &[("max.message.bytes", "2000000")]).await
}

/// A large fetch size, so that the 1 MB record is fetched in one go on any broker.
fn roomy(config: ConsumerConfig) -> ConsumerConfig {
    config.property("max.partition.fetch.bytes", "2000000")
}

#[actix::test]
async fn a_bytes_downstream_gets_every_awkward_record_unchanged() {
    let broker = broker();
    let topic = roomy_topic(&broker, "awkward").await;
    let produced = produce_awkward(&broker, &topic).await;
    let ledger = Ledger::default();
    let (downstream, delivered) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(
        roomy(config(&broker, &topic)),
        downstream.start().recipient(),
    );
    ledger
        .wait_for(produced.len(), Duration::from_secs(30))
        .await;
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), produced.len());
    for (record, sent) in delivered.iter().zip(&produced) {
        assert_eq!(record.payload(), sent.payload.as_deref(), "{record}");
        assert_eq!(record.key(), sent.key.as_deref(), "{record}");
    }
    assert_eq!(ledger.acked().len(), produced.len());
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.committed(&topic, 0), Some(produced.len() as i64));
}

#[derive(Debug, Deserialize, PartialEq)]
struct Order {
    id: u64,
    name: String,
}

/// Acks every order and keeps it.
struct Orders(Arc<Mutex<Vec<Order>>>);

impl Actor for Orders {
    type Context = Context<Self>;
}

impl Handler<Typed<Order>> for Orders {
    type Result = ();
    fn handle(&mut self, msg: Typed<Order>, _: &mut Context<Self>) {
        let (order, _, handle) = msg.into_parts();
        self.0.lock().unwrap().push(order);
        handle.ack();
    }
}

#[actix::test]
async fn a_typed_downstream_gets_what_decodes_and_the_rest_is_undecodable() {
    let broker = broker();
    let topic = roomy_topic(&broker, "typed").await;
    let produced = produce_awkward(&broker, &topic).await;
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let orders = Arc::new(Mutex::new(Vec::new()));
    let consumer = ConsumerActor::builder(roomy(config(&broker, &topic)))
        .json_downstream(Orders(orders.clone()).start().recipient())
        .acked(acked)
        .no_acked(no_acked)
        .start()
        .unwrap();
    ledger
        .wait_for(produced.len(), Duration::from_secs(30))
        .await;

    let names: Vec<String> = orders
        .lock()
        .unwrap()
        .iter()
        .map(|o| o.name.clone())
        .collect();
    assert_eq!(names, ["first", "last"], "only decodable records reach it");
    let reasons: BTreeMap<i64, String> = ledger
        .no_acked()
        .into_iter()
        .map(|e| (e.offset, e.reason.unwrap_or_default()))
        .collect();
    report(&format!("undecodable: {reasons:?}"));
    assert_eq!(
        reasons.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert!(reasons.values().all(|r| r.starts_with("undecodable: ")));
    assert!(
        reasons[&6].contains("invalid type"),
        "serde's error: {}",
        reasons[&6]
    );
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.undecodable, 6);
    assert_eq!(stats.acked, 2);
    assert_eq!(stats.committed(&topic, 0), Some(produced.len() as i64));
}
