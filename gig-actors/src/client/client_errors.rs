//! The errors librdkafka reports to a consumer: classified by [`FaultKind`], counted, and
//! the ones that block reading kept in a [`FaultBook`] until what they block reads again,
//! so that a stalled partition is named in `Stats` and the health answer instead of
//! looking like an idle topic.
//!
//! Written by the poll thread (errors, fetched records, assignments); read by the actor.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use gig_core::{Fault, FaultBook, FaultKind, FaultScope, Record};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// One error, with what it is about and librdkafka's text.
#[derive(Debug, Clone)]
pub(crate) struct ClientError {
    pub(crate) error: KafkaError,
    pub(crate) scope: FaultScope,
    /// librdkafka's own text: it names the broker, the codec, the offset.
    pub(crate) reason: String,
}

impl ClientError {
    pub(crate) fn kind(&self) -> FaultKind {
        classify(&self.error, &self.reason)
    }
}

/// What kind of error this is, from its code and, where one code covers several causes,
/// librdkafka's text.
pub(crate) fn classify(error: &KafkaError, reason: &str) -> FaultKind {
    use RDKafkaErrorCode as C;
    if matches!(error, KafkaError::MessageConsumptionFatal(_)) {
        return FaultKind::Fatal;
    }
    let Some(code) = error.rdkafka_error_code() else {
        return FaultKind::Other;
    };
    match code {
        C::Fatal => FaultKind::Fatal,
        C::BadCompression | C::UnsupportedCompressionType => FaultKind::Codec,
        // librdkafka's "Decompression (codec 0x4) … failed: Local: Not implemented".
        C::NotImplemented if reason.contains("ecompress") || reason.contains("codec") => {
            FaultKind::Codec
        }
        C::BadMessage | C::InvalidMessage | C::InvalidRecord => FaultKind::Corrupt,
        C::Authentication | C::SaslAuthenticationFailed => FaultKind::Authentication,
        C::SSL => FaultKind::Tls,
        C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::DelegationTokenAuthorizationFailed => FaultKind::Authorization,
        C::AutoOffsetReset | C::OffsetOutOfRange => FaultKind::OffsetOutOfRange,
        C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition => {
            FaultKind::UnknownTopic
        }
        // A failed TLS handshake is reported as a transport failure with OpenSSL's text.
        C::BrokerTransportFailure if is_tls_failure(reason) => FaultKind::Tls,
        C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve => FaultKind::Transport,
        _ => FaultKind::Other,
    }
}

fn is_tls_failure(reason: &str) -> bool {
    [
        "SSL handshake failed",
        "certificate verify failed",
        "ssl/tls alert",
    ]
    .iter()
    .any(|needle| reason.contains(needle))
}

/// A count of client errors, the most telling recent one, and the open faults.
#[derive(Default)]
pub(crate) struct ClientErrors {
    count: AtomicU64,
    last: Mutex<Option<(Option<RDKafkaErrorCode>, String)>>,
    book: Mutex<FaultBook>,
    /// Whether the book has an open fault: read per fetched batch without the lock.
    blocked: AtomicBool,
}

impl ClientErrors {
    /// Counts an error, classifies it, and keeps it if it blocks reading; returns the
    /// fault when this error opened it (the caller says so louder than for a repeat).
    ///
    /// It becomes the last error unless it only repeats what the last one said:
    /// librdkafka reports a broker it cannot reach with the address, then sums up "all
    /// brokers are down"; that summary may not hide the address a person needs.
    pub(crate) fn record(&self, error: &ClientError, now: Instant) -> Option<Fault> {
        self.record_as(error, error.kind(), now)
    }

