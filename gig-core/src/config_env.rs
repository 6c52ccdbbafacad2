//! A [`ConsumerConfig`] from environment variables, as a deployed service takes it.
//!
//! With the prefix `GIG_`:
//!
//! | variable | setting |
//! | --- | --- |
//! | `GIG_CONFIG_FILE` | a JSON config to start from ([`ConsumerConfig::from_json_file`]); the variables below override it |
//! | `GIG_BROKERS` | `brokers` |
//! | `GIG_GROUP_ID` | `group_id` |
//! | `GIG_TOPICS` | `topics`, comma-separated |
//! | `GIG_ACK_TIMEOUT_MS`, `GIG_MAX_IN_FLIGHT`, `GIG_MAX_UNCOMMITTED`, `GIG_COMMIT_INTERVAL_MS`, `GIG_COMMIT_EVERY`, `GIG_HANDOVER_BATCH`, `GIG_STATS_INTERVAL_MS`, `GIG_POLL_THREAD_NICE` | the setting of that name |
//! | `GIG_KEY_ORDERING`, `GIG_HEADERS`, `GIG_WAIT_FOR_DUE` | `true` or `false` |
//! | `GIG_TRANSACTIONAL_ID` | the transactional mode, with this id |
//! | `GIG_KAFKA_<NAME>` | the librdkafka property `<name>`: lower case, `_` for `.`, `__` for `_` (`GIG_KAFKA_SASL_USERNAME` → `sasl.username`) |
//!
//! Any other variable with the prefix is an error that names it (a typo must not pass
//! silently). Values are never logged; the config's `Debug` hides secrets.

use std::time::Duration;

use crate::config::ConsumerConfig;
use crate::error::ConfigError;

impl ConsumerConfig {
    /// The config the process's environment gives, with variables named `{prefix}…` (see
    /// the [module docs](crate::config_env)); then validated.
    pub fn from_env(prefix: &str) -> Result<ConsumerConfig, ConfigError> {
        ConsumerConfig::from_vars(prefix, std::env::vars())
    }

    /// [`from_env`](Self::from_env) over the given variables.
    ///
    /// ```
    /// use gig_core::ConsumerConfig;
    /// let vars = [
    ///     ("APP_BROKERS", "kafka-1:9093"),
    ///     ("APP_GROUP_ID", "billing"),
    ///     ("APP_TOPICS", "orders,refunds"),
    ///     ("APP_ACK_TIMEOUT_MS", "5000"),
    ///     ("APP_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
    ///     ("APP_KAFKA_SASL_USERNAME", "billing"),
    ///     ("PATH", "/usr/bin"),
    /// ];
    /// let config = ConsumerConfig::from_vars("APP_", vars.map(|(k, v)| (k.into(), v.into())))?;
    /// assert_eq!(config.topics, ["orders", "refunds"]);
    /// assert_eq!(config.properties["sasl.username"], "billing");
    /// # Ok::<(), gig_core::ConfigError>(())
    /// ```
    pub fn from_vars(
        prefix: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ConsumerConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v)))
            .collect();
        let get = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
        let mut config = match get("CONFIG_FILE") {
            Some(path) => ConsumerConfig::from_json_file(path)?,
            None => ConsumerConfig::new("", ""),
        };
        for (name, value) in &vars {
            let var = || format!("{prefix}{name}");
            let value = value.trim();
            let number = |field: &'static str| {
                value.parse::<u64>().map_err(|_| ConfigError::Env {
                    var: var(),
                    why: format!("`{field}` must be a whole number, not {value:?}"),
                })
            };
            let flag = || match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ConfigError::Env {
                    var: var(),
                    why: format!("must be true or false, not {value:?}"),
                }),
            };
            let count = |field| number(field).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
            let ms = |field| number(field).map(Duration::from_millis);
            match name.as_str() {
                "CONFIG_FILE" => {}
                "BROKERS" => config.brokers = value.to_string(),
                "GROUP_ID" => config.group_id = value.to_string(),
                "TOPICS" => {
                    config.topics = value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect()
                }
                "ACK_TIMEOUT_MS" => config.ack_timeout = ms("ack_timeout_ms")?,
                "MAX_IN_FLIGHT" => config.max_in_flight = count("max_in_flight")?,
                "MAX_UNCOMMITTED" => config.max_uncommitted = Some(count("max_uncommitted")?),
                "COMMIT_INTERVAL_MS" => config.commit_interval = ms("commit_interval_ms")?,
                "COMMIT_EVERY" => config.commit_every = count("commit_every")?,
                "HANDOVER_BATCH" => config.handover_batch = count("handover_batch")?,
                "STATS_INTERVAL_MS" => config.stats_interval = Some(ms("stats_interval_ms")?),
                "POLL_THREAD_NICE" => {
                    config.poll_thread_nice =
                        u8::try_from(number("poll_thread_nice")?).unwrap_or(u8::MAX)
                }
                "KEY_ORDERING" => config.key_ordering = flag()?,
                "HEADERS" => config.headers = flag()?,
                "WAIT_FOR_DUE" => config.wait_for_due = flag()?,
                "TRANSACTIONAL_ID" => config = config.transactional(value),
                other => match other.strip_prefix("KAFKA_") {
                    Some(property) if !property.is_empty() => {
                        config
                            .properties
                            .insert(property_name(property), value.to_string());
                    }
                    _ => {
                        return Err(ConfigError::Env {
                            var: var(),
                            why: "not a Gig setting (see gig_core::config_env)".to_string(),
                        })
                    }
                },
            }
        }
        config.validate()?;
        Ok(config)
    }
}

