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
fn unknown_names_are_secret_and_the_list_is_sorted_and_unique() {
    assert!(LIBRDKAFKA_PROPERTIES.windows(2).all(|w| w[0] < w[1]));
    for misspelled in [
        "sasl.pasword",
        "ssl.key.pasword",
        "ssl.key.pm",
        "sasl.oauthbearer.client.secrte",
        "state.dir",
        " sasl.username",
    ] {
        assert!(is_secret(misspelled), "{misspelled}");
    }
    let props: BTreeMap<String, String> =
        [("sasl.pasword".to_string(), "hunter2".to_string())].into();
    assert!(!format!("{:?}", Redacted(&props)).contains("hunter2"));
}

#[test]
fn a_misspelling_points_at_the_property_it_meant() {
    assert_eq!(closest("ssl.key.pasword"), Some("ssl.key.password"));
    assert_eq!(closest("SASL.PASSWORD"), Some("sasl.password"));
    assert_eq!(
        closest("sasl.oauthbearer.client.secrte"),
        Some("sasl.oauthbearer.client.secret")
    );
    assert_eq!(closest("heap"), None);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
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
