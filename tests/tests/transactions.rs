//! The transactional mode (exactly-once hand-off): what the outcome actors ask to produce
//! (transformed outputs, retry and dead-letter copies) and the offsets of their sources are
//! committed in one Kafka transaction. A `read_committed` reader written with plain rdkafka
//! counts each source record exactly once across the output, retry and dead-letter topics,
//! including when a transaction times out, when partitions are revoked, and when another
//! producer fences this one.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::{Broker, EmbeddedBroker};
use gig_examples::eos::{read, FailureRouter, Isolation, Transformer};
use gig_tests::*;

use gig_tests::transacted::*;

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka and the embedded broker, not on tansu"
)]
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

/// The mock cluster answers a transactional offset commit without storing it
/// (`rd_kafka_mock_handle_TxnOffsetCommit`), so a next owner cannot start where a
/// transaction committed.
const MOCK_KEEPS_NO_TXN_OFFSETS: &str =
    "the mock cluster does not store offsets committed in a transaction, so the next owner cannot start from them";

/// How many records were delivered more than once: read again.
fn read_again(delivered: &std::sync::Mutex<Vec<Record>>) -> usize {
    let mut times: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for r in delivered.lock().unwrap().iter() {
        *times.entry((r.partition(), r.offset())).or_default() += 1;
    }
    times.values().filter(|&&n| n > 1).count()
}

/// A producer property that keeps librdkafka from having the broker create a topic it
/// produces to: a record for a topic that does not exist yet waits for it, and times out.
fn no_auto_create(settings: Transactional) -> Transactional {
    settings.property("allow.auto.create.topics", "false")
}

/// Who ends a transaction whose outputs cannot be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abort {
    /// Its records time out well before the transaction does, and Gig aborts it.
    ByGig,
    /// It outlives its timeout: the broker aborts it and fences the producer, and Gig
    /// replaces the producer.
    ByBroker,
}

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka and the embedded broker, not on tansu"
)]
async fn a_transaction_that_times_out_is_aborted_and_its_records_are_read_again() {
    undeliverable_transaction(Abort::ByGig).await;
}

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka and the embedded broker, not on tansu"
)]
async fn a_transaction_the_broker_aborted_gets_a_new_producer_and_its_records_are_read_again() {
    undeliverable_transaction(Abort::ByBroker).await;
}

