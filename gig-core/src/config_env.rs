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
//! silently), and so is a `GIG_KAFKA_<NAME>` whose property librdkafka does not know
//! ([`properties::is_known`](crate::properties::is_known)): another tool's variable that
//! happens to begin with the prefix is no librdkafka setting, and `GIG_KAFKA_SASL_PASWORD` is
//! a misspelled secret whose value must go nowhere. An error about a setting or a property
//! that a variable set names that variable, and a missing `GIG_BROKERS` or `GIG_GROUP_ID` is
//! named as such. Values are never logged and no error carries a property's value; the
//! config's `Debug` hides secrets.

use std::time::Duration;

use crate::config::ConsumerConfig;
use crate::error::ConfigError;
use crate::properties::{closest, is_known};

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
        // Validated once the variables have completed it.
        let file = get("CONFIG_FILE");
        let mut config = match file {
            Some(path) => ConsumerConfig::parse_json_file(path.as_ref())?,
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
                "HANDOVER_REFUSED_LIMIT_MS" => {
                    config.handover_refused_limit = ms("handover_refused_limit_ms")?
                }
                "MAX_DELIVERIES" => {
                    config.max_deliveries =
                        u32::try_from(number("max_deliveries")?).unwrap_or(u32::MAX)
                }
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
                        let property = property_name(property);
                        if !is_known(&property) {
                            return Err(ConfigError::Env {
                                var: var(),
                                why: unknown_property(&property),
                            });
                        }
                        config.variables.0.insert(property.clone(), var());
                        config.properties.insert(property, value.to_string());
                    }
                    _ => {
                        return Err(ConfigError::Env {
                            var: var(),
                            why: format!(
                                "not a Gig setting: variables named {prefix}… configure the consumer (see gig_core::config_env)"
                            ),
                        })
                    }
                },
            }
        }
        let given = |name: &str| get(name).is_some().then(|| format!("{prefix}{name}"));
        config
            .validate()
            .map_err(|e| naming_the_variable(e, &config, file.is_some(), prefix, given))?;
        Ok(config)
    }
}

/// Why a `…KAFKA_` variable names no property, with the one it probably meant.
fn unknown_property(property: &str) -> String {
    let meant =
        closest(property).map_or_else(String::new, |name| format!(" (did you mean `{name}`?)"));
    format!("librdkafka has no property `{property}`{meant}; its value is not shown")
}

/// A config error as an error about the variable that caused it: the variable that set the
/// setting or property it is about, or the one that is missing.
fn naming_the_variable(
    error: ConfigError,
    config: &ConsumerConfig,
    from_file: bool,
    prefix: &str,
    given: impl Fn(&str) -> Option<String>,
) -> ConfigError {
    // A required setting no variable (nor the file) gave, or a variable gave empty.
    let missing = |name: &str, field: &str, what: &str| {
        let state = match given(name) {
            Some(_) => "empty",
            None => "not set",
        };
        let file = match from_file {
            true => format!(" (nor `{field}` in {prefix}CONFIG_FILE)"),
            false => String::new(),
        };
        ConfigError::Env {
            var: format!("{prefix}{name}"),
            why: format!("{state}{file}: {what}"),
        }
    };
    let var = match &error {
        ConfigError::NoBrokers => {
            return missing(
                "BROKERS",
                "brokers",
                "the bootstrap servers, e.g. kafka-1:9092",
            )
        }
        ConfigError::NoGroupId => {
            return missing("GROUP_ID", "group_id", "the consumer group's id")
        }
        ConfigError::EmptyTopic => given("TOPICS"),
        ConfigError::EmptyTransactionalId => given("TRANSACTIONAL_ID"),
        ConfigError::Zero { field }
        | ConfigError::TooLong { field, .. }
        | ConfigError::TooShort { field, .. }
        | ConfigError::TooLarge { field, .. } => given(&field.to_ascii_uppercase()),
        ConfigError::Reserved { key, .. } | ConfigError::ClassicProtocolOnly { key, .. } => {
            config.variable_of(key).map(String::from)
        }
        _ => None,
    };
    match var {
        Some(var) => ConfigError::Env {
            var,
            why: error.to_string(),
        },
        None => error,
    }
}

