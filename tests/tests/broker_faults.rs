//! Broker faults, injected into the embedded mock cluster: an outage mid-stream, refused
//! offset commits (mid-stream and at stop), refused fetches, an offset reset, a slow
//! network. In every case consumption resumes and nothing is lost: each produced
//! (partition, offset) reaches the ledger at least once, and the commit reaches the end of
//! every partition. A failed commit is counted in `Stats::commit_failures` and sent again;
//! it is never dropped. On an external broker they are ignored.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_tests::*;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

/// The mock cluster numbers its brokers from 1; the suite's cluster has one.
const BROKER: i32 = 1;

/// The suite's config with a short commit interval, so that commits (and their failures)
/// happen during the test.
fn committing(broker: &Broker, topic: &str) -> ConsumerConfig {
    config(broker, topic)
        .ack_timeout(Duration::from_secs(60))
        .commit_interval(Duration::from_millis(50))
}

/// Waits until every produced record is in the ledger and the commit has reached the end
/// of every partition; returns the stats at that moment.
async fn all_handed_over_and_committed(
    consumer: &Addr<ConsumerActor>,
    ledger: &Ledger,
    topic: &str,
    produced: &[Delivered],
) -> Stats {
    ledger
        .wait_until(Duration::from_secs(30), |_| {
            lost(ledger, topic, produced).is_empty()
        })
        .await;
    let ends = ends(produced);
    stats_until(consumer, Duration::from_secs(30), |s| {
        ends.iter()
            .all(|(&p, &end)| s.committed(topic, p).is_some_and(|c| c >= end))
    })
    .await
}

