//! Which record of an outcome batch an output came from, by its token.
//!
//! An outcome actor answers a hand-over with outputs, each naming its source record. They
//! nearly always come in the order of the records (one or more per record, some records
//! with none), so a cursor that only moves forward finds each source with a comparison or
//! two; a map, built only when an output goes back or names a record not in the batch,
//! keeps any other order linear too.

use std::collections::HashMap;

use crate::outputs::Source;

/// The sources of an outcome batch's records, each with its record's token (a
/// [`Token`](crate::Token) in Gig).
///
/// ```
/// use gig_core::{Record, RecordData, Source, SourceTokens};
/// # fn record(offset: i64) -> Record {
/// #     Record::new(RecordData { topic: "orders".into(), partition: 0, offset,
/// #         key: None, payload: None, headers: vec![], timestamp_ms: None })
/// # }
/// let records = [record(7), record(8)];
/// let mut sources = SourceTokens::new(records.iter().map(Source::of), ["first", "second"]);
/// assert_eq!(sources.token_of(&Source::of(&records[1])), Some("second"));
/// assert_eq!(sources.token_of(&Source::of(&record(9))), None);
/// ```
#[derive(Debug)]
pub struct SourceTokens<T> {
    sources: Vec<(Source, T)>,
    /// Where the last output's source was found: the next one is looked for from here.
    cursor: usize,
    /// Every source, once an output was not found at or after the cursor.
    index: Option<HashMap<Source, T>>,
}

impl<T: Copy> SourceTokens<T> {
    /// The records' sources, in the batch's order, with their tokens.
    pub fn new(
        sources: impl IntoIterator<Item = Source>,
        tokens: impl IntoIterator<Item = T>,
    ) -> Self {
        SourceTokens {
            sources: sources.into_iter().zip(tokens).collect(),
            cursor: 0,
            index: None,
        }
    }

    /// The token of the record `source` names; `None` if it is not in the batch.
    pub fn token_of(&mut self, source: &Source) -> Option<T> {
        if let Some(index) = &self.index {
            return index.get(source).copied();
        }
        let ahead = self.sources[self.cursor..]
            .iter()
            .position(|(candidate, _)| same(candidate, source));
        match ahead {
            Some(step) => {
                self.cursor += step;
                Some(self.sources[self.cursor].1)
            }
            None => {
                let index = self.sources.iter().cloned().collect::<HashMap<_, _>>();
                self.index.insert(index).get(source).copied()
            }
        }
    }
}

/// Whether two sources name the same record: the numbers first, as they differ first.
fn same(a: &Source, b: &Source) -> bool {
    a.offset == b.offset && a.partition == b.partition && a.topic == b.topic
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn source(topic: &str, partition: i32, offset: i64) -> Source {
        Source {
            topic: Arc::from(topic),
            partition,
            offset,
        }
    }

    fn book(sources: &[Source]) -> SourceTokens<usize> {
        SourceTokens::new(sources.iter().cloned(), 0..sources.len())
    }

    fn seq(token: Option<usize>) -> Option<usize> {
        token
    }

    #[test]
    fn outputs_in_record_order_are_found_several_per_record_and_with_gaps() {
        let sources = [source("a", 0, 1), source("a", 0, 2), source("b", 3, 2)];
        let mut tokens = book(&sources);
        assert_eq!(seq(tokens.token_of(&sources[0])), Some(0));
        assert_eq!(seq(tokens.token_of(&sources[0])), Some(0));
        assert_eq!(seq(tokens.token_of(&sources[2])), Some(2));
        assert!(tokens.index.is_none(), "in order, no map is built");
    }

    #[test]
    fn outputs_out_of_order_are_found_through_the_map() {
        let sources = [source("a", 0, 1), source("a", 0, 2), source("a", 1, 1)];
        let mut tokens = book(&sources);
        assert_eq!(seq(tokens.token_of(&sources[2])), Some(2));
        assert_eq!(seq(tokens.token_of(&sources[0])), Some(0));
        assert_eq!(seq(tokens.token_of(&sources[1])), Some(1));
    }

    #[test]
    fn a_source_not_in_the_hand_over_has_no_token() {
        let sources = [source("a", 0, 1)];
        let mut tokens = book(&sources);
        assert_eq!(tokens.token_of(&source("a", 0, 2)), None);
        assert_eq!(tokens.token_of(&source("b", 0, 1)), None);
        assert_eq!(seq(tokens.token_of(&sources[0])), Some(0));
        assert_eq!(book(&[]).token_of(&sources[0]), None);
    }
}