/// The variable [`ConsumerConfig::from_env`] reads the librdkafka property `property` from,
/// with the prefix `prefix`: upper case, `_` for `.`, `__` for `_`.
///
/// ```
/// use gig_core::config_env::variable;
/// assert_eq!(variable("GIG_", "sasl.username"), "GIG_KAFKA_SASL_USERNAME");
/// assert_eq!(variable("GIG_", "enable_sasl_queue"), "GIG_KAFKA_ENABLE__SASL__QUEUE");
/// ```
pub fn variable(prefix: &str, property: &str) -> String {
    let name = property.trim().to_ascii_uppercase().replace('_', "__");
    format!("{prefix}KAFKA_{}", name.replace('.', "_"))
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
                ("GIG_KAFKA_ENABLE__SASL__QUEUE", "true"),
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
        assert_eq!(config.properties["enable_sasl_queue"], "true");
    }

    /// The error of `from_vars("GIG_", …)` with brokers, a group and `extra`.
    fn err(extra: (&str, &str)) -> String {
        let all = [("GIG_BROKERS", "b:9092"), ("GIG_GROUP_ID", "g"), extra];
        ConsumerConfig::from_vars("GIG_", vars(&all))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_lower_case_property_has_a_variable_that_reads_back_as_it() {
        let names = crate::properties::LIBRDKAFKA_PROPERTIES;
        let lower = names.iter().filter(|n| n.to_ascii_lowercase() == **n);
        for name in lower {
            let var = variable("GIG_", name);
            assert_eq!(property_name(&var["GIG_KAFKA_".len()..]), *name, "{var}");
        }
    }

    #[test]
    fn a_typo_or_a_bad_value_is_an_error_naming_the_variable_not_the_secret() {
        let base = [("GIG_BROKERS", "b:9092"), ("GIG_GROUP_ID", "g")];
        assert!(err(("GIG_ACK_TIMEOUT", "5")).contains("GIG_ACK_TIMEOUT"));
        assert!(err(("GIG_MAX_IN_FLIGHT", "lots")).contains("whole number"));
        assert!(err(("GIG_KEY_ORDERING", "maybe")).contains("true or false"));
        assert_eq!(
            err(("GIG_ACK_TIMEOUT_MS", "0")),
            "environment variable GIG_ACK_TIMEOUT_MS: `ack_timeout_ms` must be greater than zero"
        );
        let missing = ConsumerConfig::from_vars("GIG_", vars(&base[..1])).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "environment variable GIG_GROUP_ID: not set: the consumer group's id"
        );
        let empty = ConsumerConfig::from_vars("GIG_", vars(&[("GIG_BROKERS", " ")])).unwrap_err();
        assert!(
            empty
                .to_string()
                .starts_with("environment variable GIG_BROKERS: empty: the bootstrap servers"),
            "{empty}"
        );
        let missing = ConsumerConfig::from_vars("APP_", vars(&[])).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("environment variable APP_BROKERS: not set"),
            "{missing}"
        );
    }

    #[test]
    fn a_variable_naming_no_librdkafka_property_is_an_error_without_its_value() {
        assert_eq!(
            err(("GIG_KAFKA_SASL_PASWORD", "hunter2-real-secret")),
            "environment variable GIG_KAFKA_SASL_PASWORD: librdkafka has no property `sasl.pasword` (did you mean `sasl.password`?); its value is not shown"
        );
        // What the repository's tools once read with the config's prefix (issue 29), with
        // a prefix of the test's own so that the rename of those variables leaves it be.
        let tool = |var: &str, value: &str| {
            let all = [
                ("APP_BROKERS", "b:9092"),
                ("APP_GROUP_ID", "g"),
                (var, value),
            ];
            ConsumerConfig::from_vars("APP_", vars(&all))
                .unwrap_err()
                .to_string()
        };
        let state_dir = tool("APP_KAFKA_STATE_DIR", "/tmp/gig-kafka");
        assert_eq!(
            state_dir,
            "environment variable APP_KAFKA_STATE_DIR: librdkafka has no property `state.dir`; its value is not shown"
        );
        let heap = tool("APP_KAFKA_HEAP", "-Xmx768m");
        assert!(
            heap.contains("APP_KAFKA_HEAP") && !heap.contains("Xmx"),
            "{heap}"
        );
        let brokers = tool("APP_TEST_BROKERS", "127.0.0.1:19192");
        assert!(
            brokers.starts_with("environment variable APP_TEST_BROKERS: not a Gig setting"),
            "{brokers}"
        );
        assert_eq!(
            err(("GIG_KAFKA_SESION_TIMEOUT_MS", "6000")),
            "environment variable GIG_KAFKA_SESION_TIMEOUT_MS: librdkafka has no property `sesion.timeout.ms` (did you mean `session.timeout.ms`?); its value is not shown"
        );
    }

    #[test]
    fn a_property_a_variable_set_is_named_in_its_errors_and_remembered() {
        let set = |extra: &[(&str, &str)]| {
            let mut all = vec![("GIG_BROKERS", "b:9092"), ("GIG_GROUP_ID", "g")];
            all.extend_from_slice(extra);
            ConsumerConfig::from_vars("GIG_", vars(&all))
        };
        let err = set(&[("GIG_KAFKA_ENABLE_AUTO_COMMIT", "true")]).unwrap_err();
        assert!(
            err.to_string().starts_with("environment variable GIG_KAFKA_ENABLE_AUTO_COMMIT: property `enable.auto.commit` is managed by Gig"),
            "{err}"
        );
        let config = set(&[("GIG_KAFKA_SESSION_TIMEOUT_MS", "soon")]).unwrap();
        assert_eq!(
            config.variable_of("session.timeout.ms"),
            Some("GIG_KAFKA_SESSION_TIMEOUT_MS")
        );
        let in_code = config.property("session.timeout.ms", "6000");
        assert_eq!(in_code.variable_of("session.timeout.ms"), None);
    }

    #[test]
    fn a_config_file_may_leave_brokers_and_group_to_the_variables() {
        let dir = std::env::temp_dir().join(format!("gig-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("partial.json");
        std::fs::write(&file, r#"{"topics": ["orders"], "ack_timeout_ms": 500}"#).unwrap();
        let path = file.to_str().unwrap();
        let config = ConsumerConfig::from_vars(
            "GIG_",
            vars(&[
                ("GIG_CONFIG_FILE", path),
                ("GIG_BROKERS", "b:9092"),
                ("GIG_GROUP_ID", "g"),
            ]),
        )
        .unwrap();
        assert_eq!(config.topics, ["orders"]);
        assert_eq!(config.ack_timeout, Duration::from_millis(500));
        let missing =
            ConsumerConfig::from_vars("GIG_", vars(&[("GIG_CONFIG_FILE", path)])).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("GIG_BROKERS: not set (nor `brokers` in GIG_CONFIG_FILE)"),
            "{missing}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
