//! The transactional mode of a consumer (KIP-98, KIP-447): what its outcome actors ask to
//! produce and the offsets of the records they accepted are committed in one Kafka
//! transaction, so a `read_committed` reader sees each output exactly when its source is
//! committed.
//!
//! Gig owns one transactional producer per consumer, with this `id` as librdkafka's
//! `transactional.id`. Every `interval` (100 ms by default, as Kafka Streams under
//! exactly-once) it commits the watermark in a transaction: the outputs of every record
//! below it, then the offsets (`send_offsets_to_transaction`), then the commit.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{millis, MAX_DURATION};
use crate::error::ConfigError;
use crate::properties::{connection_properties, Redacted};

/// The shortest transaction timeout librdkafka takes (`transaction.timeout.ms`).
pub const MIN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(1);

/// Producer properties Gig sets from these settings, or needs as they are.
const RESERVED: &[(&str, Option<&str>, &str)] = &[
    (
        "transactional.id",
        None,
        "set it with `transactional.id` in Gig's config (`id`)",
    ),
    (
        "transaction.timeout.ms",
        None,
        "set it with `transactional.timeout_ms`",
    ),
    (
        "enable.idempotence",
        Some("true"),
        "a transactional producer is idempotent",
    ),
    (
        "acks",
        Some("all"),
        "a transactional producer waits for every in-sync replica",
    ),
];

/// Settings of a transactional consumer. In JSON:
/// `"transactional": { "id": "billing-1", "interval_ms": 100, "timeout_ms": 10000 }`.
///
/// `Debug` hides the values of secret properties.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Transactional {
    /// librdkafka's `transactional.id`: one per consumer instance, the same across its
    /// restarts, so that a restarted instance fences its previous incarnation and aborts
    /// what that one left open.
    pub id: String,
    /// How often the watermark is committed in a transaction. Many records go in each;
    /// `commit_every` still commits early after that many hand-overs.
    #[serde(default = "defaults::interval", with = "millis")]
    #[serde(rename = "interval_ms")]
    pub interval: Duration,
    /// librdkafka's `transaction.timeout.ms`: the broker aborts a transaction open longer,
    /// and Gig's transactional calls wait at most this long. At least 1 s; at most the
    /// broker's `transaction.max.timeout.ms` (15 min by default). Records the producer
    /// cannot deliver within half of it (`message.timeout.ms`, unless set) fail their
    /// transaction, which Gig then aborts.
    #[serde(default = "defaults::timeout", with = "millis")]
    #[serde(rename = "timeout_ms")]
    pub timeout: Duration,
    /// librdkafka properties for the transactional producer, passed through untouched.
    #[serde(default, deserialize_with = "crate::properties::from_json")]
    pub properties: BTreeMap<String, String>,
}

impl fmt::Debug for Transactional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transactional")
            .field("id", &self.id)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("properties", &Redacted(&self.properties))
            .finish()
    }
}

mod defaults {
    use std::time::Duration;
    pub fn interval() -> Duration {
        Duration::from_millis(100)
    }
    pub fn timeout() -> Duration {
        Duration::from_secs(10)
    }
}

impl Transactional {
    /// Settings with this transactional id and Gig's defaults: a transaction every 100 ms,
    /// a 10 s transaction timeout.
    pub fn new(id: impl Into<String>) -> Self {
        Transactional {
            id: id.into(),
            interval: defaults::interval(),
            timeout: defaults::timeout(),
            properties: BTreeMap::new(),
        }
    }

