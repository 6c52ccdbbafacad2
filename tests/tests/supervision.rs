//! User actors given as factories, on a broker: Gig starts them, starts them again when a
//! handler panics, and a panic costs the one record it happened on.
//!
//! - A downstream that panics on one record of 10,000: that record reaches the NoAckedActor
//!   as panicked, with the panic's message; every other record is acked, once; one restart.
//! - A downstream that panics on every record of one key: each death costs one record, until
//!   the restart policy gives up; then the consumer stops fetching and is not live, and no
//!   bulk of records goes to the NoAckedActor.
//! - An AckedActor that panics on one record of a batch: the batch is offered again a
//!   record at a time, and the one it dies on alone goes to the NoAckedActor as panicked.
//! - A NoAckedActor that dies on that record too: it is set aside, nothing is committed past
//!   it, and `Health` names it.
//! - An AckedActor that refuses every hand-over for longer than `handover_refused_limit`:
//!   the consumer is not live until it accepts again.
//!
//! The panics print their message to the test output: that is expected.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

/// Acks every record but those whose key is `poison`, on which it panics.
struct Worker {
    poison: String,
}

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        if delivery.record.key() == Some(self.poison.as_bytes()) {
            panic!("cannot handle {}", self.poison);
        }
        delivery.ack();
    }
}

/// The committed offset of each partition, from the consumer's final stats.
fn committed(stats: &Stats, topic: &str, partitions: i32) -> Vec<Option<i64>> {
    (0..partitions).map(|p| stats.committed(topic, p)).collect()
}

#[actix::test]
async fn a_downstream_that_panics_on_one_record_of_10_000_costs_that_record_alone() {
    const RECORDS: usize = 10_000;
    let broker = broker();
    let topic = topic(&broker, "supervised", 4).await;
    let produced = produce(&broker, &topic, 4, 0, RECORDS).await;
    let poison = produced[6_001];
    let group = unique("supervised-group");
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let consumer = ConsumerActor::builder(group_config(&broker, &topic, &group))
        .downstream_factory(|| Worker {
            poison: "k6001".to_string(),
        })
        .acked(acked)
        .no_acked(no_acked)
        .start()
        .unwrap();

    ledger.wait_for(RECORDS, Duration::from_secs(120)).await;
    let no_acked = ledger.no_acked();
    assert_eq!(no_acked.len(), 1, "{no_acked:?}");
    let failed = &no_acked[0];
    assert_eq!(
        (failed.partition, failed.offset),
        (poison.partition, poison.offset)
    );
    assert_eq!(
        failed.reason.as_deref(),
        Some("panicked: cannot handle k6001")
    );
    assert_eq!(ledger.acked().len(), RECORDS - 1);
    assert!(lost(&ledger, &topic, &produced).is_empty());
    assert!(ledger.counts().values().all(|&n| n == 1), "duplicates");
    let health = consumer.send(Health).await.unwrap();
    assert!(health.live, "{health:?}");

    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!((stats.panicked, stats.dropped, stats.timed_out), (1, 0, 0));
    assert_eq!(stats.supervision.restarts["downstream"], 1);
    let ends = ends(&produced);
    let expected: Vec<Option<i64>> = (0..4).map(|p| ends.get(&p).copied()).collect();
    assert_eq!(committed(&stats, &topic, 4), expected);
    report(&format!(
        "supervision [{:?}]: acked {} no-acked {} ({}), restarts {}, redelivered {}, committed {}",
        backend(),
        stats.acked,
        stats.no_acked(),
        failed.reason.as_deref().unwrap_or_default(),
        stats.supervision.restarts["downstream"],
        stats.redelivered,
        stats.committed_summary()
    ));
    assert_lag_zero(&group);
}

