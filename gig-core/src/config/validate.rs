//! What makes a config usable.

use super::{ConsumerConfig, CLASSIC_ONLY, MAX_DURATION, MAX_NICE, RESERVED};
use crate::error::ConfigError;

impl ConsumerConfig {
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
}
