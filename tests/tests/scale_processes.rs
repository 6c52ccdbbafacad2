//! Three Gig consumer processes share one group on a 6-partition topic; one is SIGKILLed
//! halfway. Every record must be handed over at least once, the survivors must take over
//! the dead one's partitions, and only records the dead one had not committed may repeat.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gig_actors::prelude::*;
use gig_tests::*;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 60_000;

/// The latest status line of one worker.
#[derive(Default, Clone, Debug)]
struct Status {
    assignment: BTreeSet<i32>,
    committed: BTreeMap<i32, i64>,
}

struct Worker {
    child: Child,
    status: Arc<Mutex<Status>>,
    ledger: PathBuf,
}

impl Worker {
    fn spawn(id: usize, brokers: &str, topic: &str, group: &str, dir: &Path) -> Worker {
        let ledger = dir.join(format!("ledger.{id}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_gig-worker"))
            .args(["--brokers", brokers, "--topic", topic, "--group", group])
            .args(["--id", &id.to_string(), "--ledger"])
            .arg(&ledger)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn gig-worker");
        let status = Arc::new(Mutex::new(Status::default()));
        let out = child.stdout.take().unwrap();
        let shared = status.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let mut s = shared.lock().unwrap();
                s.assignment = v["assignment"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str()?.rsplit('/').next()?.parse().ok())
                    .collect();
                for c in v["committed"].as_array().into_iter().flatten() {
                    s.committed
                        .insert(c[0].as_i64().unwrap() as i32, c[1].as_i64().unwrap());
                }
            }
        });
        Worker {
            child,
            status,
            ledger,
        }
    }

    fn status(&self) -> Status {
        self.status.lock().unwrap().clone()
    }
}

/// Every `(partition, offset)` line of the ledger files.
fn read_ledgers(workers: &[Worker]) -> Vec<(i32, i64)> {
    let mut all = Vec::new();
    for w in workers {
        let Ok(text) = std::fs::read_to_string(&w.ledger) else {
            continue;
        };
        for line in text.lines() {
            let mut parts = line.split(' ');
            if let (Some(p), Some(o)) = (parts.next(), parts.next()) {
                all.push((p.parse().unwrap(), o.parse().unwrap()));
            }
        }
    }
    all
}

/// Waits, checking every 20 ms (the workers are other processes: no event reaches us).
async fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !ok() {
        assert!(
            Instant::now() < until,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix::test]
async fn three_processes_split_a_group_and_survive_a_sigkill() {
    let broker = broker();
    let topic = topic(&broker, "scale", PARTITIONS).await;
    let group = unique("scale-group");
    let dir = std::env::temp_dir().join(unique("gig-scale"));
    std::fs::create_dir_all(&dir).unwrap();
    let brokers = broker.bootstrap_servers();

    let mut workers: Vec<Worker> = (0..3)
        .map(|id| Worker::spawn(id, &brokers, &topic, &group, &dir))
        .collect();
    wait_until(
        "three members with two partitions each",
        Duration::from_secs(60),
        || workers.iter().all(|w| w.status().assignment.len() == 2),
    )
    .await;

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
        || read_ledgers(&workers).len() >= RECORDS / 2,
    )
    .await;
    let victim = workers[0].status();
    workers[0].child.kill().unwrap(); // SIGKILL
    workers[0].child.wait().unwrap();
    let handed_by_victim: Vec<(i32, i64)> = read_ledgers(&workers[..1]);
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
    .await;
    wait_until("every record handed over", Duration::from_secs(180), || {
        read_ledgers(&workers)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len()
            >= RECORDS
    })
    .await;
    for w in &mut workers[1..] {
        drop(w.child.stdin.take()); // closing stdin stops a worker cleanly
        assert!(w.child.wait().unwrap().success());
    }

    let all = read_ledgers(&workers);
    let mut counts: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for r in &all {
        *counts.entry(*r).or_default() += 1;
    }
    let duplicates: Vec<(i32, i64)> = counts
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(r, _)| *r)
        .collect();
    let lost = RECORDS - counts.len();
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
