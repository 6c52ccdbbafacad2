//! Consumer configuration: Gig's own settings, typed, plus librdkafka properties passed
//! through untouched (security, tuning: every librdkafka option works as documented).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod ack_timeout_header;
mod build;
mod client;
mod defaults;
mod json;
mod read;
mod timing;
mod validate;

use crate::duration::{millis, opt_millis};
use crate::properties::Redacted;
use crate::transactional::Transactional;

pub use crate::duration::MAX_DURATION;
pub use ack_timeout_header::AckTimeoutHeader;

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
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Bootstrap servers, comma-separated (librdkafka's `bootstrap.servers`). Required:
    /// absent from JSON, it may come from the environment ([`ConsumerConfig::from_env`]).
    #[serde(default)]
    pub(crate) brokers: String,
    /// Consumer group id (`group.id`). Required, as `brokers` is.
    #[serde(default)]
    pub(crate) group_id: String,
    /// Topics to subscribe to when the consumer starts; empty to subscribe or assign later.
    #[serde(default)]
    pub(crate) topics: Vec<String>,
    /// Set by [`ConsumerConfig::ack_timeout`], which says what it does.
    #[serde(default = "defaults::ack_timeout", with = "millis")]
    #[serde(rename = "ack_timeout_ms")]
    pub(crate) ack_timeout: Duration,
    /// A header through which a producer may give one record a timeout of its own.
    /// Unset by default: every record gets `ack_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ack_timeout_header: Option<AckTimeoutHeader>,
    /// Set by [`ConsumerConfig::key_ordering`], which says what it does.
    #[serde(default)]
    pub(crate) key_ordering: bool,
    /// Set by [`ConsumerConfig::wait_for_due`], which says what it does.
    #[serde(default)]
    pub(crate) wait_for_due: bool,
    /// Set by [`ConsumerConfig::headers`], which says what it does.
    #[serde(default = "defaults::headers")]
    pub(crate) headers: bool,
    /// Set by [`ConsumerConfig::max_in_flight`], which says what it does.
    #[serde(default = "defaults::max_in_flight")]
    pub(crate) max_in_flight: usize,
    /// Set by [`ConsumerConfig::max_uncommitted`], which says what it does.
    #[serde(default)]
    pub(crate) max_uncommitted: Option<usize>,
    /// Set by [`ConsumerConfig::poll_thread_nice`], which says what it does.
    #[serde(default = "defaults::poll_thread_nice")]
    pub(crate) poll_thread_nice: u8,
    /// Set by [`ConsumerConfig::commit_interval`], which says what it does.
    #[serde(default = "defaults::commit_interval", with = "millis")]
    #[serde(rename = "commit_interval_ms")]
    pub(crate) commit_interval: Duration,
    /// Commit early once this many records were handed over since the last commit.
    #[serde(default = "defaults::commit_every")]
    pub(crate) commit_every: usize,
    /// Most records in one message to the Acked or NoAcked actor.
    #[serde(default = "defaults::handover_batch")]
    pub(crate) handover_batch: usize,
    /// When set, the consumer logs its stats (gig-actors' `Stats`) as one JSON line this
    /// often (log target `gig::stats`, level info). Unset by default.
    #[serde(default, with = "opt_millis", skip_serializing_if = "Option::is_none")]
    #[serde(rename = "stats_interval_ms")]
    pub(crate) stats_interval: Option<Duration>,
    /// Set by [`ConsumerConfig::handover_refused_limit`], which says what it does.
    #[serde(default = "defaults::handover_refused_limit", with = "millis")]
    #[serde(rename = "handover_refused_limit_ms")]
    pub(crate) handover_refused_limit: Duration,
    /// Set by [`ConsumerConfig::max_deliveries`], which says what it does.
    #[serde(default = "defaults::max_deliveries")]
    pub(crate) max_deliveries: u32,
    /// The transactional mode: outputs of the outcome actors and the offsets of their
    /// source records are committed in one Kafka transaction (see [`Transactional`]).
    /// Unset by default: offsets are committed on their own (at-least-once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transactional: Option<Transactional>,
    /// librdkafka properties, passed through untouched.
    #[serde(default, deserialize_with = "crate::properties::from_json")]
    pub(crate) properties: BTreeMap<String, String>,
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

/// The property that is the member's rebalance timeout.
const MAX_POLL_INTERVAL: &str = "max.poll.interval.ms";

/// A property in milliseconds; `None` when unset or not a number (librdkafka then refuses
/// the config when the client is created).
fn millis_property(props: &BTreeMap<String, String>, key: &str) -> Option<Duration> {
    let ms = props.get(key)?.trim().parse::<u64>().ok()?;
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests;