/// `SASL_USERNAME` → `sasl.username`; `__` stands for `_`.
fn property_name(var: &str) -> String {
    var.to_ascii_lowercase()
        .split("__")
        .map(|part| part.replace('_', "."))
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_setting_and_property_maps() {
        let config = ConsumerConfig::from_vars(
            "GIG_",
            vars(&[
                ("GIG_BROKERS", "b:9092"),
                ("GIG_GROUP_ID", "g"),
                ("GIG_TOPICS", " a, b ,"),
                ("GIG_MAX_IN_FLIGHT", "500"),
                ("GIG_COMMIT_INTERVAL_MS", "250"),
                ("GIG_KEY_ORDERING", "true"),
                ("GIG_HEADERS", "no"),
                ("GIG_TRANSACTIONAL_ID", "billing-1"),
                ("GIG_KAFKA_SASL_PASSWORD", "hunter2"),
                ("GIG_KAFKA_SSL_ENGINE__ID", "x"),
                ("OTHER_THING", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (config.brokers.as_str(), config.group_id.as_str()),
            ("b:9092", "g")
        );
        assert_eq!(config.topics, ["a", "b"]);
        assert_eq!(config.max_in_flight, 500);
        assert_eq!(config.commit_interval, Duration::from_millis(250));
        assert!(config.key_ordering && !config.headers);
        assert_eq!(config.transactional.unwrap().id, "billing-1");
        assert_eq!(config.properties["sasl.password"], "hunter2");
        assert_eq!(config.properties["ssl.engine_id"], "x");
    }

    #[test]
    fn a_typo_or_a_bad_value_is_an_error_naming_the_variable_not_the_secret() {
        let base = [("GIG_BROKERS", "b:9092"), ("GIG_GROUP_ID", "g")];
        let err = |extra: (&str, &str)| {
            let mut all = base.to_vec();
            all.push(extra);
            ConsumerConfig::from_vars("GIG_", vars(&all))
                .unwrap_err()
                .to_string()
        };
        assert!(err(("GIG_ACK_TIMEOUT", "5")).contains("GIG_ACK_TIMEOUT"));
        assert!(err(("GIG_MAX_IN_FLIGHT", "lots")).contains("whole number"));
        assert!(err(("GIG_KEY_ORDERING", "maybe")).contains("true or false"));
        assert!(err(("GIG_ACK_TIMEOUT_MS", "0")).contains("ack_timeout_ms"));
        let missing = ConsumerConfig::from_vars("GIG_", vars(&base[..1])).unwrap_err();
        assert!(matches!(missing, ConfigError::NoGroupId));
    }
}