    /// [`record`](Self::record), with the kind the caller knows it to be.
    pub(crate) fn record_as(
        &self,
        error: &ClientError,
        kind: FaultKind,
        now: Instant,
    ) -> Option<Fault> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let opened = self.book.lock().ok().and_then(|mut book| {
            let opened = book.handle_error(error.scope.clone(), kind, &error.reason, now);
            self.blocked.store(book.is_blocked(), Ordering::Release);
            let on = error.scope.to_string();
            let fault = book.faults(now).into_iter().find(|f| f.on == on);
            fault.filter(|_| opened)
        });
        let code = error.error.rdkafka_error_code();
        if let Ok(mut last) = self.last.lock() {
            let summary = code == Some(RDKafkaErrorCode::AllBrokersDown) && last.is_some();
            if !summary {
                *last = Some((code, describe(error)));
            }
        }
        opened
    }

    /// Records were fetched: faults of their partitions and topics, and the client's,
    /// clear. Costs one atomic load per batch while nothing is open.
    pub(crate) fn progress(&self, records: &[Record]) {
        if !self.blocked.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut book) = self.book.lock() else {
            return;
        };
        let mut last = None;
        for record in records {
            let here = (record.topic(), record.partition());
            if last != Some(here) {
                book.handle_progress(here.0, here.1);
                if !book.is_blocked() {
                    break;
                }
                last = Some(here);
            }
        }
        self.blocked.store(book.is_blocked(), Ordering::Release);
    }

    /// The group assigned partitions of these topics.
    pub(crate) fn assigned<'a>(&self, topics: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut book) = self.book.lock() {
            book.handle_assigned(topics);
            self.blocked.store(book.is_blocked(), Ordering::Release);
        }
    }

    /// A transaction committed: the transactional producer's fault, if any, clears.
    pub(crate) fn transaction_committed(&self) {
        if self.blocked.load(Ordering::Acquire) {
            if let Ok(mut book) = self.book.lock() {
                book.handle_transaction_committed();
                self.blocked.store(book.is_blocked(), Ordering::Release);
            }
        }
    }

    /// Whether a fault is open.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::Acquire)
    }

    /// Whether a fault of the client as a whole is open (a refused login or TLS handshake,
    /// the group's ACL).
    pub(crate) fn client_blocked(&self) -> bool {
        self.is_blocked()
            && self
                .book
                .lock()
                .is_ok_and(|book| book.is_open(&FaultScope::Client))
    }

    /// How many errors so far, and the last one.
    pub(crate) fn snapshot(&self) -> (u64, Option<String>) {
        let last = self
            .last
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(|l| l.1.clone()));
        (self.count.load(Ordering::Relaxed), last)
    }

    /// The open faults, and every error counted by kind.
    pub(crate) fn faults(&self, now: Instant) -> (Vec<Fault>, Vec<(FaultKind, u64)>) {
        let Ok(book) = self.book.lock() else {
            return (Vec::new(), Vec::new());
        };
        let totals = book.totals().iter().map(|(k, n)| (*k, *n)).collect();
        (book.faults(now), totals)
    }
}

/// The error as a person reads it: librdkafka's text, with the code when the text does
/// not carry it.
fn describe(error: &ClientError) -> String {
    if error.reason.is_empty() {
        error.error.to_string()
    } else {
        format!("{}: {}", error.error, error.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::types::RDKafkaErrorCode::{
        AllBrokersDown, BrokerTransportFailure, NotImplemented, TopicAuthorizationFailed,
    };

    fn client(error: KafkaError, reason: &str) -> ClientError {
        ClientError {
            error,
            scope: FaultScope::Client,
            reason: reason.to_string(),
        }
    }

    #[test]
    fn the_summary_does_not_hide_the_error_that_names_the_broker() {
        let errors = ClientErrors::default();
        let refused = "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed";
        let now = Instant::now();
        errors.record(
            &client(KafkaError::Global(BrokerTransportFailure), refused),
            now,
        );
        let down = "1/1 brokers are down";
        errors.record(&client(KafkaError::Global(AllBrokersDown), down), now);
        let (count, last) = errors.snapshot();
        assert_eq!(count, 2);
        assert!(last.unwrap().contains("127.0.0.1:1"));
        let (faults, _) = errors.faults(now);
        assert!(
            faults.is_empty(),
            "an unreachable broker is retried, not a fault"
        );
    }

    #[test]
    fn a_partition_that_cannot_be_decompressed_is_a_codec_fault_until_it_reads() {
        let errors = ClientErrors::default();
        let now = Instant::now();
        let text =
            "Decompression (codec 0x4) of message at 0 of 109 bytes failed: Local: Not implemented";
        let error = ClientError {
            error: KafkaError::MessageConsumption(NotImplemented),
            scope: FaultScope::of(Some("orders"), 2),
            reason: text.to_string(),
        };
        let opened = errors
            .record(&error, now)
            .expect("the first report opens it");
        assert_eq!((opened.kind, opened.partition), (FaultKind::Codec, Some(2)));
        assert!(
            errors.record(&error, now).is_none(),
            "a repeat opens nothing"
        );
        let mut batch = gig_core::RecordBatchBuilder::new();
        batch.push(gig_core::RecordParts {
            topic: &std::sync::Arc::from("orders"),
            partition: 2,
            offset: 7,
            timestamp_ms: None,
            key: None,
            payload: Some(b"x"),
        });
        let mut records = Vec::new();
        batch.finish(&mut records);
        errors.progress(&records);
        assert!(errors.faults(now).0.is_empty());
    }

    #[test]
    fn errors_are_classified_by_code_and_text() {
        let tls = "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed";
        let cases = [
            (
                KafkaError::Global(BrokerTransportFailure),
                tls,
                FaultKind::Tls,
            ),
            (
                KafkaError::Global(BrokerTransportFailure),
                "Connection refused",
                FaultKind::Transport,
            ),
            (
                KafkaError::MessageConsumption(TopicAuthorizationFailed),
                "",
                FaultKind::Authorization,
            ),
            (
                KafkaError::MessageConsumption(NotImplemented),
                "something else",
                FaultKind::Other,
            ),
            (
                KafkaError::MessageConsumptionFatal(NotImplemented),
                "",
                FaultKind::Fatal,
            ),
        ];
        for (error, reason, kind) in cases {
            assert_eq!(classify(&error, reason), kind, "{error}: {reason}");
        }
    }
}
