//! Building a config in code: a constructor and chained setters.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{defaults, AckTimeoutHeader, ConsumerConfig, Variables};
use crate::transactional::Transactional;

impl ConsumerConfig {
    /// A config with Gig's defaults: 3 s ack timeout, 10,000 records in flight, commits
    /// every second or every 10,000 handed-over records.
    pub fn new(brokers: impl Into<String>, group_id: impl Into<String>) -> Self {
        ConsumerConfig {
            brokers: brokers.into(),
            group_id: group_id.into(),
            topics: Vec::new(),
            ack_timeout: defaults::ack_timeout(),
            ack_timeout_header: None,
            key_ordering: false,
            wait_for_due: false,
            headers: true,
            max_in_flight: defaults::max_in_flight(),
            max_uncommitted: None,
            poll_thread_nice: defaults::poll_thread_nice(),
            commit_interval: defaults::commit_interval(),
            commit_every: defaults::commit_every(),
            handover_batch: defaults::handover_batch(),
            stats_interval: None,
            handover_refused_limit: defaults::handover_refused_limit(),
            max_deliveries: defaults::max_deliveries(),
            transactional: None,
            properties: BTreeMap::new(),
            variables: Variables::default(),
        }
    }

    /// Topics to subscribe to at start.
    pub fn topics<S: Into<String>>(mut self, topics: impl IntoIterator<Item = S>) -> Self {
        self.topics = topics.into_iter().map(Into::into).collect();
        self
    }

    /// How long the downstream has to ack a record before it goes to the NoAckedActor.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Joins the consumer group `id` instead of the one given to [`new`](Self::new).
    pub fn group(mut self, id: impl Into<String>) -> Self {
        self.group_id = id.into();
        self
    }

    /// Lets a record set its own ack timeout in the header `name` (milliseconds), up to
    /// `max`.
    pub fn ack_timeout_header(mut self, name: impl Into<String>, max: Duration) -> Self {
        self.ack_timeout_header = Some(AckTimeoutHeader {
            name: name.into(),
            max,
        });
        self
    }

    /// Deliver records with the same key (in one partition) one at a time, in offset
    /// order: the next goes to the downstream once the previous has an outcome, and its ack
    /// timer starts then. Different keys, and records without a key, flow concurrently.
    /// Off by default.
    pub fn key_ordering(mut self, on: bool) -> Self {
        self.key_ordering = on;
        self
    }

    /// Do not deliver a record before the time in its `gig.retry.due` header (written by
    /// the retry sink): its partition is paused until then and fetched again from it.
    /// Off by default.
    pub fn wait_for_due(mut self, on: bool) -> Self {
        self.wait_for_due = on;
        self
    }

    /// Whether records carry their headers. On by default. To read them, librdkafka
    /// allocates, parses and frees a buffer for every record, even one without headers
    /// (about a third of what the poll thread does per record): a consumer whose actors
    /// read no headers saves that with `false`, and its records' headers are then empty.
    /// Gig reads them anyway where it needs them itself (`wait_for_due`,
    /// `ack_timeout_header`); see [`ConsumerConfig::reads_headers`].
    pub fn headers(mut self, on: bool) -> Self {
        self.headers = on;
        self
    }

    /// Whether the poll thread reads each record's headers: when asked to, and when a
    /// setting of Gig's own needs them.
    pub fn reads_headers(&self) -> bool {
        self.headers || self.wait_for_due || self.ack_timeout_header.is_some()
    }

    /// Records not yet handed over to an outcome actor before fetching pauses.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit;
        self
    }

    /// Records in flight plus handed-over records whose commit the broker has not
    /// confirmed, before fetching pauses (and a commit goes out at once); `None`, the
    /// default, sets no limit. What a crash hands over again is among those: this bounds it
    /// when commits lag, as they do during rebalances, at the cost of waiting for commits.
    pub fn max_uncommitted(mut self, limit: usize) -> Self {
        self.max_uncommitted = Some(limit);
        self
    }

    /// How far below the process's other threads the poll thread runs, as a Linux nice
    /// increment (0 to 19; 0, the default, runs it alike). When the machine is short of
    /// CPU, the thread that resolves records (acks, deadlines, hand-overs, commits) then
    /// comes before the one that fetches more: timed-out records are handed over later by
    /// less, and fetching slows down instead, so throughput falls (docs/configuration.md
    /// has both figures). A record's clock starts only when it reaches the consumer actor,
    /// so a slower poll thread makes no record late. Ignored on other systems.
    pub fn poll_thread_nice(mut self, nice: u8) -> Self {
        self.poll_thread_nice = nice;
        self
    }

    /// How often resolved offsets are committed.
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// Commit early after this many handed-over records.
    pub fn commit_every(mut self, count: usize) -> Self {
        self.commit_every = count;
        self
    }

    /// How long an outcome actor may refuse (or fail to take) every hand-over before the
    /// consumer reports itself not live: the refused records are still offered again, but
    /// a probe then sees the stall. 30 s by default.
    pub fn handover_refused_limit(mut self, limit: Duration) -> Self {
        self.handover_refused_limit = limit;
        self
    }

    /// The crash-loop guard: a record whose deliveries consumer processes did not survive
    /// this many times goes to the NoAckedActor as
    /// [`NoAckReason::Crashed`](crate::NoAckReason::Crashed) instead of being delivered
    /// again. The count is kept in the partitions' committed offsets, so it survives the
    /// processes. 5 by default, as Kafka's share groups; at least 2; 0 turns the guard off.
    pub fn max_deliveries(mut self, deliveries: u32) -> Self {
        self.max_deliveries = deliveries;
        self
    }

    /// Most records per hand-over message.
    pub fn handover_batch(mut self, records: usize) -> Self {
        self.handover_batch = records;
        self
    }

    /// Logs the consumer's stats as one JSON line every `interval`.
    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = Some(interval);
        self
    }

    /// Commits in Kafka transactions, with a transactional id (`"billing-1"`) or full
    /// [`Transactional`] settings: what the outcome actors ask to produce and the offsets
    /// of the records they accepted become visible to `read_committed` readers together,
    /// once. Give each consumer instance its own id, the same across its restarts.
    pub fn transactional(mut self, settings: impl Into<Transactional>) -> Self {
        self.transactional = Some(settings.into());
        self
    }

    /// Sets one librdkafka property, passed through untouched.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.variables.0.remove(&key);
        self.properties.insert(key, value.into());
        self
    }

    /// The environment variable that set `property`, when [`from_env`](Self::from_env)
    /// took it from one (`GIG_KAFKA_SASL_USERNAME` for `sasl.username`).
    pub fn variable_of(&self, property: &str) -> Option<&str> {
        self.variables.0.get(property).map(String::as_str)
    }
}
