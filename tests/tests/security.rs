//! A secured Apache Kafka (`.ci/kafka.sh start-secure`: TLS, SASL SCRAM-SHA-512 and
//! OAUTHBEARER, mutual TLS, ACLs under KRaft's StandardAuthorizer), with users and ACLs made
//! per test. Each login reads, acks, hands over and commits, and Kafka's own
//! `kafka-consumer-groups` shows LAG 0; each refusal is a typed error within seconds that
//! names the cause, `Stop` still answers, and nothing is lost once the refusal is lifted.
//!
//! Runs when `GIGCI_TEST_SECURE_ENV` names the node's `secure.env` (`.ci/run` sets it).

use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::dead_letter::DeadLetterSink;
use gig_actors::prelude::*;
use gig_tests::secure::{Secure, User};
use gig_tests::*;

/// Longest a refusal may take to surface: librdkafka reports it on its first connection.
const REFUSED_WITHIN: Duration = Duration::from_secs(20);

/// Produces `count` records (payload `v{i}`) to `topic` as the admin.
async fn seed(secure: &Secure, topic: &str, partitions: i32, count: usize) -> Vec<Delivered> {
    secure
        .admin_producer()
        .send_batch(&records(topic, partitions, 0, count))
        .await
        .expect("the admin produces")
}

