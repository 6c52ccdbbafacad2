use super::*;
use crate::error::ConfigError;
use crate::record::{test_record, Header, Record};

#[test]
fn headers_are_read_unless_turned_off_and_gig_needs_none() {
    let config = ConsumerConfig::new("b", "g");
    assert!(config.headers && config.reads_headers(), "on by default");
    let off =
        ConsumerConfig::from_json_str(r#"{"brokers": "b", "group_id": "g", "headers": false}"#)
            .unwrap();
    assert!(!off.reads_headers());
    assert!(off.clone().wait_for_due(true).reads_headers());
    let header = off.ack_timeout_header("t", Duration::from_secs(1));
    assert!(
        header.reads_headers(),
        "the ack-timeout header is Gig's to read"
    );
}

#[test]
fn json_defaults_and_overrides() {
    let c = ConsumerConfig::from_json_str(
        r#"{"brokers":"b:9092","group_id":"g","topics":["t"],"ack_timeout_ms":250,
            "properties":{"session.timeout.ms":"6000"}}"#,
    )
    .unwrap();
    assert_eq!(c.ack_timeout, Duration::from_millis(250));
    assert_eq!(c.max_in_flight, 10_000);
    let props = c.client_properties();
    assert_eq!(props["session.timeout.ms"], "6000");
    assert_eq!(props["enable.auto.commit"], "false");
    assert_eq!(props["auto.offset.reset"], "earliest");
    assert_eq!(props["fetch.queue.backoff.ms"], "10");
    assert_eq!(props["partition.assignment.strategy"], "cooperative-sticky");
    let eager = ConsumerConfig::new("b", "g").property("partition.assignment.strategy", "range");
    assert_eq!(
        eager.client_properties()["partition.assignment.strategy"],
        "range"
    );
}

#[test]
fn a_revocation_waits_within_the_rebalance_timeout_given_to_the_broker() {
    let secs = Duration::from_secs;
    // The defaults fit: 3 s + 5 s is far inside librdkafka's 300 s.
    let default = ConsumerConfig::new("b", "g");
    assert_eq!(default.rebalance_timeout(), secs(300));
    assert_eq!(default.revocation_wait(), default.resolve_wait());
    assert!(!default.client_properties().contains_key(MAX_POLL_INTERVAL));
    assert_eq!(default.revocation_warning(), None);

    // A long ack timeout, no max.poll.interval.ms: Gig raises it to fit, margin included
    // (3 s, and the 3 s default heartbeat interval of the classic protocol).
    let long = ConsumerConfig::new("b", "g").ack_timeout(secs(400));
    assert_eq!(long.client_properties()[MAX_POLL_INTERVAL], "411000");
    assert_eq!(long.rebalance_timeout(), secs(411));
    assert_eq!(long.revocation_wait(), secs(405), "the whole resolve wait");
    assert_eq!(long.revocation_warning(), None);
    let header = ConsumerConfig::new("b", "g").ack_timeout_header("t", secs(600));
    assert_eq!(header.client_properties()[MAX_POLL_INTERVAL], "611000");
    let modern = long.clone().property("group.protocol", "consumer");
    assert_eq!(modern.client_properties()[MAX_POLL_INTERVAL], "408000");
    assert_eq!(modern.revocation_wait(), secs(405));

    // The issue's case: the user's 10 s rebalance timeout bounds a 40 s ack timeout.
    let short = ConsumerConfig::new("b", "g")
        .ack_timeout(secs(40))
        .property(MAX_POLL_INTERVAL, "10000")
        .property("heartbeat.interval.ms", "500");
    assert_eq!(short.client_properties()[MAX_POLL_INTERVAL], "10000");
    assert_eq!(short.revocation_margin(), Duration::from_millis(3500));
    assert_eq!(short.revocation_wait(), Duration::from_millis(6500));
    let warning = short.revocation_warning().expect("a warning");
    for said in [
        "`max.poll.interval.ms` is 10000 ms",
        "`ack_timeout` of 40000 ms",
    ] {
        assert!(warning.contains(said), "{said}: {warning}");
    }
    for said in ["waits 6500 ms", "next owner", "at least 48500 ms"] {
        assert!(warning.contains(said), "{said}: {warning}");
    }
    let modern = ConsumerConfig::new("b", "g")
        .ack_timeout(secs(40))
        .property("group.protocol", "consumer")
        .property(MAX_POLL_INTERVAL, "10000");
    assert_eq!(
        modern.revocation_wait(),
        secs(7),
        "no heartbeat lag under KIP-848"
    );
    // A tiny timeout keeps half of itself for the wait.
    let tiny = short.clone().property(MAX_POLL_INTERVAL, "4000");
    assert_eq!(tiny.revocation_wait(), secs(2));
    // The longest ack timeout needs more than librdkafka's longest rebalance timeout.
    let day = ConsumerConfig::new("b", "g").ack_timeout(MAX_DURATION);
    assert_eq!(day.client_properties()[MAX_POLL_INTERVAL], "86400000");
    let warning = day.revocation_warning().expect("a warning");
    assert!(warning.contains("librdkafka's maximum"), "{warning}");
}

