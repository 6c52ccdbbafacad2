//! What a poll of a librdkafka queue gives: a fetched message borrowed from what owns it
//! (the event it came in, or itself when a batch read took it), a consumer error, or an
//! event served. A [`FetchedMessage`] holds the only pointer to its owner, and what it lends
//! (key, payload, topic name, headers) lives as long as that owner, which is destroyed once,
//! by its drop.

use std::ffi::{c_char, c_void, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use gig_core::FaultScope;
use rdkafka::bindings as rdsys;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;

use crate::client::client_errors::ClientError;

/// What one poll of the queue gave.
pub(crate) enum Polled<'q> {
    /// A fetched message, valid until dropped.
    Message(FetchedMessage<'q>),
    /// A consumer error, with the partition or topic it is about (a partition's end is
    /// none: it is served and skipped).
    Error(ClientError),
    /// An event served here (a rebalance, a log line, statistics).
    Served,
    /// Nothing within the timeout.
    Nothing,
}

/// An event polled from a queue, destroyed on drop.
pub(crate) struct Event(NonNull<rdsys::rd_kafka_event_t>);

impl Event {
    /// Takes ownership of a polled event; `None` for null (nothing polled).
    pub(crate) fn polled(event: *mut rdsys::rd_kafka_event_t) -> Option<Event> {
        NonNull::new(event).map(Event)
    }

    pub(crate) fn ptr(&self) -> *mut rdsys::rd_kafka_event_t {
        self.0.as_ptr()
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: polled from a queue and destroyed only here.
        unsafe { rdsys::rd_kafka_event_destroy(self.ptr()) }
    }
}

/// A message taken from a queue by a batch read, destroyed on drop.
pub(crate) struct BatchMessage(NonNull<rdsys::rd_kafka_message_t>);

impl BatchMessage {
    /// Takes ownership of a message a batch read returned; `None` for null.
    pub(crate) fn taken(message: *mut rdsys::rd_kafka_message_t) -> Option<BatchMessage> {
        NonNull::new(message).map(BatchMessage)
    }
}

impl Drop for BatchMessage {
    fn drop(&mut self) {
        // SAFETY: returned by a batch read and destroyed only here.
        unsafe { rdsys::rd_kafka_message_destroy(self.0.as_ptr()) }
    }
}

/// What owns a fetched message: the event it came in, or itself. Held only to be dropped.
#[allow(dead_code)]
enum Owner {
    Event(Event),
    Message(BatchMessage),
}

/// A fetched message, borrowed from its owner.
pub(crate) struct FetchedMessage<'q> {
    message: NonNull<rdsys::rd_kafka_message_t>,
    /// Owns the message; dropped after every borrow of it has ended.
    _owner: Owner,
    _queue: PhantomData<&'q ()>,
}

/// A fetch event's message (or the error it carries).
pub(crate) fn fetched<'q>(event: Event) -> Polled<'q> {
    // SAFETY: a fetch event holds one message, owned by the event.
    let message = unsafe { rdsys::rd_kafka_event_message_next(event.ptr()) };
    match NonNull::new(message as *mut rdsys::rd_kafka_message_t) {
        Some(message) => classify(message, Owner::Event(event)),
        None => Polled::Served,
    }
}

/// A message a batch read returned (or the error it carries).
pub(crate) fn taken<'q>(message: BatchMessage) -> Polled<'q> {
    let raw = message.0;
    classify(raw, Owner::Message(message))
}

