//! What the reliability scenarios share (`rolling_restart`, `member_chaos`,
//! `leader_failover`, `broker_kill`): where they run, a fleet of `gig-worker` processes,
//! control of the Kafka nodes `.ci/kafka.sh` started, and the group's offsets as the broker
//! has them. The checker itself is `gig_tests::checker`.
//!
//! **Where.** On the 3-node cluster named by `GIGCI_TEST_CLUSTER=HOST:PORT,HOST:PORT,HOST:PORT`
//! when it is set; else, for the scenarios that make sense on one node, on the single Kafka
//! node of `GIGCI_TEST_BROKERS` (with `GIGCI_TEST_BROKER_KIND=kafka`). Anywhere else the test
//! is ignored, with the reason (tests/build.rs).
//!
//! **Killing brokers.** A test may SIGKILL and restart Kafka nodes only when the brokers it
//! runs on are exactly those `.ci/kafka.sh` started in its state dir: `GIGCI_KAFKA_STATE_DIR`,
//! or the script's default `${TMPDIR:-/tmp}/gig-kafka`. That dir's `bootstrap` file must
//! list the same addresses, and each node must have its pid file. `GIGCI_TEST_KAFKA_CONTROL=0`
//! forbids it even then (for a broker that others use at the same time): those tests are
//! then ignored; a test that may kill brokers and finds them not started here fails. A
//! [`KafkaControl`] restarts every node it killed when it is dropped, so a failing test
//! still leaves the broker running for the tests after it.

#![allow(dead_code)] // Each test binary uses a part of this module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_examples::chaos::{wait_until, WorkerCommand, WorkerProcess};
use gig_tests::checker::{check, Follower, Ledgers, Produced, Report};
use gig_tests::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Names a 3-node Kafka cluster for the scenarios.
pub const CLUSTER_VAR: &str = "GIGCI_TEST_CLUSTER";
/// `0` forbids the tests to kill brokers.
pub const CONTROL_VAR: &str = "GIGCI_TEST_KAFKA_CONTROL";
/// The state dir of `.ci/kafka.sh`.
pub const STATE_DIR_VAR: &str = "GIGCI_KAFKA_STATE_DIR";

/// Wall-clock microseconds, the clock of the worker ledgers.
pub use gig_examples::ledger_file::wall_us;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where a scenario runs.
pub struct Site {
    /// The brokers.
    pub broker: Broker,
    /// `cluster` or `single node`.
    pub kind: &'static str,
}

impl Site {
    /// Bootstrap servers.
    pub fn brokers(&self) -> String {
        self.broker.bootstrap_servers()
    }

    /// `[cluster, classic]`: where and under which group protocol, for summary lines.
    pub fn label(&self) -> String {
        format!("[{}, {}]", self.kind, group_protocol())
    }
}

/// The Kafka a scenario runs on: the cluster of `GIGCI_TEST_CLUSTER`, else, if the scenario
/// makes sense on one node (`one_node`), the single Kafka node of `GIGCI_TEST_BROKERS`. A
/// scenario is ignored where there is neither (tests/build.rs); this panics then.
pub fn site(one_node: bool) -> Site {
    init();
    if let Some(cluster) = env(CLUSTER_VAR) {
        return Site {
            broker: Broker::External(cluster),
            kind: "cluster",
        };
    }
    assert!(
        one_node && backend() == Backend::Kafka,
        "no Kafka to run on: set {CLUSTER_VAR}=HOST:PORT,HOST:PORT,HOST:PORT (a 3-node cluster){}",
        match one_node {
            true => ", or GIGCI_TEST_BROKERS with GIGCI_TEST_BROKER_KIND=kafka",
            false => "",
        }
    );
    Site {
        broker: broker(),
        kind: "single node",
    }
}

/// The state dir `.ci/kafka.sh` uses with this environment.
fn state_dir() -> PathBuf {
    match env(STATE_DIR_VAR) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env("TMPDIR").unwrap_or_else(|| "/tmp".to_string())).join("gig-kafka")
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/kafka.sh")
}

