//! A `tracing` span per delivery (feature `tracing`), carrying the record's W3C trace
//! context.
//!
//! Each record delivered on its own (a [`Delivery`](crate::Delivery), a
//! [`Typed`](crate::Typed), or one from
//! [`DeliveryBatch::into_deliveries`](crate::DeliveryBatch::into_deliveries)) gets an
//! `INFO` span `gig.delivery` (target `gig::delivery`), open from delivery until the answer
//! (or until its handle is dropped), with these fields:
//!
//! | field | value |
//! | --- | --- |
//! | `messaging.system` | `kafka` |
//! | `messaging.destination.name` | the topic |
//! | `messaging.kafka.partition`, `messaging.kafka.offset` | where the record is |
//! | `trace_id`, `parent_span_id`, `sampled` | the record's `traceparent`, when it has one |
//! | `outcome` | `ack`, `nack` or `dropped`, recorded at the answer |
//!
//! [`AckHandle::span`](crate::AckHandle::span) gives it: instrument the async work with it,
//! and a subscriber that bridges to OpenTelemetry can make the remote parent in
//! `trace_id`/`parent_span_id` its parent. Gig emits no `log` records for spans: its log
//! output is the same with the feature on.

#[cfg(feature = "tracing")]
pub(crate) use on::DeliverySpan;

#[cfg(not(feature = "tracing"))]
pub(crate) use off::DeliverySpan;

#[cfg(feature = "tracing")]
mod on {
    use gig_core::Record;
    use tracing::field::Empty;
    use tracing::{info_span, Span};

    /// The span of one delivery.
    #[derive(Debug)]
    pub(crate) struct DeliverySpan(Span);

    impl DeliverySpan {
        pub(crate) fn new(record: &Record) -> Self {
            let span = info_span!(
                target: "gig::delivery",
                "gig.delivery",
                messaging.system = "kafka",
                messaging.destination.name = record.topic(),
                messaging.kafka.partition = record.partition(),
                messaging.kafka.offset = record.offset(),
                trace_id = Empty,
                parent_span_id = Empty,
                sampled = Empty,
                outcome = Empty,
            );
            // Parsing the header costs only when a subscriber wants the span.
            if !span.is_disabled() {
                if let Some(tp) = record.trace_parent() {
                    span.record("trace_id", tp.trace_id_hex());
                    span.record("parent_span_id", tp.parent_id_hex());
                    span.record("sampled", tp.sampled());
                }
            }
            DeliverySpan(span)
        }

        pub(crate) fn answered(&self, outcome: &'static str) {
            self.0.record("outcome", outcome);
        }

        pub(crate) fn span(&self) -> &Span {
            &self.0
        }
    }
}

/// The same with the feature off: nothing.
#[cfg(not(feature = "tracing"))]
mod off {
    use gig_core::Record;

    #[derive(Debug)]
    pub(crate) struct DeliverySpan;

    impl DeliverySpan {
        #[inline(always)]
        pub(crate) fn new(_: &Record) -> Self {
            DeliverySpan
        }

        #[inline(always)]
        pub(crate) fn answered(&self, _: &'static str) {}
    }
}
