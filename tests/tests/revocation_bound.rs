//! A revocation ends within the rebalance timeout the member gave the broker (issue 28).
//!
//! Member A has an ack timeout of 40 s and `max.poll.interval.ms` = 10 s, its rebalance
//! timeout; 10 of 200 records are never answered. Member B joins once A has handed over
//! the other 190. A's revocation must not wait for the 10 silent records (up to 45 s): the
//! group would expel it at 10 s and give its partitions to B while A still handed them
//! over, and A's commit on revocation would fail. Instead A stops waiting inside the 10 s,
//! commits what it resolved, and leaves the rest to the next owner, which times them out.
//!
//! Asserted: A's revocation commit succeeds (no commit fails at either member); the two
//! ledgers hold every record; no partition is owned by both members at once, and each
//! member hands a record over only while it owns its partition, so no record is handed
//! over by both at overlapping times (the ledgers' and the rebalance listeners' times); A
//! revokes once and B never before the stop (no member is expelled); Kafka's own
//! kafka-consumer-groups shows LAG 0. Under the classic protocol with the eager `range`
//! assignor of the case, and under KIP-848.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_tests::*;

const PARTITIONS: i32 = 2;
const RECORDS: usize = 200;
/// Records `v{i}` with `i % 40` 2 or 3: 5 per partition, the first at offset 1 of each.
const SILENT: usize = 10;
const ACK_TIMEOUT: Duration = Duration::from_secs(40);
const REBALANCE_TIMEOUT_MS: u64 = 10_000;
/// Bounds a failure only: every wait ends on an event.
const WAIT: Duration = Duration::from_secs(150);

fn silent(record: &Record) -> bool {
    let i: usize = record.payload_str().unwrap()[1..].parse().unwrap();
    matches!(i % 40, 2 | 3)
}

/// What one member's rebalance listener heard, and when.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<(Instant, Rebalanced)>>>);

impl Actor for Heard {
    type Context = Context<Self>;
}

impl Handler<Rebalanced> for Heard {
    type Result = ();
    fn handle(&mut self, change: Rebalanced, _: &mut Context<Self>) {
        self.0.lock().unwrap().push((Instant::now(), change));
    }
}

impl Heard {
    fn events(&self) -> Vec<(Instant, Rebalanced)> {
        self.0.lock().unwrap().clone()
    }

    /// Revocations of some partition, or assignments that give a partition not held: librdkafka
    /// reports an incremental rebalance that changes nothing of a member's as an empty or
    /// a repeated assignment, at times (KIP-848).
    fn count(&self, revoked: bool) -> usize {
        let mut held = std::collections::BTreeSet::new();
        let mut count = 0;
        for (_, event) in self.events() {
            match event {
                Rebalanced::Revoked(partitions) => {
                    for (_, p) in &partitions {
                        held.remove(p);
                    }
                    count += usize::from(revoked && !partitions.is_empty());
                }
                Rebalanced::Assigned(partitions) => {
                    let mut new = false;
                    for (_, p) in partitions {
                        new |= held.insert(p);
                    }
                    count += usize::from(!revoked && new);
                }
                _ => {}
            }
        }
        count
    }

    /// When this member owned each partition: from its assignment to its revocation, or to
    /// `end`.
    fn ownership(&self, end: Instant) -> BTreeMap<i32, Vec<(Instant, Instant)>> {
        let mut owned: BTreeMap<i32, Vec<(Instant, Instant)>> = BTreeMap::new();
        let mut since: BTreeMap<i32, Instant> = BTreeMap::new();
        for (at, event) in self.events() {
            match event {
                Rebalanced::Assigned(partitions) => {
                    for (_, p) in partitions {
                        since.entry(p).or_insert(at);
                    }
                }
                Rebalanced::Revoked(partitions) => {
                    for (_, p) in partitions {
                        if let Some(from) = since.remove(&p) {
                            owned.entry(p).or_default().push((from, at));
                        }
                    }
                }
                _ => {}
            }
        }
        for (p, from) in since {
            owned.entry(p).or_default().push((from, end));
        }
        owned
    }
}

/// A member of the group: its consumer, its ledger and what its listener heard.
struct Member {
    name: &'static str,
    consumer: Addr<ConsumerActor>,
    ledger: Ledger,
    heard: Heard,
}

