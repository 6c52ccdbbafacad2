//! Property tests: whatever a config file or a record header holds, Gig reads it as a typed
//! error or a value, never a panic (and never an overflow that would wrap).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gig_core::retry::{self, RETRY_ATTEMPT, RETRY_DUE};
use gig_core::MAX_DURATION;
use gig_core::{ConsumerConfig, Header, Pipeline, Record, RecordData};
use proptest::prelude::*;
use serde_json::{json, Value};

/// JSON values of every kind, with the numbers at the edges that break arithmetic.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(u64::MAX),
            Just(86_400_000),
            Just(86_400_001)
        ]
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "brokers",
    "group_id",
    "topics",
    "ack_timeout_ms",
    "ack_timeout_header",
    "key_ordering",
    "wait_for_due",
    "max_in_flight",
    "commit_interval_ms",
    "commit_every",
    "handover_batch",
    "stats_interval_ms",
    "transactional",
    "properties",
];

/// A config object: Gig's own fields (each present or not, with any value), sometimes a
/// well-formed header setting, sometimes an unknown field.
fn any_config_json() -> impl Strategy<Value = Value> {
    let fields = prop::collection::vec((prop::sample::select(FIELDS), any_json()), 0..10);
    let header =
        (".{0,6}", any::<u64>()).prop_map(|(name, max)| json!({"name": name, "max_ms": max}));
    (fields, prop::option::of(header), prop::option::of(".{1,6}")).prop_map(
        |(fields, header, unknown)| {
            let mut object = serde_json::Map::new();
            object.insert("brokers".into(), json!("b:9092"));
            object.insert("group_id".into(), json!("g"));
            for (field, value) in fields {
                object.insert(field.to_string(), value);
            }
            if let Some(header) = header {
                object.insert("ack_timeout_header".into(), header);
            }
            if let Some(unknown) = unknown {
                object.insert(format!("x-{unknown}"), json!(1));
            }
            Value::Object(object)
        },
    )
}

/// A record whose Gig headers hold `values` (any bytes, or null).
fn with_headers(values: &[(&str, Option<Vec<u8>>)]) -> Record {
    Record::new(RecordData {
        topic: Arc::from("t"),
        partition: 0,
        offset: 0,
        key: None,
        payload: None,
        headers: values
            .iter()
            .map(|(key, value)| Header {
                key: key.to_string(),
                value: value.clone(),
            })
            .collect(),
        timestamp_ms: None,
    })
}

/// Header values: any bytes, any decimal text of a `u64` (with spaces), or null.
fn header_value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24).prop_map(Some),
        any::<u64>().prop_map(|n| Some(format!(" {n} ").into_bytes())),
        prop_oneof![
            Just(u64::MAX),
            Just(u32::MAX as u64),
            Just(u32::MAX as u64 + 1)
        ]
        .prop_map(|n| Some(n.to_string().into_bytes())),
        Just(None),
    ]
}

proptest! {
    #[test]
    fn any_config_json_is_a_config_or_a_typed_error(value in any_config_json()) {
        match ConsumerConfig::from_json_str(&value.to_string()) {
            Ok(config) => {
                // A config that validates has every duration within bounds, so the
                // arithmetic done with it cannot overflow.
                prop_assert!(config.default_ack_timeout() <= MAX_DURATION);
                prop_assert!(config.longest_ack_timeout() <= MAX_DURATION);
                let _ = Instant::now() + config.resolve_wait();
                let _ = config.client_properties();
                let _ = serde_json::to_string(&config).unwrap();
                Pipeline::new(&config).unwrap().handle_fetched(Vec::new(), Instant::now());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn any_text_is_a_config_or_a_typed_error(text in ".{0,64}") {
        let _ = ConsumerConfig::from_json_str(&text);
    }

    #[test]
    fn gig_headers_of_any_value_read_as_a_value(
        attempt in header_value(),
        due in header_value(),
        timeout in header_value(),
        now_ms in any::<u64>(),
    ) {
        let record = with_headers(&[
            (RETRY_ATTEMPT, attempt),
            (RETRY_DUE, due),
            ("gig.ack-timeout-ms", timeout),
        ]);
        let attempt = retry::attempt_of(&record);
        prop_assert!(retry::next_attempt(&record) >= attempt, "saturates, never wraps");
        let now = UNIX_EPOCH.checked_add(Duration::from_millis(now_ms)).unwrap_or_else(SystemTime::now);
        let _ = retry::due_of(&record);
        let _ = retry::wait_for(&record, now);
        let config = ConsumerConfig::new("b", "g").ack_timeout_header("gig.ack-timeout-ms", MAX_DURATION);
        let header = config.timeout_header().cloned().unwrap();
        if let Some(Ok(own)) = header.timeout_of(&record) {
            prop_assert!(own <= MAX_DURATION);
        }
        prop_assert!(config.ack_timeout_of(&record) <= MAX_DURATION);
        // The pipeline tracks it with its deadline, whatever the header says.
        let mut pipeline = Pipeline::new(&config).unwrap();
        pipeline.handle_fetched(vec![record], Instant::now());
        prop_assert_eq!(pipeline.poll_outbound().len(), 1);
    }
}