#[actix::test]
async fn a_downstream_that_panics_on_every_record_of_a_key_is_given_up_on_without_a_flood() {
    let broker = broker();
    let topic = topic(&broker, "poisoned", 2).await;
    // 20 poisoned records among 400 on partition 0, and 400 on partition 1.
    let records: Vec<ProducerRecord> = (0..800)
        .map(|i| {
            let key = if i % 2 == 0 && i % 40 == 0 {
                "poison".to_string()
            } else {
                format!("k{i}")
            };
            ProducerRecord::new(topic.as_str(), format!("v{i}"))
                .key(key)
                .partition(i % 2)
        })
        .collect();
    producer(&broker)
        .send_batch(&records)
        .await
        .expect("produce");
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let policy = RestartPolicy::default()
        .max_restarts(3)
        .within(Duration::from_secs(60));
    let consumer =
        ConsumerActor::builder(config(&broker, &topic).ack_timeout(Duration::from_secs(1)))
            .downstream_factory(|| Worker {
                poison: "poison".to_string(),
            })
            .restart_policy(policy)
            .acked(acked)
            .no_acked(no_acked)
            .start()
            .unwrap();

    let health = health_until(&consumer, Duration::from_secs(120), |h| !h.live).await;
    let reason = health.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("downstream actor died more than 3 times"),
        "{reason}"
    );
    assert!(reason.contains("cannot handle poison"), "{reason}");
    // Each death cost the record it happened on, and nothing else: no bulk of no-acked
    // records, now or after several ack timeouts (their clocks stopped with the downstream).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = consumer.send(GetStats).await.unwrap();
    assert!(stats.paused, "fetching stops");
    let no_acked = ledger.no_acked();
    assert_eq!(no_acked.len(), 4, "{no_acked:?}");
    assert!(no_acked
        .iter()
        .all(|e| e.reason.as_deref() == Some("panicked: cannot handle poison")));
    assert_eq!((stats.panicked, stats.timed_out, stats.dropped), (4, 0, 0));
    assert_eq!(stats.supervision.restarts["downstream"], 3);
    report(&format!(
        "supervision, given up [{:?}]: health {}; acked {}, no-acked {}, in flight {}",
        backend(),
        serde_json::to_string(&health).unwrap(),
        stats.acked,
        stats.no_acked(),
        stats.in_flight
    ));
    consumer.send(Stop).await.unwrap().unwrap();
}

/// An AckedActor that passes batches on to the ledger, and panics on a batch that holds
/// the record with key `poison`.
struct PoisonedSink {
    ledger: Recipient<Acked>,
    poison: String,
}

impl Actor for PoisonedSink {
    type Context = Context<Self>;
}

impl Handler<Acked> for PoisonedSink {
    type Result = ResponseFuture<Result<(), HandOverError>>;
    fn handle(&mut self, batch: Acked, _: &mut Context<Self>) -> Self::Result {
        let poison = Some(self.poison.as_bytes());
        if batch.records.iter().any(|r| r.key() == poison) {
            panic!("the sink cannot take {}", self.poison);
        }
        let sent = self.ledger.send(batch);
        Box::pin(async move {
            sent.await
                .unwrap_or_else(|e| Err(HandOverError(e.to_string())))
        })
    }
}

impl Handler<NoAcked> for PoisonedSink {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, batch: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let poison = Some(self.poison.as_bytes());
        if batch.records.iter().any(|r| r.record.key() == poison) {
            panic!("the dead-letter sink cannot take {} either", self.poison);
        }
        Ok(())
    }
}

#[actix::test]
async fn an_acked_actor_that_panics_on_one_record_of_a_batch_of_1000_costs_that_record() {
    let broker = broker();
    let topic = topic(&broker, "sink-panic", 1).await;
    let produced = produce(&broker, &topic, 1, 0, 1_000).await;
    let group = unique("sink-panic-group");
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let config = group_config(&broker, &topic, &group).handover_batch(1_000);
    let consumer = ConsumerActor::builder(config)
        .downstream(Scripted::new(|_| Action::Ack).0.start().recipient())
        .acked_factory(move || PoisonedSink {
            ledger: acked.clone(),
            poison: "k700".to_string(),
        })
        .no_acked(no_acked)
        .start()
        .unwrap();

    ledger.wait_for(1_000, Duration::from_secs(120)).await;
    let no_acked = ledger.no_acked();
    assert_eq!(no_acked.len(), 1, "{no_acked:?}");
    assert_eq!(no_acked[0].offset, 700);
    let reason = no_acked[0].reason.as_deref().unwrap_or_default();
    assert_eq!(reason, "panicked: the sink cannot take k700");
    assert_eq!(ledger.acked().len(), 999);
    assert!(ledger.counts().values().all(|&n| n == 1), "duplicates");
    assert!(lost(&ledger, &topic, &produced).is_empty());
    let stats = stats_until(&consumer, Duration::from_secs(30), |s| {
        s.committed(&topic, 0) == Some(1_000)
    })
    .await;
    // The batch, then the record alone: two deaths.
    assert_eq!(stats.supervision.restarts["acked"], 2);
    assert_eq!(stats.panicked, 1);
    report(&format!(
        "supervision, acked actor [{:?}]: {reason}; acked {}, restarts {}, committed {}",
        backend(),
        ledger.acked().len(),
        stats.supervision.restarts["acked"],
        stats.committed_summary()
    ));
    consumer.send(Stop).await.unwrap().unwrap();
    assert_lag_zero(&group);
}