#[test]
fn the_consumer_protocol_takes_no_classic_settings() {
    let modern = ConsumerConfig::new("b", "g").property("group.protocol", "consumer");
    modern.validate().unwrap();
    let props = modern.client_properties();
    assert!(!props.contains_key("partition.assignment.strategy"));
    assert_eq!(props["group.protocol"], "consumer");
    for (key, _) in CLASSIC_ONLY {
        let err = modern.clone().property(*key, "1").validate().unwrap_err();
        assert!(
            matches!(&err, ConfigError::ClassicProtocolOnly { key: k, .. } if k == key),
            "{err}"
        );
        assert!(err.to_string().contains(key), "{err}");
    }
    let classic = ConsumerConfig::new("b", "g").property("session.timeout.ms", "6000");
    classic.validate().unwrap();
}

#[test]
fn json_round_trips() {
    let c = ConsumerConfig::new("b:1", "g")
        .topics(["a", "b"])
        .property("x", "y");
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(ConsumerConfig::from_json_str(&json).unwrap(), c);
    let logged = c.stats_interval(Duration::from_millis(1500));
    let json = serde_json::to_string(&logged).unwrap();
    assert!(json.contains(r#""stats_interval_ms":1500"#), "{json}");
    assert_eq!(ConsumerConfig::from_json_str(&json).unwrap(), logged);
}

#[test]
fn bad_configs_are_typed_errors() {
    let err = |c: ConsumerConfig| c.validate().unwrap_err().to_string();
    assert!(err(ConsumerConfig::new("", "g")).contains("no brokers"));
    assert!(err(ConsumerConfig::new("b", " ")).contains("no group id"));
    assert!(
        err(ConsumerConfig::new("b", "g").ack_timeout(Duration::ZERO))
            .contains("`ack_timeout_ms` must be greater than zero")
    );
    assert!(err(ConsumerConfig::new("b", "g").max_in_flight(0)).contains("max_in_flight"));
    assert!(
        err(ConsumerConfig::new("b", "g").property("enable.auto.commit", "true"))
            .contains("managed by Gig")
    );
    assert!(err(ConsumerConfig::new("b", "g").topics([""])).contains("empty"));
    assert!(
        err(ConsumerConfig::new("b", "g").stats_interval(Duration::ZERO))
            .contains("stats_interval_ms")
    );
    assert_eq!(
        err(ConsumerConfig::new("b", "g").poll_thread_nice(MAX_NICE + 1)),
        "`poll_thread_nice` must be at most 19"
    );
    ConsumerConfig::new("b", "g")
        .poll_thread_nice(MAX_NICE)
        .validate()
        .unwrap();
}

#[test]
fn absurd_durations_are_typed_errors_naming_the_field() {
    let json = r#"{"brokers":"b","group_id":"g","ack_timeout_ms":18446744073709551615}"#;
    let err = ConsumerConfig::from_json_str(json).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::TooLong {
                field: "ack_timeout_ms",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "`ack_timeout_ms` must be at most 86400000 (one day)"
    );
    let day = ConsumerConfig::new("b", "g").ack_timeout(MAX_DURATION);
    day.validate().unwrap();
    let err = |c: ConsumerConfig| c.validate().unwrap_err().to_string();
    let long = MAX_DURATION + Duration::from_millis(1);
    assert!(err(day.clone().commit_interval(long)).contains("commit_interval_ms"));
    assert!(err(day.clone().stats_interval(long)).contains("stats_interval_ms"));
    assert!(err(day.ack_timeout_header("h", long)).contains("ack_timeout_header.max_ms"));
}

#[test]
fn a_header_sets_one_record_timeout_up_to_the_maximum() {
    let json = r#"{"brokers":"b","group_id":"g",
        "ack_timeout_header":{"name":"gig.ack-timeout-ms","max_ms":60000}}"#;
    let c = ConsumerConfig::from_json_str(json).unwrap();
    let header = c.ack_timeout_header.clone().unwrap();
    assert_eq!(header.max, Duration::from_secs(60));
    let with = |value: Option<&str>| {
        let mut data = test_record(&"t".into(), 0, 0).to_data();
        data.headers.push(Header {
            key: "gig.ack-timeout-ms".into(),
            value: value.map(|v| v.as_bytes().to_vec()),
        });
        Record::new(data)
    };
    assert_eq!(
        header.timeout_of(&with(Some("250"))),
        Some(Ok(Duration::from_millis(250)))
    );
    assert_eq!(
        header.timeout_of(&with(Some("3600000"))),
        Some(Ok(Duration::from_secs(60))),
        "bounded by max"
    );
    let bad = header.timeout_of(&with(Some("soon"))).unwrap().unwrap_err();
    assert!(bad.contains("\"soon\", not a number"), "{bad}");
    assert!(header.timeout_of(&with(None)).unwrap().is_err());
    assert_eq!(header.timeout_of(&test_record(&"t".into(), 0, 0)), None);
    assert_eq!(
        c.ack_timeout_of(&with(Some("250"))),
        Duration::from_millis(250)
    );
    assert_eq!(
        c.ack_timeout_of(&with(Some("soon"))),
        c.ack_timeout,
        "the default"
    );

    let err = |c: ConsumerConfig| c.validate().unwrap_err().to_string();
    let zero = ConsumerConfig::new("b", "g").ack_timeout_header("h", Duration::ZERO);
    assert!(err(zero).contains("ack_timeout_header.max_ms"));
    let unnamed = ConsumerConfig::new("b", "g").ack_timeout_header("", Duration::from_secs(1));
    assert!(err(unnamed).contains("ack_timeout_header.name"));
}

#[test]
fn a_transactional_config_from_json_and_code() {
    let json = r#"{"brokers":"b","group_id":"g",
        "transactional":{"id":"billing-1","timeout_ms":5000}}"#;
    let c = ConsumerConfig::from_json_str(json).unwrap();
    let t = c.transactional.clone().unwrap();
    assert_eq!(
        (t.id.as_str(), t.timeout),
        ("billing-1", Duration::from_secs(5))
    );
    assert_eq!(c.commit_period(), Duration::from_millis(100));
    assert_eq!(c.client_properties()["isolation.level"], "read_committed");
    let code = ConsumerConfig::new("b", "g")
        .transactional(Transactional::new("billing-1").timeout(Duration::from_secs(5)));
    assert_eq!(code, c);
    assert_eq!(
        ConsumerConfig::new("b", "g").commit_period(),
        Duration::from_secs(1)
    );

    let e = ConsumerConfig::from_json_str(
        r#"{"brokers":"b","group_id":"g","transactional":{"id":""}}"#,
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::EmptyTransactionalId), "{e}");
    let e = c
        .clone()
        .property("isolation.level", "read_uncommitted")
        .validate()
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Reserved { key, .. } if key == "isolation.level"),
        "{e}"
    );
    let e = ConsumerConfig::from_json_str(
        r#"{"brokers":"b","group_id":"g","transactional":{"id":"t","typo":1}}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `typo`"), "{e}");
}

