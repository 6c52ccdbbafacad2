//! Every compression codec, end to end: records written with gzip, snappy, lz4 and zstd
//! are all read, by Kafka's own producer tool (on Apache Kafka) and by Gig's producers;
//! Gig's dead-letter writes and transactional outputs take a codec too.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::DeadLetterSink;
use gig_actors::prelude::*;
use gig_tests::*;

const CODECS: [&str; 4] = ["gzip", "snappy", "lz4", "zstd"];

/// Reads `topics` to their ends with a plain consumer (ack everything); returns its stats.
async fn read_all(broker: &gig_actors::testkit::Broker, topics: &[String], group: &str) -> Stats {
    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let mut config = group_config(broker, &topics[0], group);
    config = config.topics(topics.iter().cloned());
    let consumer = ledger.consumer(config, downstream.start().recipient());
    consumer
        .send(WaitForAssignment::within(FIRST_JOIN))
        .await
        .unwrap()
        .unwrap();
    let stats = consumer
        .send(CaughtUp::within(Duration::from_secs(120)))
        .await
        .unwrap()
        .expect("every codec is read to the end");
    assert!(stats.faults.is_empty(), "{:?}", stats.faults);
    consumer.send(Stop).await.unwrap().unwrap();
    stats
}

#[actix::test]
async fn gigs_producer_writes_every_codec_and_gig_reads_them_back() {
    let broker = broker();
    let mut topics = Vec::new();
    for codec in CODECS {
        let topic = topic(&broker, &format!("codec-{codec}"), 2).await;
        let producer = producer_with(&broker, &[("compression.type", codec)]);
        producer
            .send_batch(&records(&topic, 2, 0, 500))
            .await
            .unwrap_or_else(|e| panic!("produce with {codec}: {e}"));
        topics.push(topic);
    }
    let stats = read_all(&broker, &topics, &unique("codecs")).await;
    assert_eq!((stats.received, stats.handed_over), (2000, 2000));
    for topic in &topics {
        for p in 0..2 {
            assert_eq!(stats.committed(topic, p), Some(250), "{topic}/{p}");
        }
    }
}

/// A source topic of 100 records and its dead-letter topic.
async fn zstd_source(broker: &gig_actors::testkit::Broker, prefix: &str) -> (String, String) {
    let topic = topic(broker, prefix, 1).await;
    let dlq = format!("{topic}.dlq");
    broker.create_topic(&dlq, 1).await.unwrap();
    produce(broker, &topic, 1, 0, 100).await;
    (topic, dlq)
}

/// Reads the dead-letter topic back (committed records only): every letter, no fault.
async fn read_letters(broker: &gig_actors::testkit::Broker, dlq: &str, expected: usize) {
    let letters = Ledger::default();
    let (reader, _) = Scripted::new(|_| Action::Ack);
    let reader_config = config(broker, dlq).property("isolation.level", "read_committed");
    let dlq_consumer = letters.consumer(reader_config, reader.start().recipient());
    letters.wait_for(expected, Duration::from_secs(60)).await;
    let stats = dlq_consumer.send(GetStats).await.unwrap();
    assert!(stats.faults.is_empty(), "{:?}", stats.faults);
    dlq_consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn dead_letters_are_written_with_zstd() {
    let broker = broker();
    let (topic, dlq) = zstd_source(&broker, "zstd-source").await;
    // The sink's own producer compresses with zstd.
    let sink = DeadLetterSink::new(producer_with(&broker, &[("compression.type", "zstd")]));
    let ledger = Ledger::default();
    let (acked, _) = ledger.start();
    let (downstream, _) = Scripted::new(|r| match r.offset() % 4 {
        0 => Action::Nack("zstd letter".into()),
        _ => Action::Ack,
    });
    let consumer = ConsumerActor::builder(config(&broker, &topic))
        .downstream(downstream.start().recipient())
        .acked(acked)
        .no_acked(sink.start().recipient())
        .start()
        .unwrap();
    consumer
        .send(WaitForAssignment::within(FIRST_JOIN))
        .await
        .unwrap()
        .unwrap();
    let source = consumer
        .send(CaughtUp::within(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (source.nacked, source.committed(&topic, 0)),
        (25, Some(100))
    );
    consumer.send(Stop).await.unwrap().unwrap();
    read_letters(&broker, &dlq, 25).await;
}

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka and the embedded broker, not on tansu"
)]
async fn transactional_outputs_are_written_with_zstd() {
    let broker = broker();
    let (topic, dlq) = zstd_source(&broker, "zstd-tx-source").await;
    // The outputs Gig produces in the transaction are zstd batches.
    let settings = Transactional::new(unique("zstd-tx")).property("compression.type", "zstd");
    let ledger = Ledger::default();
    let (acked, _) = ledger.start();
    let (downstream, _) = Scripted::new(|r| match r.offset() % 4 {
        0 => Action::Nack("zstd output".into()),
        _ => Action::Ack,
    });
    let consumer = ConsumerActor::builder(config(&broker, &topic).transactional(settings))
        .downstream(downstream.start().recipient())
        .acked(acked)
        .no_acked_tx(DeadLetterSink::transactional().start().recipient())
        .start()
        .unwrap();
    consumer
        .send(WaitForAssignment::within(FIRST_JOIN))
        .await
        .unwrap()
        .unwrap();
    // Its group is new: it reads all 100 and commits them with 25 outputs, in
    // transactions. The committed offset counts the transactions' markers, so wait on the
    // handed-over count rather than the partition's end.
    let stats = stats_until(&consumer, Duration::from_secs(60), |s| {
        s.handed_over == 100 && s.outputs_committed == 25
    })
    .await;
    assert!(stats.faults.is_empty(), "{:?}", stats.faults);
    consumer.send(Stop).await.unwrap().unwrap();
    read_letters(&broker, &dlq, 25).await;
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "kafka"),
    ignore = "Apache Kafka only: Kafka's own producer tool writes the records"
)]
async fn kafkas_own_producer_writes_every_codec_and_gig_reads_all_of_it() {
    require_kafka_tools("Kafka's ProducerPerformance writes the records");
    let broker = broker();
    let mut topics = Vec::new();
    const COUNT: usize = 20_000;
    for codec in CODECS {
        let topic = topic(&broker, &format!("kafka-{codec}"), 1).await;
        kafka_tool(&["producer-perf", &topic, &COUNT.to_string(), "100", codec]);
        topics.push(topic);
    }
    let group = unique("codecs-kafka");
    let stats = read_all(&broker, &topics, &group).await;
    report(&format!(
        "Kafka's producer, {} codecs x {COUNT}: received {} handed over {} committed {}",
        CODECS.len(),
        stats.received,
        stats.handed_over,
        stats.committed_summary()
    ));
    assert_eq!(stats.handed_over as usize, COUNT * CODECS.len());
    for topic in &topics {
        assert_eq!(stats.committed(topic, 0), Some(COUNT as i64), "{topic}");
    }
    let lag = kafka_tool(&["check-lag", &format!("^{group}$")]);
    report(&lag);
}
