//! A rebalance storm: consumers of one group on a 6-partition topic join and leave again
//! and again while records are produced and while some of them are in flight, and no
//! record is lost.
//!
//! Up to three members (briefly four, while the last one takes over) share the group.
//! Over five rounds members leave, some with `Unsubscribe` and then `Stop`, some with a
//! plain `Stop`, some while a newcomer joins at the same moment, and new members join with
//! the same group id. Every round produces a chunk of records in the background, and the
//! membership change starts once that chunk is flowing. The downstream acks most records
//! at once, acks every tenth after a short async delay (so records are in flight whenever
//! a partition is revoked), and never answers every hundredth (it times out at the short
//! ack timeout and goes to the NoAckedActor). All members hand over to one [`Ledger`].
//! At the end one member owns every partition, reads a last chunk, and the test asserts
//! that every produced (partition, offset) is in the ledger and that this member's commits,
//! and the group's offsets on the broker, reach the end of every partition.
//!
//! The policy under test (docs/guarantees.md): on revocation, in-flight records of the
//! revoked partitions are resolved (acked, or no-acked at their deadline) and committed
//! before the partitions are released. If that takes longer than `ack_timeout` + 5 s, the
//! unresolved ones stay uncommitted and their next owner reads them again. Delivery is
//! at-least-once: duplicates are allowed, and the test prints how many there were.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_tests::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

const PARTITIONS: i32 = 6;
/// Records per round, produced in the background while the membership changes.
const CHUNK: usize = 1_500;
/// Records the last member reads alone, so that it commits every partition itself.
const LAST_CHUNK: usize = 600;
/// Short, so that unanswered records resolve quickly during the storm.
const ACK_TIMEOUT: Duration = Duration::from_millis(1_500);
/// How long the downstream works on every tenth record before it acks it.
const ACK_DELAY: Duration = Duration::from_millis(300);
/// Bounds a failure only: every wait below ends on an event.
const WAIT: Duration = Duration::from_secs(45);

/// The payload's sequence number: `v17` → 17.
fn seq(record: &Record) -> usize {
    record.payload_str().unwrap()[1..].parse().unwrap()
}

/// The storm's downstream: acks at once, acks after [`ACK_DELAY`] (every tenth record), or
/// never answers (every hundredth record: it keeps it, and it times out).
#[derive(Default)]
struct Worker(Vec<Delivery>);

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        match seq(&delivery.record) % 100 {
            // Silent: the consumer hands it over as timed out at its deadline.
            0 => self.0.push(delivery),
            n if n % 10 == 0 => {
                let (_, handle) = delivery.into_parts();
                ctx.run_later(ACK_DELAY, move |_, _| handle.ack());
            }
            _ => delivery.ack(),
        }
    }
}

/// One member of the group.
struct Member {
    name: &'static str,
    consumer: Addr<ConsumerActor>,
}

/// Starts a member of `group` that hands over to `ledger`.
fn join(broker: &Broker, topic: &str, group: &str, ledger: &Ledger, name: &'static str) -> Member {
    let (acked, no_acked) = ledger.start();
    let mut config = config(broker, topic)
        .ack_timeout(ACK_TIMEOUT)
        .commit_interval(Duration::from_millis(250));
    if backend() == Backend::Embedded {
        // The mock cluster ends each rebalance after `session.timeout.ms` - 1 s rather than
        // when every member has rejoined, and refuses commits meanwhile; a cooperative move
        // takes two rebalances. 3 s keeps the storm short. (Real brokers refuse a session
        // timeout under their `group.min.session.timeout.ms`, 6 s by default.)
        config = config.property("session.timeout.ms", "3000");
    }
    config = config.group(group);
    let consumer = ConsumerActor::builder(config)
        .downstream(Worker::default().start().recipient())
        .acked(acked)
        .no_acked(no_acked)
        .start()
        .expect("start a member");
    Member { name, consumer }
}

/// Leaves with `Unsubscribe`: the revoked partitions are resolved and committed before
/// they are released; once the member owns nothing, it stops.
async fn unsubscribe_then_stop(member: Member) -> (&'static str, Stats) {
    member.consumer.send(Unsubscribe).await.unwrap().unwrap();
    stats_until(&member.consumer, WAIT, |s| s.assignment.is_empty()).await;
    stop(member).await
}

/// Leaves with a plain `Stop`.
async fn stop(member: Member) -> (&'static str, Stats) {
    let stats = tokio::time::timeout(WAIT, member.consumer.send(Stop))
        .await
        .unwrap_or_else(|_| panic!("{} stops", member.name))
        .unwrap()
        .unwrap_or_else(|e| panic!("{} stops cleanly: {e}", member.name));
    (member.name, stats)
}