async fn undeliverable_transaction(abort: Abort) {
    init();
    // The output topic cannot be written at first, so each record of a transaction times
    // out and the transaction fails. On Kafka the topic does not exist yet, and the
    // producer may not have it created; on the embedded broker its leader is a second
    // broker, down.
    let broker = match backend() {
        Backend::Embedded => Broker::Embedded(EmbeddedBroker::with_brokers(2).unwrap()),
        _ => broker(),
    };
    let topic = topic(&broker, "eos-timeout", 2).await;
    let missing = format!("{topic}.out");
    let outcomes = match backend() {
        Backend::Embedded => Outcomes::create(&broker, &topic).await,
        _ => Outcomes::create_except(&broker, &topic, Some(&missing)).await,
    };
    let id = unique("eos-timeout");
    // ByGig: records fail after 0.5 s, long before the broker would abort (5 s).
    // ByBroker: they fail after 1 s at the earliest, when the transaction has outlived its
    // timeout; Kafka's coordinator (`.ci/kafka.sh` has it look every 100 ms) aborts it
    // first, most times. The embedded broker never does: it answers the abort with
    // PRODUCER_FENCED, as Kafka then does.
    let (timeout, message_timeout) = match abort {
        Abort::ByGig => (Duration::from_secs(5), "500"),
        Abort::ByBroker => (Duration::from_secs(1), "1000"),
    };
    let settings = Transactional::new(&id)
        .timeout(timeout)
        .property("message.timeout.ms", message_timeout);
    let config = config(&broker, &topic).transactional(no_auto_create(settings));
    if let Some(embedded) = broker.embedded() {
        use rdkafka::mocking::MockCoordinator;
        let mock = embedded.cluster();
        for (t, p, leader) in [(&topic, 0, 1), (&topic, 1, 1), (&outcomes.output, 0, 2)] {
            mock.partition_leader(t, p, Some(leader)).unwrap();
        }
        for t in [&outcomes.retry, &outcomes.dlq] {
            mock.partition_leader(t, 0, Some(1)).unwrap();
        }
        mock.coordinator(MockCoordinator::Transaction(id.clone()), 1)
            .unwrap();
        let group = MockCoordinator::Group(config.group_id().to_string());
        mock.coordinator(group, 1).unwrap();
        mock.broker_down(2).unwrap();
    }
    let produced = produce(&broker, &topic, 2, 0, 20).await;
    let embedded = broker.embedded().is_some();
    let Started {
        consumer,
        delivered,
        ..
    } = start_transactional(config, &outcomes, move |r| match embedded {
        // The mock cluster writes no transaction markers, so its readers would see what an
        // aborted transaction wrote to the retry and dead-letter topics: there every record
        // goes to the output topic, which gets nothing until its leader is back.
        true => Action::Ack,
        // Kafka's read_committed reader skips what aborted transactions wrote.
        false => split(r),
    });
    if let (Some(embedded), Abort::ByBroker) = (broker.embedded(), abort) {
        // After the crash-loop guard's first markers, committed in transactions of their
        // own before any delivery: the transaction with outputs is the one to refuse.
        stats_until(&consumer, Duration::from_secs(60), |s| s.acked > 0).await;
        let fenced = rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED;
        let end_txn = rdkafka::types::RDKafkaApiKey::EndTxn;
        embedded.cluster().request_errors(end_txn, &[fenced]);
    }

    // Its records are read again from the last commit (here: the start).
    let failing = stats_until(&consumer, Duration::from_secs(60), |s| {
        let replaced = s.transactional.as_ref().map_or(0, |t| t.producers_replaced);
        let ended = match abort {
            Abort::ByGig => s.transactions_aborted >= 1,
            Abort::ByBroker => replaced >= 1,
        };
        ended && s.received > 20
    })
    .await;
    let why = failing.transactional.clone().and_then(|t| t.last_error);
    // Only the crash-loop guard's markers (offsets alone) were committed.
    assert_eq!(failing.outputs_committed, 0, "{failing:?}");
    match broker.embedded() {
        Some(embedded) => embedded.cluster().broker_up(2).unwrap(),
        None => broker.create_topic(&missing, 1).await.unwrap(),
    }
    let stats = committed_to_the_end(&consumer, &topic, &produced).await;
    let again = read_again(&delivered);
    assert!(again > 0, "aborted records are delivered again");
    assert_eq!(stats.outputs_committed, 20, "{stats:?}");
    let txn = stats.transactional.clone().expect("transactional stats");
    assert!(!txn.fenced, "{stats:?}");
    if abort == Abort::ByGig {
        assert_eq!(txn.producers_replaced, 0, "{stats:?}");
    }

    let tally = read_back(&broker, &outcomes, &sources(&topic, &produced)).await;
    report(&format!(
        "transactions [{:?}, aborted {abort:?}]: timed out ({}), aborted={} producers_replaced={} rewinds={} read_again={again}; then {tally}",
        backend(),
        why.unwrap_or_default(),
        stats.transactions_aborted,
        txn.producers_replaced,
        stats.rewinds,
    ));
    assert!(tally.exactly_once(), "{tally}");
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka and the embedded broker, not on tansu"
)]
#[cfg_attr(
    gig_backend = "embedded",
    ignore = "the mock cluster does not store offsets committed in a transaction, so the next owner cannot start from them"
)]
async fn a_revocation_commits_the_open_transaction_before_the_partitions_go() {
    let broker = broker();
    let topic = topic(&broker, "eos-revoke", 2).await;
    let outcomes = Outcomes::create(&broker, &topic).await;
    let produced = produce(&broker, &topic, 2, 0, 20).await;
    let group = unique("eos-revoke-group");
    // No transaction on a timer: the one commit is made on revocation.
    let first = start_transactional(
        group_config(&broker, &topic, &group).transactional(
            Transactional::new(unique("eos-first")).interval(Duration::from_secs(3600)),
        ),
        &outcomes,
        split,
    );
    let held = stats_until(&first.consumer, Duration::from_secs(60), |s| {
        s.handed_over == 20
    })
    .await;
    // The crash-loop guard's first markers are committed in transactions: one partition's
    // may carry the outputs of the other's records handed over before it, never those of the
    // last partition, whose records wait for that marker and then for the revocation.
    assert!(
        held.outputs_committed <= 10,
        "at most one partition's records committed before the revocation: {held:?}"
    );
    first.consumer.send(Unsubscribe).await.unwrap().unwrap();
    let released = committed_to_the_end(&first.consumer, &topic, &produced).await;
    assert_eq!(
        released.transactions - held.transactions,
        1,
        "committed in one transaction, on revocation"
    );
    assert_eq!(released.outputs_committed, released.outputs);

    // The next owner starts where that transaction committed: it reads only what comes next.
    let next = start_transactional(
        transactional(group_config(&broker, &topic, &group), "eos-next"),
        &outcomes,
        split,
    );
    let more = produce(&broker, &topic, 2, 20, 2).await;
    committed_to_the_end(&next.consumer, &topic, &more).await;
    let mut read: Vec<usize> = next.delivered.lock().unwrap().iter().map(seq).collect();
    read.sort();
    assert_eq!(read, [20, 21], "nothing read again");

    let all: Vec<Delivered> = produced.into_iter().chain(more).collect();
    let tally = read_back(&broker, &outcomes, &sources(&topic, &all)).await;
    report(&format!(
        "transactions [{:?}]: revocation committed its transaction; next owner read {read:?}; {tally}",
        backend()
    ));
    assert!(tally.exactly_once(), "{tally}");
    first.consumer.send(Stop).await.unwrap().unwrap();
    next.consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka and the embedded broker, not on tansu"
)]
#[cfg_attr(
    gig_backend = "embedded",
    ignore = "the mock cluster does not store offsets committed in a transaction, so the next owner cannot start from them"
)]
async fn a_revocation_whose_transaction_aborts_leaves_the_records_to_the_next_owner() {
    let broker = broker();
    let topic = topic(&broker, "eos-revoke-abort", 2).await;
    // The dead-letter topic does not exist yet: the transaction made on revocation times
    // out and is aborted, with the outputs it had already written to the other topics.
    let dlq = format!("{topic}.dlq");
    let outcomes = Outcomes::create_except(&broker, &topic, Some(&dlq)).await;
    let produced = produce(&broker, &topic, 2, 0, 20).await;
    let group = unique("eos-revoke-abort-group");
    let settings = Transactional::new(unique("eos-first"))
        .interval(Duration::from_secs(3600))
        .timeout(Duration::from_secs(1));
    let first = start_transactional(
        group_config(&broker, &topic, &group).transactional(no_auto_create(settings)),
        &outcomes,
        split,
    );
    let held = stats_until(&first.consumer, Duration::from_secs(60), |s| {
        s.handed_over == 20
    })
    .await;
    // The crash-loop guard confirms a partition's first marker when its first records come:
    // when one partition's come after the other's were handed over, that marker's transaction
    // commits those outputs with their offsets. Never the last partition's: its records wait
    // for the marker, and then for the revocation.
    let before = held.outputs_committed;
    assert!(before <= 10, "{held:?}");
    first.consumer.send(Unsubscribe).await.unwrap().unwrap();
    let aborted = stats_until(&first.consumer, Duration::from_secs(60), |s| {
        s.transactions_aborted == 1
    })
    .await;
    assert_eq!(
        aborted.outputs_committed, before,
        "the aborted transaction committed nothing: {aborted:?}"
    );
    broker.create_topic(&dlq, 1).await.unwrap();

    // The next owner reads again every record the aborted transaction held.
    let next = start_transactional(
        transactional(group_config(&broker, &topic, &group), "eos-next"),
        &outcomes,
        split,
    );
    let again = committed_to_the_end(&next.consumer, &topic, &produced).await;
    let read_again = next.delivered.lock().unwrap().len() as u64;
    assert_eq!(read_again, 20 - before, "read again");
    let tally = read_back(&broker, &outcomes, &sources(&topic, &produced)).await;
    // The aborted transaction's outputs are in the log; a read_committed reader skips them.
    let (brokers, output) = (broker.bootstrap_servers(), vec![outcomes.output.clone()]);
    let in_log = tokio::task::spawn_blocking(move || {
        read(
            &brokers,
            &output,
            Isolation::ReadUncommitted,
            Duration::from_secs(60),
        )
    })
    .await
    .unwrap()
    .unwrap()
    .len();
    report(&format!(
        "transactions [{:?}]: revocation's transaction aborted ({}); committed before it: {before}; next owner read {read_again} again; {tally}; {in_log} outputs in the log, the aborted ones included",
        backend(),
        aborted.transactional.and_then(|t| t.last_error).unwrap_or_default()
    ));
    assert!(
        tally.exactly_once(),
        "the aborted outputs are not read: {tally}"
    );
    // The first owner wrote all 16 of its outputs; the next one wrote those it acked again.
    assert_eq!(
        in_log as u64,
        16 + again.acked,
        "aborted and committed outputs are in the log"
    );
    first.consumer.send(Stop).await.unwrap().unwrap();
    next.consumer.send(Stop).await.unwrap().unwrap();
}

