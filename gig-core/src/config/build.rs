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

    /// How long the downstream has to answer a record (see the field).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
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

    /// Per-key ordering (see the field).
    pub fn key_ordering(mut self, on: bool) -> Self {
        self.key_ordering = on;
        self
    }

    /// Honour `gig.retry.due` headers (see the field).
    pub fn wait_for_due(mut self, on: bool) -> Self {
        self.wait_for_due = on;
        self
    }

    /// Whether records carry their headers (see the field).
    pub fn headers(mut self, on: bool) -> Self {
        self.headers = on;
        self
    }

    /// Whether the poll thread reads each record's headers: when asked to, and when a
    /// setting of Gig's own needs them.
    pub fn reads_headers(&self) -> bool {
        self.headers || self.wait_for_due || self.ack_timeout_header.is_some()
    }

    /// Records not yet handed over before fetching pauses (see the field).
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit;
        self
    }

    /// Handed-over records not yet confirmed committed before fetching pauses (see the
    /// field).
    pub fn max_uncommitted(mut self, limit: usize) -> Self {
        self.max_uncommitted = Some(limit);
        self
    }

    /// How far below the process's other threads the poll thread runs (see the field).
    pub fn poll_thread_nice(mut self, nice: u8) -> Self {
        self.poll_thread_nice = nice;
        self
    }

    /// How often resolved offsets are committed (see the field).
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// Commit early after this many handed-over records.
    pub fn commit_every(mut self, count: usize) -> Self {
        self.commit_every = count;
        self
    }

    /// How long every hand-over may be refused before the consumer is not live (see the
    /// field).
    pub fn handover_refused_limit(mut self, limit: Duration) -> Self {
        self.handover_refused_limit = limit;
        self
    }

    /// Deliveries of one record that consumer processes may die in before it goes to the
    /// NoAckedActor as crashed; 0 turns the crash-loop guard off (see the field).
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
