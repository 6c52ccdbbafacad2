//! What the transactional consumer tests (tests/transactions.rs) share: a downstream that
//! splits records into outputs, retries and dead letters, the topics those go to, and
//! reading them back `read_committed`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::eos::{read_committed, FailureRouter, Tally, Transformer, RETRY};

use crate::*;

/// The payload's sequence number: `v17` → 17.
pub fn seq(record: &Record) -> usize {
    record.payload_str().unwrap()[1..].parse().unwrap()
}

/// Every tenth record is dead-lettered, every tenth from the fifth retried, the rest acked.
pub fn split(record: &Record) -> Action {
    match seq(record) % 10 {
        0 => Action::Nack("bad record".into()),
        5 => Action::Nack(RETRY.into()),
        _ => Action::Ack,
    }
}

/// The topics a source topic's outcomes go to: output, retry, dead letters.
pub struct Outcomes {
    pub output: String,
    pub retry: String,
    pub dlq: String,
}

impl Outcomes {
    pub async fn create(broker: &Broker, source: &str) -> Outcomes {
        Self::create_except(broker, source, None).await
    }

    /// All but `missing`, which a test creates later.
    pub async fn create_except(broker: &Broker, source: &str, missing: Option<&str>) -> Outcomes {
        let outcomes = Outcomes {
            output: format!("{source}.out"),
            retry: format!("{source}.retry.1"),
            dlq: format!("{source}.dlq"),
        };
        for topic in outcomes.all() {
            if Some(topic.as_str()) != missing {
                broker.create_topic(&topic, 1).await.expect("create topic");
            }
        }
        outcomes
    }

    pub fn all(&self) -> Vec<String> {
        vec![self.output.clone(), self.retry.clone(), self.dlq.clone()]
    }
}

pub fn transactional(config: ConsumerConfig, id: &str) -> ConsumerConfig {
    config.transactional(Transactional::new(unique(id)))
}

/// Starts a transactional consumer whose downstream follows `script`, transforming acked
/// records to `outcomes.output` and routing failures to the retry and dead-letter topics.
pub fn start_transactional(
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

pub fn sources(topic: &str, produced: &[Delivered]) -> BTreeSet<(String, i32, i64)> {
    produced
        .iter()
        .map(|d| (topic.to_string(), d.partition, d.offset))
        .collect()
}

pub async fn read_back(
    broker: &Broker,
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

pub async fn committed_to_the_end(
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
