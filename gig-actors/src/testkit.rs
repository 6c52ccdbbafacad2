//! An embedded Kafka broker for examples and tests: librdkafka's mock cluster, in process.
//! Behind the `testkit` feature.
//!
//! ```no_run
//! let broker = gig_actors::testkit::EmbeddedBroker::start().unwrap();
//! broker.create_topic("orders", 4).unwrap();
//! let bootstrap = broker.bootstrap_servers(); // give this to producers
//! // and this to consumers: the bootstrap servers and a short group session (see below)
//! let config = broker.consumer_config("billing").topics(["orders"]);
//! ```
//!
//! **Restarting a consumer in the same group.** The mock cluster hands a group's
//! partitions to a new member only once the old member's session has expired, even when it
//! left cleanly; with librdkafka's default `session.timeout.ms` (45 s) a service restarted
//! on the embedded broker waits about that long for its partitions. The config from
//! [`EmbeddedBroker::consumer_config`] (or [`Broker::consumer_config`]) sets a
//! [`DEMO_SESSION_TIMEOUT_MS`] session with heartbeats every 500 ms, so a restart takes
//! seconds (the `restart` example measures it). A real Kafka rebalances at once when a
//! member leaves; its consumers need no such setting.
//!
//! Know its limit: each partition keeps at most 5 MB or 100,000 records and silently drops
//! older ones (`mpart->max_size` / `max_cnt` in librdkafka's rdkafka_mock.c). Spread large
//! volumes over partitions, or consume while producing.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use gig_core::ConsumerConfig;

use crate::error::GigError;

/// The group session (`session.timeout.ms`) of [`EmbeddedBroker::consumer_config`]: short,
/// so that a member restarted on the mock cluster gets its partitions within seconds.
pub const DEMO_SESSION_TIMEOUT_MS: u64 = 6000;

/// Records one mock partition keeps before it drops the oldest.
pub const MOCK_PARTITION_MAX_RECORDS: usize = 100_000;
/// Bytes one mock partition keeps before it drops the oldest.
pub const MOCK_PARTITION_MAX_BYTES: usize = 5 * 1024 * 1024;

/// A running mock cluster; it stops when dropped. It must stay on the thread that made it.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster on a free loopback port.
    pub fn start() -> Result<Self, GigError> {
        Self::with_brokers(1)
    }

    /// Starts a cluster of `count` brokers.
    pub fn with_brokers(count: i32) -> Result<Self, GigError> {
        let cluster =
            MockCluster::new(count).map_err(GigError::kafka("starting the mock cluster"))?;
        log::info!(
            "embedded broker (librdkafka mock cluster) at {}",
            cluster.bootstrap_servers()
        );
        Ok(EmbeddedBroker { cluster })
    }

    /// The bootstrap address to give clients.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// A consumer config for this broker: its bootstrap servers, `group`, and a short
    /// group session ([`DEMO_SESSION_TIMEOUT_MS`], heartbeats every 500 ms), so that a
    /// consumer restarted in the same group gets its partitions within seconds (see the
    /// module docs).
    pub fn consumer_config(&self, group: impl Into<String>) -> ConsumerConfig {
        ConsumerConfig::new(self.bootstrap_servers(), group)
            .property("session.timeout.ms", DEMO_SESSION_TIMEOUT_MS.to_string())
            .property("heartbeat.interval.ms", "500")
    }

    /// Creates a topic (replication factor 1).
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), GigError> {
        self.cluster
            .create_topic(topic, partitions, 1)
            .map_err(GigError::kafka("creating a topic on the mock cluster"))
    }

    /// The mock cluster, for fault injection (`broker_down`, `request_errors`, …).
    pub fn cluster(&self) -> &MockCluster<'static, DefaultProducerContext> {
        &self.cluster
    }
}

/// A broker for an example or a test: the embedded one, or an external cluster given by
/// address (a real Kafka, or tansu).
pub enum Broker {
    /// The in-process mock cluster.
    Embedded(EmbeddedBroker),
    /// An external cluster's bootstrap servers.
    External(String),
}

impl Broker {
    /// The external cluster named by `brokers` if given and not empty, else an embedded one.
    pub fn external_or_embedded(brokers: Option<String>) -> Result<Broker, GigError> {
        match brokers.filter(|b| !b.trim().is_empty()) {
            Some(b) => Ok(Broker::External(b)),
            None => Ok(Broker::Embedded(EmbeddedBroker::start()?)),
        }
    }

    /// The bootstrap address to give clients.
    pub fn bootstrap_servers(&self) -> String {
        match self {
            Broker::Embedded(b) => b.bootstrap_servers(),
            Broker::External(b) => b.clone(),
        }
    }

    /// A consumer config for this broker: on the embedded one with its short group session
    /// ([`EmbeddedBroker::consumer_config`]); on an external one only the bootstrap servers
    /// and `group`, leaving the group settings to the cluster (a real Kafka rebalances at
    /// once when a member leaves, and under the KIP-848 protocol refuses session settings).
    pub fn consumer_config(&self, group: impl Into<String>) -> ConsumerConfig {
        match self {
            Broker::Embedded(b) => b.consumer_config(group),
            Broker::External(b) => ConsumerConfig::new(b.clone(), group),
        }
    }

    /// "embedded" or "external", for output that says where a result came from.
    pub fn kind(&self) -> &'static str {
        match self {
            Broker::Embedded(_) => "embedded",
            Broker::External(_) => "external",
        }
    }

    /// The embedded cluster, for fault injection; `None` on an external broker.
    pub fn embedded(&self) -> Option<&EmbeddedBroker> {
        match self {
            Broker::Embedded(b) => Some(b),
            Broker::External(_) => None,
        }
    }

    /// Creates a topic; an existing topic is not an error. On an external broker this uses
    /// the Admin API (tansu, for one, does not create topics on first use).
    pub async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), GigError> {
        self.create_topic_with(topic, partitions, &[]).await
    }

    /// Creates a topic with topic-level configs (such as `max.message.bytes`) on an
    /// external broker. The mock cluster takes no topic configs and has no such limits, so
    /// there they are ignored.
    pub async fn create_topic_with(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), GigError> {
        match self {
            Broker::Embedded(b) => b.create_topic(topic, partitions),
            Broker::External(brokers) => {
                create_topic_with_admin(brokers, topic, partitions, configs).await
            }
        }
    }
}

async fn create_topic_with_admin(
    brokers: &str,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Result<(), GigError> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;

    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(GigError::kafka("creating the admin client"))?;
    // The broker's default replication factor: 1 on one node, 3 on `.ci/kafka.sh`'s cluster.
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    for (key, value) in configs {
        new = new.set(key, value);
    }
    let options = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(10)));
    let results = admin
        .create_topics([&new], &options)
        .await
        .map_err(GigError::kafka("creating a topic"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(GigError::Kafka {
                    action: "creating a topic",
                    source: rdkafka::error::KafkaError::AdminOp(code),
                })
            }
        }
    }
    Ok(())
}
