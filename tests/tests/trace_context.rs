//! W3C trace context: a record's `traceparent` is on its `Delivery`, on its `Acked` or
//! `NoAcked` entry, and on its dead-letter and retry copies, beside Gig's own headers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::{self, DeadLetterSink};
use gig_actors::prelude::*;
use gig_actors::retry::retry_copy;
use gig_core::retry::RETRY_ATTEMPT;
use gig_core::trace::{TRACEPARENT, TRACESTATE};
use gig_core::RecordData;
use gig_tests::*;

/// The trace parent produced with record `i`: trace id and span id both name `i`.
fn parent_of(i: u8) -> String {
    format!("00-{:032x}-{:016x}-01", u128::from(i) + 1, u64::from(i) + 1)
}

/// Every record an outcome actor was given, then passed on to `next` (if any) and
/// accepted when `next` accepts.
struct Tee {
    seen: Arc<Mutex<Vec<Record>>>,
    next: Option<Recipient<NoAcked>>,
}

impl Actor for Tee {
    type Context = Context<Self>;
}

impl Handler<Acked> for Tee {
    type Result = Result<(), HandOverError>;

    fn handle(&mut self, msg: Acked, _: &mut Context<Self>) -> Self::Result {
        self.seen.lock().unwrap().extend(msg.records);
        Ok(())
    }
}

impl Handler<NoAcked> for Tee {
    type Result = ResponseFuture<Result<(), HandOverError>>;

    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let records = msg.records.iter().map(|r| r.record.clone());
        self.seen.lock().unwrap().extend(records);
        let next = self.next.clone();
        Box::pin(async move {
            match next {
                Some(next) => next
                    .send(msg)
                    .await
                    .map_err(|e| HandOverError(e.to_string()))?,
                None => Ok(()),
            }
        })
    }
}

fn parents(records: &[Record]) -> Vec<(i64, Option<String>)> {
    let mut seen: Vec<_> = records
        .iter()
        .map(|r| (r.offset(), r.trace_parent().map(|tp| tp.to_string())))
        .collect();
    seen.sort();
    seen
}

#[actix::test]
async fn the_trace_parent_reaches_the_downstream_the_outcome_actors_and_the_dead_letter() {
    let broker = broker();
    let topic = topic(&broker, "traced", 1).await;
    let dlq = format!("{topic}.dlq");
    broker.create_topic(&dlq, 1).await.unwrap();
    // Records 0..4 carry a trace parent (and 1 a trace state); record 4 carries none.
    let producer = producer(&broker);
    for i in 0..5u8 {
        let mut record = ProducerRecord::new(&topic, format!("v{i}")).partition(0);
        if i < 4 {
            record = record.header(TRACEPARENT, parent_of(i));
        }
        if i == 1 {
            record = record.header(TRACESTATE, "vendor=opaque");
        }
        producer.send(record).await.unwrap();
    }
    let expected: Vec<(i64, Option<String>)> = (0..5u8)
        .map(|i| (i64::from(i), (i < 4).then(|| parent_of(i))))
        .collect();

    // Odd records are nacked into the dead-letter topic; even ones acked.
    let (downstream, delivered) = Scripted::new(|r| match r.offset() % 2 {
        1 => Action::Nack("odd".into()),
        _ => Action::Ack,
    });
    let acked = Arc::new(Mutex::new(Vec::new()));
    let no_acked = Arc::new(Mutex::new(Vec::new()));
    let dead_letters = DeadLetterSink::new(producer.clone()).start();
    let consumer = ConsumerActor::builder(config(&broker, &topic))
        .downstream(downstream.start().recipient())
        .acked(
            Tee {
                seen: acked.clone(),
                next: None,
            }
            .start()
            .recipient(),
        )
        .no_acked(
            Tee {
                seen: no_acked.clone(),
                next: Some(dead_letters.recipient()),
            }
            .start()
            .recipient(),
        )
        .start()
        .unwrap();
    stats_until(&consumer, Duration::from_secs(30), |s| s.handed_over == 5).await;

    assert_eq!(
        parents(&delivered.lock().unwrap()),
        expected,
        "at the downstream"
    );
    let (even, odd): (Vec<_>, Vec<_>) = expected.iter().cloned().partition(|(o, _)| o % 2 == 0);
    assert_eq!(parents(&acked.lock().unwrap()), even, "on Acked");
    assert_eq!(parents(&no_acked.lock().unwrap()), odd, "on NoAcked");

    // The dead-letter copies carry the trace parent and state as they came, beside the
    // origin Gig adds.
    let letters = Ledger::default();
    let (reader, read) = Scripted::new(|_| Action::Ack);
    let dlq_consumer = letters.consumer(config(&broker, &dlq), reader.start().recipient());
    letters.wait_for(2, Duration::from_secs(30)).await;
    let read = read.lock().unwrap().clone();
    let mut copies: Vec<(String, Option<String>, Option<String>)> = read
        .iter()
        .map(|r| {
            let header = |key| r.header_str(key).map(str::to_string);
            (
                header(dead_letter::ORIGINAL_OFFSET).unwrap_or_default(),
                r.trace_parent().map(|tp| tp.to_string()),
                header(TRACESTATE),
            )
        })
        .collect();
    copies.sort();
    assert_eq!(
        copies,
        [
            ("1".into(), Some(parent_of(1)), Some("vendor=opaque".into())),
            ("3".into(), Some(parent_of(3)), None),
        ]
    );
    dlq_consumer.send(Stop).await.unwrap().unwrap();
    consumer.send(Stop).await.unwrap().unwrap();
}

#[test]
fn a_retry_copy_carries_the_trace_context_beside_the_retry_headers() {
    let record = Record::new(RecordData {
        topic: "orders".into(),
        partition: 0,
        offset: 7,
        key: None,
        payload: Some(b"v7".to_vec()),
        headers: vec![
            Header {
                key: TRACEPARENT.into(),
                value: Some(parent_of(7).into_bytes()),
            },
            Header {
                key: TRACESTATE.into(),
                value: Some(b"vendor=opaque".to_vec()),
            },
        ],
        timestamp_ms: None,
    });
    let failed = NoAckedRecord {
        record,
        reason: NoAckReason::Nacked("later".into()),
    };
    let copy = retry_copy(&failed, 1, 1_000);
    let header = |key: &str| {
        let h = copy.headers.iter().find(|h| h.key == key);
        h.and_then(|h| h.value.clone())
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(copy.topic, "orders.retry.1");
    assert_eq!(header(TRACEPARENT), Some(parent_of(7)));
    assert_eq!(header(TRACESTATE).as_deref(), Some("vendor=opaque"));
    assert_eq!(header(RETRY_ATTEMPT).as_deref(), Some("1"));
    assert_eq!(header(dead_letter::ORIGINAL_OFFSET).as_deref(), Some("7"));
}
