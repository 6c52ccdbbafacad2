//! The suite's broker, names and configs: the embedded mock cluster, or the external broker
//! named by `GIGCI_TEST_BROKERS` (of the kind `GIGCI_TEST_BROKER_KIND`), joined with the group
//! protocol `GIGCI_TEST_GROUP_PROTOCOL`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gig_actors::testkit::Broker;
use gig_actors::ConsumerConfig;

/// The env var naming an external broker for the suite.
pub const BROKERS_VAR: &str = "GIGCI_TEST_BROKERS";
/// The env var naming the external broker's kind: `tansu` or `kafka` (the default).
pub const KIND_VAR: &str = "GIGCI_TEST_BROKER_KIND";

/// Which broker the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// librdkafka's mock cluster, in process.
    Embedded,
    /// tansu, a Kafka-protocol broker.
    Tansu,
    /// Any other external Kafka-protocol broker.
    Kafka,
}

/// The backend the tests were built for (`tests/build.rs`), which decided which of them are
/// ignored here.
pub const BUILT_FOR: &str = env!("GIGCI_TEST_BUILT_FOR");

/// The suite's backend, from `GIGCI_TEST_BROKERS` and `GIGCI_TEST_BROKER_KIND`. Panics when
/// they name another backend than the one the tests were built for: the tests ignored here
/// would be the wrong ones (`cargo test` rebuilds them when these variables change).
pub fn backend() -> Backend {
    let backend = match std::env::var(BROKERS_VAR) {
        Ok(b) if !b.trim().is_empty() => match std::env::var(KIND_VAR).as_deref() {
            Ok("tansu") => Backend::Tansu,
            _ => Backend::Kafka,
        },
        _ => Backend::Embedded,
    };
    let name = format!("{backend:?}").to_lowercase();
    assert_eq!(
        name, BUILT_FOR,
        "these tests were built for the {BUILT_FOR} backend and run on {name}: run them \
         with cargo test, which rebuilds them when {BROKERS_VAR} or {KIND_VAR} change"
    );
    backend
}

/// Prints a line that shows in the output even when the test passes: it is written to the
/// stderr handle, which the test harness does not capture.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this process and call: `prefix-pid-n`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init() {
    let _ = env_logger::builder().is_test(true).try_init();
}

/// Longest wait for a group's first join: on the embedded broker it can take longer than
/// a test's own timeout (over 30 s with two tests' clusters sharing two cores), with Gig
/// idle and no rebalance event queued.
pub const FIRST_JOIN: Duration = Duration::from_secs(90);

/// The suite's broker.
pub fn broker() -> Broker {
    init();
    Broker::external_or_embedded(std::env::var(BROKERS_VAR).ok()).expect("start the broker")
}

/// The env var naming the group protocol the suite joins with: `classic` (the default) or
/// `consumer` (KIP-848; the broker then owns sessions and assignment).
pub const GROUP_PROTOCOL_VAR: &str = "GIGCI_TEST_GROUP_PROTOCOL";

/// The suite's group protocol, from `GIGCI_TEST_GROUP_PROTOCOL`.
pub fn group_protocol() -> String {
    std::env::var(GROUP_PROTOCOL_VAR)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "classic".to_string())
}

/// Whether the suite runs under the KIP-848 consumer group protocol.
pub fn consumer_protocol() -> bool {
    group_protocol().eq_ignore_ascii_case("consumer")
}

/// The suite's session timeout (classic group protocol), in milliseconds.
pub const SESSION_TIMEOUT_MS: u64 = 6000;

/// A config for tests: short session timeouts, so group changes settle fast on any backend.
/// `GIGCI_RDKAFKA_DEBUG` (e.g. `cgrp,fetch`) turns on librdkafka's debug contexts.
///
/// On the embedded broker under the classic protocol, `max.poll.interval.ms` is the session
/// timeout: the mock cluster ignores the rebalance timeout a member sends and expels a
/// member that has not rejoined within `session.timeout.ms` of its last heartbeat before a
/// rebalance (a heartbeat during one does not count: `rd_kafka_mock_cgrp_classic_check_state`),
/// so that is the timeout Gig must bound its revocations by there (docs/backends.md).
pub fn config(broker: &Broker, topic: &str) -> ConsumerConfig {
    let config = gig_examples::quick_group(
        ConsumerConfig::new(broker.bootstrap_servers(), unique("group")).topics([topic]),
        &group_protocol(),
        SESSION_TIMEOUT_MS,
    )
    .property("topic.metadata.refresh.interval.ms", "1000");
    let config = match backend() == Backend::Embedded && !consumer_protocol() {
        true => config.property("max.poll.interval.ms", SESSION_TIMEOUT_MS.to_string()),
        false => config,
    };
    match std::env::var("GIGCI_RDKAFKA_DEBUG") {
        Ok(contexts) => config.property("debug", contexts),
        Err(_) => config,
    }
}

/// Creates a topic with a unique name.
pub async fn topic(broker: &Broker, prefix: &str, partitions: i32) -> String {
    topic_with(broker, prefix, partitions, &[]).await
}

/// Creates a topic with a unique name and topic-level configs (external brokers only).
pub async fn topic_with(
    broker: &Broker,
    prefix: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> String {
    let name = unique(prefix);
    broker
        .create_topic_with(&name, partitions, configs)
        .await
        .expect("create topic");
    name
}

/// [`config`] for a member of `group`.
pub fn group_config(broker: &Broker, topic: &str, group: &str) -> ConsumerConfig {
    config(broker, topic).group(group)
}
