//! Building a [`GigProducer`] with librdkafka properties, one `.property(key, value)` at a
//! time, as a consumer's config takes them.

use std::collections::BTreeMap;
use std::fmt;

use gig_core::properties::{connection_properties, Redacted};
use gig_core::ConsumerConfig;

use crate::error::GigError;
use crate::producer::GigProducer;

/// Builds a [`GigProducer`]: its brokers and librdkafka properties, passed through
/// untouched (security, tuning). Gig's defaults (`acks=all`, `linger.ms=5`) apply unless a
/// property overrides them.
///
/// ```no_run
/// # use gig_actors::prelude::*;
/// # async fn demo(password: &str) -> Result<(), GigError> {
/// let producer = GigProducer::builder("kafka-1:9093")
///     .property("security.protocol", "SASL_SSL")
///     .property("sasl.mechanisms", "SCRAM-SHA-512")
///     .property("sasl.username", "billing")
///     .property("sasl.password", password)
///     .property("compression.type", "lz4")
///     .build()?;
/// let at = producer.send(ProducerRecord::new("orders", "order 1").key("customer 7")).await?;
/// println!("written to orders/{}@{}", at.partition, at.offset);
/// # Ok(()) }
/// ```
///
/// `Debug` hides the values of secret properties (passwords, keys).
#[derive(Clone)]
#[must_use = "a builder makes no producer until `build`"]
pub struct GigProducerBuilder {
    brokers: String,
    properties: BTreeMap<String, String>,
    /// The environment variables that set the properties taken from a consumer's config:
    /// an error about one names it.
    variables: BTreeMap<String, String>,
}

impl fmt::Debug for GigProducerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GigProducerBuilder")
            .field("brokers", &self.brokers)
            .field("properties", &Redacted(&self.properties))
            .finish()
    }
}

impl GigProducer {
    /// Starts building a producer for these brokers.
    pub fn builder(brokers: impl Into<String>) -> GigProducerBuilder {
        GigProducerBuilder {
            brokers: brokers.into(),
            properties: BTreeMap::new(),
            variables: BTreeMap::new(),
        }
    }

    /// Takes the brokers and the connection properties (TLS, SASL: see
    /// [`is_connection`](gig_core::properties::is_connection)) of a consumer's config, so
    /// that a dead-letter or retry producer reaches the cluster as its consumer does.
    ///
    /// ```
    /// # use gig_actors::prelude::*;
    /// let config = ConsumerConfig::new("kafka-1:9093", "billing")
    ///     .property("security.protocol", "SASL_SSL")
    ///     .property("session.timeout.ms", "6000");
    /// let builder = GigProducer::builder_like(&config).property("compression.type", "zstd");
    /// assert!(format!("{builder:?}").contains("SASL_SSL"));
    /// assert!(!format!("{builder:?}").contains("session.timeout.ms"));
    /// ```
    pub fn builder_like(config: &ConsumerConfig) -> GigProducerBuilder {
        let mut builder = GigProducer::builder(config.brokers());
        for (key, value) in connection_properties(config.properties()) {
            builder = builder.property(key.clone(), value.clone());
            if let Some(variable) = config.variable_of(key) {
                builder.variables.insert(key.clone(), variable.to_string());
            }
        }
        builder
    }
}

impl GigProducerBuilder {
    /// Sets a librdkafka property; a later value for the same key wins.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.variables.remove(&key);
        self.properties.insert(key, value.into());
        self
    }

    /// Creates the producer; librdkafka refuses an unknown property or a bad value here
    /// ([`GigError::Property`], which names the environment variable that set it, if one
    /// did, and never shows a secret or the value of a name librdkafka does not know).
    pub fn build(self) -> Result<GigProducer, GigError> {
        GigProducer::make(&self.brokers, &self.properties, |key| {
            self.variables.get(key).map(String::as_str)
        })
    }
}
