//! Consumer configuration: Gig's own settings, typed, plus librdkafka properties passed
//! through untouched (security, tuning: every librdkafka option works as documented).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{millis, opt_millis};
use crate::error::ConfigError;
use crate::properties::Redacted;
use crate::record::Record;
use crate::transactional::Transactional;

pub use crate::duration::MAX_DURATION;

/// Extra time, past the longest ack timeout, for outcomes to be handed over before a
/// revocation or a stop gives up waiting.
pub const HANDOVER_GRACE: Duration = Duration::from_secs(5);

/// The rebalance timeout a member gives the broker, `max.poll.interval.ms`, when nothing
/// sets it: librdkafka's default.
pub const DEFAULT_MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);

/// librdkafka's longest `max.poll.interval.ms`.
const MOST_MAX_POLL_INTERVAL: Duration = Duration::from_secs(86_400);

/// librdkafka's default `heartbeat.interval.ms` (classic group protocol).
const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);

/// Room a revocation leaves inside the member's rebalance timeout for what follows its wait:
/// the actor's answer reaching the poll thread (which waits at most 1 s for it), the commit
/// on revocation, and the rejoin (classic) or the heartbeat that acknowledges the revocation
/// (KIP-848). A classic member also adds its heartbeat interval: it learns of a rebalance
/// only from a heartbeat, up to one interval after the broker's timer started.
pub const REVOCATION_MARGIN: Duration = Duration::from_secs(3);

/// The largest nice increment Linux takes (`poll_thread_nice`).
pub const MAX_NICE: u8 = 19;

/// Properties Gig sets itself, and why a user may not change them.
const RESERVED: &[(&str, &str, &str)] = &[
    (
        "enable.auto.commit",
        "false",
        "Gig commits only offsets whose records were handed over; auto-commit would commit records still in flight",
    ),
    (
        "enable.auto.offset.store",
        "false",
        "Gig commits explicit offsets; the offset store is not used",
    ),
];

/// Properties of the classic group protocol that the KIP-848 consumer protocol
/// (`group.protocol=consumer`) moves to the broker; librdkafka refuses them there.
const CLASSIC_ONLY: &[(&str, &str)] = &[
    (
        "session.timeout.ms",
        "the broker sets it (`group.consumer.session.timeout.ms`)",
    ),
    (
        "heartbeat.interval.ms",
        "the broker sets it (`group.consumer.heartbeat.interval.ms`)",
    ),
    (
        "partition.assignment.strategy",
        "the broker assigns; choose its assignor with `group.remote.assignor`",
    ),
    (
        "group.protocol.type",
        "the consumer protocol has no protocol type",
    ),
];