impl Member {
    fn start(name: &'static str, broker: &Broker, topic: &str, group: &str) -> Member {
        let mut config = group_config(broker, topic, group)
            .ack_timeout(ACK_TIMEOUT)
            .property("max.poll.interval.ms", REBALANCE_TIMEOUT_MS.to_string());
        if !consumer_protocol() {
            // The case: an eager assignor, so a join revokes every partition.
            config = config.property("partition.assignment.strategy", "range");
        }
        assert!(
            config.revocation_wait() < Duration::from_millis(REBALANCE_TIMEOUT_MS),
            "{:?}",
            config.revocation_wait()
        );
        let ledger = Ledger::default();
        let heard = Heard::default();
        let (acked, no_acked) = ledger.start();
        let (downstream, _) = Scripted::new(|r| match silent(r) {
            true => Action::Hold,
            false => Action::Ack,
        });
        let consumer = ConsumerActor::builder(config)
            .downstream(downstream.start().recipient())
            .acked(acked)
            .no_acked(no_acked)
            .rebalance_listener(heard.clone().start().recipient())
            .start()
            .expect("start a consumer");
        Member {
            name,
            consumer,
            ledger,
            heard,
        }
    }

    async fn stats(&self) -> Stats {
        self.consumer.send(GetStats).await.expect("consumer alive")
    }

    /// Hand-overs made while the member did not own the record's partition.
    fn outside_ownership(&self, end: Instant) -> Vec<String> {
        let owned = self.heard.ownership(end);
        let during = |p: i32, at: Instant| {
            owned
                .get(&p)
                .is_some_and(|spans| spans.iter().any(|&(from, to)| from <= at && at <= to))
        };
        self.ledger
            .entries()
            .iter()
            .filter(|e| !during(e.partition, e.at))
            .map(|e| format!("{} {}/{}", self.name, e.partition, e.offset))
            .collect()
    }
}

/// Pairs of ownership spans of one partition by both members that overlap in time.
fn overlaps(a: &Member, b: &Member, end: Instant) -> Vec<String> {
    let (owned_a, owned_b) = (a.heard.ownership(end), b.heard.ownership(end));
    let mut found = Vec::new();
    for (p, spans_a) in &owned_a {
        for &(from_a, to_a) in spans_a {
            for &(from_b, to_b) in owned_b.get(p).into_iter().flatten() {
                if from_a < to_b && from_b < to_a {
                    let ms = (to_a.min(to_b) - from_a.max(from_b)).as_millis();
                    found.push(format!("partition {p}: both owned it for {ms} ms"));
                }
            }
        }
    }
    found
}

