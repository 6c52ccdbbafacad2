//! Three Gig consumer processes share one group on a 6-partition topic; one is SIGKILLed
//! halfway. Every record must be handed over at least once, the survivors must take over
//! the dead one's partitions, and only records the dead one had not committed may repeat.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gig_actors::prelude::*;
use gig_examples::chaos::{read_ledger, read_ledgers, wait_until, WorkerCommand, WorkerProcess};
use gig_tests::*;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 60_000;

#[actix::test]
async fn three_processes_split_a_group_and_survive_a_sigkill() {
    let broker = broker();
    let topic = topic(&broker, "scale", PARTITIONS).await;
    let dir = std::env::temp_dir().join(unique("gig-scale"));
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = WorkerCommand {
        program: env!("CARGO_BIN_EXE_gig-worker").into(),
        prefix: Vec::new(),
        brokers: broker.bootstrap_servers(),
        topic: topic.clone(),
        group: unique("scale-group"),
        session_timeout_ms: 6000,
        group_protocol: group_protocol(),
        options: Vec::new(),
    };
    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|id| WorkerProcess::spawn(&cmd, id, &dir).unwrap())
        .collect();
    let ledgers: Vec<_> = workers.iter().map(|w| w.ledger.clone()).collect();
    wait_until(
        "three members with two partitions each",
        Duration::from_secs(60),
        || workers.iter().all(|w| w.status().assignment.len() == 2),
    )
    .await
    .unwrap();

    // Produce in the background, in chunks, so that the kill lands mid-stream.
    let producer = producer(&broker);
    let records: Vec<ProducerRecord> = (0..RECORDS)
        .map(|i| {
            ProducerRecord::new(topic.as_str(), format!("v{i}"))
                .partition((i % PARTITIONS as usize) as i32)
        })
        .collect();
    let producing = actix::spawn(async move {
        for chunk in records.chunks(1000) {
            producer.send_batch(chunk).await.expect("produce");
        }
    });
    wait_until(
        "half the records handed over",
        Duration::from_secs(120),
        || read_ledgers(&ledgers).len() >= RECORDS / 2,
    )
    .await
    .unwrap();
    let victim = workers[0].status();
    workers[0].kill().unwrap(); // SIGKILL
    let handed_by_victim = read_ledger(&ledgers[0]);
    producing.await.unwrap();

    wait_until(
        "survivors own all six partitions",
        Duration::from_secs(60),
        || {
            let owned: BTreeSet<i32> = workers[1..]
                .iter()
                .flat_map(|w| w.status().assignment)
                .collect();
            owned.len() == PARTITIONS as usize
        },
    )
    .await
    .unwrap();
    wait_until("every record handed over", Duration::from_secs(180), || {
        read_ledgers(&ledgers)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len()
            >= RECORDS
    })
    .await
    .unwrap();
    for w in &mut workers[1..] {
        assert!(w.stop().unwrap(), "a survivor stops cleanly");
    }

    let all = read_ledgers(&ledgers);
    let mut counts: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for r in &all {
        *counts.entry(*r).or_default() += 1;
    }
    let duplicates: Vec<(i32, i64)> = counts
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(r, _)| *r)
        .collect();
    // A record may repeat only if the victim handed it over at or past its last known
    // commit of that partition: it was in flight, or not yet committed, at the kill.
    for (p, o) in &duplicates {
        assert!(
            victim.assignment.contains(p),
            "duplicate {p}/{o} from a partition the victim did not own"
        );
        let committed = victim.committed.get(p).copied().unwrap_or(0);
        assert!(
            *o >= committed,
            "duplicate {p}/{o} below the victim's commit {committed}"
        );
        assert!(
            handed_by_victim.contains(&(*p, *o)),
            "duplicate {p}/{o} not from the victim"
        );
    }
    let lost = RECORDS - counts.len();
    report(&format!(
        "scale_processes [{:?}]: records={RECORDS} handed_over={} unique={} lost={lost} duplicates={} \
         victim_partitions={:?} victim_handed_over={}",
        backend(),
        all.len(),
        counts.len(),
        duplicates.len(),
        victim.assignment,
        handed_by_victim.len()
    ));
    assert_eq!(lost, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