/// Waits until the group has settled on `members`: each owns at least one partition, none
/// owns a partition another owns, and together they own all of them. Returns who owns what.
async fn settled(members: &[&Member], topic: &str) -> BTreeMap<&'static str, Vec<String>> {
    let all: BTreeSet<String> = (0..PARTITIONS).map(|p| format!("{topic}/{p}")).collect();
    let until = Instant::now() + WAIT;
    loop {
        let mut owners = BTreeMap::new();
        for m in members {
            let stats = m.consumer.send(GetStats).await.expect("member alive");
            owners.insert(m.name, stats.assignment);
        }
        let owned: Vec<&String> = owners.values().flatten().collect();
        let distinct: BTreeSet<String> = owned.iter().map(|p| p.to_string()).collect();
        if owners.values().all(|a| !a.is_empty())
            && owned.len() == distinct.len()
            && distinct == all
        {
            return owners;
        }
        assert!(
            Instant::now() < until,
            "the group never settled on {:?} within {WAIT:?}: {owners:?}",
            owners.keys().collect::<Vec<_>>()
        );
        // Polling interval of a condition only the members know (as in `stats_until`).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Produces `count` records from `from` in the background, in slices with a short pause
/// between them, so that records keep arriving while the membership changes.
fn produce_in_background(
    broker: &Broker,
    topic: &str,
    from: usize,
    count: usize,
) -> tokio::task::JoinHandle<Vec<Delivered>> {
    let producer = producer(broker);
    let batch = records(topic, PARTITIONS, from, count);
    actix::spawn(async move {
        let mut delivered = Vec::with_capacity(batch.len());
        for slice in batch.chunks(150) {
            delivered.extend(producer.send_batch(slice).await.expect("produce"));
            // Pacing, not synchronisation: spreads the chunk over the membership change.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        delivered
    })
}

/// The group's committed offsets as the broker has them, read by a client outside the group.
fn group_offsets(brokers: &str, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("offset reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let committed = client
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("read the group's offsets");
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => (e.partition(), Some(o)),
            _ => (e.partition(), None),
        })
        .collect()
}

#[actix::test]
async fn members_join_and_leave_mid_stream_and_nothing_is_lost() {
    let started = Instant::now();
    let broker = broker();
    let topic = topic(&broker, "storm", PARTITIONS).await;
    let group = unique("storm-group");
    let ledger = Ledger::default();
    let say = |what: &str, owners: &BTreeMap<&str, Vec<String>>| {
        report(&format!(
            "storm {what} (+{:.1?}): {owners:?}",
            started.elapsed()
        ));
    };
    let mut produced: Vec<Delivered> = Vec::new();
    let mut left: Vec<(&'static str, Stats)> = Vec::new();
    let mut next = 0;
    // Each round's records are flowing (some handed over) before its membership change.
    let chunk = |next: &mut usize| {
        let producing = produce_in_background(&broker, &topic, *next, CHUNK);
        *next += CHUNK;
        producing
    };
    let flowing = |ledger: &Ledger| {
        let seen = ledger.entries().len();
        let ledger = ledger.clone();
        async move { ledger.wait_for(seen + CHUNK / 4, WAIT).await }
    };

    // Round 0: three members split the six partitions while the first chunk arrives.
    let a = join(&broker, &topic, &group, &ledger, "a");
    let b = join(&broker, &topic, &group, &ledger, "b");
    let c = join(&broker, &topic, &group, &ledger, "c");
    let producing = chunk(&mut next);
    let owners = settled(&[&a, &b, &c], &topic).await;
    say("round 0", &owners);
    produced.extend(producing.await.unwrap());

    // Round 1: a unsubscribes (and then stops) while d joins.
    let producing = chunk(&mut next);
    flowing(&ledger).await;
    let leaving = actix::spawn(unsubscribe_then_stop(a));
    let d = join(&broker, &topic, &group, &ledger, "d");
    left.push(leaving.await.unwrap());
    let owners = settled(&[&b, &c, &d], &topic).await;
    say("round 1: a unsubscribed, d joined", &owners);
    produced.extend(producing.await.unwrap());

    // Round 2: b stops while e joins.
    let producing = chunk(&mut next);
    flowing(&ledger).await;
    let leaving = actix::spawn(stop(b));
    let e = join(&broker, &topic, &group, &ledger, "e");
    left.push(leaving.await.unwrap());
    let owners = settled(&[&c, &d, &e], &topic).await;
    say("round 2: b stopped, e joined", &owners);
    produced.extend(producing.await.unwrap());

    // Round 3: c unsubscribes and d stops at the same time; e takes everything, then f joins.
    let producing = chunk(&mut next);
    flowing(&ledger).await;
    let (c_left, d_left) = tokio::join!(unsubscribe_then_stop(c), stop(d));
    left.extend([c_left, d_left]);
    let owners = settled(&[&e], &topic).await;
    say("round 3: c and d left", &owners);
    let f = join(&broker, &topic, &group, &ledger, "f");
    let owners = settled(&[&e, &f], &topic).await;
    say("round 3: f joined", &owners);
    produced.extend(producing.await.unwrap());

    // Round 4: g joins while e unsubscribes (and then stops).
    let producing = chunk(&mut next);
    flowing(&ledger).await;
    let g = join(&broker, &topic, &group, &ledger, "g");
    left.push(unsubscribe_then_stop(e).await);
    let owners = settled(&[&f, &g], &topic).await;
    say("round 4: g joined, e unsubscribed", &owners);
    produced.extend(producing.await.unwrap());

    // Round 5: h and i join while f stops.
    let producing = chunk(&mut next);
    flowing(&ledger).await;
    let h = join(&broker, &topic, &group, &ledger, "h");
    let i = join(&broker, &topic, &group, &ledger, "i");
    left.push(stop(f).await);
    let owners = settled(&[&g, &h, &i], &topic).await;
    say("round 5: h and i joined, f stopped", &owners);
    produced.extend(producing.await.unwrap());

    // The end: z joins and the others leave (g by unsubscribing, h and i by stopping), so
    // z owns every partition. It then reads a last chunk alone.
    let producing = chunk(&mut next);
    flowing(&ledger).await;
    let z = join(&broker, &topic, &group, &ledger, "z");
    let (g_left, h_left, i_left) = tokio::join!(unsubscribe_then_stop(g), stop(h), stop(i));
    left.extend([g_left, h_left, i_left]);
    let owners = settled(&[&z], &topic).await;
    say("end: z alone", &owners);
    produced.extend(producing.await.unwrap());
    produced.extend(produce(&broker, &topic, PARTITIONS, next, LAST_CHUNK).await);
    next += LAST_CHUNK;
    assert_eq!(produced.len(), next);

    // Every produced record reaches the ledger, and z's commits reach every partition's end.
    ledger
        .wait_until(WAIT, |_| lost(&ledger, &topic, &produced).is_empty())
        .await;
    let ends = ends(&produced);
    stats_until(&z.consumer, WAIT, |s| {
        ends.iter()
            .all(|(&p, &end)| s.committed(&topic, p).is_some_and(|c| c >= end))
    })
    .await;
    let (_, last) = stop(z).await;
    for (&p, &end) in &ends {
        assert_eq!(last.committed(&topic, p), Some(end), "z's commit of {p}");
    }
    let on_broker = tokio::task::spawn_blocking({
        let (broker, group, topic) = (broker.bootstrap_servers(), group.clone(), topic.clone());
        move || group_offsets(&broker, &group, &topic)
    })
    .await
    .unwrap();

    // The counts.
    let counts = ledger.counts();
    let missing = lost(&ledger, &topic, &produced);
    let duplicates: usize = counts.values().map(|&n| n - 1).sum();
    let mut by_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for ((_, p, _), &n) in &counts {
        if n > 1 {
            *by_partition.entry(*p).or_default() += n - 1;
        }
    }
    left.push(("z", last));
    let sum = |f: fn(&Stats) -> u64| left.iter().map(|(_, s)| f(s)).sum::<u64>();
    report(&format!(
        "storm: produced={} handed_over={} unique={} duplicates={} lost={} rebalances={} \
         timed_out={} discarded={} commit_failures={} members={} in {:?}",
        produced.len(),
        sum(|s| s.handed_over),
        counts.len(),
        duplicates,
        missing.len(),
        sum(|s| s.rebalances),
        sum(|s| s.timed_out),
        sum(|s| s.discarded),
        sum(|s| s.commit_failures),
        left.len(),
        started.elapsed(),
    ));
    for (name, s) in &left {
        report(&format!(
            "storm member {name}: received={} handed_over={} timed_out={} discarded={} \
             rebalances={} commits={} commit_failures={} committed={}",
            s.received,
            s.handed_over,
            s.timed_out,
            s.discarded,
            s.rebalances,
            s.commits,
            s.commit_failures,
            s.committed_summary()
        ));
    }
    if duplicates > 0 {
        report(&format!("storm duplicates by partition: {by_partition:?}"));
    }
    report(&format!("storm group offsets on the broker: {on_broker:?}"));

    assert!(missing.is_empty(), "lost {}: {missing:?}", missing.len());
    assert_eq!(
        ledger.entries().len() as u64,
        sum(|s| s.handed_over),
        "the ledger holds exactly what the members handed over"
    );
    for (&p, &end) in &ends {
        assert_eq!(on_broker.get(&p), Some(&Some(end)), "group offset of {p}");
    }
}
