//! Feature `tracing`: each delivery has a `gig.delivery` span with its record's W3C trace
//! context and its outcome, seen by a subscriber written here (no subscriber crate needed).

#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use gig_core::{Header, RecordData};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as Values};
use tracing::{Event, Metadata, Subscriber};

use gig_actors::prelude::*;
use gig_actors::rehearsal::{Feed, Rehearsal, Settle};

type Fields = BTreeMap<String, String>;

/// Keeps every span's fields, by span id.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Fields>>>);

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::new();
        fields.insert("name".into(), span.metadata().name().into());
        span.record(&mut Visitor(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push(fields);
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Values<'_>) {
        let mut spans = self.0.lock().unwrap();
        values.record(&mut Visitor(&mut spans[span.into_u64() as usize - 1]));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Acks offset 0, nacks the rest.
struct Worker;
impl Actor for Worker {
    type Context = Context<Self>;
}
impl Handler<Delivery> for Worker {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        match d.record.offset() {
            0 => d.ack(),
            _ => d.nack("no"),
        }
    }
}

struct Outcomes;
impl Actor for Outcomes {
    type Context = Context<Self>;
}
impl Handler<Acked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, _: Acked, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}
impl Handler<NoAcked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, _: NoAcked, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

fn record(offset: i64, traceparent: Option<&str>) -> Record {
    let headers = traceparent.map(|tp| Header {
        key: gig_core::trace::TRACEPARENT.into(),
        value: Some(tp.as_bytes().to_vec()),
    });
    Record::new(RecordData {
        topic: "orders".into(),
        partition: 2,
        offset,
        key: None,
        payload: Some(b"x".to_vec()),
        headers: headers.into_iter().collect(),
        timestamp_ms: None,
    })
}

#[test]
fn each_delivery_has_a_span_with_its_trace_context_and_outcome() {
    let spans = Spans::default();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    tracing::subscriber::with_default(spans.clone(), || {
        actix::System::new().block_on(async {
            let outcomes = Outcomes.start();
            let config = ConsumerConfig::new("unused", "traced");
            let rehearsal = Rehearsal::new(
                &config,
                Worker.start().recipient(),
                outcomes.clone().recipient(),
                outcomes.recipient(),
            )
            .expect("a valid config")
            .start();
            rehearsal.do_send(Feed(vec![record(0, Some(traceparent)), record(1, None)]));
            let stats = rehearsal.send(Settle).await.unwrap();
            assert_eq!((stats.acked, stats.nacked), (1, 1));
        })
    });
    let spans = spans.0.lock().unwrap();
    let deliveries: Vec<&Fields> = spans
        .iter()
        .filter(|s| s["name"] == "gig.delivery")
        .collect();
    assert_eq!(deliveries.len(), 2, "{spans:?}");
    let traced = deliveries[0];
    assert_eq!(traced["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(traced["parent_span_id"], "00f067aa0ba902b7");
    assert_eq!(traced["sampled"], "true");
    assert_eq!(traced["outcome"], "ack");
    assert_eq!(traced["messaging.destination.name"], "orders");
    assert_eq!(traced["messaging.kafka.partition"], "2");
    let untraced = deliveries[1];
    assert_eq!(untraced["messaging.kafka.offset"], "1");
    assert_eq!(untraced["outcome"], "nack");
    assert!(!untraced.contains_key("trace_id"));
}
