//! The retry sink: a failed record goes to `<topic>.retry.N` with a due time, a consumer
//! with `wait_for_due` delivers it no earlier (pausing that partition, while others flow),
//! and after the last attempt it goes to `<topic>.dlq` with where it first came from.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::{ORIGINAL_OFFSET, ORIGINAL_TOPIC, REASON};
use gig_actors::prelude::*;
use gig_actors::retry::RetrySink;
use gig_core::retry::{attempt_of, RETRY_ATTEMPT, RETRY_DUE};
use gig_tests::*;

const DELAY: Duration = Duration::from_millis(1_500);

fn now_ms() -> u128 {
    u128::from(gig_examples::ledger_file::wall_us() / 1000)
}

/// A delivery: the record and when it arrived (ms since the epoch).
type Seen = Arc<Mutex<Vec<(Record, u128)>>>;

/// Acks "ok…" records; nacks "flaky" on its first attempt only; always nacks "poison".
struct Worker(Seen);

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        let record = delivery.record.clone();
        self.0.lock().unwrap().push((record.clone(), now_ms()));
        match (record.payload_str().unwrap(), attempt_of(&record)) {
            ("flaky", 0) => delivery.nack("flaky: first attempt fails"),
            ("poison", _) => delivery.nack("poison"),
            _ => delivery.ack(),
        }
    }
}

fn deliveries_of(seen: &Seen, payload: &str) -> Vec<(Record, u128)> {
    let seen = seen.lock().unwrap();
    let of = seen
        .iter()
        .filter(|(r, _)| r.payload_str() == Some(payload));
    of.cloned().collect()
}

#[actix::test]
async fn a_failed_record_is_retried_when_due_then_dead_lettered() {
    let broker = broker();
    let topic = topic(&broker, "orders", 1).await;
    let (retry1, retry2, dlq) = (
        format!("{topic}.retry.1"),
        format!("{topic}.retry.2"),
        format!("{topic}.dlq"),
    );
    for t in [&retry1, &retry2, &dlq] {
        broker.create_topic(t, 1).await.unwrap();
    }
    let send = |payloads: &'static [&'static str]| {
        let records: Vec<ProducerRecord> = payloads
            .iter()
            .map(|p| ProducerRecord::new(&topic, *p).key("k").partition(0))
            .collect();
        let producer = producer(&broker);
        async move { producer.send_batch(&records).await.unwrap() }
    };
    send(&["ok-0", "flaky", "poison", "ok-3"]).await;

    let seen = Seen::default();
    let ledger = Ledger::default();
    let (acked, _) = ledger.start();
    let retries = RetrySink::new(producer(&broker), [DELAY, DELAY]).start();
    let source = config(&broker, &topic)
        .topics([&topic, &retry1, &retry2])
        .wait_for_due(true);
    let consumer = ConsumerActor::builder(source)
        .downstream(Worker(seen.clone()).start().recipient())
        .acked(acked)
        .no_acked(retries.recipient())
        .start()
        .unwrap();

    // While "flaky" waits in retry.1, a record produced to the source flows.
    ledger.wait_for(2, Duration::from_secs(30)).await;
    send(&["ok-late"]).await;
    ledger.wait_for(4, Duration::from_secs(30)).await;
    let acked: Vec<String> = ledger.entries().iter().map(|e| e.payload.clone()).collect();
    assert_eq!(acked.last().map(String::as_str), Some("flaky"), "{acked:?}");

    let flaky = deliveries_of(&seen, "flaky");
    assert_eq!(flaky.len(), 2, "failed once, then succeeded");
    let (first, failed_at) = &flaky[0];
    let (retried, delivered_at) = &flaky[1];
    assert_eq!((first.topic(), attempt_of(first)), (topic.as_str(), 0));
    assert_eq!((retried.topic(), attempt_of(retried)), (retry1.as_str(), 1));
    let due: u128 = retried.header_str(RETRY_DUE).unwrap().parse().unwrap();
    assert!(*delivered_at >= due, "delivered {delivered_at}, due {due}");
    let waited = Duration::from_millis((delivered_at - failed_at) as u64);
    assert!(waited >= DELAY, "retried after {waited:?}");
    assert_eq!(retried.header_str(ORIGINAL_TOPIC), Some(topic.as_str()));
    assert_eq!(retried.header_str(ORIGINAL_OFFSET), Some("1"));
    assert_eq!(retried.key(), Some(&b"k"[..]));
    let late = deliveries_of(&seen, "ok-late");
    assert!(
        late[0].1 < *delivered_at,
        "the source partition flowed while retry.1 waited"
    );

    // "poison" is tried three times and then dead-lettered.
    let dlq_ledger = Ledger::default();
    let (dlq_acked, dlq_no_acked) = dlq_ledger.start();
    let (reader, letters) = Scripted::new(|_| Action::Ack);
    let dlq_consumer = ConsumerActor::builder(config(&broker, &dlq))
        .downstream(reader.start().recipient())
        .acked(dlq_acked)
        .no_acked(dlq_no_acked)
        .start()
        .unwrap();
    dlq_ledger.wait_for(1, Duration::from_secs(30)).await;
    let poison = deliveries_of(&seen, "poison");
    let attempts: Vec<(String, u32)> = poison
        .iter()
        .map(|(r, _)| (r.topic().to_string(), attempt_of(r)))
        .collect();
    assert_eq!(
        attempts,
        [(topic.clone(), 0), (retry1.clone(), 1), (retry2.clone(), 2)]
    );
    let letter = letters.lock().unwrap()[0].clone();
    assert_eq!(letter.payload_str(), Some("poison"));
    assert_eq!(letter.header_str(ORIGINAL_TOPIC), Some(topic.as_str()));
    assert_eq!(letter.header_str(ORIGINAL_OFFSET), Some("2"));
    assert_eq!(letter.header_str(RETRY_ATTEMPT), Some("2"));
    assert_eq!(letter.header_str(REASON), Some("nacked: poison"));
    report(&format!(
        "retry: flaky retried after {waited:?} (delay {DELAY:?}); poison tried in {attempts:?}, then dead-lettered"
    ));

    let stats = stats_until(&consumer, Duration::from_secs(30), |s| {
        s.committed(&topic, 0) == Some(5)
            && s.committed(&retry1, 0) == Some(2)
            && s.committed(&retry2, 0) == Some(1)
    })
    .await;
    assert_eq!((stats.acked, stats.nacked), (4, 4));
    consumer.send(Stop).await.unwrap().unwrap();
    dlq_consumer.send(Stop).await.unwrap().unwrap();
}
