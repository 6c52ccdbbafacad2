//! A silent downstream never blocks: unanswered records reach the NoAckedActor at their
//! deadline, while later records keep flowing; a late answer changes nothing.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn silence_times_out_within_the_deadline_while_later_records_flow() {
    let broker = broker();
    let topic = topic(&broker, "silence", 1).await;
    produce(&broker, &topic, 1, 0, 20).await;

    let timeout = Duration::from_millis(800);
    let ledger = Ledger::default();
    // Offset 0 is never answered; the rest are acked at once.
    let (downstream, delivered) = Scripted::new(|r| {
        if r.offset() == 0 {
            Action::Hold
        } else {
            Action::Ack
        }
    });
    let consumer = ledger.consumer(
        config(&broker, &topic).ack_timeout(timeout),
        downstream.start().recipient(),
    );

    ledger.wait_for(20, Duration::from_secs(30)).await;
    let entries = ledger.entries();
    let silent = entries.iter().find(|e| e.offset == 0).unwrap();
    assert_eq!(silent.reason.as_deref(), Some("timed out after 800 ms"));
    let acked = ledger.acked();
    assert_eq!(acked.len(), 19);
    assert!(
        acked.iter().all(|e| e.at < silent.at),
        "later records were handed over while offset 0 waited for its deadline"
    );
    let first = acked.iter().map(|e| e.at).min().unwrap();
    let late = silent.at.duration_since(first);
    // Never before its deadline. How late after it depends on this machine's load; the
    // deadline itself is checked to the millisecond on a virtual clock (virtual_clock.rs).
    assert!(
        late >= timeout - Duration::from_millis(50),
        "timed out early: {late:?}"
    );
    assert_eq!(
        delivered.lock().unwrap().len(),
        20,
        "offset 0 was not redelivered"
    );

    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.timed_out, 1);
    assert_eq!(
        stats.committed(&topic, 0),
        Some(20),
        "the timed-out record is committed too"
    );
}

#[actix::test]
async fn an_answer_after_the_deadline_is_counted_and_ignored() {
    let broker = broker();
    let topic = topic(&broker, "late", 1).await;
    produce(&broker, &topic, 1, 0, 3).await;

    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|_| Action::Hold);
    let downstream = downstream.start();
    let config = config(&broker, &topic).ack_timeout(Duration::from_millis(300));
    let consumer = ledger.consumer(config, downstream.clone().recipient());

    ledger.wait_for(3, Duration::from_secs(30)).await;
    assert_eq!(ledger.no_acked().len(), 3);
    assert_eq!(downstream.send(Release(Verdict::Ack)).await.unwrap(), 3);
    let stats = stats_until(&consumer, Duration::from_secs(10), |s| s.late_answers == 3).await;
    assert_eq!(stats.acked, 0);
    assert_eq!(
        ledger.entries().len(),
        3,
        "a late ack hands nothing over again"
    );
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn the_in_flight_limit_pauses_fetching_and_resumes_as_records_resolve() {
    let broker = broker();
    let topic = topic(&broker, "limit", 1).await;
    produce(&broker, &topic, 1, 0, 5000).await;

    let ledger = Ledger::default();
    let (downstream, delivered) = Scripted::new(|_| Action::Hold);
    let downstream = downstream.start();
    let config = config(&broker, &topic)
        .max_in_flight(100)
        .ack_timeout(Duration::from_secs(60));
    let consumer = ledger.consumer(config, downstream.clone().recipient());

    let paused = stats_until(&consumer, Duration::from_secs(30), |s| s.paused).await;
    assert!(paused.in_flight >= 100);
    // Held until the crash-loop guard's first marker is committed, then delivered.
    delivered_until(&delivered, 100, Duration::from_secs(30)).await;
    // Whatever was already fetched arrives; then nothing more while paused.
    let held = downstream.send(Release(Verdict::Ack)).await.unwrap();
    assert!(
        (100..5000).contains(&held),
        "fetching paused with {held} in flight"
    );
    // Each release resolves the held records, fetching resumes, more arrive.
    let mut released = held;
    while released < 5000 {
        let n = downstream.send(Release(Verdict::Ack)).await.unwrap();
        released += n;
        if n == 0 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    ledger.wait_for(5000, Duration::from_secs(60)).await;
    assert_eq!(delivered.lock().unwrap().len(), 5000);
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.committed(&topic, 0), Some(5000));
}

#[actix::test]
async fn a_record_header_sets_its_own_timeout_up_to_the_maximum() {
    let broker = broker();
    let topic = topic(&broker, "own-timeout", 1).await;
    // Offset by offset: 300 ms, the default, a request cut to the maximum, a value that is
    // not a number (the default), and 300 ms for a record that is acked at once.
    let asks = [Some("300"), None, Some("600000"), Some("soon"), Some("300")];
    let records: Vec<ProducerRecord> = asks
        .iter()
        .enumerate()
        .map(|(i, ask)| {
            let record = ProducerRecord::new(&topic, format!("v{i}")).partition(0);
            match ask {
                Some(ms) => record.header("gig.ack-timeout-ms", *ms),
                None => record,
            }
        })
        .collect();
    producer(&broker).send_batch(&records).await.unwrap();

    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|r| {
        if r.offset() == 4 {
            Action::Ack
        } else {
            Action::Hold
        }
    });
    let config = config(&broker, &topic)
        .ack_timeout(Duration::from_millis(1_500))
        .ack_timeout_header("gig.ack-timeout-ms", Duration::from_secs(3));
    let consumer = ledger.consumer(config, downstream.start().recipient());

    ledger.wait_for(5, Duration::from_secs(30)).await;
    let entries = ledger.entries();
    let at = |offset: i64| entries.iter().find(|e| e.offset == offset).unwrap();
    let reasons: Vec<Option<&str>> = (0..5).map(|o| at(o).reason.as_deref()).collect();
    assert_eq!(
        reasons,
        [
            Some("timed out after 300 ms"),
            Some("timed out after 1500 ms"),
            Some("timed out after 3000 ms"),
            Some("timed out after 1500 ms"),
            None,
        ]
    );
    // Each timed out at its own deadline, not in offset order.
    let order: Vec<i64> = entries.iter().map(|e| e.offset).collect();
    assert_eq!(order.first(), Some(&4), "acked at once: {order:?}");
    assert_eq!(order.get(1), Some(&0), "the short timeout first: {order:?}");
    assert_eq!(order.last(), Some(&2), "the longest last: {order:?}");
    let gap = at(2).at.duration_since(at(1).at);
    assert!(
        gap >= Duration::from_millis(1_300),
        "3 s after the 1.5 s ones: {gap:?}"
    );

    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!((stats.timed_out, stats.acked), (4, 1));
    assert_eq!(stats.committed(&topic, 0), Some(5));
}