/// Configuration of one `ConsumerActor`.
///
/// Built in code (`ConsumerConfig::new(brokers, group).topics(..)..`) or loaded from JSON
/// with [`ConsumerConfig::from_json_file`]. Durations are milliseconds in JSON, and at
/// most [`MAX_DURATION`] (one day):
///
/// ```json
/// { "brokers": "127.0.0.1:9092", "group_id": "billing", "topics": ["orders"],
///   "ack_timeout_ms": 3000, "max_in_flight": 10000,
///   "properties": { "session.timeout.ms": "6000" } }
/// ```
///
/// `Debug` shows every property but the values of secrets (see
/// [`properties::is_secret`](crate::properties::is_secret)).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// Bootstrap servers, comma-separated (librdkafka's `bootstrap.servers`). Required:
    /// absent from JSON, it may come from the environment ([`ConsumerConfig::from_env`]).
    #[serde(default)]
    pub brokers: String,
    /// Consumer group id (`group.id`). Required, as `brokers` is.
    #[serde(default)]
    pub group_id: String,
    /// Topics to subscribe to when the consumer starts; empty to subscribe or assign later.
    #[serde(default)]
    pub topics: Vec<String>,
    /// How long the downstream has to ack a record before it goes to the NoAckedActor.
    #[serde(default = "defaults::ack_timeout", with = "millis")]
    #[serde(rename = "ack_timeout_ms")]
    pub ack_timeout: Duration,
    /// A header through which a producer may give one record a timeout of its own.
    /// Unset by default: every record gets `ack_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout_header: Option<AckTimeoutHeader>,
    /// Deliver records with the same key (in one partition) one at a time, in offset
    /// order: the next goes to the downstream once the previous has an outcome, and its ack
    /// timer starts then. Different keys, and records without a key, flow concurrently.
    /// Off by default.
    #[serde(default)]
    pub key_ordering: bool,
    /// Do not deliver a record before the time in its `gig.retry.due` header (written by
    /// the retry sink): its partition is paused until then and fetched again from it.
    /// Off by default.
    #[serde(default)]
    pub wait_for_due: bool,
    /// Whether records carry their headers. On by default. To read them, librdkafka
    /// allocates, parses and frees a buffer for every record, even one without headers
    /// (about a third of what the poll thread does per record): a consumer whose actors
    /// read no headers saves that with `false`, and its records' headers are then empty.
    /// Gig reads them anyway where it needs them itself (`wait_for_due`,
    /// `ack_timeout_header`); see [`ConsumerConfig::reads_headers`].
    #[serde(default = "defaults::headers")]
    pub headers: bool,
    /// Records not yet handed over to an outcome actor before fetching pauses.
    #[serde(default = "defaults::max_in_flight")]
    pub max_in_flight: usize,
    /// Records in flight plus handed-over records whose commit the broker has not
    /// confirmed, before fetching pauses (and a commit goes out at once); `None`, the
    /// default, sets no limit. What a crash hands over again is among those: this bounds it
    /// when commits lag, as they do during rebalances, at the cost of waiting for commits.
    #[serde(default)]
    pub max_uncommitted: Option<usize>,
    /// How far below the process's other threads the poll thread runs, as a Linux nice
    /// increment (0 to 19; 0, the default, runs it alike). When the machine is short of
    /// CPU, the thread that resolves records (acks, deadlines, hand-overs, commits) then
    /// comes before the one that fetches more: timed-out records are handed over later by
    /// less, and fetching slows down instead, so throughput falls (docs/configuration.md
    /// has both figures). A record's clock starts only when it reaches the consumer actor,
    /// so a slower poll thread makes no record late. Ignored on other systems.
    #[serde(default = "defaults::poll_thread_nice")]
    pub poll_thread_nice: u8,
    /// How often resolved offsets are committed.
    #[serde(default = "defaults::commit_interval", with = "millis")]
    #[serde(rename = "commit_interval_ms")]
    pub commit_interval: Duration,
    /// Commit early once this many records were handed over since the last commit.
    #[serde(default = "defaults::commit_every")]
    pub commit_every: usize,
    /// Most records in one message to the Acked or NoAcked actor.
    #[serde(default = "defaults::handover_batch")]
    pub handover_batch: usize,
    /// When set, the consumer logs its stats (gig-actors' `Stats`) as one JSON line this
    /// often (log target `gig::stats`, level info). Unset by default.
    #[serde(default, with = "opt_millis", skip_serializing_if = "Option::is_none")]
    #[serde(rename = "stats_interval_ms")]
    pub stats_interval: Option<Duration>,
    /// How long an outcome actor may refuse (or fail to take) every hand-over before the
    /// consumer reports itself not live: the refused records are still offered again, but
    /// a probe then sees the stall. 30 s by default.
    #[serde(default = "defaults::handover_refused_limit", with = "millis")]
    #[serde(rename = "handover_refused_limit_ms")]
    pub handover_refused_limit: Duration,
    /// The crash-loop guard: a record whose deliveries consumer processes did not survive
    /// this many times goes to the NoAckedActor as
    /// [`NoAckReason::Crashed`](crate::NoAckReason::Crashed) instead of being delivered
    /// again. The count is kept in the partitions' committed offsets, so it survives the
    /// processes. 5 by default, as Kafka's share groups; at least 2; 0 turns the guard off.
    #[serde(default = "defaults::max_deliveries")]
    pub max_deliveries: u32,
    /// The transactional mode: outputs of the outcome actors and the offsets of their
    /// source records are committed in one Kafka transaction (see [`Transactional`]).
    /// Unset by default: offsets are committed on their own (at-least-once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional: Option<Transactional>,
    /// librdkafka properties, passed through untouched.
    #[serde(default, deserialize_with = "crate::properties::from_json")]
    pub properties: BTreeMap<String, String>,
    /// The environment variables that set properties ([`ConsumerConfig::from_env`]), so
    /// that an error about such a property names its variable.
    #[serde(skip)]
    pub(crate) variables: Variables,
}

/// Property → the environment variable that set it. Where a value came from is not part
/// of what a config is: two configs with the same settings are equal whatever set them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Variables(pub(crate) BTreeMap<String, String>);

impl PartialEq for Variables {
    fn eq(&self, _: &Variables) -> bool {
        true
    }
}

impl fmt::Debug for ConsumerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerConfig")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("topics", &self.topics)
            .field("ack_timeout", &self.ack_timeout)
            .field("ack_timeout_header", &self.ack_timeout_header)
            .field("key_ordering", &self.key_ordering)
            .field("wait_for_due", &self.wait_for_due)
            .field("headers", &self.headers)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_uncommitted", &self.max_uncommitted)
            .field("poll_thread_nice", &self.poll_thread_nice)
            .field("commit_interval", &self.commit_interval)
            .field("commit_every", &self.commit_every)
            .field("handover_batch", &self.handover_batch)
            .field("stats_interval", &self.stats_interval)
            .field("handover_refused_limit", &self.handover_refused_limit)
            .field("max_deliveries", &self.max_deliveries)
            .field("transactional", &self.transactional)
            .field("properties", &Redacted(&self.properties))
            .finish()
    }
}

