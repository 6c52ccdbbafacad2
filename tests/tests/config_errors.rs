//! Bad configuration is a typed error with a clear message, never a panic.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_core::properties::is_known;
use gig_core::ConfigError;
use gig_tests::*;

struct Nobody;
impl Actor for Nobody {
    type Context = Context<Self>;
}
impl Handler<Delivery> for Nobody {
    type Result = ();
    fn handle(&mut self, _: Delivery, _: &mut Context<Self>) {}
}

fn build(config: ConsumerConfig) -> Result<ConsumerActor, GigError> {
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    ConsumerActor::builder(config)
        .downstream(Nobody.start().recipient())
        .acked(acked)
        .no_acked(no_acked)
        .build()
}

#[actix::test]
async fn missing_brokers_and_zero_timeouts_are_config_errors() {
    let err = build(ConsumerConfig::new("", "g")).err().unwrap();
    assert!(
        matches!(err, GigError::Config(ConfigError::NoBrokers)),
        "{err}"
    );
    let err = build(ConsumerConfig::new("127.0.0.1:1", "g").ack_timeout(Duration::ZERO))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "`ack_timeout_ms` must be greater than zero"
    );
}

#[actix::test]
async fn a_property_librdkafka_rejects_is_an_error_naming_it() {
    let err = build(ConsumerConfig::new("127.0.0.1:1", "g").property("no.such.property", "1"))
        .err()
        .unwrap();
    assert!(matches!(err, GigError::Property { .. }), "{err}");
    assert!(err.to_string().contains("no.such.property"), "{err}");
    let err = build(ConsumerConfig::new("127.0.0.1:1", "g").property("session.timeout.ms", "soon"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("session.timeout.ms"), "{err}");
}

#[actix::test]
async fn config_files_that_are_missing_or_malformed_are_errors() {
    let err = ConsumerConfig::from_json_file("/no/such/gig.json").unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    let dir = std::env::temp_dir().join(unique("gig-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, "{ \"brokers\": \"b\", ").unwrap();
    let err = ConsumerConfig::from_json_file(&path).unwrap_err();
    assert!(err.to_string().contains("bad.json"), "{err}");
    std::fs::write(
        &path,
        r#"{"brokers":"b","group_id":"g","ack_timeout_ms":0}"#,
    )
    .unwrap();
    let err = ConsumerConfig::from_json_file(&path).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Zero {
            field: "ack_timeout_ms"
        }
    ));
    std::fs::write(
        &path,
        r#"{"brokers":"b","group_id":"g","ack_timeout_ms":250}"#,
    )
    .unwrap();
    assert!(build(ConsumerConfig::from_json_file(&path).unwrap()).is_ok());
}

#[actix::test]
async fn a_builder_without_outcome_actors_says_what_is_missing() {
    let err = ConsumerActor::builder(ConsumerConfig::new("127.0.0.1:1", "g"))
        .downstream(Nobody.start().recipient())
        .build()
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "consumer builder: an acked actor is required"
    );
}

#[actix::test]
async fn subscribing_to_no_topic_is_an_error() {
    let broker = broker();
    let consumer = build(ConsumerConfig::new(broker.bootstrap_servers(), unique("g")))
        .unwrap()
        .start();
    let err = consumer.send(Subscribe(vec![])).await.unwrap().unwrap_err();
    assert!(matches!(err, GigError::Config(ConfigError::EmptyTopic)));
    consumer.send(Stop).await.unwrap().unwrap();
    let err = consumer.send(Subscribe::to(["t"])).await;
    assert!(err.is_err(), "a stopped consumer takes no requests");
}

/// The secret properties, each with a value to look for and the ways a person misspells
/// its name: a letter dropped, two swapped, `_` for `.`, a capital, a space.
const SECRETS: &[(&str, &[&str])] = &[
    (
        "sasl.password",
        &[
            "sasl.pasword",
            "sasl.passwrod",
            "sasl_password",
            "SASL.password",
            " sasl.password",
        ],
    ),
    (
        "ssl.key.password",
        &[
            "ssl.key.pasword",
            "ssl.key.passowrd",
            "ssl_key.password",
            "ssl.Key.password",
        ],
    ),
    (
        "ssl.key.pem",
        &["ssl.key.pm", "ssl.kye.pem", "ssl_key_pem", "ssl.key.PEM"],
    ),
    (
        "ssl.keystore.password",
        &[
            "ssl.keystore.pasword",
            "ssl.keystroe.password",
            "ssl.key.store.password",
        ],
    ),
    (
        "sasl.oauthbearer.client.secret",
        &[
            "sasl.oauthbearer.client.secrt",
            "sasl.oauthbaerer.client.secret",
            "sasl.oauthbearer.client_secret",
        ],
    ),
    (
        "sasl.oauthbearer.config",
        &["sasl.oauthbearer.conifg", "sasl.oauthbearer.configs"],
    ),
    (
        "sasl.oauthbearer.assertion.private.key.passphrase",
        &["sasl.oauthbearer.assertion.private.key.passprase"],
    ),
    (
        "sasl.oauthbearer.assertion.private.key.pem",
        &["sasl.oauthbearer.assertion.privatekey.pem"],
    ),
];

