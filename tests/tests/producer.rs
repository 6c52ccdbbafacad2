//! The producer reports where each record landed; keys, payloads and headers arrive intact,
//! and a consumer told not to read headers gets the rest.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn produced_records_arrive_with_key_payload_and_headers() {
    let broker = broker();
    let topic = topic(&broker, "produce", 1).await;
    let producer = GigProducer::new(&broker.bootstrap_servers()).unwrap();
    let first = producer
        .send(
            ProducerRecord::new(&topic, "hello")
                .key("k")
                .header("trace", "abc"),
        )
        .await
        .unwrap();
    assert_eq!((first.partition, first.offset), (0, 0));
    let rest = producer
        .send_batch(&[
            ProducerRecord::new(&topic, "a"),
            ProducerRecord::new(&topic, "b"),
        ])
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|d| d.offset).collect::<Vec<_>>(),
        vec![1, 2]
    );
    producer.flush(Duration::from_secs(5)).unwrap();

    let (downstream, delivered) = Scripted::new(|_| Action::Ack);
    let ledger = Ledger::default();
    let consumer = ledger.consumer(config(&broker, &topic), downstream.start().recipient());
    ledger.wait_for(3, Duration::from_secs(30)).await;
    let first = delivered.lock().unwrap()[0].clone();
    assert_eq!(first.key(), Some(&b"k"[..]));
    assert_eq!(first.payload_str(), Some("hello"));
    assert_eq!(
        first.header("trace").and_then(|h| h.value.clone()),
        Some(b"abc".to_vec())
    );
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn a_consumer_that_reads_no_headers_gets_key_and_payload_without_them() {
    let broker = broker();
    let topic = topic(&broker, "no-headers", 1).await;
    let producer = GigProducer::new(&broker.bootstrap_servers()).unwrap();
    let record = ProducerRecord::new(&topic, "hello")
        .key("k")
        .header("trace", "abc");
    producer.send(record).await.unwrap();

    let (downstream, delivered) = Scripted::new(|_| Action::Ack);
    let ledger = Ledger::default();
    let config = config(&broker, &topic).headers(false);
    let consumer = ledger.consumer(config, downstream.start().recipient());
    ledger.wait_for(1, Duration::from_secs(30)).await;
    let first = delivered.lock().unwrap()[0].clone();
    assert_eq!(first.key(), Some(&b"k"[..]));
    assert_eq!(first.payload_str(), Some("hello"));
    assert!(first.headers().is_empty(), "headers were not read");
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn a_producer_without_brokers_is_a_config_error() {
    assert!(matches!(GigProducer::new(" "), Err(GigError::Config(_))));
}

#[actix::test]
async fn the_producer_builder_passes_properties_through_and_names_a_bad_one() {
    let broker = broker();
    let topic = topic(&broker, "produce-builder", 1).await;
    let refused = GigProducer::builder(broker.bootstrap_servers())
        .property("no.such.property", "1")
        .build();
    let error = refused.err().expect("librdkafka refuses it").to_string();
    assert!(error.contains("no.such.property"), "{error}");

    let producer = GigProducer::builder(broker.bootstrap_servers())
        .property("compression.type", "lz4")
        .property("client.id", "built")
        .build()
        .unwrap();
    let at = producer
        .send(ProducerRecord::new(&topic, "compressed"))
        .await
        .unwrap();
    assert_eq!(at.offset, 0);
    let ledger = Ledger::default();
    let (downstream, delivered) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(config(&broker, &topic), downstream.start().recipient());
    consumer
        .send(WaitForAssignment::within(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap();
    consumer
        .send(CaughtUp::within(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap();
    let payload = delivered.lock().unwrap()[0].payload_str().map(String::from);
    assert_eq!(payload.as_deref(), Some("compressed"));
    consumer.send(Stop).await.unwrap().unwrap();
}
