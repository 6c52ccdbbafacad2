//! One error enum for the actors, with messages a person can act on. librdkafka's own
//! error stays inside as the `source`, as rdkafka's `KafkaError` keeps librdkafka's code.

use actix::MailboxError;
use gig_core::describe_offsets;
use gig_core::properties::{closest, is_secret, REDACTED};
use gig_core::{CommitOffset, ConfigError, Fault};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaConfRes;

/// What can go wrong when building or driving Gig's actors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GigError {
    /// The configuration was refused before any client was made.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// librdkafka refused a request; `action` says which.
    #[error("{action} failed: {source}")]
    Kafka {
        /// What Gig was doing.
        action: &'static str,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// librdkafka refused a property when a client was made: a name it does not know, or a
    /// value it cannot use. The value is never shown when it is a secret, nor when
    /// librdkafka does not know the name (a misspelled secret is still a secret).
    #[error("{action} failed: property `{property}`{}: {why}", variable.as_ref().map(|v| format!(" (environment variable {v})")).unwrap_or_default())]
    Property {
        /// What Gig was doing.
        action: &'static str,
        /// The property.
        property: String,
        /// The environment variable that set it, when
        /// [`ConsumerConfig::from_env`](gig_core::ConsumerConfig::from_env) took it from one.
        variable: Option<String>,
        /// What librdkafka said, without a secret's value.
        why: String,
    },
    /// A builder was missing a required part.
    #[error("consumer builder: {0} is required")]
    Missing(&'static str),
    /// An outcome actor that answers with records to produce (`acked_tx`, `no_acked_tx`)
    /// was given to a consumer that is not transactional: there would be no transaction to
    /// produce them in.
    #[error("consumer builder: an outcome actor that answers with outputs needs a transactional consumer; set `transactional` in its config")]
    NotTransactional,
    /// A transaction was aborted: nothing of it is visible, and its partitions are read
    /// again from their last commit.
    #[error("the transaction was aborted ({source}); its partitions are read again from their last commit")]
    TransactionAborted {
        /// Why librdkafka aborted it.
        source: KafkaError,
    },
    /// A transactional consumer had to commit while it was not in a group: a transaction
    /// needs the group's metadata (KIP-447).
    #[error("the consumer is not in a group, and a transaction needs its group metadata")]
    NotInGroup,
    /// The transactional producer was fenced (another producer took its transactional id:
    /// this consumer is a zombie) or failed for good. The consumer no longer delivers,
    /// hands over or commits; what it did not commit is read again by the group.
    #[error("the transactional producer {id} is fenced: {source}")]
    Fenced {
        /// The transactional id.
        id: String,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// The actor has stopped (or is stopping) and cannot take this request.
    #[error("the consumer has stopped")]
    Stopped,
    /// The consumer stopped, but its final commit did not succeed: the records after the
    /// last commit are read again by the group's next consumer.
    #[error("stopped, but the final commit of {} failed: {source}", describe_offsets(.offsets))]
    FinalCommit {
        /// The offsets that were not committed.
        offsets: Vec<CommitOffset>,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// One of the consumer's threads had exited before it could do its part (the final
    /// commit, a commit).
    #[error("the consumer's {0} thread has exited")]
    ThreadGone(&'static str),
    /// A record was not produced: the broker did not confirm it.
    #[error("producing to {topic} failed: {source}")]
    Produce {
        /// The topic the record was for.
        topic: String,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// A command that waits (`CaughtUp`, `WaitForAssignment`) did not get what it waited
    /// for in time.
    #[error("timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        /// What the command waited for.
        waiting_for: &'static str,
        /// How long it waited.
        after: std::time::Duration,
    },
    /// The consumer cannot read, and will not until someone acts: the broker refused its
    /// credentials or its TLS handshake, an ACL denies the topic or the group, a partition
    /// holds records this build cannot decompress. The [`Fault`] names what is blocked and
    /// carries librdkafka's text. `WaitForAssignment` and `CaughtUp` answer this as soon
    /// as such a fault opens, rather than time out; `Stats::faults` lists every open one.
    #[error("cannot read: {0}")]
    Unreadable(Fault),
    /// `CaughtUp` was sent while no partition was assigned: nothing to catch up on yet.
    /// Send `WaitForAssignment` first.
    #[error("no partition is assigned yet; send WaitForAssignment first")]
    NoAssignment,
    /// A request could not reach an actor (it has stopped, or the send timed out): so that
    /// `consumer.send(Stop).await??` works in a function returning `GigError`.
    #[error("the actor did not take the request: {0}")]
    Mailbox(#[from] MailboxError),
}

impl GigError {
    pub(crate) fn kafka(action: &'static str) -> impl FnOnce(KafkaError) -> GigError {
        GigError::making(action, |_| None)
    }

    /// [`kafka`](Self::kafka) for making a client: a refused property is named, with the
    /// environment variable `variable_of` says set it.
    pub(crate) fn making<'a>(
        action: &'static str,
        variable_of: impl FnOnce(&str) -> Option<&'a str>,
    ) -> impl FnOnce(KafkaError) -> GigError {
        move |source| match source {
            KafkaError::ClientConfig(res, description, property, value) => {
                let why = match res {
                    RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN => {
                        let meant = closest(&property)
                            .map_or_else(String::new, |name| format!(" (did you mean `{name}`?)"));
                        format!("librdkafka has no such property{meant}; its value is not shown")
                    }
                    _ if is_secret(&property) && !value.is_empty() => {
                        description.replace(&value, REDACTED)
                    }
                    _ => description,
                };
                GigError::Property {
                    action,
                    variable: variable_of(&property).map(String::from),
                    property,
                    why,
                }
            }
            // Its `Debug` shows the bytes of the name or value that held the NUL.
            KafkaError::Nul(_) => GigError::Kafka {
                action,
                source: KafkaError::ClientCreation(
                    "a property's name or value holds a NUL byte".to_string(),
                ),
            },
            source => GigError::Kafka { action, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::BaseConsumer;

    fn refused(key: &str, value: &str) -> GigError {
        let made: Result<BaseConsumer, _> = ClientConfig::new().set(key, value).create();
        let variable = format!("APP_KAFKA_{}", key.to_uppercase().replace('.', "_"));
        made.map(|_| ())
            .map_err(GigError::making("creating the consumer", |_| {
                Some(&variable)
            }))
            .unwrap_err()
    }

    #[test]
    fn a_refused_property_is_named_with_its_variable_and_never_a_secret_value() {
        let unknown = refused("sasl.pasword", "hunter2-real-secret");
        assert_eq!(
            unknown.to_string(),
            "creating the consumer failed: property `sasl.pasword` (environment variable APP_KAFKA_SASL_PASWORD): librdkafka has no such property (did you mean `sasl.password`?); its value is not shown"
        );
        assert!(!format!("{unknown:?}").contains("hunter2"));
        let invalid = refused("session.timeout.ms", "soon");
        assert_eq!(
            invalid.to_string(),
            "creating the consumer failed: property `session.timeout.ms` (environment variable APP_KAFKA_SESSION_TIMEOUT_MS): Invalid value for configuration property \"session.timeout.ms\""
        );
        let nul = refused("sasl.password", "hunter2\0real");
        assert!(!format!("{nul} {nul:?}").contains("hunter2"), "{nul:?}");
    }
}
