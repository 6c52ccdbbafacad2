//! What an outcome actor of a transactional consumer answers a hand-over with: the records
//! to produce, each tied to the source record it came from.
//!
//! Gig produces an output in the transaction that commits its source record's offset,
//! never earlier (a crash would then re-read the source and produce it again) and never
//! later (the source would be committed without it).

use std::sync::Arc;

use crate::producer_record::ProducerRecord;
use crate::record::Record;

/// The record an output was made from: where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    /// Its topic.
    pub topic: Arc<str>,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

impl Source {
    /// Where `record` was read.
    pub fn of(record: &Record) -> Self {
        Source {
            topic: record.topic_arc().clone(),
            partition: record.partition(),
            offset: record.offset(),
        }
    }
}

/// One record to produce, and the source record it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The record of the outcome batch it was made from.
    pub source: Source,
    /// What to produce.
    pub record: ProducerRecord,
}

/// Records to produce in the consumer's transaction, each tied to a record of the
/// hand-over it answers. Empty when a batch produces nothing (its offsets are still
/// committed in the transaction).
///
/// ```
/// use gig_core::{Outputs, ProducerRecord, Record, RecordData};
/// # let record = Record::new(RecordData { topic: "orders".into(), partition: 0, offset: 7,
/// #     key: None, payload: Some(b"v7".to_vec()), headers: vec![], timestamp_ms: None });
/// let mut outputs = Outputs::new();
/// outputs.produce(&record, ProducerRecord::new("orders.enriched", "V7"));
/// assert_eq!(outputs.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs(Vec<Output>);

impl Outputs {
    /// No records to produce.
    pub fn new() -> Self {
        Outputs(Vec::new())
    }

    /// Adds a record to produce for `source`, a record of the outcome batch. A source may
    /// have many outputs; they are produced in the order given.
    pub fn produce(&mut self, source: &Record, record: ProducerRecord) -> &mut Self {
        self.0.push(Output {
            source: Source::of(source),
            record,
        });
        self
    }

    /// [`produce`](Self::produce), by value, to chain.
    pub fn with(mut self, source: &Record, record: ProducerRecord) -> Self {
        self.produce(source, record);
        self
    }

    /// How many records to produce.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is nothing to produce.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The outputs, in the order they were added.
    pub fn iter(&self) -> std::slice::Iter<'_, Output> {
        self.0.iter()
    }

    /// Adds every output of `other` after these.
    pub fn append(&mut self, other: Outputs) {
        self.0.extend(other.0);
    }
}

impl<'a> FromIterator<(&'a Record, ProducerRecord)> for Outputs {
    fn from_iter<I: IntoIterator<Item = (&'a Record, ProducerRecord)>>(iter: I) -> Self {
        let mut outputs = Outputs::new();
        outputs.extend(iter);
        outputs
    }
}

impl<'a> Extend<(&'a Record, ProducerRecord)> for Outputs {
    fn extend<I: IntoIterator<Item = (&'a Record, ProducerRecord)>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.0.reserve(iter.size_hint().0);
        for (source, record) in iter {
            self.produce(source, record);
        }
    }
}

impl IntoIterator for Outputs {
    type Item = Output;
    type IntoIter = std::vec::IntoIter<Output>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Outputs {
    type Item = &'a Output;
    type IntoIter = std::slice::Iter<'a, Output>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