    /// How often the watermark is committed in a transaction (see the field).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The transaction timeout (see the field).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets one librdkafka property of the transactional producer.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Checks the settings; librdkafka checks the properties when the producer is made.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id.trim().is_empty() {
            return Err(ConfigError::EmptyTransactionalId);
        }
        if self.interval.is_zero() {
            return Err(ConfigError::Zero {
                field: "transactional.interval_ms",
            });
        }
        for (field, duration) in [
            ("transactional.interval_ms", self.interval),
            ("transactional.timeout_ms", self.timeout),
        ] {
            if duration > MAX_DURATION {
                return Err(ConfigError::TooLong {
                    field,
                    max: MAX_DURATION,
                });
            }
        }
        if self.timeout < MIN_TRANSACTION_TIMEOUT {
            return Err(ConfigError::TooShort {
                field: "transactional.timeout_ms",
                min: MIN_TRANSACTION_TIMEOUT,
            });
        }
        for (key, allowed, why) in RESERVED {
            let Some(value) = self.properties.get(*key) else {
                continue;
            };
            if allowed.is_none_or(|allowed| !value.trim().eq_ignore_ascii_case(allowed)) {
                return Err(ConfigError::Reserved {
                    key: key.to_string(),
                    why,
                });
            }
        }
        Ok(())
    }

    /// Whether the broker may have aborted, on its own, a transaction open for `open_for`:
    /// it does so to any transaction older than the timeout, and bumps the producer's
    /// epoch. librdkafka then reports the producer fenced, as it reports a zombie; but no
    /// other producer has the id, so a new producer may take it and go on.
    pub fn outlived(&self, open_for: Duration) -> bool {
        open_for >= self.timeout
    }

    /// The librdkafka properties of the transactional producer: the consumer's connection
    /// properties (TLS, SASL: `consumer` is the consumer's properties), so that it reaches
    /// the cluster as the consumer does; then its own, which win; then Gig's.
    pub fn producer_properties(
        &self,
        brokers: &str,
        consumer: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut props: BTreeMap<String, String> = connection_properties(consumer)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        props.extend(self.properties.clone());
        props.insert("bootstrap.servers".to_string(), brokers.to_string());
        props.insert("transactional.id".to_string(), self.id.clone());
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        props.insert("transaction.timeout.ms".to_string(), timeout_ms.to_string());
        // Records not delivered by half the transaction timeout fail it, and Gig aborts it
        // itself: the broker's own abort of a transaction that outlived its timeout bumps
        // the producer's epoch, and the producer then finds itself fenced, as a zombie is.
        let delivery = ["message.timeout.ms", "delivery.timeout.ms"];
        if !delivery.iter().any(|k| props.contains_key(*k)) {
            props.insert(
                "message.timeout.ms".to_string(),
                (timeout_ms / 2).to_string(),
            );
        }
        props
    }
}

impl From<&str> for Transactional {
    fn from(id: &str) -> Self {
        Transactional::new(id)
    }
}

impl From<String> for Transactional {
    fn from(id: String) -> Self {
        Transactional::new(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_outlives_its_timeout_once_open_that_long() {
        let t = Transactional::new("a").timeout(Duration::from_secs(2));
        assert!(!t.outlived(Duration::from_millis(1_999)));
        assert!(t.outlived(Duration::from_secs(2)));
        assert!(t.outlived(Duration::from_secs(60)));
    }

    #[test]
    fn defaults_and_producer_properties() {
        let t = Transactional::new("billing-1").property("linger.ms", "2");
        t.validate().unwrap();
        assert_eq!(t.interval, Duration::from_millis(100));
        let consumer = BTreeMap::from([
            ("security.protocol".to_string(), "SASL_SSL".to_string()),
            ("sasl.mechanisms".to_string(), "SCRAM-SHA-512".to_string()),
            ("session.timeout.ms".to_string(), "6000".to_string()),
        ]);
        let props = t.producer_properties("b:9092", &consumer);
        assert_eq!(props["security.protocol"], "SASL_SSL");
        assert_eq!(props["sasl.mechanisms"], "SCRAM-SHA-512");
        assert!(
            !props.contains_key("session.timeout.ms"),
            "only how to connect"
        );
        assert_eq!(props["transactional.id"], "billing-1");
        assert_eq!(props["transaction.timeout.ms"], "10000");
        assert_eq!(props["message.timeout.ms"], "5000");
        assert_eq!(props["bootstrap.servers"], "b:9092");
        let own = Transactional::new("b").property("message.timeout.ms", "3000");
        assert_eq!(
            own.producer_properties("b:9092", &BTreeMap::new())["message.timeout.ms"],
            "3000"
        );
        assert_eq!(props["linger.ms"], "2");
    }

    #[test]
    fn bad_settings_are_typed_errors_naming_the_field() {
        let err = |t: Transactional| t.validate().unwrap_err();
        assert!(matches!(
            err(Transactional::new(" ")),
            ConfigError::EmptyTransactionalId
        ));
        let e = err(Transactional::new("t").interval(Duration::ZERO));
        assert!(
            matches!(e, ConfigError::Zero { field } if field == "transactional.interval_ms"),
            "{e}"
        );
        let e = err(Transactional::new("t").timeout(Duration::from_millis(999)));
        assert_eq!(
            e.to_string(),
            "`transactional.timeout_ms` must be at least 1000"
        );
        let e = err(Transactional::new("t").timeout(MAX_DURATION * 2));
        assert!(matches!(e, ConfigError::TooLong { .. }), "{e}");
        for key in ["transactional.id", "transaction.timeout.ms"] {
            let e = err(Transactional::new("t").property(key, "x"));
            assert!(
                matches!(&e, ConfigError::Reserved { key: k, .. } if k == key),
                "{e}"
            );
        }
        let e = err(Transactional::new("t").property("enable.idempotence", "false"));
        assert!(e.to_string().contains("idempotent"), "{e}");
        Transactional::new("t")
            .property("enable.idempotence", "true")
            .property("acks", "all")
            .validate()
            .unwrap();
    }
}