#[test]
fn json_properties_take_numbers_and_never_show_a_value_they_refuse() {
    let c = ConsumerConfig::from_json_str(
        r#"{"brokers":"b","group_id":"g","properties":{"session.timeout.ms":6000,"check.crcs":true}}"#,
    )
    .unwrap();
    assert_eq!(c.properties["session.timeout.ms"], "6000");
    assert_eq!(c.properties["check.crcs"], "true");
    let e = ConsumerConfig::from_json_str(
        r#"{"brokers":"b","group_id":"g","properties":{"sasl.pasword":["hunter2"]}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("property `sasl.pasword` must be a string"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    let e = ConsumerConfig::from_json_str(r#"{"group_id":"g"}"#).unwrap_err();
    assert!(matches!(e, ConfigError::NoBrokers), "{e}");
}

#[test]
fn malformed_json_and_missing_files_say_where() {
    let e = ConsumerConfig::from_json_str("{\"brokers\": ").unwrap_err();
    assert!(matches!(e, ConfigError::Json { .. }), "{e}");
    let e =
        ConsumerConfig::from_json_str(r#"{"brokers":"b","group_id":"g","typo":1}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `typo`"), "{e}");
    let e = ConsumerConfig::from_json_file("/nonexistent/gig.json").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/gig.json"), "{e}");
}
