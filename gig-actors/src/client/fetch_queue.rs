//! The fetch queue: a queue of Gig's own into which every assigned partition's fetched
//! messages are forwarded, read many at a time.
//!
//! One `rd_kafka_queue_poll` per message takes librdkafka's queue lock, reads the clock
//! and frees the message's op, each once per record, on the poll thread while the broker
//! thread allocates the next ops from the same malloc arena: the two threads take turns
//! on its lock, record by record. `rd_kafka_consume_batch_queue` takes many at once. It
//! cannot read the consumer queue: it serves a rebalance there by calling
//! `rebalance_cb`, which rdkafka does not set (it takes rebalances as events), so
//! librdkafka would unassign everything instead. So the partitions' messages come here and
//! the consumer queue keeps the events (rebalances, errors, logs, statistics).
//!
//! A partition is forwarded here before it is assigned: librdkafka forwards a partition to
//! the consumer queue when its fetch starts unless the application forwarded it, and
//! stops forwarding when its fetch stops, so every assignment forwards again. A message
//! fetched before a revocation and still here after it is of an older version of its
//! partition, and the batch read drops it as the consumer queue's poll would.

use std::ffi::{c_void, CString};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::TopicPartitionList;

use crate::client::polled::{self, BatchMessage, Polled};

/// The most messages one batch read takes.
pub(crate) const MOST_PER_READ: usize = 256;

/// Gig's queue for fetched messages, and the consumer, which it keeps alive until the queue
/// is destroyed.
pub(crate) struct FetchQueue<C: ConsumerContext> {
    queue: NonNull<rdsys::rd_kafka_queue_t>,
    consumer: Arc<BaseConsumer<C>>,
}

// librdkafka's queues are locked inside; the handle may be used from any thread.
unsafe impl<C: ConsumerContext> Send for FetchQueue<C> {}
unsafe impl<C: ConsumerContext> Sync for FetchQueue<C> {}

impl<C: ConsumerContext> FetchQueue<C> {
    /// A new, empty queue of `consumer`'s; `None` if librdkafka makes none.
    pub(crate) fn new(consumer: &Arc<BaseConsumer<C>>) -> Option<Self> {
        // SAFETY: the client pointer is valid while `consumer` is; the queue returned (or
        // null) is ours, destroyed by this value's drop.
        let queue = unsafe { rdsys::rd_kafka_queue_new(consumer.client().native_ptr()) };
        NonNull::new(queue).map(|queue| FetchQueue {
            queue,
            consumer: consumer.clone(),
        })
    }

    pub(crate) fn ptr(&self) -> *mut rdsys::rd_kafka_queue_t {
        self.queue.as_ptr()
    }

    /// Forwards the fetched messages of `partitions` here. Call it before assigning them.
    pub(crate) fn adopt(&self, partitions: &TopicPartitionList) {
        let client = self.consumer.client().native_ptr();
        for element in partitions.elements() {
            let Ok(topic) = CString::new(element.topic()) else {
                continue;
            };
            // SAFETY: a valid client and topic name; the handle returned (or null) is a
            // reference of our own to the partition's queue, released below.
            let partition = unsafe {
                rdsys::rd_kafka_queue_get_partition(client, topic.as_ptr(), element.partition())
            };
            if let Some(partition) = NonNull::new(partition) {
                // SAFETY: both queues are valid; forwarding keeps a reference of its own to
                // this queue, so releasing our handle to the partition's is safe.
                unsafe {
                    rdsys::rd_kafka_queue_forward(partition.as_ptr(), self.ptr());
                    rdsys::rd_kafka_queue_destroy(partition.as_ptr());
                }
            }
        }
    }

    /// Waits at most `timeout` for fetched messages, or until [`wake_on`](Self::wake_on)'s
    /// queue has an event, takes at most `most` (up to [`MOST_PER_READ`]), and gives each
    /// to `each` in order. Returns how many it took.
    pub(crate) fn read(
        &self,
        timeout: Duration,
        most: usize,
        mut each: impl FnMut(Polled<'_>),
    ) -> usize {
        let mut taken = [std::ptr::null_mut(); MOST_PER_READ];
        let most = most.clamp(1, MOST_PER_READ);
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the queue is valid; librdkafka writes at most `most` message pointers,
        // each ours to destroy (done by `BatchMessage`'s drop).
        let n = unsafe {
            rdsys::rd_kafka_consume_batch_queue(self.ptr(), ms, taken.as_mut_ptr(), most)
        };
        let n = usize::try_from(n).unwrap_or(0);
        for &message in &taken[..n] {
            if let Some(message) = BatchMessage::taken(message) {
                each(polled::taken(message));
            }
        }
        n
    }

    /// Makes an event on `events` end a [`read`](Self::read) that waits, so that events are
    /// served as soon as they come. Undone by [`unwake`](Self::unwake), which must run
    /// before this queue is destroyed.
    ///
    /// # Safety
    /// `events` must be a valid queue, and `unwake(events)` must be called before `self` is
    /// dropped.
    pub(crate) unsafe fn wake_on(&self, events: *mut rdsys::rd_kafka_queue_t) {
        // SAFETY: by the caller's promise, `self` outlives the registration.
        unsafe { rdsys::rd_kafka_queue_cb_event_enable(events, Some(wake), self.ptr().cast()) }
    }

    /// Undoes [`wake_on`](Self::wake_on).
    ///
    /// # Safety
    /// `events` must be a valid queue.
    pub(crate) unsafe fn unwake(events: *mut rdsys::rd_kafka_queue_t) {
        // SAFETY: librdkafka takes the queue's lock, so no call-back runs after this.
        unsafe { rdsys::rd_kafka_queue_cb_event_enable(events, None, std::ptr::null_mut()) }
    }
}

/// Called by librdkafka, on its own thread, when the events queue gets an event: ends the
/// fetch queue's read.
unsafe extern "C" fn wake(_: *mut rdsys::rd_kafka_t, fetch_queue: *mut c_void) {
    // SAFETY: the fetch queue given to `wake_on`, valid until `unwake`.
    unsafe { rdsys::rd_kafka_queue_yield(fetch_queue.cast()) }
}

impl<C: ConsumerContext> Drop for FetchQueue<C> {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once, before the consumer (a field, dropped
        // after this).
        unsafe { rdsys::rd_kafka_queue_destroy(self.ptr()) }
    }
}