/// Reads `topic` to its end as `config` logs in, acking everything; returns the stats.
async fn read_to_end(config: ConsumerConfig, ledger: &Ledger) -> Stats {
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(config, downstream.start().recipient());
    consumer
        .send(WaitForAssignment::within(FIRST_JOIN))
        .await
        .unwrap()
        .expect("assigned");
    let stats = consumer
        .send(CaughtUp::within(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("caught up");
    consumer.send(Stop).await.unwrap().expect("stopped");
    stats
}

/// Checks a read: nothing lost, committed to the end, and LAG 0 by Kafka's own tool.
fn assert_read(secure: &Secure, ledger: &Ledger, topic: &str, group: &str, produced: &[Delivered]) {
    assert!(lost(ledger, topic, produced).is_empty(), "lost records");
    let lag = secure.lag(group);
    assert!(
        !lag.is_empty() && lag.iter().all(|l| l == "0"),
        "LAG {lag:?}"
    );
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn scram_over_tls_reads_acks_hands_over_and_commits() {
    let secure = Secure::from_env();
    let topic = secure.create_topic("scram", 2).await;
    let produced = seed(&secure, &topic, 2, 200).await;
    let alice = secure.user("alice");
    let group = unique("scram-group");
    secure.allow_consumer(&alice.name, &topic, &group);
    let ledger = Ledger::default();
    let config = secure.config(
        secure.sasl_bootstrap(),
        &secure.scram(&alice),
        &topic,
        &group,
    );
    let stats = read_to_end(config, &ledger).await;
    assert_eq!((stats.handed_over, stats.faults.len()), (200, 0));
    assert_read(&secure, &ledger, &topic, &group, &produced);
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn mutual_tls_reads_with_a_key_file_and_with_an_inline_key() {
    let secure = Secure::from_env();
    let topic = secure.create_topic("mtls", 1).await;
    let produced = seed(&secure, &topic, 1, 100).await;
    for login in [
        secure.mtls_files("TLS_READER"),
        secure.mtls_inline("TLS_READER"),
    ] {
        let group = unique("mtls-group");
        // The principal is the certificate's CN.
        secure.allow_consumer("tls-reader", &topic, &group);
        let ledger = Ledger::default();
        let config = secure.config(secure.mtls_bootstrap(), &login, &topic, &group);
        let stats = read_to_end(config, &ledger).await;
        assert_eq!(stats.handed_over, 100);
        assert_read(&secure, &ledger, &topic, &group, &produced);
    }
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn oauthbearer_reads_and_commits() {
    let secure = Secure::from_env();
    let topic = secure.create_topic("oauth", 1).await;
    let produced = seed(&secure, &topic, 1, 100).await;
    let principal = unique("oauth-user");
    let group = unique("oauth-group");
    secure.allow_consumer(&principal, &topic, &group);
    let ledger = Ledger::default();
    let login = secure.oauthbearer(&principal);
    let config = secure.config(secure.sasl_bootstrap(), &login, &topic, &group);
    let stats = read_to_end(config, &ledger).await;
    assert_eq!(stats.handed_over, 100);
    assert_read(&secure, &ledger, &topic, &group, &produced);
}

/// Starts a consumer that cannot log in; returns the error `WaitForAssignment` gave, and
/// checks `Health` and `Stop`.
async fn refused(secure: &Secure, brokers: &str, login: &[(String, String)]) -> Fault {
    let topic = format!("never-read-{}", unique("t"));
    let config = secure.config(brokers, login, &topic, &unique("refused-group"));
    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(config, downstream.start().recipient());
    let asked = Instant::now();
    let answer = consumer
        .send(WaitForAssignment::within(Duration::from_secs(60)))
        .await
        .unwrap();
    let took = asked.elapsed();
    let Err(GigError::Unreadable(fault)) = answer else {
        panic!("a refused login should be GigError::Unreadable, got {answer:?}");
    };
    report(&format!(
        "refused in {took:?}: {}",
        GigError::Unreadable(fault.clone())
    ));
    assert!(took < REFUSED_WITHIN, "took {took:?}");
    let health = consumer.send(Health).await.unwrap();
    assert!(!health.live, "{health:?}");
    let stats = consumer.send(Stop).await.unwrap().expect("Stop answers");
    assert_eq!(stats.handed_over, 0);
    fault
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn bad_credentials_and_certificates_are_typed_errors_within_seconds() {
    let secure = Secure::from_env();
    let alice = secure.user("alice");
    let wrong = User {
        password: "not-the-password".to_string(),
        ..alice
    };
    let nobody = User {
        name: unique("nobody"),
        password: "whatever".to_string(),
    };
    let sasl = secure.sasl_bootstrap();
    for user in [wrong, nobody] {
        let fault = refused(&secure, sasl, &secure.scram(&user)).await;
        assert_eq!(fault.kind, FaultKind::Authentication);
        assert!(fault.message.contains("invalid credentials"), "{fault}");
    }
    // A CA that did not sign the broker's certificate.
    let mut rogue_ca = secure.scram(&secure.admin());
    rogue_ca.retain(|(k, _)| k != "ssl.ca.location");
    rogue_ca.push(("ssl.ca.location".into(), secure.var("ROGUE_CA").into()));
    let fault = refused(&secure, sasl, &rogue_ca).await;
    assert_eq!(fault.kind, FaultKind::Tls);
    assert!(
        fault.message.contains("certificate verify failed"),
        "{fault}"
    );
    // The broker's certificate names 127.0.0.1 only, not localhost.
    let port = sasl.rsplit(':').next().unwrap();
    let localhost = format!("localhost:{port}");
    let fault = refused(&secure, &localhost, &secure.scram(&secure.admin())).await;
    assert_eq!(fault.kind, FaultKind::Tls);
    // An expired client certificate, and one from a CA the broker does not trust.
    for name in ["TLS_EXPIRED", "TLS_ROGUE"] {
        let fault = refused(&secure, secure.mtls_bootstrap(), &secure.mtls_files(name)).await;
        assert_eq!(fault.kind, FaultKind::Tls, "{name}: {fault}");
    }
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn a_denied_topic_or_group_is_named_and_nothing_is_lost_once_granted() {
    let secure = Secure::from_env();
    let topic = secure.create_topic("denied", 1).await;
    let produced = seed(&secure, &topic, 1, 50).await;
    for denied in ["topic", "group"] {
        let bob = secure.user("bob");
        let group = unique("denied-group");
        match denied {
            "topic" => secure.allow(&bob.name, "Read", &["--group", &group]),
            _ => secure.allow(&bob.name, "Read", &["--topic", &topic]),
        }
        let config = secure.config(secure.sasl_bootstrap(), &secure.scram(&bob), &topic, &group);
        let ledger = Ledger::default();
        let (downstream, _) = Scripted::new(|_| Action::Ack);
        let consumer = ledger.consumer(config.clone(), downstream.start().recipient());
        let answer = consumer
            .send(WaitForAssignment::within(Duration::from_secs(60)))
            .await
            .unwrap();
        let Err(GigError::Unreadable(fault)) = answer else {
            panic!("denied {denied}: expected GigError::Unreadable, got {answer:?}");
        };
        report(&format!(
            "denied {denied}: {}",
            GigError::Unreadable(fault.clone())
        ));
        assert_eq!(fault.kind, FaultKind::Authorization);
        // A denied topic is the topic's fault, under either group protocol.
        let on_topic = (denied == "topic").then_some(topic.as_str());
        assert_eq!(fault.topic.as_deref(), on_topic, "{fault:?}");
        let stats = consumer.send(Stop).await.unwrap().expect("Stop answers");
        assert_eq!((stats.handed_over, stats.committed(&topic, 0)), (0, None));

        // Granted, the consumer starts again in the same group and reads everything.
        secure.allow_consumer(&bob.name, &topic, &group);
        let stats = read_to_end(config, &ledger).await;
        assert_eq!(stats.handed_over, 50);
        assert_read(&secure, &ledger, &topic, &group, &produced);
    }
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn a_dead_letter_write_the_acl_denies_is_refused_until_granted() {
    let secure = Secure::from_env();
    let topic = secure.create_topic("dlq-acl", 1).await;
    let letters_topic = secure.create_topic("dlq-acl-letters", 1).await;
    let produced = seed(&secure, &topic, 1, 40).await;
    let reader = secure.user("reader");
    let writer = secure.user("dlq-writer");
    let group = unique("dlq-group");
    secure.allow_consumer(&reader.name, &topic, &group);
    let config = secure.config(
        secure.sasl_bootstrap(),
        &secure.scram(&reader),
        &topic,
        &group,
    );
    // The dead-letter producer logs in as the writer, who may not write yet.
    let mut builder =
        GigProducer::builder(secure.sasl_bootstrap()).property("message.timeout.ms", "2000");
    for (k, v) in secure.scram(&writer) {
        builder = builder.property(k, v);
    }
    let sink = DeadLetterSink::new(builder.build().unwrap()).to_topic(letters_topic.clone());
    let ledger = Ledger::default();
    let (acked, _) = ledger.start();
    let (downstream, _) = Scripted::new(|r| match r.offset() {
        10 | 20 | 30 => Action::Nack("to the dead letters".into()),
        _ => Action::Ack,
    });
    let consumer = ConsumerActor::builder(config)
        .downstream(downstream.start().recipient())
        .acked(acked)
        .no_acked(sink.start().recipient())
        .start()
        .unwrap();
    let stats = stats_until(&consumer, Duration::from_secs(60), |s| {
        s.handover_failures >= 2 && s.committed(&topic, 0) == Some(10)
    })
    .await;
    report(&format!(
        "dead-letter write denied: handover_failures={} committed={}",
        stats.handover_failures,
        stats.committed_summary()
    ));
    assert!(
        stats.committed(&topic, 0) <= Some(10),
        "not past the refused record"
    );

    secure.allow(&writer.name, "Write", &["--topic", &letters_topic]);
    let stats = consumer
        .send(CaughtUp::within(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("caught up once the write is granted");
    assert_eq!((stats.nacked, stats.committed(&topic, 0)), (3, Some(40)));
    consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(ledger.entries().len() + 3, produced.len());

    // The three letters are there, read as the admin.
    let letters = Ledger::default();
    let admin_group = unique("letters-group");
    let config = secure.config(
        secure.sasl_bootstrap(),
        &secure.scram(&secure.admin()),
        &letters_topic,
        &admin_group,
    );
    let stats = read_to_end(config, &letters).await;
    let payloads: std::collections::BTreeSet<String> =
        letters.entries().into_iter().map(|e| e.payload).collect();
    let expected = ["v10", "v20", "v30"].map(String::from).into();
    assert_eq!(payloads, expected, "each letter at least once");
    assert!(stats.handed_over >= 3);
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn a_transactional_consumer_needs_write_on_its_transactional_id() {
    let secure = Secure::from_env();
    let topic = secure.create_topic("eos-acl", 1).await;
    let outputs = secure.create_topic("eos-acl-out", 1).await;
    let produced = seed(&secure, &topic, 1, 60).await;
    let carol = secure.user("carol");
    let group = unique("eos-group");
    let id = unique("eos-id");
    secure.allow_consumer(&carol.name, &topic, &group);
    secure.allow(&carol.name, "Write", &["--topic", &outputs]);
    let settings = Transactional::new(id.clone());
    let config = secure
        .config(
            secure.sasl_bootstrap(),
            &secure.scram(&carol),
            &topic,
            &group,
        )
        .transactional(settings);
    let start = |config: ConsumerConfig, ledger: &Ledger| {
        let (acked, _) = ledger.start();
        let (downstream, _) = Scripted::new(|r| match r.offset() % 3 {
            0 => Action::Nack("copied".into()),
            _ => Action::Ack,
        });
        ConsumerActor::builder(config)
            .downstream(downstream.start().recipient())
            .acked(acked)
            .no_acked_tx(
                DeadLetterSink::transactional()
                    .to_topic(outputs.clone())
                    .start()
                    .recipient(),
            )
            .start()
            .unwrap()
    };
    // Denied: the producer cannot register its id; nothing is committed.
    let ledger = Ledger::default();
    let consumer = start(config.clone(), &ledger);
    consumer
        .send(WaitForAssignment::within(FIRST_JOIN))
        .await
        .unwrap()
        .unwrap();
    let answer = consumer
        .send(CaughtUp::within(Duration::from_secs(60)))
        .await
        .unwrap();
    let Err(GigError::Unreadable(fault)) = answer else {
        panic!("a denied transactional id should be GigError::Unreadable, got {answer:?}");
    };
    report(&format!(
        "transactional id denied: {}",
        GigError::Unreadable(fault.clone())
    ));
    assert_eq!(fault.kind, FaultKind::Authorization);
    assert_eq!(fault.on, "the transactional producer");
    let health = consumer.send(Health).await.unwrap();
    assert!(!health.live);
    let stats = consumer.send(Stop).await.unwrap().unwrap_or_else(|e| {
        report(&format!("stop: {e}"));
        Stats::default()
    });
    assert_eq!(stats.committed(&topic, 0), None);

    // Granted: exactly once, each output once for read_committed.
    secure.allow(&carol.name, "Write", &["--transactional-id", &id]);
    secure.allow(&carol.name, "Describe", &["--transactional-id", &id]);
    let ledger = Ledger::default();
    let consumer = start(config, &ledger);
    let stats = stats_until(&consumer, Duration::from_secs(90), |s| {
        s.handed_over == produced.len() as u64 && s.outputs_committed == 20
    })
    .await;
    assert!(stats.faults.is_empty(), "{:?}", stats.faults);
    consumer.send(Stop).await.unwrap().unwrap();
    let copies = Ledger::default();
    let reader = secure
        .config(
            secure.sasl_bootstrap(),
            &secure.scram(&secure.admin()),
            &outputs,
            &unique("eos-reader"),
        )
        .property("isolation.level", "read_committed");
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let reader = copies.consumer(reader, downstream.start().recipient());
    copies.wait_for(20, Duration::from_secs(60)).await;
    let counts = copies.counts();
    assert!(
        counts.values().all(|&n| n == 1) && counts.len() == 20,
        "{counts:?}"
    );
    reader.send(Stop).await.unwrap().unwrap();
}
