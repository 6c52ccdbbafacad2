//! The secured Apache Kafka node of `.ci/kafka.sh start-secure`: its addresses, CA and
//! client certificates (read from the `secure.env` it writes, named by `GIGCI_TEST_SECURE_ENV`),
//! users and ACLs made per test with Kafka's own tools, and configs that log in.

use std::collections::BTreeMap;
use std::time::Duration;

use gig_actors::{ConsumerConfig, GigProducer};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

use crate::broker::{group_protocol, report, unique};
use crate::kafka_tools::kafka_tool;

/// The env var naming the secure node's `secure.env` (`.ci/kafka.sh secure-env`).
pub const SECURE_ENV_VAR: &str = "GIGCI_TEST_SECURE_ENV";

/// The secure node, as its `secure.env` describes it.
#[derive(Debug, Clone)]
pub struct Secure {
    vars: BTreeMap<String, String>,
}

/// A SCRAM user made for one test.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's name: `User:<name>` in ACLs.
    pub name: String,
    /// Its password, random per run.
    pub password: String,
}

impl Secure {
    /// The secure node of `GIGCI_TEST_SECURE_ENV`. A test that calls this is ignored unless
    /// the variable is set (tests/build.rs: `gig_secure`); panics when it is not.
    pub fn from_env() -> Secure {
        crate::broker::init();
        let path = std::env::var(SECURE_ENV_VAR)
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "no secured Kafka: {SECURE_ENV_VAR} is unset (.ci/run starts one with `.ci/kafka.sh start-secure`)"
                )
            });
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {path} ({SECURE_ENV_VAR}): {e}"));
        let vars = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Secure { vars }
    }

    /// One value of `secure.env`, without its `GIGCI_SECURE_` prefix.
    pub fn var(&self, name: &str) -> &str {
        let key = format!("GIGCI_SECURE_{name}");
        self.vars
            .get(&key)
            .unwrap_or_else(|| panic!("{key} is not in secure.env"))
    }

    /// The SASL_SSL listener (SCRAM-SHA-512, OAUTHBEARER).
    pub fn sasl_bootstrap(&self) -> &str {
        self.var("SASL_BOOTSTRAP")
    }

    /// The mutual-TLS listener.
    pub fn mtls_bootstrap(&self) -> &str {
        self.var("MTLS_BOOTSTRAP")
    }

    /// The admin, a super user.
    pub fn admin(&self) -> User {
        User {
            name: self.var("ADMIN_USER").to_string(),
            password: self.var("ADMIN_PASSWORD").to_string(),
        }
    }

    /// Makes a SCRAM-SHA-512 user with a random password.
    pub fn user(&self, prefix: &str) -> User {
        let name = unique(prefix);
        let password = format!("pw-{}", unique("secret"));
        kafka_tool(&["secure-user", &name, &password]);
        User { name, password }
    }

    /// Grants `User:principal` an operation on a resource (`--topic t`, `--group g`,
    /// `--transactional-id id`) with Kafka's ACL tool.
    pub fn allow(&self, principal: &str, operation: &str, resource: &[&str]) {
        let allow = format!("User:{principal}");
        let mut args = vec![
            "secure-acl",
            "--add",
            "--allow-principal",
            &allow,
            "--operation",
            operation,
        ];
        args.extend_from_slice(resource);
        kafka_tool(&args);
    }

    /// Lets `principal` read `topic` with `group`, what a consumer needs.
    pub fn allow_consumer(&self, principal: &str, topic: &str, group: &str) {
        self.allow(principal, "Read", &["--topic", topic]);
        self.allow(principal, "Read", &["--group", group]);
    }

    /// librdkafka properties that log in as `user` with SCRAM over TLS.
    pub fn scram(&self, user: &User) -> Vec<(String, String)> {
        self.props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", &user.name),
            ("sasl.password", &user.password),
            ("ssl.ca.location", self.var("CA")),
        ])
    }

    /// librdkafka properties that log in with the client certificate `name` (`TLS_READER`,
    /// `TLS_EXPIRED`, `TLS_ROGUE`) from files: its certificate, and its encrypted key with
    /// the key's password.
    pub fn mtls_files(&self, name: &str) -> Vec<(String, String)> {
        self.props(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", self.var("CA")),
            (
                "ssl.certificate.location",
                self.var(&format!("{name}_CERT")),
            ),
            (
                "ssl.key.location",
                self.var(&format!("{name}_KEY_ENCRYPTED")),
            ),
            (
                "ssl.key.password",
                self.var(&format!("{name}_KEY_PASSWORD")),
            ),
        ])
    }

    /// The same, with the certificate and the (unencrypted) key given inline as PEM.
    pub fn mtls_inline(&self, name: &str) -> Vec<(String, String)> {
        let read = |var: &str| {
            let path = self.var(&format!("{name}_{var}"));
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
        };
        let (cert, key) = (read("CERT"), read("KEY"));
        self.props(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", self.var("CA")),
            ("ssl.certificate.pem", &cert),
            ("ssl.key.pem", &key),
        ])
    }

    /// librdkafka properties for OAUTHBEARER with an unsecured token naming `principal`
    /// (the broker's test validator takes it; production uses OIDC or a real token).
    pub fn oauthbearer(&self, principal: &str) -> Vec<(String, String)> {
        self.props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "OAUTHBEARER"),
            ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ("sasl.oauthbearer.config", &format!("principal={principal}")),
            ("ssl.ca.location", self.var("CA")),
        ])
    }

    fn props(&self, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A consumer config for `topic` at `brokers` in `group`, with `login`'s properties and
    /// the suite's group protocol.
    pub fn config(
        &self,
        brokers: &str,
        login: &[(String, String)],
        topic: &str,
        group: &str,
    ) -> ConsumerConfig {
        let mut config = gig_examples::quick_group(
            ConsumerConfig::new(brokers, group).topics([topic]),
            &group_protocol(),
            6000,
        );
        for (k, v) in login {
            config = config.property(k.clone(), v.clone());
        }
        config
    }

    /// A producer that logs in as the admin.
    pub fn admin_producer(&self) -> GigProducer {
        let mut builder = GigProducer::builder(self.sasl_bootstrap());
        for (k, v) in self.scram(&self.admin()) {
            builder = builder.property(k, v);
        }
        builder.build().expect("the admin's producer")
    }

    /// Creates a topic as the admin.
    pub async fn create_topic(&self, prefix: &str, partitions: i32) -> String {
        let name = unique(prefix);
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.sasl_bootstrap());
        for (k, v) in self.scram(&self.admin()) {
            config.set(k, v);
        }
        let admin: AdminClient<DefaultClientContext> = config.create().expect("admin client");
        let topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics([&topic], &options)
            .await
            .expect("create topic");
        for result in results {
            result.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
        }
        name
    }

    /// Kafka's own view of `group` on the secure node: the LAG column of every partition.
    pub fn lag(&self, group: &str) -> Vec<String> {
        let out = kafka_tool(&["secure-groups", "--describe", "--group", group]);
        report(&format!(
            "kafka-consumer-groups --describe --group {group}:\n{out}"
        ));
        out.lines()
            .filter(|line| line.starts_with(group))
            .filter_map(|line| line.split_whitespace().nth(5).map(str::to_string))
            .collect()
    }
}
