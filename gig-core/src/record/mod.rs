//! One Kafka record as Gig hands it around: [`Record`], a cheap handle into the batch it
//! was fetched with (`batch.rs`, built with [`RecordBatchBuilder`]); [`RecordData`], its
//! fields as owned values; [`Header`].

mod batch;

use std::fmt;
use std::sync::Arc;

use batch::{Batch, Entry};
pub use batch::{RecordBatchBuilder, RecordParts};

/// One record header: a name and an optional value, as Kafka stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub key: String,
    /// The header's value; Kafka allows a null value.
    pub value: Option<Vec<u8>>,
}

/// The fields of a record, owned. Build one and wrap it with [`Record::new`]; get one
/// back with [`Record::to_data`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordData {
    /// Topic name, shared by every record of the topic.
    pub topic: Arc<str>,
    /// Partition within the topic.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// The record key; `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// The record value; `None` for a null (tombstone) value.
    pub payload: Option<Vec<u8>>,
    /// Record headers, in the order Kafka returned them.
    pub headers: Vec<Header>,
    /// Milliseconds since the Unix epoch, when the broker or producer set one.
    pub timestamp_ms: Option<i64>,
}

/// One Kafka record. It is a reference count on the batch it was fetched with and an index
/// into it: cloning it copies nothing, so the ack book, the downstream and the outcome
/// actors hold the same record.
///
/// A record keeps its whole batch's buffer alive (at most a few hundred records, or about
/// 64 KiB of keys, payloads and headers, plus one large record): to keep a record for long
/// after its outcome, copy what you need (`payload().map(<[u8]>::to_vec)`, [`to_data`]).
///
/// [`to_data`]: Record::to_data
#[derive(Clone)]
pub struct Record {
    batch: Arc<Batch>,
    index: u32,
}

impl Record {
    /// Wraps record fields (a batch of one record).
    pub fn new(data: RecordData) -> Self {
        let mut builder = RecordBatchBuilder::new();
        builder.push(RecordParts {
            topic: &data.topic,
            partition: data.partition,
            offset: data.offset,
            timestamp_ms: data.timestamp_ms,
            key: data.key.as_deref(),
            payload: data.payload.as_deref(),
        });
        for h in &data.headers {
            builder.push_header(&h.key, h.value.as_deref());
        }
        let mut records = Vec::with_capacity(1);
        builder.finish(&mut records);
        records.swap_remove(0)
    }

    fn entry(&self) -> &Entry {
        &self.batch.entries[self.index as usize]
    }

    /// The topic it was read from.
    pub fn topic(&self) -> &str {
        self.topic_arc()
    }

    /// The topic name as a shared string (no allocation to keep it).
    pub fn topic_arc(&self) -> &Arc<str> {
        &self.batch.topics[self.entry().topic as usize]
    }

    /// Its partition within the topic.
    pub fn partition(&self) -> i32 {
        self.entry().partition
    }

    /// Its position in the partition.
    pub fn offset(&self) -> i64 {
        self.entry().offset
    }

    /// The key, if not null.
    pub fn key(&self) -> Option<&[u8]> {
        self.entry().key.get(&self.batch.bytes)
    }

    /// The payload, if not null.
    pub fn payload(&self) -> Option<&[u8]> {
        self.entry().payload.get(&self.batch.bytes)
    }