/// Runs `.ci/kafka.sh ARGS` with this process's environment (and so its state dir);
/// returns its output, or its output and error on failure.
fn kafka_sh(args: &[&str], bootstrap: Option<&str>) -> Result<String, String> {
    let mut command = Command::new("bash");
    command.arg(script()).args(args);
    if let Some(b) = bootstrap {
        command.env("GIGCI_KAFKA_BOOTSTRAP", b);
    }
    let out = command
        .output()
        .map_err(|e| format!("cannot run .ci/kafka.sh: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "kafka.sh {} failed ({}): {text}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Kills and restarts the Kafka nodes `.ci/kafka.sh` started; restarts what it killed when
/// dropped.
pub struct KafkaControl {
    /// Node id (Kafka's `node.id`) → its address.
    pub nodes: BTreeMap<i32, String>,
    down: Mutex<BTreeSet<i32>>,
}

impl KafkaControl {
    /// Control of the brokers at `brokers`, if this test may kill them (see the module
    /// docs); otherwise why not.
    pub fn of(brokers: &str) -> Result<KafkaControl, String> {
        if env(CONTROL_VAR).as_deref() == Some("0") {
            return Err(format!("{CONTROL_VAR}=0 forbids killing the broker"));
        }
        let dir = state_dir();
        let started = std::fs::read_to_string(dir.join("bootstrap")).map_err(|_| {
            format!(
                "no Kafka started by .ci/kafka.sh in {} (set {STATE_DIR_VAR} to the state dir it was started with)",
                dir.display()
            )
        })?;
        let set = |s: &str| -> BTreeSet<String> {
            s.split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect()
        };
        if set(&started) != set(brokers) {
            return Err(format!(
                "the brokers under test ({brokers}) are not the ones .ci/kafka.sh started in {} ({})",
                dir.display(),
                started.trim()
            ));
        }
        let mut nodes = BTreeMap::new();
        for id in 1.. {
            let Ok(address) = std::fs::read_to_string(dir.join(format!("node-{id}.address")))
            else {
                break;
            };
            if !dir.join(format!("node-{id}.pid")).exists() {
                return Err(format!("node {id} in {} has no pid file", dir.display()));
            }
            nodes.insert(id, address.trim().to_string());
        }
        Ok(KafkaControl {
            nodes,
            down: Mutex::new(BTreeSet::new()),
        })
    }

    /// SIGKILLs node `id` and waits until it is gone; returns when (wall-clock µs).
    pub fn kill(&self, id: i32) -> u64 {
        // Marked first: if the kill half-fails, the drop still restarts the node.
        self.down.lock().unwrap().insert(id);
        let out = kafka_sh(&["kill", &id.to_string()], None).unwrap();
        report(&format!("  {}", out.trim()));
        wall_us()
    }

    /// Restarts the nodes at once (a KRaft node waits for a quorum of controllers, so a
    /// whole cluster must come back together) and waits until each answers.
    pub async fn restart(&self, ids: &[i32]) {
        let starting: Vec<_> = ids
            .iter()
            .map(|&id| {
                tokio::task::spawn_blocking(move || kafka_sh(&["restart", &id.to_string()], None))
            })
            .collect();
        for (id, started) in ids.iter().zip(starting) {
            let out = started.await.unwrap();
            let out = out.unwrap_or_else(|e| panic!("restarting Kafka node {id}: {e}"));
            self.down.lock().unwrap().remove(id);
            report(&format!("  {}", out.lines().last().unwrap_or_default()));
        }
    }
}

impl Drop for KafkaControl {
    fn drop(&mut self) {
        let down: Vec<i32> =
            std::mem::take(&mut *self.down.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if down.is_empty() {
            return;
        }
        report(&format!(
            "restoring Kafka node(s) {down:?} killed by the test"
        ));
        let restarting: Vec<_> = down
            .iter()
            .map(|&id| std::thread::spawn(move || kafka_sh(&["restart", &id.to_string()], None)))
            .collect();
        for (id, t) in down.iter().zip(restarting) {
            match t.join() {
                Ok(Ok(_)) => report(&format!("  node {id} restarted")),
                Ok(Err(e)) => report(&format!("  node {id}: {e}")),
                Err(_) => report(&format!("  node {id}: the restart panicked")),
            }
        }
    }
}

/// The leader (Kafka node id) of each partition of `topic`, from the cluster's metadata.
pub fn leaders(brokers: &str, topic: &str) -> BTreeMap<i32, i32> {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("metadata client");
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions())
        .map(|p| (p.id(), p.leader()))
        .collect()
}

/// A group's committed offsets as the broker has them, read by a client outside the group.
pub struct GroupView {
    client: BaseConsumer,
    topic: String,
    partitions: i32,
}

impl GroupView {
    /// A reader of `group`'s offsets of `topic`.
    pub fn new(brokers: &str, group: &str, topic: &str, partitions: i32) -> GroupView {
        let client = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", group)
            .create()
            .expect("offset reader");
        GroupView {
            client,
            topic: topic.to_string(),
            partitions,
        }
    }

    /// Committed offset per partition (`None`: nothing committed), or why it could not be read.
    pub fn committed(&self) -> Result<BTreeMap<i32, Option<i64>>, String> {
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions {
            tpl.add_partition(&self.topic, p);
        }
        let committed = self
            .client
            .committed_offsets(tpl, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        Ok(committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => (e.partition(), Some(o)),
                _ => (e.partition(), None),
            })
            .collect())
    }

    /// Waits until every partition's committed offset is its end; panics after `timeout`
    /// with what it saw last.
    pub async fn wait_committed(&self, ends: &BTreeMap<i32, i64>, timeout: Duration) {
        let until = Instant::now() + timeout;
        let mut last = Err("not read yet".to_string());
        while Instant::now() < until {
            last = self.committed();
            if let Ok(committed) = &last {
                if ends
                    .iter()
                    .all(|(p, end)| committed.get(p) == Some(&Some(*end)))
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the group's commits never reached the ends {ends:?} within {timeout:?}; last read: {last:?}");
    }

    /// Each partition's high watermark (its end), from the broker.
    pub fn high_watermarks(&self) -> BTreeMap<i32, i64> {
        (0..self.partitions)
            .map(|p| {
                let (_, high) = self
                    .client
                    .fetch_watermarks(&self.topic, p, Duration::from_secs(10))
                    .expect("watermarks");
                (p, high)
            })
            .collect()
    }
}

/// Kafka's own view of the group, a check foreign to Gig and librdkafka:
/// `kafka-consumer-groups --describe` through `.ci/kafka.sh groups`, as the LAG column per
/// partition of `topic`. `Err` when the tool cannot run here (Kafka is not installed).
pub fn kafka_tool_lag(
    brokers: &str,
    group: &str,
    topic: &str,
) -> Result<BTreeMap<i32, String>, String> {
    let out = kafka_sh(&["groups", "--describe", "--group", group], Some(brokers))?;
    Ok(out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() >= 6 && c[0] == group && c[1] == topic)
        .filter_map(|c| Some((c[2].parse().ok()?, c[5].to_string())))
        .collect())
}

/// Record `i` of a keyed run: payload `v{i}`, key `k{i % keys}`, and each key on one
/// partition, `(i % keys) % partitions`.
pub fn keyed(
    topic: &str,
    range: std::ops::Range<usize>,
    keys: usize,
    partitions: i32,
) -> Vec<ProducerRecord> {
    range
        .map(|i| {
            let key = i % keys;
            ProducerRecord::new(topic, format!("v{i}"))
                .key(format!("k{key}"))
                .partition((key % partitions as usize) as i32)
        })
        .collect()
}

/// A producer that cannot write a record twice when a broker fails over (idempotent).
pub fn scenario_producer(site: &Site) -> GigProducer {
    producer_with(&site.broker, &[("enable.idempotence", "true")])
}

/// Produces `records` in batches; returns where each landed.
pub async fn produce_all(producer: &GigProducer, records: &[ProducerRecord]) -> Vec<Produced> {
    let mut produced = Vec::with_capacity(records.len());
    for chunk in records.chunks(1000) {
        let delivered = producer.send_batch(chunk).await.expect("produce");
        produced.extend(chunk.iter().zip(delivered).map(|(r, d)| {
            Produced {
                partition: d.partition,
                offset: d.offset,
                key: r
                    .key
                    .as_ref()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
            }
        }));
    }
    produced
}

/// One past the highest produced offset per partition: where the commits must reach.
pub fn produced_ends(produced: &[Produced]) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for p in produced {
        let end = ends.entry(p.partition).or_insert(0);
        *end = (*end).max(p.offset + 1);
    }
    ends
}

/// The `gig-worker` processes of one run: how to start them, their ledgers and logs.
pub struct Fleet {
    /// How workers start.
    pub cmd: WorkerCommand,
    /// Ledgers and logs.
    pub dir: PathBuf,
    next_id: usize,
    ledgers: Vec<PathBuf>,
    follower: Follower,
}

impl Fleet {
    /// A fleet for `topic` in a fresh group; `options` go to every worker.
    pub fn new(site: &Site, topic: &str, options: &[&str]) -> Fleet {
        let dir = std::env::temp_dir().join(unique("gig-scenario"));
        std::fs::create_dir_all(&dir).unwrap();
        Fleet {
            cmd: WorkerCommand {
                program: env!("CARGO_BIN_EXE_gig-worker").into(),
                prefix: Vec::new(),
                brokers: site.brokers(),
                topic: topic.to_string(),
                group: unique("scenario-group"),
                session_timeout_ms: 6000,
                group_protocol: group_protocol(),
                options: options.iter().map(|o| o.to_string()).collect(),
            },
            dir,
            next_id: 0,
            ledgers: Vec::new(),
            follower: Follower::default(),
        }
    }

    /// Starts a worker with a ledger and log of its own.
    pub fn spawn(&mut self) -> WorkerProcess {
        let id = self.next_id;
        self.next_id += 1;
        let worker = WorkerProcess::spawn_logged(&self.cmd, id, &self.dir).expect("spawn a worker");
        self.follower.watch(&worker.ledger);
        self.ledgers.push(worker.ledger.clone());
        worker
    }

    /// Starts `n` workers and waits until they split the `partitions`.
    pub async fn start(&mut self, n: usize, partitions: i32, wait: Duration) -> Vec<WorkerProcess> {
        let workers: Vec<_> = (0..n).map(|_| self.spawn()).collect();
        settled(&workers.iter().collect::<Vec<_>>(), partitions, wait).await;
        workers
    }

    /// Ends a run: waits until every produced record is handed over and the group's commits
    /// reach the end of every partition, as the broker has them, with the log holding each
    /// record once (the producer is idempotent); stops the workers cleanly; checks the
    /// ledgers (with key ordering).
    pub async fn finish(
        &mut self,
        workers: &mut [WorkerProcess],
        produced: &[Produced],
        partitions: i32,
        wait: Duration,
    ) -> (Report, Ledgers) {
        self.wait_handed_over(produced.len(), wait).await;
        let group = GroupView::new(
            &self.cmd.brokers,
            &self.cmd.group,
            &self.cmd.topic,
            partitions,
        );
        let ends = produced_ends(produced);
        group.wait_committed(&ends, wait).await;
        assert_eq!(
            group.high_watermarks(),
            ends,
            "the log holds each record once"
        );
        stop_all(workers).await;
        let ledgers = self.ledgers();
        (check(produced, &ledgers, true), ledgers)
    }

    /// Distinct records handed over so far, across every worker.
    pub fn handed_over(&mut self) -> usize {
        self.follower.poll()
    }

    /// Waits until `n` distinct records were handed over; panics after `timeout`.
    pub async fn wait_handed_over(&mut self, n: usize, timeout: Duration) {
        let until = Instant::now() + timeout;
        while self.follower.poll() < n {
            assert!(
                Instant::now() < until,
                "waited {timeout:?} for {n} records to be handed over; {} were (ledgers and logs in {})",
                self.follower.unique(),
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every ledger, read in full.
    pub fn ledgers(&self) -> Ledgers {
        Ledgers::read(&self.ledgers)
    }

    /// Removes the ledgers and logs, unless the checker found something or
    /// `GIGCI_TEST_KEEP_LEDGERS` is set (then they stay, for a look, as they do when a test
    /// fails).
    pub fn clean_up(&self, found: &Report) {
        if found.clean() && env("GIGCI_TEST_KEEP_LEDGERS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            report(&format!(
                "  ledgers and worker logs kept in {}",
                self.dir.display()
            ));
        }
    }
}

/// Waits until `workers` split the `partitions` between them: each holds some, and together
/// they hold each exactly once. Panics after `timeout`.
pub async fn settled(workers: &[&WorkerProcess], partitions: i32, timeout: Duration) {
    let split = || {
        let held: Vec<BTreeSet<i32>> = workers.iter().map(|w| w.status().assignment).collect();
        let all: BTreeSet<i32> = held.iter().flatten().copied().collect();
        held.iter().all(|h| !h.is_empty())
            && held.iter().map(BTreeSet::len).sum::<usize>() == partitions as usize
            && all.len() == partitions as usize
    };
    if let Err(e) = wait_until("the workers split the partitions", timeout, split).await {
        let held: Vec<_> = workers
            .iter()
            .map(|w| (w.pid(), w.status().assignment))
            .collect();
        panic!("{e}: {held:?}");
    }
}

/// Stops every worker cleanly, all at once, and asserts that each exited 0.
pub async fn stop_all(workers: &mut [WorkerProcess]) {
    for w in workers.iter_mut() {
        w.begin_stop();
    }
    for w in workers.iter_mut() {
        let pid = w.pid();
        let clean = w.stop_within(Duration::from_secs(60)).await.unwrap();
        assert!(clean, "worker {pid} did not stop cleanly");
    }
}

/// Whether the group protocol lets a member that lost touch with its coordinator read on
/// after the broker fenced it. librdkafka 2.12 keeps a session timer of its own only under
/// the classic protocol (`rd_kafka_cgrp_session_timeout_check`, fed by classic heartbeats):
/// a classic member that cannot heartbeat for `session.timeout.ms` revokes its partitions
/// itself, before the coordinator gives them to others. Under KIP-848 it keeps them until a
/// heartbeat answer says it was fenced, and fetches meanwhile; after a broker outage longer
/// than the session timeout, such a member reads partitions another member already owns.
pub fn zombies_possible() -> bool {
    consumer_protocol()
}

/// Asserts a scenario's checker figures: all but duplicates 0. After a broker outage
/// longer than the session timeout under KIP-848 ([`zombies_possible`]), only `lost` and
/// `poll_skips`: a fenced member still reading breaks per-key order and serial processing
/// across processes, and may read below the new owner's commit; those figures are printed,
/// not asserted, and nothing is lost.
pub fn assert_found(found: &Report, broker_outage: bool, dir: &Path) {
    if broker_outage && zombies_possible() {
        if !found.clean() {
            report(&format!(
                "  not asserted under KIP-848 after a broker outage (a fenced member read on): {:?}",
                found.examples.iter().take(3).collect::<Vec<_>>()
            ));
        }
        assert!(
            found.lost == 0 && found.poll_skips == 0,
            "{found}: {:#?} (ledgers in {})",
            found.examples,
            dir.display()
        );
        return;
    }
    assert!(
        found.clean(),
        "{found}: {:#?} (ledgers in {})",
        found.examples,
        dir.display()
    );
}