/// Waits until the two ledgers together hold every record.
async fn both_hold_every_record(a: &Ledger, b: &Ledger) {
    let (mut seen_a, mut seen_b) = (a.subscribe(), b.subscribe());
    let union = || {
        let keys = |l: &Ledger| l.counts().into_keys().collect::<BTreeSet<_>>();
        keys(a).union(&keys(b)).count()
    };
    let waited = tokio::time::timeout(WAIT, async {
        while union() < RECORDS {
            tokio::select! {
                _ = seen_a.changed() => {}
                _ = seen_b.changed() => {}
            }
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "the ledgers hold {} of {RECORDS} records",
        union()
    );
}

/// Waits until, at one member or the other, each partition's commit has reached its end:
/// the group has settled. Only the consumers know it, so their stats are polled. `false`
/// after `WAIT`: a group that keeps expelling its members never settles.
async fn settled(members: [&Member; 2], topic: &str) -> bool {
    let end = (RECORDS / PARTITIONS as usize) as i64;
    let until = Instant::now() + WAIT;
    while Instant::now() < until {
        let mut committed = BTreeMap::new();
        for member in members {
            let stats = member.stats().await;
            for p in 0..PARTITIONS {
                let c = stats.committed(topic, p).unwrap_or(0);
                let best = committed.entry(p).or_insert(c);
                *best = (*best).max(c);
            }
        }
        if committed.values().all(|&c| c == end) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Kafka's own kafka-consumer-groups: the LAG of each partition of `group`.
fn lag(group: &str) -> Vec<String> {
    let out = kafka_tool(&["groups", "--describe", "--group", group]);
    out.lines()
        .filter(|line| line.starts_with(group))
        .filter_map(|line| line.split_whitespace().nth(5).map(str::to_string))
        .collect()
}

#[actix::test]
#[cfg_attr(
    not(gig_backend = "kafka"),
    ignore = "Apache Kafka only: the embedded broker ignores the rebalance timeout a member sends"
)]
async fn a_revocation_ends_within_the_rebalance_timeout_and_leaves_the_rest_to_the_next_owner() {
    require_kafka_tools("the LAG check");
    let broker = broker();
    let topic = topic(&broker, "revocation-bound", PARTITIONS).await;
    let group = unique("revocation-bound-group");
    produce(&broker, &topic, PARTITIONS, 0, RECORDS).await;

    let started = Instant::now();
    let a = Member::start("A", &broker, &topic, &group);
    // A holds only the silent records now, their deadlines 40 s away.
    a.ledger.wait_for(RECORDS - SILENT, WAIT).await;
    let joined = started.elapsed();
    let b = Member::start("B", &broker, &topic, &group);
    both_hold_every_record(&a.ledger, &b.ledger).await;
    let took = started.elapsed();
    let settled = settled([&a, &b], &topic).await;
    let settled_after = started.elapsed();

    let end = Instant::now();
    let (before_a, before_b) = (a.stats().await, b.stats().await);
    let (stop_a, stop_b) = tokio::join!(a.consumer.send(Stop), b.consumer.send(Stop));
    // A failed final commit is reported with the figures, then fails the test.
    let (stop_a, stop_b) = (stop_a.unwrap(), stop_b.unwrap());
    let last_a = stop_a.as_ref().map_or(before_a, Clone::clone);
    let last_b = stop_b.as_ref().map_or(before_b, Clone::clone);
    let (counts_a, counts_b) = (a.ledger.counts(), b.ledger.counts());
    let by_both = counts_a
        .keys()
        .filter(|k| counts_b.contains_key(*k))
        .count();
    let union: BTreeSet<_> = counts_a.keys().chain(counts_b.keys()).collect();
    let outside: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|m| m.outside_ownership(end))
        .collect();
    let overlapping = overlaps(&a, &b, end);
    let lag = lag(&group);
    report(&format!(
        "revocation_bound [{:?}, {} protocol]: B joined {} ms after A; every record handed over \
         after {} ms; committed to the end: {settled} after {} ms; handed over by both: {by_both}; by A: {}, by B: {}; commits refused: A {}, \
         B {}; left to the next owner: A {}, B {}; assignments: A {}, B {}; revocations before \
         the stop: A {}, B {}; owned by both at once: {overlapping:?}; handed over outside \
         ownership: {}; LAG {lag:?}; stops: A {:?}, B {:?}",
        backend(),
        group_protocol(),
        joined.as_millis(),
        took.as_millis(),
        settled_after.as_millis(),
        a.ledger.entries().len(),
        b.ledger.entries().len(),
        last_a.commit_failures,
        last_b.commit_failures,
        last_a.left_to_next_owner,
        last_b.left_to_next_owner,
        a.heard.count(false),
        b.heard.count(false),
        a.heard.count(true),
        b.heard.count(true),
        outside.len(),
        stop_a.as_ref().err(),
        stop_b.as_ref().err(),
    ));

    assert!(
        settled,
        "the group's commits never reached the partitions' ends"
    );
    stop_a.expect("A's stop");
    stop_b.expect("B's stop");
    assert_eq!(union.len(), RECORDS, "the two ledgers hold every record");
    assert_eq!(
        (last_a.commit_failures, last_b.commit_failures),
        (0, 0),
        "no commit failed, the revocation's least"
    );
    assert!(overlapping.is_empty(), "{overlapping:?}");
    assert!(outside.is_empty(), "{outside:?}");
    assert_eq!(
        (a.heard.count(true), b.heard.count(true)),
        (1, 0),
        "A revoked once, for B's join; no member was expelled"
    );
    // Under the classic protocol (eager `range`) A gives up both partitions at B's join and
    // is assigned one again; under KIP-848 it keeps the one it is not asked to give up.
    let a_assigned = if consumer_protocol() { 1 } else { 2 };
    assert_eq!(
        (a.heard.count(false), b.heard.count(false)),
        (a_assigned, 1),
        "assignments: A's join (and, classic, its rejoin) and B's, nothing more"
    );
    assert!(
        last_a.left_to_next_owner > 0,
        "A left its silent records to the next owner"
    );
    assert!(
        !lag.is_empty() && lag.iter().all(|l| l == "0"),
        "LAG {lag:?}"
    );
}
