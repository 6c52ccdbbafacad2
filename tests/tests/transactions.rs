//! The transactional mode (exactly-once hand-off): what the outcome actors ask to produce
//! (transformed outputs, retry and dead-letter copies) and the offsets of their sources are
//! committed in one Kafka transaction. A `read_committed` reader written with plain rdkafka
//! counts each source record exactly once across the output, retry and dead-letter topics,
//! including when a transaction times out, when partitions are revoked, and when another
//! producer fences this one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_examples::eos::{read_committed, FailureRouter, Tally, Transformer, RETRY};
use gig_tests::*;

/// The payload's sequence number: `v17` → 17.
fn seq(record: &Record) -> usize {
    record.payload_str().unwrap()[1..].parse().unwrap()
}

/// Every tenth record is dead-lettered, every tenth from the fifth retried, the rest acked.
fn split(record: &Record) -> Action {
    match seq(record) % 10 {
        0 => Action::Nack("bad record".into()),
        5 => Action::Nack(RETRY.into()),
        _ => Action::Ack,
    }
}

/// The topics a source topic's outcomes go to: output, retry, dead letters.
struct Outcomes {
    output: String,
    retry: String,
    dlq: String,
}

impl Outcomes {
    async fn create(broker: &gig_actors::testkit::Broker, source: &str) -> Outcomes {
        let outcomes = Outcomes {
            output: format!("{source}.out"),
            retry: format!("{source}.retry.1"),
            dlq: format!("{source}.dlq"),
        };
        for topic in outcomes.all() {
            broker.create_topic(&topic, 1).await.expect("create topic");
        }
        outcomes
    }

    fn all(&self) -> Vec<String> {
        vec![self.output.clone(), self.retry.clone(), self.dlq.clone()]
    }
}

fn transactional(config: ConsumerConfig, id: &str) -> ConsumerConfig {
    config.transactional(Transactional::new(unique(id)))
}

/// Starts a transactional consumer whose downstream follows `script`, transforming acked
/// records to `outcomes.output` and routing failures to the retry and dead-letter topics.
fn start_transactional(
    config: ConsumerConfig,
    outcomes: &Outcomes,
    script: impl Fn(&Record) -> Action + 'static,
) -> Started {
    let (downstream, delivered) = Scripted::new(script);
    let downstream = downstream.start();
    let consumer = ConsumerActor::builder(config)
        .downstream(downstream.clone().recipient())
        .acked_tx(
            Transformer::transactional(&outcomes.output)
                .start()
                .recipient(),
        )
        .no_acked_tx(
            FailureRouter::transactional(Duration::from_secs(1))
                .start()
                .recipient(),
        )
        .start()
        .expect("start a transactional consumer");
    Started {
        consumer,
        downstream,
        delivered,
    }
}

fn sources(topic: &str, produced: &[Delivered]) -> BTreeSet<(String, i32, i64)> {
    produced
        .iter()
        .map(|d| (topic.to_string(), d.partition, d.offset))
        .collect()
}

async fn read_back(
    broker: &gig_actors::testkit::Broker,
    outcomes: &Outcomes,
    expected: &BTreeSet<(String, i32, i64)>,
) -> Tally {
    let (brokers, topics) = (broker.bootstrap_servers(), outcomes.all());
    let read = tokio::task::spawn_blocking(move || {
        read_committed(&brokers, &topics, Duration::from_secs(60))
    })
    .await
    .expect("reader thread")
    .expect("read back");
    Tally::of(&read, expected)
}

async fn committed_to_the_end(
    consumer: &Addr<ConsumerActor>,
    topic: &str,
    produced: &[Delivered],
) -> Stats {
    let ends: BTreeMap<i32, i64> = ends(produced);
    stats_until(consumer, Duration::from_secs(60), |s| {
        ends.iter()
            .all(|(&p, &end)| s.committed(topic, p) == Some(end))
    })
    .await
}

#[actix::test]
async fn outputs_retries_and_dead_letters_are_committed_once_with_their_sources() {
    let broker = broker();
    let topic = topic(&broker, "eos", 2).await;
    let outcomes = Outcomes::create(&broker, &topic).await;
    let produced = produce(&broker, &topic, 2, 0, 40).await;
    let Started { consumer, .. } = start_transactional(
        transactional(config(&broker, &topic), "eos"),
        &outcomes,
        split,
    );
    let stats = committed_to_the_end(&consumer, &topic, &produced).await;
    assert_eq!(stats.outputs_committed, 40, "{stats:?}");
    assert!(stats.transactions >= 1);
    let state = stats.transactional.clone().expect("transactional stats");
    assert!(!state.fenced && state.last_error.is_none(), "{state:?}");

    let tally = read_back(&broker, &outcomes, &sources(&topic, &produced)).await;
    report(&format!(
        "transactions [{:?}]: {tally} transactions={}",
        backend(),
        stats.transactions
    ));
    assert!(tally.exactly_once(), "{tally}");
    let per = |t: &String| tally.per_topic.get(t).copied().unwrap_or(0);
    assert_eq!(
        (
            per(&outcomes.output),
            per(&outcomes.retry),
            per(&outcomes.dlq)
        ),
        (32, 4, 4)
    );
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn an_actor_that_answers_with_outputs_needs_a_transactional_consumer() {
    let broker = broker();
    let config = config(&broker, "unused");
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let built = ConsumerActor::builder(config)
        .downstream(downstream.start().recipient())
        .acked_tx(Transformer::transactional("out").start().recipient())
        .no_acked(Ledger::default().start().1)
        .build();
    assert!(
        matches!(built, Err(GigError::NotTransactional)),
        "{:?}",
        built.err()
    );
}
