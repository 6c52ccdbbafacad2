//! The dead-letter sink: failed records land in `<topic>.dlq` with where they came from and
//! why, and the source is committed past them only once the dead-letter write is confirmed.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::{self, DeadLetterSink};
use gig_actors::prelude::*;
use gig_tests::*;

/// The payload's sequence number: `v17` → 17.
fn seq(record: &Record) -> usize {
    record.payload_str().unwrap()[1..].parse().unwrap()
}

fn header(record: &Record, key: &str) -> String {
    record.header_str(key).unwrap_or_default().to_string()
}

#[actix::test]
async fn nacked_records_land_in_the_dead_letter_topic_with_their_origin() {
    let broker = broker();
    let topic = topic(&broker, "orders", 2).await;
    let dlq = format!("{topic}.dlq");
    broker.create_topic(&dlq, 1).await.unwrap();
    produce(&broker, &topic, 2, 0, 20).await;

    let ledger = Ledger::default();
    let (acked, _) = ledger.start();
    let sink = DeadLetterSink::new(producer(&broker)).start();
    let (downstream, _) = Scripted::new(|r| {
        if seq(r).is_multiple_of(5) {
            Action::Nack("bad record".into())
        } else {
            Action::Ack
        }
    });
    let consumer = ConsumerActor::builder(config(&broker, &topic))
        .downstream(downstream.start().recipient())
        .acked(acked)
        .no_acked(sink.recipient())
        .start()
        .unwrap();
    // No count to wait for: caught up means every record is in the ledger or the
    // dead-letter topic, and committed.
    let wait = Duration::from_secs(30);
    consumer
        .send(WaitForAssignment::within(wait))
        .await
        .unwrap()
        .unwrap();
    let source = consumer
        .send(CaughtUp::within(wait))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(source.committed(&topic, 0), Some(10));
    assert_eq!(source.committed(&topic, 1), Some(10));
    assert_eq!((source.nacked, ledger.entries().len()), (4, 16));

    // Read the dead-letter topic back.
    let dlq_ledger = Ledger::default();
    let (reader, letters) = Scripted::new(|_| Action::Ack);
    let dlq_consumer = dlq_ledger.consumer(config(&broker, &dlq), reader.start().recipient());
    dlq_ledger.wait_for(4, Duration::from_secs(30)).await;
    let letters = letters.lock().unwrap().clone();
    let by_seq: BTreeMap<usize, &Record> = letters.iter().map(|r| (seq(r), r)).collect();
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), [0, 5, 10, 15]);
    for (&i, letter) in &by_seq {
        report(&format!(
            "dead letter: {letter} from {}/{}@{} reason={:?}",
            header(letter, dead_letter::ORIGINAL_TOPIC),
            header(letter, dead_letter::ORIGINAL_PARTITION),
            header(letter, dead_letter::ORIGINAL_OFFSET),
            header(letter, dead_letter::REASON),
        ));
        assert_eq!(letter.key(), Some(format!("k{i}").as_bytes()));
        assert_eq!(header(letter, dead_letter::ORIGINAL_TOPIC), topic);
        assert_eq!(
            header(letter, dead_letter::ORIGINAL_PARTITION),
            (i % 2).to_string()
        );
        assert_eq!(
            header(letter, dead_letter::ORIGINAL_OFFSET),
            (i / 2).to_string()
        );
        assert_eq!(header(letter, dead_letter::REASON), "nacked: bad record");
        assert!(
            header(letter, dead_letter::FAILED_AT)
                .parse::<u128>()
                .unwrap()
                > 0
        );
    }
    consumer.send(Stop).await.unwrap().unwrap();
    dlq_consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn the_source_is_not_committed_past_a_record_the_dead_letter_topic_did_not_take() {
    let broker = broker();
    let topic = topic(&broker, "dlq-down", 1).await;
    produce(&broker, &topic, 1, 0, 5).await;
    // A dead-letter producer that can reach no broker: every write fails after 300 ms.
    let mut properties = BTreeMap::new();
    properties.insert("message.timeout.ms".to_string(), "300".to_string());
    let unreachable = GigProducer::with_properties("127.0.0.1:1", &properties).unwrap();
    let sink = DeadLetterSink::new(unreachable).start();

    let ledger = Ledger::default();
    let (acked, _) = ledger.start();
    let (downstream, _) = Scripted::new(|r| {
        if r.offset() == 2 {
            Action::Nack("bad record".into())
        } else {
            Action::Ack
        }
    });
    let config = config(&broker, &topic).ack_timeout(Duration::from_secs(1));
    let consumer = ConsumerActor::builder(config)
        .downstream(downstream.start().recipient())
        .acked(acked)
        .no_acked(sink.recipient())
        .start()
        .unwrap();
    ledger.wait_for(4, Duration::from_secs(30)).await;
    let stats = stats_until(&consumer, Duration::from_secs(30), |s| {
        s.handover_failures >= 2 && s.committed(&topic, 0) == Some(2)
    })
    .await;
    assert_eq!(stats.in_flight, 1, "the nacked record waits for the sink");
    let last = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(
        last.committed(&topic, 0),
        Some(2),
        "never committed past the record the dead-letter topic did not take"
    );
}
