//! The consumer queue, polled as rdkafka's `BaseConsumer::poll` polls it, but with no
//! allocation per message, and the fetch queue beside it ([`FetchQueue`]), read many
//! messages at a time.
//!
//! rdkafka wraps every event it polls in an `Arc` so that the message it returns can outlive
//! the call: one allocation and one free per record, and a clock read per poll. The poll
//! thread copies each message into its batch at once and never keeps it, so here a fetched
//! message is borrowed from what owns it ([`FetchedMessage`]) and destroyed when the borrow
//! ends.
//!
//! Every other event is served as rdkafka serves it (`client.rs`, `base_consumer.rs`, 0.39):
//! logs and statistics go to the context's handlers, and a rebalance to the
//! context's `rebalance`, on this thread, the partitions it assigns forwarded to the fetch
//! queue first. An error is returned with the partition or topic it names, which rdkafka
//! drops.
//!
//! The unsafe code is the calls into librdkafka. The queue handles are references of their
//! own, released by [`ConsumerQueue`]'s and [`FetchQueue`]'s drops. `valgrind_consumer_queue`
//! (tests) runs this under valgrind's memcheck.

use std::ffi::{c_char, CStr};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Duration;

use gig_core::FaultScope;
use log::warn;
use rdkafka::bindings as rdsys;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::client::client_errors::ClientError;
use crate::client::fetch_queue::FetchQueue;
use crate::client::polled::{self, Event, Polled};

/// One reference to a consumer's queue (its main queue forwarded into it), the fetch queue
/// its partitions are forwarded to, and the consumer, which it keeps alive until both
/// references are released.
pub(crate) struct ConsumerQueue<C: ConsumerContext> {
    queue: NonNull<rdsys::rd_kafka_queue_t>,
    fetch: Arc<FetchQueue<C>>,
    consumer: Arc<BaseConsumer<C>>,
}

// librdkafka's queues are locked inside; the handle may be used from any thread.
unsafe impl<C: ConsumerContext> Send for ConsumerQueue<C> {}

impl<C: ConsumerContext> ConsumerQueue<C> {
    /// The queue of `consumer`, which must have a `group.id` (rdkafka then forwards the main
    /// queue into it); `None` without one.
    pub(crate) fn of(consumer: &Arc<BaseConsumer<C>>) -> Option<Self> {
        let fetch = Arc::new(FetchQueue::new(consumer)?);
        // SAFETY: the client pointer is valid while `consumer` is; the call returns a new
        // reference to the queue (or null), which this value releases.
        let queue = unsafe { rdsys::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
        let queue = NonNull::new(queue)?;
        // SAFETY: a valid queue; this value's drop calls `unwake` before it releases `fetch`.
        unsafe { fetch.wake_on(queue.as_ptr()) };
        Some(ConsumerQueue {
            queue,
            fetch,
            consumer: consumer.clone(),
        })
    }

    /// The fetch queue, for a manual assignment to forward its partitions to.
    pub(crate) fn fetch_queue(&self) -> Arc<FetchQueue<C>> {
        self.fetch.clone()
    }

    /// Waits at most `timeout` for fetched messages (less if an event comes), takes at most
    /// `most`, and gives each to `each`. Returns how many it took.
    pub(crate) fn read_fetched(
        &self,
        timeout: Duration,
        most: usize,
        each: impl FnMut(Polled<'_>),
    ) -> usize {
        self.fetch.read(timeout, most, each)
    }

    /// Waits at most `timeout` for one event and serves it, or returns its message.
    pub(crate) fn poll(&self, timeout: Duration) -> Polled<'_> {
        let consumer = &*self.consumer;
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the queue is valid while `self` is; the event returned is ours to destroy.
        let Some(event) =
            Event::polled(unsafe { rdsys::rd_kafka_queue_poll(self.queue.as_ptr(), ms) })
        else {
            return Polled::Nothing;
        };
        // SAFETY: `event` is a live event.
        match unsafe { rdsys::rd_kafka_event_type(event.ptr()) } {
            rdsys::RD_KAFKA_EVENT_FETCH => polled::fetched(event),
            rdsys::RD_KAFKA_EVENT_REBALANCE => {
                rebalance(consumer, &self.fetch, &event);
                Polled::Served
            }
            rdsys::RD_KAFKA_EVENT_ERROR => match error(&event) {
                Polled::Error(e) => Polled::Error(with_topic(e, consumer)),
                served => served,
            },
            rdsys::RD_KAFKA_EVENT_LOG => {
                log(&**consumer.context(), &event);
                Polled::Served
            }
            rdsys::RD_KAFKA_EVENT_STATS => {
                // SAFETY: a statistics event holds a NUL-terminated JSON string.
                let json = unsafe { CStr::from_ptr(rdsys::rd_kafka_event_stats(event.ptr())) };
                consumer.context().stats_raw(json.to_bytes());
                Polled::Served
            }
            // Offset commit results (Gig commits synchronously and asks for none) and
            // OAuth token refreshes (Gig's context generates no tokens): nothing to do.
            _ => Polled::Served,
        }
    }
}

impl<C: ConsumerContext> Drop for ConsumerQueue<C> {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `of`, released once, before the fetch queue and the
        // consumer (fields, dropped after this); no wake-up reaches the fetch queue after
        // `unwake`.
        unsafe {
            FetchQueue::<C>::unwake(self.queue.as_ptr());
            rdsys::rd_kafka_queue_destroy(self.queue.as_ptr());
        }
    }
}

