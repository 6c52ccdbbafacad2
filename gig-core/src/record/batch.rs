//! Records fetched together, in one shared buffer.
//!
//! The poll thread copies the key, payload and headers of each fetched message into one
//! byte buffer, and the metadata into one table; a [`Record`] is then a reference count on
//! that batch and an index into it. So a batch of records costs a handful of allocations,
//! not several per record, and freeing it is one `free` per buffer on whichever thread
//! drops its last record. Headers are kept as bytes and become owned [`Header`]s only when
//! someone asks for them as such ([`Record::headers`]).

use std::sync::{Arc, OnceLock};

use super::{Header, Record};

/// A range of the batch's bytes, or a null value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    start: u32,
    /// `NULL` for a null value (distinct from an empty one).
    len: u32,
}

const NULL: u32 = u32::MAX;

impl Span {
    pub(super) fn get(self, bytes: &[u8]) -> Option<&[u8]> {
        if self.len == NULL {
            return None;
        }
        let start = self.start as usize;
        bytes.get(start..start + self.len as usize)
    }
}

/// One record's metadata and where its bytes are.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) offset: i64,
    pub(super) timestamp_ms: Option<i64>,
    pub(super) partition: i32,
    /// Index into the batch's topics.
    pub(super) topic: u32,
    pub(super) key: Span,
    pub(super) payload: Span,
    /// This record's headers: `headers[start..start + count]` of the batch.
    pub(super) headers_start: u32,
    pub(super) headers_count: u32,
}

/// One header as the batch stores it: its name and value as spans of the bytes.
#[derive(Debug)]
pub(super) struct RawHeader {
    pub(super) key: Span,
    pub(super) value: Span,
}

/// The shared storage of records fetched together.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) topics: Vec<Arc<str>>,
    pub(super) entries: Vec<Entry>,
    pub(super) bytes: Vec<u8>,
    pub(super) headers: Vec<RawHeader>,
    /// `headers` as owned [`Header`]s, made on the first call to [`Record::headers`] for
    /// any record of the batch.
    pub(super) owned_headers: OnceLock<Vec<Header>>,
}

impl Batch {
    pub(super) fn raw_headers(&self, entry: &Entry) -> &[RawHeader] {
        let start = entry.headers_start as usize;
        &self.headers[start..start + entry.headers_count as usize]
    }

    pub(super) fn owned_headers(&self, entry: &Entry) -> &[Header] {
        if entry.headers_count == 0 {
            return &[];
        }
        let all = self.owned_headers.get_or_init(|| {
            let header = |h: &RawHeader| Header {
                key: String::from_utf8_lossy(h.key.get(&self.bytes).unwrap_or_default())
                    .into_owned(),
                value: h.value.get(&self.bytes).map(<[u8]>::to_vec),
            };
            self.headers.iter().map(header).collect()
        });
        let start = entry.headers_start as usize;
        &all[start..start + entry.headers_count as usize]
    }
}

/// The fields of one record to add to a batch; its headers follow with
/// [`RecordBatchBuilder::push_header`].
#[derive(Debug, Clone, Copy)]
pub struct RecordParts<'a> {
    /// Its topic, shared by every record of the topic.
    pub topic: &'a Arc<str>,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Milliseconds since the Unix epoch, if set.
    pub timestamp_ms: Option<i64>,
    /// The key; `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value; `None` for a null value.
    pub payload: Option<&'a [u8]>,
}

/// Gathers records into one shared buffer, then hands them out as [`Record`]s
/// ([`finish`](Self::finish)). The poll thread builds one per batch it sends.
#[derive(Debug, Default)]
pub struct RecordBatchBuilder {
    topics: Vec<Arc<str>>,
    entries: Vec<Entry>,
    bytes: Vec<u8>,
    headers: Vec<RawHeader>,
}

