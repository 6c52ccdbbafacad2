//! librdkafka properties as Gig treats them: which names librdkafka knows, which hold
//! secrets (never printed), and which say how to reach and log in to the cluster (shared by
//! every client of one consumer).

use std::collections::BTreeMap;
use std::fmt;

/// What a secret's value is shown as.
pub const REDACTED: &str = "[redacted]";

/// Whether a property's value is a secret: a password, a private key, a client secret, a
/// token or a JAAS line; or any value of a property whose name librdkafka does not know
/// ([`is_known`]), since a misspelled secret (`sasl.pasword`) is still a secret. Such values
/// are never shown by `Debug`, in an error or in a log line.
///
/// ```
/// use gig_core::properties::is_secret;
/// assert!(is_secret("sasl.password") && is_secret("ssl.key.pem"));
/// assert!(is_secret("sasl.pasword") && is_secret("SASL.PASSWORD"), "names librdkafka does not know");
/// assert!(!is_secret("sasl.username") && !is_secret("ssl.certificate.pem"));
/// ```
pub fn is_secret(key: &str) -> bool {
    if !is_known(key) {
        return true;
    }
    let key = key.to_ascii_lowercase();
    key.contains("password")
        || key.contains("secret")
        || key.contains("passphrase")
        || (key.contains("token") && !key.ends_with(".url"))
        || key.contains("jaas")
        || key == "sasl.oauthbearer.config"
        || (key.contains("key") && key.ends_with(".pem"))
}

/// Whether librdkafka knows a property of this name (exactly: librdkafka compares names
/// case and all). The list is that of the librdkafka Gig links ([`LIBRDKAFKA_PROPERTIES`]).
///
/// ```
/// use gig_core::properties::is_known;
/// assert!(is_known("sasl.password") && is_known("session.timeout.ms"));
/// assert!(!is_known("sasl.pasword") && !is_known("state.dir") && !is_known("Sasl.Password"));
/// ```
pub fn is_known(key: &str) -> bool {
    LIBRDKAFKA_PROPERTIES.binary_search(&key).is_ok()
}

/// The property librdkafka knows whose name is nearest `key`, when one is within two edits
/// of it and no other is as near: what a misspelling probably meant.
///
/// ```
/// use gig_core::properties::closest;
/// assert_eq!(closest("sasl.pasword"), Some("sasl.password"));
/// assert_eq!(closest("state.dir"), None);
/// ```
pub fn closest(key: &str) -> Option<&'static str> {
    let key = key.trim().to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    let mut tied = false;
    for name in LIBRDKAFKA_PROPERTIES {
        let distance = edit_distance(&key, name);
        match best {
            Some((d, _)) if distance > d => {}
            Some((d, _)) if distance == d => tied = true,
            _ => {
                best = Some((distance, name));
                tied = false;
            }
        }
    }
    best.filter(|(d, _)| *d <= 2 && !tied).map(|(_, name)| name)
}

/// Levenshtein's distance between two names (ASCII in practice; compared by `char`).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Whether a property says how to reach or log in to the cluster (`security.protocol`,
/// `sasl.*`, `ssl.*`, …): a producer working beside a consumer needs the same ones.
pub fn is_connection(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "security.protocol",
        "sasl.",
        "ssl.",
        "ssl_",
        "enable.ssl.",
        "enable.sasl.",
        "https.",
        "client.dns.lookup",
        "broker.address.family",
    ];
    let key = key.trim();
    PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

/// The connection properties of `properties` (see [`is_connection`]).
pub fn connection_properties(
    properties: &BTreeMap<String, String>,
) -> impl Iterator<Item = (&String, &String)> {
    properties.iter().filter(|(key, _)| is_connection(key))
}

/// Shows properties with every secret's value replaced by [`REDACTED`].
pub struct Redacted<'a>(pub &'a BTreeMap<String, String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(key, value)| {
                let shown = if is_secret(key) { REDACTED } else { value };
                (key, shown)
            }))
            .finish()
    }
}

/// `serde(deserialize_with = "properties::from_json")`: librdkafka properties from a JSON
/// object. A number or a boolean is taken as its text (`"session.timeout.ms": 6000`);
/// anything else is an error that names the property and never shows the value, which may
/// be a secret.
pub(crate) fn from_json<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    use serde::Deserialize;
    use serde_json::Value;
    let values = BTreeMap::<String, Value>::deserialize(d)?;
    values
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key, text)),
            Value::Number(n) => Ok((key, n.to_string())),
            Value::Bool(b) => Ok((key, b.to_string())),
            _ => Err(D::Error::custom(format!(
                "property `{key}` must be a string, a number or a boolean (its value is not shown)"
            ))),
        })
        .collect()
}