/// Runs the context's `rebalance` with the event's partitions, as rdkafka does. rdkafka
/// wraps the event's own list, with a constructor it keeps private; this copies what the
/// context and the (un)assign read of it: topic, partition and offset.
fn rebalance<C: ConsumerContext>(consumer: &BaseConsumer<C>, fetch: &FetchQueue<C>, event: &Event) {
    // SAFETY: a live rebalance event.
    let err = unsafe { rdsys::rd_kafka_event_error(event.ptr()) };
    // SAFETY: a rebalance event's list is owned by the event, valid while it is.
    let native = unsafe { rdsys::rd_kafka_event_topic_partition_list(event.ptr()) };
    let mut tpl = TopicPartitionList::new();
    if let Some(native) = NonNull::new(native) {
        // SAFETY: `cnt` elements at `elems`, each with a NUL-terminated topic.
        let native = unsafe { native.as_ref() };
        let count = usize::try_from(native.cnt).unwrap_or(0);
        for i in 0..count {
            let elem = unsafe { &*native.elems.add(i) };
            let topic = unsafe { CStr::from_ptr(elem.topic) }.to_string_lossy();
            let _ = tpl.add_partition_offset(&topic, elem.partition, Offset::from_raw(elem.offset));
        }
    }
    match err {
        RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
            fetch.adopt(&tpl);
            consumer.context().rebalance(consumer, err, &mut tpl);
        }
        RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
            consumer.context().rebalance(consumer, err, &mut tpl);
        }
        _ => warn!("invalid rebalance event: {err:?}"),
    }
}

/// An error event, with the partition or topic it names, if any.
fn error<'q>(event: &Event) -> Polled<'q> {
    // SAFETY: a live error event; its string is NUL-terminated and owned by it. The topic
    // partition it returns (or null) is a copy of ours, destroyed below.
    let (err, reason, fatal, named) = unsafe {
        (
            rdsys::rd_kafka_event_error(event.ptr()),
            CStr::from_ptr(rdsys::rd_kafka_event_error_string(event.ptr())).to_string_lossy(),
            rdsys::rd_kafka_event_error_is_fatal(event.ptr()) != 0,
            rdsys::rd_kafka_event_topic_partition(event.ptr()),
        )
    };
    let scope = match NonNull::new(named) {
        None => FaultScope::Client,
        Some(named) => {
            // SAFETY: a topic partition librdkafka allocated for us, with a NUL-terminated
            // topic (or null); destroyed once, here.
            unsafe {
                let tp = named.as_ref();
                let topic =
                    (!tp.topic.is_null()).then(|| CStr::from_ptr(tp.topic).to_string_lossy());
                let scope = FaultScope::of(topic.as_deref(), tp.partition);
                rdsys::rd_kafka_topic_partition_destroy(named.as_ptr());
                scope
            }
        }
    };
    let error = match err {
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR
        | RDKafkaRespErr::RD_KAFKA_RESP_ERR__PARTITION_EOF => return Polled::Served,
        e if fatal => KafkaError::MessageConsumptionFatal(e.into()),
        e => KafkaError::Global(e.into()),
    };
    Polled::Error(ClientError {
        error,
        scope,
        reason: reason.trim().to_string(),
    })
}