/// `GIG_KAFKA_<NAME>` for a property name, as `ConsumerConfig::from_env` reads it.
fn variable(property: &str) -> String {
    format!(
        "GIG_KAFKA_{}",
        property
            .trim()
            .to_uppercase()
            .replace('_', "__")
            .replace('.', "_")
    )
}

#[actix::test]
async fn a_misspelled_secret_shows_in_no_error_and_no_debug_from_env_json_or_code() {
    let mut checked = 0;
    for (secret, misspellings) in SECRETS {
        assert!(is_known(secret), "{secret}");
        for name in *misspellings {
            assert!(!is_known(name), "{name} is a real property");
            let value = format!("hunter2-{}", unique("real-secret"));
            let looked_at = |what: &str, text: String| {
                assert!(
                    !text.contains(&value),
                    "{what} for {name:?} shows its value: {text}"
                );
                text
            };

            // The environment: refused at once, naming the variable and the property.
            if name.trim() == *name && name.to_lowercase() == *name {
                let var = variable(name);
                let vars = [
                    ("GIG_BROKERS", "127.0.0.1:1"),
                    ("GIG_GROUP_ID", "g"),
                    (var.as_str(), value.as_str()),
                ];
                let err =
                    ConsumerConfig::from_vars("GIG_", vars.map(|(k, v)| (k.into(), v.into())))
                        .unwrap_err();
                let text = looked_at("from_env's error", format!("{err} {err:?}"));
                assert!(text.contains(&var) && text.contains(name), "{text}");
            }

            // JSON and code: the config's Debug hides the value, and so does the error of
            // the consumer that librdkafka refuses, which names the property.
            let json = serde_json::json!({
                "brokers": "127.0.0.1:1", "group_id": "g", "properties": { *name: value }
            });
            let from_json = ConsumerConfig::from_json_str(&json.to_string()).unwrap();
            let in_code = ConsumerConfig::new("127.0.0.1:1", "g").property(*name, &value);
            for config in [from_json, in_code] {
                looked_at("the config's Debug", format!("{config:?}"));
                let err = build(config.clone())
                    .err()
                    .expect("librdkafka refuses the name");
                let text = looked_at("the consumer's error", format!("{err} {err:?}"));
                assert!(text.contains(&format!("`{name}`")), "{text}");
                let producer = GigProducer::builder_like(&config).property(*name, &value);
                looked_at("the producer builder's Debug", format!("{producer:?}"));
                let err = producer.build().err().expect("librdkafka refuses the name");
                looked_at("the producer's error", format!("{err} {err:?}"));
                let transactional =
                    config.transactional(Transactional::new("t").property(*name, &value));
                looked_at("Transactional's Debug", format!("{transactional:?}"));
                let err = build(transactional)
                    .err()
                    .expect("librdkafka refuses the name");
                looked_at(
                    "the transactional producer's error",
                    format!("{err} {err:?}"),
                );
            }
            checked += 1;
        }
    }
    report(&format!(
        "{checked} misspellings of {} secret properties: no value shown",
        SECRETS.len()
    ));
}

/// Variables with the config's prefix that the repository names on purpose although the
/// config refuses them: the typos its tests and docs show being refused.
const REFUSED_ON_PURPOSE: &[&str] = &[
    "GIG_ACK_TIMEOUT",
    "GIG_KAFKA_SASL_PASWORD",
    "GIG_KAFKA_SESION_TIMEOUT_MS",
];

/// Every `GIG_…` name in the files below `dir` (but `target/`, `.git/` and the changelog,
/// whose history names the old ones), with the file it is in.
fn gig_variables(dir: &std::path::Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "target" && name != ".git" {
                gig_variables(&path, found);
            }
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not text
        };
        if name == "CHANGELOG.md" {
            continue;
        }
        for (at, _) in text.match_indices("GIG_") {
            let starts_a_word = text[..at]
                .chars()
                .last()
                .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
            let word: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if starts_a_word && word.len() > "GIG_".len() && !word.ends_with('_') {
                found.push((word, path.display().to_string()));
            }
        }
    }
}

#[test]
fn every_gig_variable_the_repository_names_is_one_the_config_reads() {
    // The tools' variables once shared the prefix and the config refused them (issue 29);
    // they are GIGCI_… now, and a branch that still names an old one fails here.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    gig_variables(&root, &mut found);
    found.sort();
    found.dedup();
    let refused: Vec<String> = found
        .iter()
        .filter(|(var, _)| !REFUSED_ON_PURPOSE.contains(&var.as_str()))
        .filter_map(|(var, file)| {
            let vars = [
                ("GIG_BROKERS", "b:9092"),
                ("GIG_GROUP_ID", "g"),
                (var.as_str(), "1"),
            ];
            let err = ConsumerConfig::from_vars("GIG_", vars.map(|(k, v)| (k.into(), v.into())))
                .err()?
                .to_string();
            let unused = err.contains("not a Gig setting") || err.contains("has no property");
            unused.then(|| format!("{var} in {file}: {err}"))
        })
        .collect();
    report(&format!(
        "{} GIG_ names in the repository, each one the config reads",
        found.len()
    ));
    assert!(refused.is_empty(), "{refused:#?}");
}
