//! One Kafka record as Gig hands it around.

use std::fmt;
use std::sync::Arc;

/// One record header: a name and an optional value, as Kafka stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub key: String,
    /// The header's value; Kafka allows a null value.
    pub value: Option<Vec<u8>>,
}

/// The fields of a record. Build one and wrap it with [`Record::new`].
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

/// One Kafka record. Cloning is one reference-count increment, so the same record can be
/// held by the ack book (for the timeout path) and by the downstream actor at no copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Record(Arc<RecordData>);

impl Record {
    /// Wraps record fields.
    pub fn new(data: RecordData) -> Self {
        Record(Arc::new(data))
    }

    /// The topic it was read from.
    pub fn topic(&self) -> &str {
        &self.0.topic
    }

    /// The topic name as a shared string (no allocation to keep it).
    pub fn topic_arc(&self) -> &Arc<str> {
        &self.0.topic
    }

    /// Its partition within the topic.
    pub fn partition(&self) -> i32 {
        self.0.partition
    }

    /// Its position in the partition.
    pub fn offset(&self) -> i64 {
        self.0.offset
    }

    /// The key, if not null.
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key.as_deref()
    }

    /// The payload, if not null.
    pub fn payload(&self) -> Option<&[u8]> {
        self.0.payload.as_deref()
    }

    /// The payload as UTF-8 text, if it is present and valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        self.payload().and_then(|p| std::str::from_utf8(p).ok())
    }

    /// Its headers, in the order Kafka returned them.
    pub fn headers(&self) -> &[Header] {
        &self.0.headers
    }

    /// The first header with this name, if any.
    pub fn header(&self, key: &str) -> Option<&Header> {
        self.0.headers.iter().find(|h| h.key == key)
    }

    /// The value of the first header with this name as UTF-8 text, if it is there, not
    /// null, and valid UTF-8.
    pub fn header_str(&self, key: &str) -> Option<&str> {
        let value = self.header(key)?.value.as_deref()?;
        std::str::from_utf8(value).ok()
    }

    /// The timestamp in ms since the Unix epoch, if set.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.0.timestamp_ms
    }

    /// Every field at once, e.g. to make a changed copy with [`Record::new`].
    pub fn data(&self) -> &RecordData {
        &self.0
    }
}

impl fmt::Debug for Record {
    // Payloads can be large: show where the record is from and how big it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("topic", &self.topic())
            .field("partition", &self.partition())
            .field("offset", &self.offset())
            .field("key_len", &self.0.key.as_ref().map(Vec::len))
            .field("payload_len", &self.0.payload.as_ref().map(Vec::len))
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
        let mut data = test_record(&Arc::from("t"), 0, 0).data().clone();
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
        let r = Record::new(data);
        assert_eq!(r.header_str("a"), Some("one"));
        assert_eq!(r.header_str("null"), None);
        assert_eq!(r.header_str("bytes"), None);
        assert_eq!(r.header_str("missing"), None);
    }
}