/// The error with the topic it is about, when librdkafka's event names none but its text
/// does (`Subscribed topic not available: orders: Broker: Topic authorization failed`,
/// under the classic protocol), or when it is a topic's error and the consumer subscribes
/// to one topic only (KIP-848's `ConsumerGroupHeartbeat failed: Broker: Topic
/// authorization failed` names none).
fn with_topic<C: ConsumerContext>(
    mut error: ClientError,
    consumer: &BaseConsumer<C>,
) -> ClientError {
    if error.scope != FaultScope::Client {
        return error;
    }
    let topic = named_topic(&error.reason).map(str::to_string).or_else(|| {
        let about_a_topic = matches!(
            error.error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::TopicAuthorizationFailed)
        );
        let subscription = consumer.subscription().ok().filter(|_| about_a_topic)?;
        match subscription.elements().as_slice() {
            [only] if !only.topic().starts_with('^') => Some(only.topic().to_string()),
            _ => None,
        }
    });
    if let Some(topic) = topic {
        error.scope = FaultScope::Topic(Arc::from(topic));
    }
    error
}

/// The topic librdkafka's text names for a subscribed topic it cannot use
/// (`rd_kafka_propagate_consumer_topic_errors`). A topic name holds no `:`.
fn named_topic(reason: &str) -> Option<&str> {
    let rest = reason.strip_prefix("Subscribed topic not available: ")?;
    let (topic, _) = rest.split_once(':')?;
    Some(topic.trim()).filter(|t| !t.is_empty())
}

/// Hands a log line to the context.
fn log<C: ClientContext>(context: &C, event: &Event) {
    let mut facility: *const c_char = ptr::null();
    let mut line: *const c_char = ptr::null();
    let mut level = 0;
    // SAFETY: a live log event; the strings it gives are NUL-terminated and owned by it.
    let found =
        unsafe { rdsys::rd_kafka_event_log(event.ptr(), &mut facility, &mut line, &mut level) };
    if found != 0 {
        return;
    }
    // SAFETY: on success both pointers are set to strings the event owns.
    let (facility, line) = unsafe {
        (
            CStr::from_ptr(facility).to_string_lossy(),
            CStr::from_ptr(line).to_string_lossy(),
        )
    };
    context.log(log_level(level), facility.trim(), line.trim());
}

/// librdkafka's syslog level as rdkafka's.
fn log_level(level: i32) -> RDKafkaLogLevel {
    match level {
        0 => RDKafkaLogLevel::Emerg,
        1 => RDKafkaLogLevel::Alert,
        2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_named_in_librdkafkas_text_is_the_faults() {
        let text = "Subscribed topic not available: orders-7: Broker: Topic authorization failed";
        assert_eq!(named_topic(text), Some("orders-7"));
        assert_eq!(
            named_topic("FindCoordinator response error: Group authorization failed."),
            None
        );
        assert_eq!(named_topic("Subscribed topic not available: "), None);
    }

    #[test]
    fn syslog_levels_map_as_rdkafka_maps_them() {
        assert!(matches!(log_level(3), RDKafkaLogLevel::Error));
        assert!(matches!(log_level(4), RDKafkaLogLevel::Warning));
        assert!(matches!(log_level(7), RDKafkaLogLevel::Debug));
        assert!(matches!(log_level(42), RDKafkaLogLevel::Debug));
    }
}
