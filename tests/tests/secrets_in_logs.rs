//! Secrets never show: a full run on the secured Kafka node (SCRAM, mutual TLS with an
//! inline key and with an encrypted key, OAUTHBEARER, a dead-letter producer and a
//! transactional producer that log in like their consumer, a refused password) with every
//! log line kept at trace level and librdkafka's `debug=all`; no password, private key, key
//! password or token appears in a line, in `Debug` of a config, in `Stats`, in `Health` or in
//! an error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::dead_letter::DeadLetterSink;
use gig_actors::prelude::*;
use gig_tests::secure::{Secure, User};
use gig_tests::*;

/// Keeps every log line, at every level.
struct Keep(Arc<Mutex<Vec<String>>>);

impl log::Log for Keep {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

/// Everything a person could read of a consumer: its config's `Debug`, its stats, its
/// health.
async fn shown(config: &ConsumerConfig, consumer: &Addr<ConsumerActor>) -> String {
    let stats = consumer.send(GetStats).await.unwrap();
    let health = consumer.send(Health).await.unwrap();
    format!(
        "{config:?}\n{}\n{}\n{stats:?}",
        serde_json::to_string(&stats).unwrap(),
        serde_json::to_string(&health).unwrap()
    )
}

/// Reads `topic` as `config` logs in, nacking offset 0 to `sink`; returns what it showed.
async fn run(config: ConsumerConfig, sink: Option<DeadLetterSink>, records: u64) -> String {
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let (downstream, _) = Scripted::new(|r| match r.offset() {
        0 => Action::Nack("to the sink".into()),
        _ => Action::Ack,
    });
    let builder = ConsumerActor::builder(config.clone())
        .downstream(downstream.start().recipient())
        .acked(acked);
    let builder = match sink {
        Some(sink) if config.transactional_settings().is_some() => {
            builder.no_acked_tx(sink.start().recipient())
        }
        Some(sink) => builder.no_acked(sink.start().recipient()),
        None => builder.no_acked(no_acked),
    };
    let consumer = builder.start().expect("start");
    let stats = stats_until(&consumer, Duration::from_secs(90), |s| {
        s.handed_over == records
            && s.transactional
                .as_ref()
                .is_none_or(|_| s.outputs_committed == 1)
    })
    .await;
    assert!(stats.faults.is_empty(), "{:?}", stats.faults);
    let shown = shown(&config, &consumer).await;
    consumer.send(Stop).await.unwrap().unwrap();
    shown
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn no_secret_reaches_a_log_line_a_config_stats_or_an_error() {
    // Before anything logs: the harness's env_logger then finds a logger set.
    let lines = Arc::new(Mutex::new(Vec::new()));
    log::set_boxed_logger(Box::new(Keep(lines.clone()))).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let secure = Secure::from_env();
    let debug = |config: ConsumerConfig| config.property("debug", "all");

    let topic = secure.create_topic("secrets", 1).await;
    let letters = secure.create_topic("secrets-letters", 1).await;
    secure
        .admin_producer()
        .send_batch(&records(&topic, 1, 0, 20))
        .await
        .unwrap();
    let admin = secure.admin();
    let mut shown_text = Vec::new();
    let login = |login: Vec<(String, String)>, brokers: &str, group: &str| {
        debug(secure.config(brokers, &login, &topic, group))
    };

    // SCRAM, with a dead-letter producer that logs in like its consumer.
    let alice = secure.user("alice");
    let group = unique("secrets-scram");
    secure.allow_consumer(&alice.name, &topic, &group);
    secure.allow(&alice.name, "Write", &["--topic", &letters]);
    let config = login(secure.scram(&alice), secure.sasl_bootstrap(), &group);
    let producer = GigProducer::builder_like(&config)
        .property("debug", "all")
        .build()
        .unwrap();
    let sink = DeadLetterSink::new(producer).to_topic(letters.clone());
    shown_text.push(run(config, Some(sink), 20).await);

    // Transactional, as the admin: its producer takes the consumer's login.
    let group = unique("secrets-eos");
    let config = login(secure.scram(&admin), secure.sasl_bootstrap(), &group)
        .transactional(Transactional::new(unique("secrets-id")).property("debug", "all"));
    let sink = DeadLetterSink::transactional().to_topic(letters.clone());
    shown_text.push(run(config, Some(sink), 20).await);

    // Mutual TLS, with the key inline and with the encrypted key's password.
    for mtls in [
        secure.mtls_inline("TLS_READER"),
        secure.mtls_files("TLS_READER"),
    ] {
        let group = unique("secrets-mtls");
        secure.allow_consumer("tls-reader", &topic, &group);
        shown_text.push(run(login(mtls, secure.mtls_bootstrap(), &group), None, 20).await);
    }

    // OAUTHBEARER.
    let principal = unique("secrets-oauth");
    let group = unique("secrets-oauth-group");
    secure.allow_consumer(&principal, &topic, &group);
    let oauth = login(
        secure.oauthbearer(&principal),
        secure.sasl_bootstrap(),
        &group,
    );
    shown_text.push(run(oauth, None, 20).await);

    // A refused password: the error and the stats name the failure, not the password.
    let wrong = User {
        password: format!("wrong-{}", alice.password),
        ..alice.clone()
    };
    let config = login(
        secure.scram(&wrong),
        secure.sasl_bootstrap(),
        &unique("secrets-wrong"),
    );
    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(config.clone(), downstream.start().recipient());
    let refused = consumer
        .send(WaitForAssignment::within(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect_err("a wrong password is refused");
    shown_text.push(format!("{refused}\n{refused:?}"));
    shown_text.push(shown(&config, &consumer).await);
    consumer.send(Stop).await.unwrap().unwrap();

    // What must never show, and where it was looked for.
    let mut secrets = vec![
        alice.password.clone(),
        wrong.password.clone(),
        admin.password.clone(),
        secure.var("TLS_READER_KEY_PASSWORD").to_string(),
        secure.var("TLS_READER_P12_PASSWORD").to_string(),
    ];
    let key = std::fs::read_to_string(secure.var("TLS_READER_KEY")).unwrap();
    secrets.extend(
        key.lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
            .map(str::to_string),
    );
    let lines = lines.lock().unwrap().clone();
    let librdkafka = lines.iter().filter(|l| l.contains("librdkafka")).count();
    report(&format!(
        "kept {} log lines ({librdkafka} from librdkafka at debug=all), looked for {} secrets",
        lines.len(),
        secrets.len()
    ));
    assert!(librdkafka > 1000, "librdkafka's debug lines were kept");
    assert!(
        lines.iter().any(|l| l.contains("SASL")),
        "the logins were logged"
    );
    for secret in &secrets {
        for line in lines.iter().chain(&shown_text) {
            assert!(!line.contains(secret.as_str()), "a secret shows in: {line}");
        }
    }
    // An unsecured OAUTHBEARER token is a JWT: base64 of `{"alg":"none"}` begins `eyJ`.
    for line in lines.iter().chain(&shown_text) {
        assert!(
            !line.contains("eyJhbGciOiJub25lIn0"),
            "a token shows in: {line}"
        );
    }
}
