//! One error enum for the actors, with messages a person can act on. librdkafka's own
//! error stays inside as the `source`, as rdkafka's `KafkaError` keeps librdkafka's code.

use actix::MailboxError;
use gig_core::ack_book::describe;
use gig_core::{CommitOffset, ConfigError};
use rdkafka::error::KafkaError;

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
    /// A builder was missing a required part.
    #[error("consumer builder: {0} is required")]
    Missing(&'static str),
    /// The actor has stopped (or is stopping) and cannot take this request.
    #[error("the consumer has stopped")]
    Stopped,
    /// The consumer stopped, but its final commit did not succeed: the records after the
    /// last commit are read again by the group's next consumer.
    #[error("stopped, but the final commit of {} failed: {source}", describe(.offsets))]
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
    /// A request could not reach an actor (it has stopped, or the send timed out): so that
    /// `consumer.send(Stop).await??` works in a function returning `GigError`.
    #[error("the actor did not take the request: {0}")]
    Mailbox(#[from] MailboxError),
}

impl GigError {
    pub(crate) fn kafka(action: &'static str) -> impl FnOnce(KafkaError) -> GigError {
        move |source| GigError::Kafka { action, source }
    }
}