impl RecordBatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records added since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no record was added since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of keys, payloads and headers added since the last [`finish`](Self::finish).
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    fn span(&mut self, value: Option<&[u8]>) -> Span {
        let start = u32::try_from(self.bytes.len()).unwrap_or(NULL);
        match value {
            // A batch is finished long before 4 GiB (see the poll thread's byte limit), and
            // Kafka caps one record far below it; past it, the value reads as null
            // rather than as other bytes.
            Some(v) if v.len() < NULL as usize && start != NULL => {
                self.bytes.extend_from_slice(v);
                Span {
                    start,
                    len: v.len() as u32,
                }
            }
            _ => Span {
                start: 0,
                len: NULL,
            },
        }
    }

    fn topic_index(&mut self, topic: &Arc<str>) -> u32 {
        // Records of one topic usually come in runs: look at the last one first.
        let found = self
            .topics
            .iter()
            .rposition(|t| Arc::ptr_eq(t, topic) || t == topic);
        let index = found.unwrap_or_else(|| {
            self.topics.push(topic.clone());
            self.topics.len() - 1
        });
        index as u32
    }

    /// Adds a record, copying its key and payload.
    pub fn push(&mut self, parts: RecordParts<'_>) {
        let topic = self.topic_index(parts.topic);
        let key = self.span(parts.key);
        let payload = self.span(parts.payload);
        self.entries.push(Entry {
            offset: parts.offset,
            timestamp_ms: parts.timestamp_ms,
            partition: parts.partition,
            topic,
            key,
            payload,
            headers_start: self.headers.len() as u32,
            headers_count: 0,
        });
    }

    /// Adds a header to the record added last (none before the first record).
    pub fn push_header(&mut self, key: &str, value: Option<&[u8]>) {
        if self.entries.is_empty() {
            return;
        }
        let key = self.span(Some(key.as_bytes()));
        let value = self.span(value);
        self.headers.push(RawHeader { key, value });
        if let Some(last) = self.entries.last_mut() {
            last.headers_count += 1;
        }
    }

    /// Drops the records added so far whose partition `keep` refuses (their bytes stay in
    /// the buffer, unused).
    pub fn retain(&mut self, mut keep: impl FnMut(&Arc<str>, i32) -> bool) {
        let topics = &self.topics;
        self.entries
            .retain(|e| keep(&topics[e.topic as usize], e.partition));
    }

    /// Appends the records added so far to `records`, sharing one buffer, and starts an
    /// empty batch sized like this one.
    pub fn finish(&mut self, records: &mut Vec<Record>) {
        if self.entries.is_empty() {
            self.bytes.clear();
            self.headers.clear();
            return;
        }
        // The next batch is likely the size of this one: no regrowing on the way.
        let (entries, bytes) = (self.entries.len(), self.bytes.len());
        let batch = Arc::new(Batch {
            topics: std::mem::take(&mut self.topics),
            entries: std::mem::replace(&mut self.entries, Vec::with_capacity(entries)),
            bytes: std::mem::replace(&mut self.bytes, Vec::with_capacity(bytes)),
            headers: std::mem::take(&mut self.headers),
            owned_headers: OnceLock::new(),
        });
        records.reserve(batch.entries.len());
        for index in 0..batch.entries.len() as u32 {
            records.push(Record {
                batch: batch.clone(),
                index,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(
        topic: &'a Arc<str>,
        offset: i64,
        key: Option<&'a [u8]>,
        payload: Option<&'a [u8]>,
    ) -> RecordParts<'a> {
        RecordParts {
            topic,
            partition: 0,
            offset,
            timestamp_ms: Some(offset * 10),
            key,
            payload,
        }
    }

    #[test]
    fn records_of_a_batch_share_one_buffer_and_keep_their_fields() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let mut builder = RecordBatchBuilder::new();
        builder.push(parts(&a, 1, Some(b"k1"), Some(b"one")));
        builder.push(parts(&b, 2, None, Some(b"")));
        builder.push(parts(&a, 3, Some(b""), None));
        assert_eq!((builder.len(), builder.byte_len()), (3, 5));
        let mut records = Vec::new();
        builder.finish(&mut records);
        assert!(builder.is_empty());
        let [one, two, three] = &records[..] else {
            panic!("three records")
        };
        assert!(Arc::ptr_eq(&one.batch, &three.batch), "one buffer");
        assert_eq!(
            (one.topic(), one.offset(), one.key(), one.payload_str()),
            ("a", 1, Some(&b"k1"[..]), Some("one"))
        );
        assert!(
            Arc::ptr_eq(one.topic_arc(), &a),
            "the topic is shared, not copied"
        );
        assert_eq!(
            (two.topic(), two.key(), two.payload()),
            ("b", None, Some(&b""[..]))
        );
        assert_eq!(
            (three.key(), three.payload(), three.timestamp_ms()),
            (Some(&b""[..]), None, Some(30)),
            "empty and null stay distinct"
        );
    }

    #[test]
    fn headers_are_read_from_the_buffer_and_owned_only_when_asked_for() {
        let t: Arc<str> = Arc::from("t");
        let mut builder = RecordBatchBuilder::new();
        builder.push_header("ignored", Some(b"no record yet"));
        builder.push(parts(&t, 0, None, None));
        builder.push(parts(&t, 1, None, None));
        builder.push_header("a", Some(b"one"));
        builder.push_header("a", Some(b"two"));
        builder.push_header("null", None);
        let mut records = Vec::new();
        builder.finish(&mut records);
        let (plain, with) = (&records[0], &records[1]);
        assert_eq!(with.header_str("a"), Some("one"));
        assert_eq!(with.header_value("null"), Some(None));
        assert!(plain.headers().is_empty());
        assert!(
            with.batch.owned_headers.get().is_none(),
            "nothing owned made yet"
        );
        let names: Vec<&str> = with.headers().iter().map(|h| h.key.as_str()).collect();
        assert_eq!(names, ["a", "a", "null"]);
        assert_eq!(with.header("null").map(|h| h.value.clone()), Some(None));
    }

    #[test]
    fn retain_drops_the_records_of_refused_partitions() {
        let t: Arc<str> = Arc::from("t");
        let mut builder = RecordBatchBuilder::new();
        for partition in 0..4 {
            let mut p = parts(&t, partition.into(), None, Some(b"x"));
            p.partition = partition;
            builder.push(p);
        }
        builder.retain(|_, partition| partition % 2 == 0);
        let mut records = Vec::new();
        builder.finish(&mut records);
        let kept: Vec<i32> = records.iter().map(Record::partition).collect();
        assert_eq!(kept, [0, 2]);
        builder.finish(&mut records);
        assert_eq!(records.len(), 2, "an empty batch adds nothing");
    }
}
