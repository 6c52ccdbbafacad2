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
    /// assert_eq!(config.topic_names(), ["orders", "refunds"]);
    /// assert_eq!(config.properties()["sasl.username"], "billing");
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
mod tests;