#[actix::test]
async fn a_record_both_outcome_actors_die_on_is_set_aside_and_named_by_health() {
    let broker = broker();
    let topic = topic(&broker, "both-panic", 1).await;
    produce(&broker, &topic, 1, 0, 50).await;
    let ledger = Ledger::default();
    let (acked, _) = ledger.start();
    let poisoned = move || PoisonedSink {
        ledger: acked.clone(),
        poison: "k20".to_string(),
    };
    let consumer = ConsumerActor::builder(config(&broker, &topic))
        .downstream(Scripted::new(|_| Action::Ack).0.start().recipient())
        .acked_factory(poisoned.clone())
        .no_acked_factory(poisoned)
        .start()
        .unwrap();

    let health = health_until(&consumer, Duration::from_secs(120), |h| !h.live).await;
    let reason = health.reason.unwrap_or_default();
    assert!(reason.contains(&format!("{topic}/0@20 alone")), "{reason}");
    ledger.wait_for(49, Duration::from_secs(60)).await;
    let stats = stats_until(&consumer, Duration::from_secs(30), |s| {
        s.committed(&topic, 0) == Some(20)
    })
    .await;
    assert_eq!(stats.supervision.stuck, [format!("{topic}/0@20")]);
    assert!(stats.paused, "fetching stops");
    let stopped = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(
        stopped.committed(&topic, 0),
        Some(20),
        "never past the stuck record"
    );
}

/// An AckedActor that refuses every batch until told to accept, then passes them on.
struct Refusing {
    ledger: Recipient<Acked>,
    accept: Arc<AtomicBool>,
}

impl Actor for Refusing {
    type Context = Context<Self>;
}

impl Handler<Acked> for Refusing {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, batch: Acked, _: &mut Context<Self>) -> Self::Result {
        if !self.accept.load(Ordering::SeqCst) {
            return Err(HandOverError("the store is down".into()));
        }
        self.ledger.do_send(batch);
        Ok(())
    }
}

#[actix::test]
async fn hand_overs_refused_past_the_limit_make_the_consumer_not_live_until_one_is_accepted() {
    let broker = broker();
    let topic = topic(&broker, "refusing", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let accept = Arc::new(AtomicBool::new(false));
    let refusing = Refusing {
        ledger: acked,
        accept: accept.clone(),
    }
    .start();
    let config = config(&broker, &topic).handover_refused_limit(Duration::from_secs(2));
    let consumer = ConsumerActor::builder(config)
        .downstream(Scripted::new(|_| Action::Ack).0.start().recipient())
        .acked(refusing.recipient())
        .no_acked(no_acked)
        .start()
        .unwrap();

    let health = health_until(&consumer, Duration::from_secs(120), |h| !h.live).await;
    let reason = health.reason.unwrap_or_default();
    assert!(
        reason.contains("acked actor has refused or not taken its hand-overs"),
        "{reason}"
    );
    accept.store(true, Ordering::SeqCst);
    ledger.wait_for(10, Duration::from_secs(30)).await;
    health_until(&consumer, Duration::from_secs(30), |h| h.live).await;
    let offsets: BTreeSet<i64> = ledger.entries().iter().map(|e| e.offset).collect();
    assert_eq!(offsets, (0..10).collect());
    consumer.send(Stop).await.unwrap().unwrap();
}