/// The payload's sequence number: `v17` → 17.
fn seq(record: &Record) -> usize {
    record.payload_str().unwrap()[1..].parse().unwrap()
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "embedded"),
    ignore = "fault injection needs the embedded mock cluster"
)]
async fn a_broker_outage_mid_stream_loses_nothing_and_consumption_resumes() {
    let broker = broker();
    let mock = broker.embedded().unwrap().cluster();
    let topic = topic(&broker, "outage", 2).await;
    let mut produced = produce(&broker, &topic, 2, 0, 100).await;

    let ledger = Ledger::default();
    // The first 100 are held, so they are in flight when the broker goes down. If the
    // outage outlasts the group session on a slow machine, the group rebalances and the
    // uncommitted records are read again: those copies are acked at once.
    let held = std::sync::Mutex::new(std::collections::HashSet::new());
    let Started {
        consumer,
        downstream,
        delivered,
    } = start(&ledger, committing(&broker, &topic), move |r| {
        if seq(r) < 100 && held.lock().unwrap().insert(seq(r)) {
            Action::Hold
        } else {
            Action::Ack
        }
    });
    delivered_until(&delivered, 100, Duration::from_secs(30)).await;

    mock.broker_down(BROKER).unwrap();
    // Answered during the outage: the hand-over needs no broker; the commits cannot succeed.
    assert_eq!(downstream.send(Release(Verdict::Ack)).await.unwrap(), 100);
    ledger.wait_for(100, Duration::from_secs(10)).await;
    // More records are produced during the outage; the producer retries until it is over.
    let producer = producer(&broker);
    let batch = records(&topic, 2, 100, 100);
    let late = actix::spawn(async move { producer.send_batch(&batch).await });
    // The outage's length, not a synchronisation: long enough for fetches, heartbeats and
    // commits to fail, shorter than the session timeout (6 s).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = consumer
        .send(GetStats)
        .await
        .expect("answers during the outage");
    assert_eq!(
        during.received, 100,
        "nothing fetched while the broker is down"
    );
    assert!(
        during.client_errors >= 1,
        "the client saw the broker go: {during:?}"
    );
    mock.broker_up(BROKER).unwrap();
    produced.extend(late.await.unwrap().expect("produced after the outage"));

    let stats = all_handed_over_and_committed(&consumer, &ledger, &topic, &produced).await;
    report(&format!(
        "outage: received={} commits={} commit_failures={} rebalances={} client_errors={} last={:?}",
        stats.received,
        stats.commits,
        stats.commit_failures,
        stats.rebalances,
        stats.client_errors,
        stats.last_client_error
    ));
    let last = consumer.send(Stop).await.unwrap().unwrap();
    for (p, end) in ends(&produced) {
        assert!(last.committed(&topic, p) >= Some(end), "{last:?}");
    }
    assert!(lost(&ledger, &topic, &produced).is_empty());
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "embedded"),
    ignore = "fault injection needs the embedded mock cluster"
)]
async fn refused_offset_commits_are_counted_and_sent_again_until_they_succeed() {
    let broker = broker();
    let mock = broker.embedded().unwrap().cluster();
    let topic = topic(&broker, "commit-refused", 2).await;
    let produced = produce(&broker, &topic, 2, 0, 40).await;
    // The first offset commits fail (librdkafka itself retries a timed-out request twice,
    // so six errors fail at least one commit as Gig sees it).
    mock.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT; 6],
    );

    let ledger = Ledger::default();
    let Started {
        consumer,
        delivered,
        ..
    } = start(&ledger, committing(&broker, &topic), |_| Action::Ack);
    ledger.wait_for(40, Duration::from_secs(30)).await;
    // No record arrives after the failures: only a resent commit can reach the end.
    let stats = all_handed_over_and_committed(&consumer, &ledger, &topic, &produced).await;
    assert!(
        stats.commit_failures >= 1,
        "the refusals were seen: {stats:?}"
    );
    assert!(
        stats.commits > stats.commit_failures,
        "a failed commit was sent again: {stats:?}"
    );
    assert!(ledger.counts().values().all(|&n| n == 1));
    assert_eq!(delivered.lock().unwrap().len(), 40);
    let last = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(last.committed(&topic, 0), Some(20));
    assert_eq!(last.committed(&topic, 1), Some(20));
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "embedded"),
    ignore = "fault injection needs the embedded mock cluster"
)]
async fn a_refused_final_commit_at_stop_is_retried() {
    let broker = broker();
    let mock = broker.embedded().unwrap().cluster();
    let topic = topic(&broker, "final-refused", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;

    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    // Nothing commits before the stop.
    let config = config(&broker, &topic)
        .commit_interval(Duration::from_secs(3600))
        .commit_every(1_000_000);
    let consumer = ledger.consumer(config, downstream.start().recipient());
    ledger.wait_for(10, Duration::from_secs(30)).await;
    mock.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT; 3],
    );
    let stats = tokio::time::timeout(Duration::from_secs(15), consumer.send(Stop))
        .await
        .expect("stop answers")
        .unwrap()
        .expect("the final commit succeeds once the broker accepts it");
    assert!(
        stats.commit_failures >= 1,
        "the broker refused the final commit first: {stats:?}"
    );
    assert_eq!(stats.committed(&topic, 0), Some(10));
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "embedded"),
    ignore = "fault injection needs the embedded mock cluster"
)]
async fn refused_fetches_resume_without_loss_or_redelivery() {
    let broker = broker();
    let mock = broker.embedded().unwrap().cluster();
    let topic = topic(&broker, "fetch-refused", 2).await;
    let mut produced = produce(&broker, &topic, 2, 0, 50).await;

    let ledger = Ledger::default();
    let Started {
        consumer,
        delivered,
        ..
    } = start(&ledger, committing(&broker, &topic), |_| Action::Ack);
    ledger.wait_for(50, Duration::from_secs(30)).await;
    mock.request_errors(
        RDKafkaApiKey::Fetch,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        ],
    );
    produced.extend(produce(&broker, &topic, 2, 50, 50).await);

    let stats = all_handed_over_and_committed(&consumer, &ledger, &topic, &produced).await;
    // The refusals reached the client: librdkafka retried them, and reported them.
    let last = stats.last_client_error.clone().unwrap_or_default();
    report(&format!(
        "refused fetches: client_errors={} last={last}",
        stats.client_errors
    ));
    assert!(
        stats.client_errors >= 1 && last.contains("Fetch"),
        "the refused fetches were seen: {stats:?}"
    );
    assert_eq!(
        delivered.lock().unwrap().len(),
        100,
        "each record delivered once"
    );
    assert!(ledger.counts().values().all(|&n| n == 1));
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "embedded"),
    ignore = "fault injection needs the embedded mock cluster"
)]
async fn an_offset_reset_refetch_is_not_delivered_again() {
    let broker = broker();
    let mock = broker.embedded().unwrap().cluster();
    let topic = topic(&broker, "reset", 1).await;
    let mut produced = produce(&broker, &topic, 1, 0, 30).await;

    let ledger = Ledger::default();
    let Started {
        consumer,
        delivered,
        ..
    } = start(&ledger, committing(&broker, &topic), |_| Action::Ack);
    ledger.wait_for(30, Duration::from_secs(30)).await;
    // The broker claims the fetch offset is gone: librdkafka resets to the earliest
    // offset (auto.offset.reset=earliest) and fetches 0..29 again. Twice: the first fetch
    // at the partition's end reports the end instead of its error (librdkafka puts
    // PARTITION_EOF over it, rdkafka_fetcher.c), and the consumer may not have had that
    // fetch yet.
    mock.request_errors(
        RDKafkaApiKey::Fetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE; 2],
    );
    produced.extend(produce(&broker, &topic, 1, 30, 10).await);

    all_handed_over_and_committed(&consumer, &ledger, &topic, &produced).await;
    // The reset happened: the fetch that got the error was at offset 30, or at 40 if a fetch
    // already waiting at the broker took 30..39 first; either way 0..29 came again.
    let stats = stats_until(&consumer, Duration::from_secs(30), |s| s.discarded >= 30).await;
    report(&format!(
        "offset reset: received={} discarded={}",
        stats.received, stats.discarded
    ));
    assert_eq!(
        delivered.lock().unwrap().len(),
        40,
        "a refetched record is not delivered again"
    );
    assert!(ledger.counts().values().all(|&n| n == 1));
    assert_eq!(stats.received, 40);
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "embedded"),
    ignore = "fault injection needs the embedded mock cluster"
)]
async fn a_slow_network_still_delivers_and_commits_everything() {
    let broker = broker();
    let mock = broker.embedded().unwrap().cluster();
    let topic = topic(&broker, "rtt", 2).await;
    let produced = produce(&broker, &topic, 2, 0, 40).await;
    // Every request, from group join to fetch and commit, now takes 300 ms each way round.
    mock.broker_round_trip_time(BROKER, Duration::from_millis(300))
        .unwrap();

    let ledger = Ledger::default();
    // librdkafka's statistics measure each request's round trip to the broker.
    let config = committing(&broker, &topic).property("statistics.interval.ms", "200");
    let Started {
        consumer,
        delivered,
        ..
    } = start(&ledger, config, |_| Action::Ack);
    let stats = all_handed_over_and_committed(&consumer, &ledger, &topic, &produced).await;
    assert_eq!(stats.timed_out, 0, "a slow broker does not slow the acks");
    // The network was slow: no request to the broker came back in under 300 ms. (A window
    // of librdkafka's statistics in which no request came back has no figures: wait for one
    // that has.)
    let fastest = |s: &Stats| -> Vec<i64> {
        let brokers = s.librdkafka.as_ref().and_then(|l| l["brokers"].as_object());
        brokers
            .into_iter()
            .flat_map(|b| b.values())
            .filter(|b| b["nodeid"] == BROKER && b["rtt"]["cnt"].as_i64() > Some(0))
            .filter_map(|b| b["rtt"]["min"].as_i64())
            .collect()
    };
    let stats = stats_until(&consumer, Duration::from_secs(30), |s| {
        !fastest(s).is_empty()
    })
    .await;
    let fastest = fastest(&stats);
    assert!(
        fastest.iter().all(|&us| us >= 300_000),
        "fastest round trips (µs): {fastest:?}"
    );
    assert_eq!(delivered.lock().unwrap().len(), 40);
    let last = tokio::time::timeout(Duration::from_secs(15), consumer.send(Stop))
        .await
        .expect("stop answers")
        .unwrap()
        .unwrap();
    assert_eq!(last.committed(&topic, 0), Some(20));
    assert_eq!(last.committed(&topic, 1), Some(20));
}