/// The message `owner` owns: a record, a consumer error, or a partition's end (served).
fn classify<'q>(message: NonNull<rdsys::rd_kafka_message_t>, owner: Owner) -> Polled<'q> {
    // SAFETY: the message lives as long as `owner`, which the returned value owns.
    let err = unsafe { message.as_ref().err };
    match err {
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR => Polled::Message(FetchedMessage {
            message,
            _owner: owner,
            _queue: PhantomData,
        }),
        RDKafkaRespErr::RD_KAFKA_RESP_ERR__PARTITION_EOF => Polled::Served,
        e => {
            // SAFETY: a live message; its error string is NUL-terminated, owned by it, and
            // its topic handle (if any) names the partition the error is about.
            let (reason, topic, partition) = unsafe {
                let raw = message.as_ref();
                let reason = CStr::from_ptr(rdsys::rd_kafka_message_errstr(raw));
                let topic = (!raw.rkt.is_null())
                    .then(|| CStr::from_ptr(rdsys::rd_kafka_topic_name(raw.rkt)));
                (reason, topic, raw.partition)
            };
            let topic = topic.map(|t| t.to_string_lossy());
            Polled::Error(ClientError {
                error: KafkaError::MessageConsumption(e.into()),
                scope: FaultScope::of(topic.as_deref(), partition),
                reason: reason.to_string_lossy().trim().to_string(),
            })
        }
    }
}

impl FetchedMessage<'_> {
    fn raw(&self) -> &rdsys::rd_kafka_message_t {
        // SAFETY: valid while its owner is, which `self` owns.
        unsafe { self.message.as_ref() }
    }

    /// The topic name's bytes (librdkafka keeps the name NUL-terminated, as given).
    pub(crate) fn topic_bytes(&self) -> &[u8] {
        // SAFETY: a fetched message's topic handle is valid while the message is, and its
        // name is a NUL-terminated string owned by the handle.
        unsafe { CStr::from_ptr(rdsys::rd_kafka_topic_name(self.raw().rkt)).to_bytes() }
    }

    pub(crate) fn partition(&self) -> i32 {
        self.raw().partition
    }

    pub(crate) fn offset(&self) -> i64 {
        self.raw().offset
    }

    /// The timestamp in milliseconds, if the record has one.
    pub(crate) fn timestamp_ms(&self) -> Option<i64> {
        let mut kind = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: a live message, and a place for the kind.
        let ms = unsafe { rdsys::rd_kafka_message_timestamp(self.message.as_ptr(), &mut kind) };
        let none = kind == rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        (ms != -1 && !none).then_some(ms)
    }

    pub(crate) fn key(&self) -> Option<&[u8]> {
        let raw = self.raw();
        // SAFETY: the key is `key_len` bytes owned by the message.
        unsafe { bytes(raw.key, raw.key_len) }
    }

    pub(crate) fn payload(&self) -> Option<&[u8]> {
        let raw = self.raw();
        // SAFETY: the payload is `len` bytes owned by the message.
        unsafe { bytes(raw.payload, raw.len) }
    }

    /// Calls `each` with every header's name and value. librdkafka parses them on first use.
    pub(crate) fn for_each_header(&self, mut each: impl FnMut(&str, Option<&[u8]>)) {
        let mut headers = ptr::null_mut();
        // SAFETY: a live message; the headers it returns are owned by it.
        let err = unsafe { rdsys::rd_kafka_message_headers(self.message.as_ptr(), &mut headers) };
        if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
            return;
        }
        for i in 0.. {
            let mut name: *const c_char = ptr::null();
            let mut value: *const c_void = ptr::null();
            let mut size = 0;
            // SAFETY: `headers` is the message's; name and value live as long as it.
            let err = unsafe {
                rdsys::rd_kafka_header_get_all(headers, i, &mut name, &mut value, &mut size)
            };
            if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                return;
            }
            // SAFETY: a header name is NUL-terminated; the value `size` bytes, or null.
            let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
            let value = unsafe { bytes(value as *mut c_void, size) };
            each(&name, value);
        }
    }
}

/// `len` bytes at `data`, or `None` for a null pointer.
///
/// # Safety
/// A non-null `data` must point to `len` readable bytes that outlive `'a`.
unsafe fn bytes<'a>(data: *mut c_void, len: usize) -> Option<&'a [u8]> {
    (!data.is_null()).then(|| unsafe { std::slice::from_raw_parts(data as *const u8, len) })
}