fn is_fenced(stats: &Stats) -> bool {
    stats.transactional.as_ref().is_some_and(|t| t.fenced)
}

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "the transactional mode is verified on Kafka and the embedded broker, not on tansu"
)]
async fn a_fenced_producer_stops_handing_over_and_says_so() {
    let broker = broker();
    let topic = topic(&broker, "eos-fenced", 2).await;
    let outcomes = Outcomes::create(&broker, &topic).await;
    let first = produce(&broker, &topic, 2, 0, 10).await;
    let group = unique("eos-fenced-group");
    let id = unique("eos-fenced");
    let config = group_config(&broker, &topic, &group).transactional(Transactional::new(&id));
    let zombie = start_transactional(config.clone(), &outcomes, |_| Action::Ack);
    committed_to_the_end(&zombie.consumer, &topic, &first).await;

    // Another producer takes the transactional id. On Kafka: a second member of the group
    // with the same id, whose start fences the first; the group rebalances and the first
    // is a zombie. The mock cluster does not fence by id; it answers the next commit with
    // PRODUCER_FENCED, as Kafka answers a zombie.
    let successor = match broker.embedded() {
        Some(embedded) => {
            use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
            let fenced = RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED;
            embedded
                .cluster()
                .request_errors(RDKafkaApiKey::EndTxn, &[fenced]);
            None
        }
        None => {
            let successor = start_transactional(config, &outcomes, |_| Action::Ack);
            stats_until(&successor.consumer, Duration::from_secs(60), |s| {
                s.transactional.as_ref().is_some_and(|t| t.ready)
            })
            .await;
            Some(successor)
        }
    };
    // The zombie learns it is fenced when it next commits: records arrive on the partition
    // it still holds.
    let second = produce(&broker, &topic, 2, 10, 10).await;
    let fenced = stats_until(&zombie.consumer, Duration::from_secs(60), is_fenced).await;
    let why = fenced.transactional.clone().and_then(|t| t.last_error);

    // It hands nothing over any more; a member with a producer of its own reads on.
    let successor = match successor {
        Some(successor) => successor,
        None => start_transactional(
            transactional(group_config(&broker, &topic, &group), "eos-successor"),
            &outcomes,
            |_| Action::Ack,
        ),
    };
    let third = produce(&broker, &topic, 2, 20, 10).await;
    committed_to_the_end(&successor.consumer, &topic, &third).await;
    let after = zombie.consumer.send(GetStats).await.unwrap();
    assert_eq!(
        after.handed_over, fenced.handed_over,
        "a zombie hands nothing over"
    );
    assert!(
        after.assignment.is_empty(),
        "it left the group: {:?}",
        after.assignment
    );
    let stopped = zombie.consumer.send(Stop).await.unwrap();
    assert!(
        matches!(stopped, Err(GigError::Fenced { .. })),
        "{stopped:?}"
    );

    let mut line = format!(
        "transactions [{:?}]: fenced ({}); zombie handed over {}, successor read {}",
        backend(),
        why.unwrap_or_default(),
        after.handed_over,
        successor.delivered.lock().unwrap().len()
    );
    // What the zombie did not commit is read again by its successor, once.
    if backend() != Backend::Embedded {
        let all: Vec<Delivered> = [first, second, third].concat();
        let tally = read_back(&broker, &outcomes, &sources(&topic, &all)).await;
        line.push_str(&format!("; {tally}"));
        assert!(tally.exactly_once(), "{tally}");
    } else {
        line.push_str(&format!("; no read-back: {MOCK_KEEPS_NO_TXN_OFFSETS}"));
    }
    report(&line);
    successor.consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn a_rehearsal_of_a_transactional_consumer_commits_each_transaction_at_once() {
    use gig_actors::rehearsal::{record, Feed, Settle};
    let config = ConsumerConfig::new("unused", "unused").transactional("rehearsal");
    let (downstream, _) = Scripted::new(split);
    let rehearsal = ConsumerActor::builder(config)
        .downstream(downstream.start().recipient())
        .acked_tx(Transformer::transactional("out").start().recipient())
        .no_acked_tx(
            FailureRouter::transactional(Duration::from_secs(1))
                .start()
                .recipient(),
        )
        .rehearsal()
        .unwrap()
        .start();
    let records = (0..20)
        .map(|i| record("orders", 0, i, format!("v{i}")))
        .collect();
    rehearsal.do_send(Feed(records));
    let stats = rehearsal.send(Settle).await.unwrap();
    assert_eq!(
        (stats.outputs, stats.outputs_committed),
        (20, 20),
        "{stats:?}"
    );
    assert!(stats.transactions >= 1);
    assert_eq!(stats.committed("orders", 0), Some(20));
}
