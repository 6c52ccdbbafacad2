//! One record to produce: what the producer sends, and what an outcome actor of a
//! transactional consumer asks Gig to produce in its transaction.

use crate::record::Header;

/// One record to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The topic it goes to.
    pub topic: String,
    /// Partition; `None` lets the partitioner choose (by key hash when there is a key).
    pub partition: Option<i32>,
    /// Key, or `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// Payload, or `None` for a null value.
    pub payload: Option<Vec<u8>>,
    /// Headers, in the order they are sent.
    pub headers: Vec<Header>,
}

impl ProducerRecord {
    /// A record with a payload and no key.
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            payload: Some(payload.into()),
            ..Default::default()
        }
    }

    /// Gives the record a key: the partitioner keeps records of one key together.
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Writes the record to this partition rather than the partitioner's choice.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header after those already set.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value: Some(value.into()),
        });
        self
    }
}
