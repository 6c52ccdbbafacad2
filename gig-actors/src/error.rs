//! One error enum for the actors, with messages a person can act on.

use gig_core::ConfigError;
use rdkafka::error::KafkaError;

/// What can go wrong when building or driving Gig's actors.
#[derive(Debug, thiserror::Error)]
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
    /// The consumer stopped, but its final commit did not succeed.
    #[error("shutdown incomplete: {0}")]
    Shutdown(String),
    /// A produce was not confirmed by the broker.
    #[error("delivery to {topic} failed: {source}")]
    Delivery {
        /// The topic.
        topic: String,
        /// librdkafka's error.
        source: KafkaError,
    },
}

impl GigError {
    pub(crate) fn kafka(action: &'static str) -> impl FnOnce(KafkaError) -> GigError {
        move |source| GigError::Kafka { action, source }
    }
}