/// Every property name librdkafka 2.12 knows, sorted: its table of global and topic
/// properties (`rdkafka_conf.c`), with the aliases (`sasl.mechanism`), the hidden ones and
/// the Java-style names it refuses with a hint (`sasl.jaas.config`). gig-actors checks it
/// against the librdkafka it links, both ways (`the_known_properties_are_librdkafkas`).
pub const LIBRDKAFKA_PROPERTIES: &[&str] = &[
    "acks",
    "allow.auto.create.topics",
    "api.version.fallback.ms",
    "api.version.request",
    "api.version.request.timeout.ms",
    "auto.commit.enable",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "background_event_cb",
    "batch.num.messages",
    "batch.size",
    "bootstrap.servers",
    "broker.address.family",
    "broker.address.ttl",
    "broker.version.fallback",
    "builtin.features",
    "check.crcs",
    "client.dns.lookup",
    "client.id",
    "client.rack",
    "client.software.name",
    "client.software.version",
    "closesocket_cb",
    "compression.codec",
    "compression.level",
    "compression.type",
    "connect_cb",
    "connections.max.idle.ms",
    "consume.callback.max.messages",
    "consume_cb",
    "coordinator.query.interval.ms",
    "debug",
    "default_topic_conf",
    "delivery.report.only.error",
    "delivery.timeout.ms",
    "dr_cb",
    "dr_msg_cb",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.gapless.guarantee",
    "enable.idempotence",
    "enable.metrics.push",
    "enable.partition.eof",
    "enable.random.seed",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "enable.sparse.connections",
    "enable.ssl.certificate.verification",
    "enable_sasl_queue",
    "enabled_events",
    "error_cb",
    "fetch.error.backoff.ms",
    "fetch.max.bytes",
    "fetch.message.max.bytes",
    "fetch.min.bytes",
    "fetch.queue.backoff.ms",
    "fetch.wait.max.ms",
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.protocol.type",
    "group.remote.assignor",
    "heartbeat.interval.ms",
    "https.ca.location",
    "https.ca.pem",
    "interceptors",
    "internal.termination.signal",
    "isolation.level",
    "linger.ms",
    "log.connection.close",
    "log.queue",
    "log.thread.name",
    "log_cb",
    "log_level",
    "max.in.flight",
    "max.in.flight.requests.per.connection",
    "max.partition.fetch.bytes",
    "max.poll.interval.ms",
    "message.copy.max.bytes",
    "message.max.bytes",
    "message.send.max.retries",
    "message.timeout.ms",
    "metadata.broker.list",
    "metadata.max.age.ms",
    "metadata.recovery.rebootstrap.trigger.ms",
    "metadata.recovery.strategy",
    "metadata.request.timeout.ms",
    "msg_order_cmp",
    "oauthbearer_token_refresh_cb",
    "offset.store.method",
    "offset.store.path",
    "offset.store.sync.interval.ms",
    "offset_commit_cb",
    "opaque",
    "open_cb",
    "partition.assignment.strategy",
    "partitioner",
    "partitioner_cb",
    "plugin.library.paths",
    "produce.offset.report",
    "queue.buffering.backpressure.threshold",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.messages",
    "queue.buffering.max.ms",
    "queued.max.messages.kbytes",
    "queued.min.messages",
    "queuing.strategy",
    "rebalance_cb",
    "receive.message.max.bytes",
    "reconnect.backoff.jitter.ms",
    "reconnect.backoff.max.ms",
    "reconnect.backoff.ms",
    "request.required.acks",
    "request.timeout.ms",
    "resolve_cb",
    "retries",
    "retry.backoff.max.ms",
    "retry.backoff.ms",
    "sasl.jaas.config",
    "sasl.kerberos.keytab",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal",
    "sasl.kerberos.service.name",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.oauthbearer.assertion.algorithm",
    "sasl.oauthbearer.assertion.claim.aud",
    "sasl.oauthbearer.assertion.claim.exp.seconds",
    "sasl.oauthbearer.assertion.claim.iss",
    "sasl.oauthbearer.assertion.claim.jti.include",
    "sasl.oauthbearer.assertion.claim.nbf.seconds",
    "sasl.oauthbearer.assertion.claim.sub",
    "sasl.oauthbearer.assertion.file",
    "sasl.oauthbearer.assertion.jwt.template.file",
    "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
    "sasl.oauthbearer.client.credentials.client.id",
    "sasl.oauthbearer.client.credentials.client.secret",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.extensions",
    "sasl.oauthbearer.grant.type",
    "sasl.oauthbearer.metadata.authentication.type",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.password",
    "sasl.username",
    "security.protocol",
    "session.timeout.ms",
    "socket.blocking.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.keepalive.enable",
    "socket.max.fails",
    "socket.nagle.disable",
    "socket.receive.buffer.bytes",
    "socket.send.buffer.bytes",
    "socket.timeout.ms",
    "socket_cb",
    "ssl.ca.certificate.stores",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.certificate.verify_cb",
    "ssl.cipher.suites",
    "ssl.crl.location",
    "ssl.curves.list",
    "ssl.endpoint.identification.algorithm",
    "ssl.engine.id",
    "ssl.engine.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.providers",
    "ssl.sigalgs.list",
    "ssl.truststore.location",
    "ssl_ca",
    "ssl_certificate",
    "ssl_engine_callback_data",
    "ssl_key",
    "statistics.interval.ms",
    "stats_cb",
    "sticky.partitioning.linger.ms",
    "test.mock.broker.rtt",
    "test.mock.num.brokers",
    "throttle_cb",
    "topic.blacklist",
    "topic.metadata.propagation.max.ms",
    "topic.metadata.refresh.fast.cnt",
    "topic.metadata.refresh.fast.interval.ms",
    "topic.metadata.refresh.interval.ms",
    "topic.metadata.refresh.sparse",
    "transaction.timeout.ms",
    "transactional.id",
    "ut_handle_ProduceResponse",
];

#[cfg(test)]
mod tests;
