//! librdkafka properties as Gig treats them: which hold secrets (never printed), and which
//! say how to reach and log in to the cluster (shared by every client of one consumer).

use std::collections::BTreeMap;
use std::fmt;

/// What a secret's value is shown as.
pub const REDACTED: &str = "[redacted]";

/// Whether a property's value is a secret: a password, a private key, a client secret, a
/// token or a JAAS line. Such values are never shown by `Debug` or in a log line.
///
/// ```
/// use gig_core::properties::is_secret;
/// assert!(is_secret("sasl.password") && is_secret("ssl.key.pem"));
/// assert!(!is_secret("sasl.username") && !is_secret("ssl.certificate.pem"));
/// ```
pub fn is_secret(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    key.contains("password")
        || key.contains("secret")
        || key.contains("passphrase")
        || (key.contains("token") && !key.ends_with(".url"))
        || key.contains("jaas")
        || key == "sasl.oauthbearer.config"
        || (key.contains("key") && key.ends_with(".pem"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_rest_shown() {
        let props: BTreeMap<String, String> = [
            ("sasl.username", "billing"),
            ("sasl.password", "hunter2"),
            ("ssl.key.password", "k3y"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----"),
            ("ssl.keystore.password", "ks"),
            ("sasl.oauthbearer.client.secret", "cs"),
            ("sasl.oauthbearer.config", "principal=x"),
            ("ssl.ca.location", "/etc/ca.pem"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let shown = format!("{:?}", Redacted(&props));
        for secret in ["hunter2", "k3y", "BEGIN", "\"ks\"", "\"cs\"", "principal=x"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("billing") && shown.contains("/etc/ca.pem"));
    }

    #[test]
    fn connection_properties_are_security_and_addressing() {
        for key in ["security.protocol", "sasl.mechanisms", "ssl.ca.location"] {
            assert!(is_connection(key), "{key}");
        }
        for key in ["group.id", "session.timeout.ms", "compression.type"] {
            assert!(!is_connection(key), "{key}");
        }
    }
}