/// A per-record ack timeout, read from a record header, bounded by a maximum.
///
/// The header's value is a whole number of milliseconds in ASCII (`"30000"`). A record
/// without the header gets the consumer's `ack_timeout`; one whose value does not parse gets
/// it too, and the consumer logs a warning. Values above `max` are cut to `max`. In JSON:
/// `"ack_timeout_header": { "name": "gig.ack-timeout-ms", "max_ms": 60000 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckTimeoutHeader {
    /// The header's name.
    pub name: String,
    /// The longest timeout a header may ask for.
    #[serde(rename = "max_ms", with = "millis")]
    pub max: Duration,
}

impl AckTimeoutHeader {
    /// The timeout `record` asks for: `None` without the header, `Some(Err(why))` when its
    /// value is not a number of milliseconds, else the value bounded by `max`.
    pub fn timeout_of(&self, record: &Record) -> Option<Result<Duration, String>> {
        let value = record.header_value(&self.name)?.unwrap_or_default();
        Some(
            std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .map(|ms| Duration::from_millis(ms).min(self.max))
                .ok_or_else(|| {
                    format!(
                        "header `{}` is {:?}, not a number of milliseconds",
                        self.name,
                        String::from_utf8_lossy(value)
                    )
                }),
        )
    }
}

mod defaults {
    use std::time::Duration;
    pub fn ack_timeout() -> Duration {
        Duration::from_secs(3)
    }
    pub fn headers() -> bool {
        true
    }
    pub fn max_in_flight() -> usize {
        10_000
    }
    pub fn poll_thread_nice() -> u8 {
        0
    }
    pub fn commit_interval() -> Duration {
        Duration::from_secs(1)
    }
    pub fn commit_every() -> usize {
        10_000
    }
    pub fn handover_batch() -> usize {
        1_000
    }
    pub fn handover_refused_limit() -> Duration {
        Duration::from_secs(30)
    }
    pub fn max_deliveries() -> u32 {
        5
    }
}

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

    /// The ack timeout `record` got: its own from the header, when the header is set and
    /// valid, else `ack_timeout`. (The consumer warns of an invalid header when it tracks
    /// the record; this reads it again quietly, e.g. to say how long a timed-out record had.)
    pub fn ack_timeout_of(&self, record: &Record) -> Duration {
        self.ack_timeout_header
            .as_ref()
            .and_then(|h| h.timeout_of(record)?.ok())
            .unwrap_or(self.ack_timeout)
    }

    /// The longest a record may wait for its ack: `ack_timeout`, or the header's maximum
    /// when that is longer.
    pub fn longest_ack_timeout(&self) -> Duration {
        let header_max = self.ack_timeout_header.as_ref().map(|h| h.max);
        self.ack_timeout.max(header_max.unwrap_or_default())
    }

    /// How long a stop waits for in-flight records to be resolved and handed over: the
    /// longest ack timeout plus [`HANDOVER_GRACE`]. A revocation waits as long, within the
    /// rebalance timeout ([`revocation_wait`](Self::revocation_wait)).
    pub fn resolve_wait(&self) -> Duration {
        self.longest_ack_timeout().saturating_add(HANDOVER_GRACE)
    }

    /// The rebalance timeout this member gives the broker: librdkafka 2.12 sends
    /// `max.poll.interval.ms` as the classic JoinGroup's `RebalanceTimeoutMs` and as the
    /// KIP-848 ConsumerGroupHeartbeat's. A classic group waits that long for the member to
    /// rejoin once a rebalance began; a KIP-848 group waits that long for it to give up
    /// revoked partitions; either then expels it. This is the value
    /// [`client_properties`](Self::client_properties) sets: the user's, else Gig's (see
    /// there), else librdkafka's default.
    pub fn rebalance_timeout(&self) -> Duration {
        let set = |props: &BTreeMap<String, String>| millis_property(props, MAX_POLL_INTERVAL);
        set(&self.properties)
            .or_else(|| set(&self.gig_defaults()))
            .unwrap_or(DEFAULT_MAX_POLL_INTERVAL)
    }

    /// How long before the end of its [`rebalance_timeout`](Self::rebalance_timeout) a
    /// revocation stops waiting: [`REVOCATION_MARGIN`], plus the heartbeat interval under
    /// the classic protocol, and at most half the timeout.
    pub fn revocation_margin(&self) -> Duration {
        let margin = REVOCATION_MARGIN + self.heartbeat_lag();
        margin.min(self.rebalance_timeout() / 2)
    }

    /// How late a member may learn that a rebalance began: a classic member learns it from
    /// a heartbeat, one `heartbeat.interval.ms` at most; a KIP-848 member's revocation timer
    /// starts with the heartbeat answer that revokes.
    fn heartbeat_lag(&self) -> Duration {
        match self.uses_consumer_protocol() {
            true => Duration::ZERO,
            false => millis_property(&self.properties, "heartbeat.interval.ms")
                .unwrap_or(DEFAULT_HEARTBEAT_INTERVAL),
        }
    }

    /// How long a revocation waits for its partitions' in-flight records to be resolved
    /// and handed over: [`resolve_wait`](Self::resolve_wait), but never past the rebalance
    /// timeout less the [`revocation_margin`](Self::revocation_margin), so that the member
    /// commits and rejoins before the group expels it. Records unresolved by then are
    /// left to the partitions' next owner.
    pub fn revocation_wait(&self) -> Duration {
        let bound = self.rebalance_timeout() - self.revocation_margin();
        self.resolve_wait().min(bound)
    }

    /// Why a revocation may leave records to the next owner, when the user's
    /// `max.poll.interval.ms` is too short for [`resolve_wait`](Self::resolve_wait); said
    /// once, at start. `None` when it fits (Gig raises the property itself when the user
    /// did not set it).
    pub fn revocation_warning(&self) -> Option<String> {
        let (wait, resolve) = (self.revocation_wait(), self.resolve_wait());
        if wait >= resolve {
            return None;
        }
        let set = match self.properties.contains_key(MAX_POLL_INTERVAL) {
            true => "is",
            false => "is at librdkafka's maximum,",
        };
        let timeout = match self.ack_timeout_header.is_some() {
            true => "`ack_timeout` (or the ack-timeout header's `max`)",
            false => "`ack_timeout`",
        };
        Some(format!(
            "`max.poll.interval.ms` {set} {} ms: the group waits that long for this member in a rebalance, \
             less {} ms of margin; {timeout} of {} ms plus {} s to hand over needs more: a revocation waits \
             {} ms for its records and leaves those still unresolved to the partitions' next owner \
             (raise `max.poll.interval.ms` to at least {} ms to wait for them)",
            self.rebalance_timeout().as_millis(),
            self.revocation_margin().as_millis(),
            self.longest_ack_timeout().as_millis(),
            HANDOVER_GRACE.as_secs(),
            wait.as_millis(),
            (resolve + REVOCATION_MARGIN + self.heartbeat_lag()).as_millis(),
        ))
    }

    /// librdkafka properties Gig sets unless the user does (see
    /// [`client_properties`](Self::client_properties)).
    fn gig_defaults(&self) -> BTreeMap<String, String> {
        let mut props = BTreeMap::new();
        // A new group reads a topic from the start.
        props.insert("auto.offset.reset".to_string(), "earliest".to_string());
        // librdkafka stops fetching a partition whose local queue passed
        // `queued.min.messages` and looks again only after this back-off (1 s by default).
        // Gig's in-flight gate holds consumption now and then, so the queue passes that
        // mark often, and a partition then sat idle for the whole second.
        props.insert("fetch.queue.backoff.ms".to_string(), "10".to_string());
        // Incremental rebalancing: partitions that stay keep flowing during a rebalance,
        // and a member revokes only once the group has synced, so the commit Gig makes on
        // revocation lands in a stable group instead of being refused mid-join. The
        // consumer protocol is incremental by design and its assignor is the broker's.
        if !self.uses_consumer_protocol() {
            props.insert(
                "partition.assignment.strategy".to_string(),
                "cooperative-sticky".to_string(),
            );
        }
        // A revocation waits up to `resolve_wait` for its records, inside the rebalance
        // timeout: raise it past librdkafka's default when the ack timeout needs more.
        let margin = REVOCATION_MARGIN + self.heartbeat_lag();
        let needed = self.resolve_wait().saturating_add(margin);
        if needed > DEFAULT_MAX_POLL_INTERVAL {
            let raised = needed.min(MOST_MAX_POLL_INTERVAL).as_millis();
            props.insert(MAX_POLL_INTERVAL.to_string(), raised.to_string());
        }
        props
    }

    /// Commits in Kafka transactions, with a transactional id (`"billing-1"`) or full
    /// [`Transactional`] settings: what the outcome actors ask to produce and the offsets
    /// of the records they accepted become visible to `read_committed` readers together,
    /// once. Give each consumer instance its own id, the same across its restarts.
    pub fn transactional(mut self, settings: impl Into<Transactional>) -> Self {
        self.transactional = Some(settings.into());
        self
    }

    /// How often resolved offsets are committed: `transactional.interval` in the
    /// transactional mode, else `commit_interval`.
    pub fn commit_period(&self) -> Duration {
        self.transactional
            .as_ref()
            .map_or(self.commit_interval, |t| t.interval)
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

    /// Parses and validates a JSON config.
    pub fn from_json_str(json: &str) -> Result<Self, ConfigError> {
        let config = Self::parse_json(json)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a JSON config file.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let config = Self::parse_json_file(path.as_ref())?;
        config.validate()?;
        Ok(config)
    }

    /// The JSON config, not yet validated.
    fn parse_json(json: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(json).map_err(|source| ConfigError::Json { path: None, source })
    }

    /// The JSON config in `path`, not yet validated: the environment may complete it.
    pub(crate) fn parse_json_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_json(&text).map_err(|e| match e {
            ConfigError::Json { source, .. } => ConfigError::Json {
                path: Some(path.to_path_buf()),
                source,
            },
            other => other,
        })
    }

    /// Checks Gig's own settings. librdkafka properties are checked by librdkafka when the
    /// client is created.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.brokers.trim().is_empty() {
            return Err(ConfigError::NoBrokers);
        }
        if self.group_id.trim().is_empty() {
            return Err(ConfigError::NoGroupId);
        }
        if self.topics.iter().any(|t| t.is_empty()) {
            return Err(ConfigError::EmptyTopic);
        }
        let positive = [
            ("ack_timeout_ms", self.ack_timeout.is_zero()),
            ("max_in_flight", self.max_in_flight == 0),
            ("max_uncommitted", self.max_uncommitted == Some(0)),
            ("commit_interval_ms", self.commit_interval.is_zero()),
            ("commit_every", self.commit_every == 0),
            ("handover_batch", self.handover_batch == 0),
            (
                "handover_refused_limit_ms",
                self.handover_refused_limit.is_zero(),
            ),
            (
                "stats_interval_ms",
                self.stats_interval.is_some_and(|d| d.is_zero()),
            ),
            (
                "ack_timeout_header.max_ms",
                self.ack_timeout_header
                    .as_ref()
                    .is_some_and(|h| h.max.is_zero()),
            ),
        ];
        if self
            .ack_timeout_header
            .as_ref()
            .is_some_and(|h| h.name.trim().is_empty())
        {
            return Err(ConfigError::EmptyHeaderName);
        }
        if let Some((field, _)) = positive.iter().find(|(_, zero)| *zero) {
            return Err(ConfigError::Zero { field });
        }
        // One delivery is presumed to the process that died: a limit of 1 would send every
        // record it may have been delivering to the NoAckedActor undelivered.
        if self.max_deliveries == 1 {
            return Err(ConfigError::TooSmall {
                field: "max_deliveries",
                min: 2,
                or: Some(0),
            });
        }
        if self.poll_thread_nice > MAX_NICE {
            return Err(ConfigError::TooLarge {
                field: "poll_thread_nice",
                max: MAX_NICE.into(),
            });
        }
        let durations = [
            ("ack_timeout_ms", Some(self.ack_timeout)),
            ("commit_interval_ms", Some(self.commit_interval)),
            ("stats_interval_ms", self.stats_interval),
            (
                "ack_timeout_header.max_ms",
                self.ack_timeout_header.as_ref().map(|h| h.max),
            ),
        ];
        if let Some((field, _)) = durations
            .iter()
            .find(|(_, d)| d.is_some_and(|d| d > MAX_DURATION))
        {
            return Err(ConfigError::TooLong {
                field,
                max: MAX_DURATION,
            });
        }
        if self.uses_consumer_protocol() {
            if let Some((key, why)) = CLASSIC_ONLY
                .iter()
                .find(|(key, _)| self.properties.contains_key(*key))
            {
                return Err(ConfigError::ClassicProtocolOnly {
                    key: key.to_string(),
                    why,
                });
            }
        }
        if let Some(transactional) = &self.transactional {
            transactional.validate()?;
            let isolation = self.properties.get("isolation.level");
            if isolation.is_some_and(|level| level.trim() != "read_committed") {
                return Err(ConfigError::Reserved {
                    key: "isolation.level".to_string(),
                    why: "a transactional consumer reads `read_committed`: it would otherwise read copies from aborted transactions (a retry topic it also consumes)",
                });
            }
        }
        for (key, required, why) in RESERVED {
            if let Some(value) = self.properties.get(*key) {
                if value != required {
                    return Err(ConfigError::Reserved {
                        key: key.to_string(),
                        why,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether the consumer joins its group with the KIP-848 consumer protocol
    /// (`group.protocol=consumer`) rather than the classic one.
    pub fn uses_consumer_protocol(&self) -> bool {
        self.properties
            .get("group.protocol")
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("consumer"))
    }

    /// The librdkafka properties for the consumer: the user's, then Gig's own.
    pub fn client_properties(&self) -> BTreeMap<String, String> {
        let mut props = self.gig_defaults();
        props.extend(self.properties.clone());
        props.insert("bootstrap.servers".to_string(), self.brokers.clone());
        props.insert("group.id".to_string(), self.group_id.clone());
        if self.transactional.is_some() {
            // librdkafka's default, said out loud: offsets are fetched stable (KIP-447) and
            // records of aborted transactions are skipped.
            props.insert("isolation.level".to_string(), "read_committed".to_string());
        }
        for (key, value, _) in RESERVED {
            props.insert(key.to_string(), value.to_string());
        }
        props
    }
}

/// The property that is the member's rebalance timeout.
const MAX_POLL_INTERVAL: &str = "max.poll.interval.ms";

/// A property in milliseconds; `None` when unset or not a number (librdkafka then refuses
/// the config when the client is created).
fn millis_property(props: &BTreeMap<String, String>, key: &str) -> Option<Duration> {
    let ms = props.get(key)?.trim().parse::<u64>().ok()?;
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{test_record, Header};

    #[test]
    fn headers_are_read_unless_turned_off_and_gig_needs_none() {
        let config = ConsumerConfig::new("b", "g");
        assert!(config.headers && config.reads_headers(), "on by default");
        let off =
            ConsumerConfig::from_json_str(r#"{"brokers": "b", "group_id": "g", "headers": false}"#)
                .unwrap();
        assert!(!off.reads_headers());
        assert!(off.clone().wait_for_due(true).reads_headers());
        let header = off.ack_timeout_header("t", Duration::from_secs(1));
        assert!(
            header.reads_headers(),
            "the ack-timeout header is Gig's to read"
        );
    }

    #[test]
    fn json_defaults_and_overrides() {
        let c = ConsumerConfig::from_json_str(
            r#"{"brokers":"b:9092","group_id":"g","topics":["t"],"ack_timeout_ms":250,
                "properties":{"session.timeout.ms":"6000"}}"#,
        )
        .unwrap();
        assert_eq!(c.ack_timeout, Duration::from_millis(250));
        assert_eq!(c.max_in_flight, 10_000);
        let props = c.client_properties();
        assert_eq!(props["session.timeout.ms"], "6000");
        assert_eq!(props["enable.auto.commit"], "false");
        assert_eq!(props["auto.offset.reset"], "earliest");
        assert_eq!(props["fetch.queue.backoff.ms"], "10");
        assert_eq!(props["partition.assignment.strategy"], "cooperative-sticky");
        let eager =
            ConsumerConfig::new("b", "g").property("partition.assignment.strategy", "range");
        assert_eq!(
            eager.client_properties()["partition.assignment.strategy"],
            "range"
        );
    }

    #[test]
    fn a_revocation_waits_within_the_rebalance_timeout_given_to_the_broker() {
        let secs = Duration::from_secs;
        // The defaults fit: 3 s + 5 s is far inside librdkafka's 300 s.
        let default = ConsumerConfig::new("b", "g");
        assert_eq!(default.rebalance_timeout(), secs(300));
        assert_eq!(default.revocation_wait(), default.resolve_wait());
        assert!(!default.client_properties().contains_key(MAX_POLL_INTERVAL));
        assert_eq!(default.revocation_warning(), None);

        // A long ack timeout, no max.poll.interval.ms: Gig raises it to fit, margin included
        // (3 s, and the 3 s default heartbeat interval of the classic protocol).
        let long = ConsumerConfig::new("b", "g").ack_timeout(secs(400));
        assert_eq!(long.client_properties()[MAX_POLL_INTERVAL], "411000");
        assert_eq!(long.rebalance_timeout(), secs(411));
        assert_eq!(long.revocation_wait(), secs(405), "the whole resolve wait");
        assert_eq!(long.revocation_warning(), None);
        let header = ConsumerConfig::new("b", "g").ack_timeout_header("t", secs(600));
        assert_eq!(header.client_properties()[MAX_POLL_INTERVAL], "611000");
        let modern = long.clone().property("group.protocol", "consumer");
        assert_eq!(modern.client_properties()[MAX_POLL_INTERVAL], "408000");
        assert_eq!(modern.revocation_wait(), secs(405));

        // The issue's case: the user's 10 s rebalance timeout bounds a 40 s ack timeout.
        let short = ConsumerConfig::new("b", "g")
            .ack_timeout(secs(40))
            .property(MAX_POLL_INTERVAL, "10000")
            .property("heartbeat.interval.ms", "500");
        assert_eq!(short.client_properties()[MAX_POLL_INTERVAL], "10000");
        assert_eq!(short.revocation_margin(), Duration::from_millis(3500));
        assert_eq!(short.revocation_wait(), Duration::from_millis(6500));
        let warning = short.revocation_warning().expect("a warning");
        for said in [
            "`max.poll.interval.ms` is 10000 ms",
            "`ack_timeout` of 40000 ms",
        ] {
            assert!(warning.contains(said), "{said}: {warning}");
        }
        for said in ["waits 6500 ms", "next owner", "at least 48500 ms"] {
            assert!(warning.contains(said), "{said}: {warning}");
        }
        let modern = ConsumerConfig::new("b", "g")
            .ack_timeout(secs(40))
            .property("group.protocol", "consumer")
            .property(MAX_POLL_INTERVAL, "10000");
        assert_eq!(
            modern.revocation_wait(),
            secs(7),
            "no heartbeat lag under KIP-848"
        );
        // A tiny timeout keeps half of itself for the wait.
        let tiny = short.clone().property(MAX_POLL_INTERVAL, "4000");
        assert_eq!(tiny.revocation_wait(), secs(2));
        // The longest ack timeout needs more than librdkafka's longest rebalance timeout.
        let day = ConsumerConfig::new("b", "g").ack_timeout(MAX_DURATION);
        assert_eq!(day.client_properties()[MAX_POLL_INTERVAL], "86400000");
        let warning = day.revocation_warning().expect("a warning");
        assert!(warning.contains("librdkafka's maximum"), "{warning}");
    }

    #[test]
    fn the_consumer_protocol_takes_no_classic_settings() {
        let modern = ConsumerConfig::new("b", "g").property("group.protocol", "consumer");
        modern.validate().unwrap();
        let props = modern.client_properties();
        assert!(!props.contains_key("partition.assignment.strategy"));
        assert_eq!(props["group.protocol"], "consumer");
        for (key, _) in CLASSIC_ONLY {
            let err = modern.clone().property(*key, "1").validate().unwrap_err();
            assert!(
                matches!(&err, ConfigError::ClassicProtocolOnly { key: k, .. } if k == key),
                "{err}"
            );
            assert!(err.to_string().contains(key), "{err}");
        }
        let classic = ConsumerConfig::new("b", "g").property("session.timeout.ms", "6000");
        classic.validate().unwrap();
    }

    #[test]
    fn json_round_trips() {
        let c = ConsumerConfig::new("b:1", "g")
            .topics(["a", "b"])
            .property("x", "y");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(ConsumerConfig::from_json_str(&json).unwrap(), c);
        let logged = c.stats_interval(Duration::from_millis(1500));
        let json = serde_json::to_string(&logged).unwrap();
        assert!(json.contains(r#""stats_interval_ms":1500"#), "{json}");
        assert_eq!(ConsumerConfig::from_json_str(&json).unwrap(), logged);
    }

    #[test]
    fn bad_configs_are_typed_errors() {
        let err = |c: ConsumerConfig| c.validate().unwrap_err().to_string();
        assert!(err(ConsumerConfig::new("", "g")).contains("no brokers"));
        assert!(err(ConsumerConfig::new("b", " ")).contains("no group id"));
        assert!(
            err(ConsumerConfig::new("b", "g").ack_timeout(Duration::ZERO))
                .contains("`ack_timeout_ms` must be greater than zero")
        );
        assert!(err(ConsumerConfig::new("b", "g").max_in_flight(0)).contains("max_in_flight"));
        assert!(
            err(ConsumerConfig::new("b", "g").property("enable.auto.commit", "true"))
                .contains("managed by Gig")
        );
        assert!(err(ConsumerConfig::new("b", "g").topics([""])).contains("empty"));
        assert!(
            err(ConsumerConfig::new("b", "g").stats_interval(Duration::ZERO))
                .contains("stats_interval_ms")
        );
        assert_eq!(
            err(ConsumerConfig::new("b", "g").poll_thread_nice(MAX_NICE + 1)),
            "`poll_thread_nice` must be at most 19"
        );
        ConsumerConfig::new("b", "g")
            .poll_thread_nice(MAX_NICE)
            .validate()
            .unwrap();
    }

    #[test]
    fn absurd_durations_are_typed_errors_naming_the_field() {
        let json = r#"{"brokers":"b","group_id":"g","ack_timeout_ms":18446744073709551615}"#;
        let err = ConsumerConfig::from_json_str(json).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::TooLong {
                    field: "ack_timeout_ms",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "`ack_timeout_ms` must be at most 86400000 (one day)"
        );
        let day = ConsumerConfig::new("b", "g").ack_timeout(MAX_DURATION);
        day.validate().unwrap();
        let err = |c: ConsumerConfig| c.validate().unwrap_err().to_string();
        let long = MAX_DURATION + Duration::from_millis(1);
        assert!(err(day.clone().commit_interval(long)).contains("commit_interval_ms"));
        assert!(err(day.clone().stats_interval(long)).contains("stats_interval_ms"));
        assert!(err(day.ack_timeout_header("h", long)).contains("ack_timeout_header.max_ms"));
    }

    #[test]
    fn a_header_sets_one_record_timeout_up_to_the_maximum() {
        let json = r#"{"brokers":"b","group_id":"g",
            "ack_timeout_header":{"name":"gig.ack-timeout-ms","max_ms":60000}}"#;
        let c = ConsumerConfig::from_json_str(json).unwrap();
        let header = c.ack_timeout_header.clone().unwrap();
        assert_eq!(header.max, Duration::from_secs(60));
        let with = |value: Option<&str>| {
            let mut data = test_record(&"t".into(), 0, 0).to_data();
            data.headers.push(Header {
                key: "gig.ack-timeout-ms".into(),
                value: value.map(|v| v.as_bytes().to_vec()),
            });
            Record::new(data)
        };
        assert_eq!(
            header.timeout_of(&with(Some("250"))),
            Some(Ok(Duration::from_millis(250)))
        );
        assert_eq!(
            header.timeout_of(&with(Some("3600000"))),
            Some(Ok(Duration::from_secs(60))),
            "bounded by max"
        );
        let bad = header.timeout_of(&with(Some("soon"))).unwrap().unwrap_err();
        assert!(bad.contains("\"soon\", not a number"), "{bad}");
        assert!(header.timeout_of(&with(None)).unwrap().is_err());
        assert_eq!(header.timeout_of(&test_record(&"t".into(), 0, 0)), None);
        assert_eq!(
            c.ack_timeout_of(&with(Some("250"))),
            Duration::from_millis(250)
        );
        assert_eq!(
            c.ack_timeout_of(&with(Some("soon"))),
            c.ack_timeout,
            "the default"
        );

        let err = |c: ConsumerConfig| c.validate().unwrap_err().to_string();
        let zero = ConsumerConfig::new("b", "g").ack_timeout_header("h", Duration::ZERO);
        assert!(err(zero).contains("ack_timeout_header.max_ms"));
        let unnamed = ConsumerConfig::new("b", "g").ack_timeout_header("", Duration::from_secs(1));
        assert!(err(unnamed).contains("ack_timeout_header.name"));
    }

    #[test]
    fn a_transactional_config_from_json_and_code() {
        let json = r#"{"brokers":"b","group_id":"g",
            "transactional":{"id":"billing-1","timeout_ms":5000}}"#;
        let c = ConsumerConfig::from_json_str(json).unwrap();
        let t = c.transactional.clone().unwrap();
        assert_eq!(
            (t.id.as_str(), t.timeout),
            ("billing-1", Duration::from_secs(5))
        );
        assert_eq!(c.commit_period(), Duration::from_millis(100));
        assert_eq!(c.client_properties()["isolation.level"], "read_committed");
        let code = ConsumerConfig::new("b", "g")
            .transactional(Transactional::new("billing-1").timeout(Duration::from_secs(5)));
        assert_eq!(code, c);
        assert_eq!(
            ConsumerConfig::new("b", "g").commit_period(),
            Duration::from_secs(1)
        );

        let e = ConsumerConfig::from_json_str(
            r#"{"brokers":"b","group_id":"g","transactional":{"id":""}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::EmptyTransactionalId), "{e}");
        let e = c
            .clone()
            .property("isolation.level", "read_uncommitted")
            .validate()
            .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Reserved { key, .. } if key == "isolation.level"),
            "{e}"
        );
        let e = ConsumerConfig::from_json_str(
            r#"{"brokers":"b","group_id":"g","transactional":{"id":"t","typo":1}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `typo`"), "{e}");
    }

    #[test]
    fn json_properties_take_numbers_and_never_show_a_value_they_refuse() {
        let c = ConsumerConfig::from_json_str(
            r#"{"brokers":"b","group_id":"g","properties":{"session.timeout.ms":6000,"check.crcs":true}}"#,
        )
        .unwrap();
        assert_eq!(c.properties["session.timeout.ms"], "6000");
        assert_eq!(c.properties["check.crcs"], "true");
        let e = ConsumerConfig::from_json_str(
            r#"{"brokers":"b","group_id":"g","properties":{"sasl.pasword":["hunter2"]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("property `sasl.pasword` must be a string"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = ConsumerConfig::from_json_str(r#"{"group_id":"g"}"#).unwrap_err();
        assert!(matches!(e, ConfigError::NoBrokers), "{e}");
    }

    #[test]
    fn malformed_json_and_missing_files_say_where() {
        let e = ConsumerConfig::from_json_str("{\"brokers\": ").unwrap_err();
        assert!(matches!(e, ConfigError::Json { .. }), "{e}");
        let e = ConsumerConfig::from_json_str(r#"{"brokers":"b","group_id":"g","typo":1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `typo`"), "{e}");
        let e = ConsumerConfig::from_json_file("/nonexistent/gig.json").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/gig.json"), "{e}");
    }
}
