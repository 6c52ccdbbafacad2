//! Everything a configuration can get wrong, each with a message a person can act on.

use std::path::PathBuf;
use std::time::Duration;

/// A configuration that Gig refuses, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No bootstrap servers were given.
    #[error("no brokers given: set `brokers` to a bootstrap list such as \"127.0.0.1:9092\"")]
    NoBrokers,
    /// No consumer group id was given.
    #[error("no group id given: set `group_id`; Gig commits offsets for a consumer group")]
    NoGroupId,
    /// A duration that must be positive is zero.
    #[error("`{field}` must be greater than zero")]
    Zero {
        /// The setting's name.
        field: &'static str,
    },
    /// A duration is longer than Gig takes ([`MAX_DURATION`](crate::config::MAX_DURATION)).
    #[error("`{field}` must be at most {} (one day)", max.as_millis())]
    TooLong {
        /// The setting's name.
        field: &'static str,
        /// The longest it may be.
        max: Duration,
    },
    /// A duration is shorter than its setting allows.
    #[error("`{field}` must be at least {}", min.as_millis())]
    TooShort {
        /// The setting's name.
        field: &'static str,
        /// The shortest it may be.
        min: Duration,
    },
    /// A number is smaller than its setting allows.
    #[error("`{field}` must be at least {min}{}", or.map(|o| format!(" (or {o})")).unwrap_or_default())]
    TooSmall {
        /// The setting's name.
        field: &'static str,
        /// The smallest it may be.
        min: u64,
        /// A smaller value it takes too, with a meaning of its own.
        or: Option<u64>,
    },
    /// A number is larger than its setting allows.
    #[error("`{field}` must be at most {max}")]
    TooLarge {
        /// The setting's name.
        field: &'static str,
        /// The largest it may be.
        max: u64,
    },
    /// A transactional consumer names no transactional id.
    #[error("`transactional.id` must not be empty: give each consumer instance its own, the same across its restarts")]
    EmptyTransactionalId,
    /// A topic name is empty.
    #[error("topic names must not be empty")]
    EmptyTopic,
    /// `ack_timeout_header` names no header.
    #[error("`ack_timeout_header.name` must not be empty")]
    EmptyHeaderName,
    /// A librdkafka property that Gig manages itself was set to a value Gig cannot honour.
    #[error("property `{key}` is managed by Gig: {why}")]
    Reserved {
        /// The property.
        key: String,
        /// Why Gig manages it.
        why: &'static str,
    },
    /// A property of the classic group protocol, set on a consumer of the KIP-848 protocol
    /// (`group.protocol=consumer`), where the broker owns it.
    #[error("property `{key}` does not apply with `group.protocol=consumer`: {why}")]
    ClassicProtocolOnly {
        /// The property.
        key: String,
        /// Where the setting lives instead.
        why: &'static str,
    },
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An environment variable for [`ConsumerConfig::from_env`](crate::ConsumerConfig::from_env)
    /// is unknown or has a value that does not parse.
    #[error("environment variable {var}: {why}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong with it.
        why: String,
    },
    /// The config text is not valid JSON for a Gig config.
    #[error("invalid config JSON{}: {source}", path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Json {
        /// The file, when the JSON came from one.
        path: Option<PathBuf>,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
}