    /// The payload as UTF-8 text, if it is present and valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        self.payload().and_then(|p| std::str::from_utf8(p).ok())
    }

    /// Its headers, in the order Kafka returned them. The first call for any record of a
    /// batch makes the owned [`Header`]s of the whole batch; [`header_str`](Self::header_str)
    /// reads one without that.
    pub fn headers(&self) -> &[Header] {
        self.batch.owned_headers(self.entry())
    }

    /// The first header with this name, if any.
    pub fn header(&self, key: &str) -> Option<&Header> {
        self.headers().iter().find(|h| h.key == key)
    }

    /// The value of the first header with this name: `Some(None)` for a null value,
    /// `None` without such a header. Reads the batch's bytes; makes no [`Header`].
    pub(crate) fn header_value(&self, key: &str) -> Option<Option<&[u8]>> {
        let bytes = &self.batch.bytes;
        let raw = self.batch.raw_headers(self.entry());
        let found = raw
            .iter()
            .find(|h| h.key.get(bytes) == Some(key.as_bytes()))?;
        Some(found.value.get(bytes))
    }

    /// The value of the first header with this name as UTF-8 text, if it is there, not
    /// null, and valid UTF-8.
    pub fn header_str(&self, key: &str) -> Option<&str> {
        let value = self.header_value(key)??;
        std::str::from_utf8(value).ok()
    }

    /// The timestamp in ms since the Unix epoch, if set.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.entry().timestamp_ms
    }

    /// Every field, copied, e.g. to make a changed copy with [`Record::new`].
    pub fn to_data(&self) -> RecordData {
        RecordData {
            topic: self.topic_arc().clone(),
            partition: self.partition(),
            offset: self.offset(),
            key: self.key().map(<[u8]>::to_vec),
            payload: self.payload().map(<[u8]>::to_vec),
            headers: self.headers().to_vec(),
            timestamp_ms: self.timestamp_ms(),
        }
    }

    /// Its headers as stored: name and value bytes.
    fn raw_headers(&self) -> impl Iterator<Item = (Option<&[u8]>, Option<&[u8]>)> {
        let bytes = &self.batch.bytes;
        let raw = self.batch.raw_headers(self.entry());
        raw.iter().map(|h| (h.key.get(bytes), h.value.get(bytes)))
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.topic() == other.topic()
            && self.partition() == other.partition()
            && self.offset() == other.offset()
            && self.timestamp_ms() == other.timestamp_ms()
            && self.key() == other.key()
            && self.payload() == other.payload()
            && self.raw_headers().eq(other.raw_headers())
    }
}

impl Eq for Record {}

impl fmt::Debug for Record {
    // Payloads can be large: show where the record is from and how big it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("topic", &self.topic())
            .field("partition", &self.partition())
            .field("offset", &self.offset())
            .field("key_len", &self.key().map(<[u8]>::len))
            .field("payload_len", &self.payload().map(<[u8]>::len))
            .finish()
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.topic(), self.partition(), self.offset())
    }
}

/// A record of topic `t` with a key (or none) and no payload, for tests of key ordering.
#[cfg(test)]
pub(crate) fn keyed_record(partition: i32, offset: i64, key: Option<&str>) -> Record {
    Record::new(RecordData {
        topic: Arc::from("t"),
        partition,
        offset,
        key: key.map(|k| k.as_bytes().to_vec()),
        payload: None,
        headers: Vec::new(),
        timestamp_ms: None,
    })
}

#[cfg(test)]
pub(crate) fn test_record(topic: &Arc<str>, partition: i32, offset: i64) -> Record {
    Record::new(RecordData {
        topic: topic.clone(),
        partition,
        offset,
        key: None,
        payload: Some(offset.to_string().into_bytes()),
        headers: Vec::new(),
        timestamp_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_shares_the_payload() {
        let r = test_record(&Arc::from("t"), 0, 42);
        let c = r.clone();
        assert!(std::ptr::eq(r.payload().unwrap(), c.payload().unwrap()));
        assert_eq!(r.to_string(), "t/0@42");
        assert_eq!(c.payload_str(), Some("42"));
    }

    #[test]
    fn header_text_is_the_first_valid_utf8_value() {
        let mut data = test_record(&Arc::from("t"), 0, 0).to_data();
        let header = |key: &str, value: Option<&[u8]>| Header {
            key: key.to_string(),
            value: value.map(<[u8]>::to_vec),
        };
        data.headers = vec![
            header("a", Some(b"one")),
            header("a", Some(b"two")),
            header("null", None),
            header("bytes", Some(&[0xff, 0xfe])),
        ];
        let r = Record::new(data.clone());
        assert_eq!(r.to_data(), data, "fields go in and come out unchanged");
        assert_eq!(r, Record::new(data), "equal fields, equal records");
        assert_eq!(r.header_str("a"), Some("one"));
        assert_eq!(r.header_str("null"), None);
        assert_eq!(r.header_str("bytes"), None);
        assert_eq!(r.header_str("missing"), None);
    }
}
