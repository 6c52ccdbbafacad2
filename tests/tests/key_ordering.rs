//! Key ordering: with `key_ordering`, records with the same key are at the downstream one
//! at a time, in offset order, while different keys are processed concurrently; a queued
//! record's ack timer starts when it is delivered, and a silent record holds its key only
//! until its deadline.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

const KEYS: usize = 3;
const PER_KEY: usize = 20;
/// How long the downstream works on each record.
const WORK: Duration = Duration::from_millis(100);
/// Shorter than a key's queue takes to drain (20 × 100 ms): the queued records' clocks
/// must start at delivery, not at fetch, or they would time out.
const ACK_TIMEOUT: Duration = Duration::from_millis(800);
/// The payload of the record the downstream never answers.
const SILENT: &str = "v16";

#[derive(Default)]
struct Observed {
    /// Per key, the offsets in delivery order and when each was delivered.
    deliveries: BTreeMap<String, Vec<(i64, Instant)>>,
    /// Keys with a record at the downstream now.
    busy: HashMap<String, i64>,
    /// A second record of a key delivered while one was busy: (key, busy offset, offset).
    overlaps: Vec<(String, i64, i64)>,
    most_busy: usize,
    /// The least time left to a delivery's deadline when it arrived.
    least_time_left: Option<Duration>,
}

/// Works [`WORK`] on each record, then acks it; never answers [`SILENT`] (keeps it).
struct Worker(Arc<Mutex<Observed>>, Vec<Delivery>);

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        let key = String::from_utf8(delivery.record.key().unwrap().to_vec()).unwrap();
        let offset = delivery.record.offset();
        {
            let mut seen = self.0.lock().unwrap();
            let at = Instant::now();
            let left = delivery.deadline().saturating_duration_since(at);
            seen.least_time_left = Some(seen.least_time_left.map_or(left, |l| l.min(left)));
            seen.deliveries
                .entry(key.clone())
                .or_default()
                .push((offset, at));
            if let Some(&other) = seen.busy.get(&key) {
                seen.overlaps.push((key.clone(), other, offset));
            }
            if delivery.record.payload_str() == Some(SILENT) {
                // Never answered: the key is free again at its deadline.
                drop(seen);
                self.1.push(delivery);
                return;
            }
            seen.busy.insert(key.clone(), offset);
            seen.most_busy = seen.most_busy.max(seen.busy.len());
        }
        let (_, handle) = delivery.into_parts();
        let seen = self.0.clone();
        ctx.run_later(WORK, move |_, _| {
            seen.lock().unwrap().busy.remove(&key);
            handle.ack();
        });
    }
}

#[actix::test]
async fn one_record_per_key_at_a_time_in_offset_order_and_keys_concurrently() {
    let broker = broker();
    let topic = topic(&broker, "keyed", 1).await;
    let records: Vec<ProducerRecord> = (0..KEYS * PER_KEY)
        .map(|i| {
            ProducerRecord::new(&topic, format!("v{i}"))
                .key(format!("k{}", i % KEYS))
                .partition(0)
        })
        .collect();
    let produced = producer(&broker).send_batch(&records).await.unwrap();

    let observed = Arc::new(Mutex::new(Observed::default()));
    let ledger = Ledger::default();
    let config = config(&broker, &topic)
        .key_ordering(true)
        .ack_timeout(ACK_TIMEOUT);
    let consumer = ledger.consumer(
        config,
        Worker(observed.clone(), Vec::new()).start().recipient(),
    );
    ledger
        .wait_for(KEYS * PER_KEY, Duration::from_secs(60))
        .await;
    let stats = consumer.send(Stop).await.unwrap().unwrap();

    let seen = observed.lock().unwrap();
    assert!(
        seen.overlaps.is_empty(),
        "same key twice: {:?}",
        seen.overlaps
    );
    for (key, deliveries) in &seen.deliveries {
        let offsets: Vec<i64> = deliveries.iter().map(|(o, _)| *o).collect();
        let mut sorted = offsets.clone();
        sorted.sort();
        assert_eq!(offsets, sorted, "{key} in offset order");
        assert_eq!(offsets.len(), PER_KEY, "{key} delivered once each");
    }
    assert_eq!(seen.most_busy, KEYS, "every key in progress at once");
    let least = seen.least_time_left.unwrap();
    assert!(
        least > ACK_TIMEOUT - Duration::from_millis(200),
        "each delivery's deadline is a full timeout after it is delivered: {least:?} left"
    );
    // The silent record holds its key until its deadline, then the next one goes.
    let k1 = &seen.deliveries["k1"];
    let silent = k1.iter().position(|(o, _)| *o == 16).unwrap();
    let held = k1[silent + 1].1 - k1[silent].1;
    assert!(held >= ACK_TIMEOUT - Duration::from_millis(20), "{held:?}");
    let drained = k1.last().unwrap().1 - k1[0].1;
    report(&format!(
        "key ordering: {} records, {} keys, k1 drained in {drained:?} with ack timeout {ACK_TIMEOUT:?}; silent record held its key {held:?}",
        KEYS * PER_KEY,
        KEYS
    ));

    assert_eq!(
        (stats.acked, stats.timed_out, stats.queued_by_key),
        ((KEYS * PER_KEY - 1) as u64, 1, 0),
        "only the silent record timed out, though each key's queue took {drained:?}"
    );
    let silent_entry = ledger
        .entries()
        .into_iter()
        .find(|e| e.offset == 16)
        .unwrap();
    assert_eq!(
        silent_entry.reason.as_deref(),
        Some("timed out after 800 ms")
    );
    assert!(lost(&ledger, &topic, &produced).is_empty());
    assert_eq!(stats.committed(&topic, 0), Some((KEYS * PER_KEY) as i64));
}
