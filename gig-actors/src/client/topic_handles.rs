//! Producing an output with no allocation of Gig's per record: rdkafka's `send` makes a
//! C string of the topic name for every record (and an empty header list, when asked for
//! none); here a record without headers goes through librdkafka's `rd_kafka_produce` with a
//! topic handle kept per topic. A record with headers goes through rdkafka as before.
//!
//! The unsafe code is the calls into librdkafka. Its invariant: each handle is a reference
//! of this value's own, taken from the producer it was made for, and released once by the
//! drop, which the producer's owner runs before the producer's (`transactor.rs`: the handles
//! are a field before the producer).

use std::ffi::{c_void, CString};
use std::ptr::NonNull;

use gig_core::ProducerRecord;
use rdkafka::bindings as rdsys;
use rdkafka::types::RDKafkaErrorCode;

/// librdkafka's "any partition": its partitioner chooses.
const ANY_PARTITION: i32 = -1;

/// Topic handles of one producer, by name. A consumer's outputs go to a few topics: a list
/// searched in order is enough.
#[derive(Default)]
pub(crate) struct TopicHandles {
    handles: Vec<(String, NonNull<rdsys::rd_kafka_topic_t>)>,
}

// librdkafka's topic handles may be used from any thread.
unsafe impl Send for TopicHandles {}

impl TopicHandles {
    fn handle(
        &mut self,
        client: *mut rdsys::rd_kafka_t,
        topic: &str,
    ) -> Result<NonNull<rdsys::rd_kafka_topic_t>, RDKafkaErrorCode> {
        if let Some((_, handle)) = self.handles.iter().find(|(name, _)| name == topic) {
            return Ok(*handle);
        }
        let name = CString::new(topic).map_err(|_| RDKafkaErrorCode::InvalidTopic)?;
        // SAFETY: a live client and a NUL-terminated name; a null conf takes the client's
        // defaults. The handle returned is ours, released in drop.
        let handle =
            unsafe { rdsys::rd_kafka_topic_new(client, name.as_ptr(), std::ptr::null_mut()) };
        // SAFETY: no arguments; reads this thread's last librdkafka error.
        let handle = NonNull::new(handle).ok_or_else(last_error)?;
        self.handles.push((topic.to_string(), handle));
        Ok(handle)
    }

    /// Queues `record` (which must have no headers) on `client`, copying its key and
    /// payload; `QueueFull` when librdkafka's queue is full.
    pub(crate) fn produce(
        &mut self,
        client: *mut rdsys::rd_kafka_t,
        record: &ProducerRecord,
    ) -> Result<(), RDKafkaErrorCode> {
        debug_assert!(record.headers.is_empty());
        let topic = self.handle(client, &record.topic)?;
        let (payload, len) = bytes(record.payload.as_deref());
        let (key, key_len) = bytes(record.key.as_deref());
        // SAFETY: a live topic handle of this client; with RD_KAFKA_MSG_F_COPY librdkafka
        // copies the payload and key before it returns, so the borrows may end then. No
        // opaque: the producer's context takes `()`, which rdkafka reads from null.
        let queued = unsafe {
            rdsys::rd_kafka_produce(
                topic.as_ptr(),
                record.partition.unwrap_or(ANY_PARTITION),
                rdsys::RD_KAFKA_MSG_F_COPY,
                payload as *mut c_void,
                len,
                key,
                key_len,
                std::ptr::null_mut(),
            )
        };
        if queued == 0 {
            return Ok(());
        }
        Err(last_error())
    }
}

/// The error of the librdkafka call that just failed on this thread.
fn last_error() -> RDKafkaErrorCode {
    // SAFETY: no arguments; reads a thread-local of librdkafka's.
    RDKafkaErrorCode::from(unsafe { rdsys::rd_kafka_last_error() })
}

/// A pointer and a length for librdkafka: null and 0 for none.
fn bytes(data: Option<&[u8]>) -> (*const c_void, usize) {
    data.map_or((std::ptr::null(), 0), |d| (d.as_ptr().cast(), d.len()))
}

impl Drop for TopicHandles {
    fn drop(&mut self) {
        for (_, handle) in self.handles.drain(..) {
            // SAFETY: our own reference, released once, before the producer's.
            unsafe { rdsys::rd_kafka_topic_destroy(handle.as_ptr()) }
        }
    }
}
