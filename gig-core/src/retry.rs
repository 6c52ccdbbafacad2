//! The headers of a delayed retry: which attempt a record is on and when it is due.
//!
//! Written by `gig_actors::retry::RetrySink` when it sends a failed record to a retry topic;
//! read by a consumer with `wait_for_due` set, which does not deliver a record before
//! its due time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::record::Record;

/// Header with the attempt a retried record is on: `1` in the first retry topic.
pub const RETRY_ATTEMPT: &str = "gig.retry.attempt";
/// Header with the time a retried record is due, in milliseconds since the Unix epoch.
pub const RETRY_DUE: &str = "gig.retry.due";

fn number(record: &Record, header: &str) -> Option<u64> {
    record.header_str(header)?.trim().parse().ok()
}

/// The retry attempt a record is on: 0 for a record that was never retried.
pub fn attempt_of(record: &Record) -> u32 {
    number(record, RETRY_ATTEMPT).map_or(0, |n| n.min(u32::MAX as u64) as u32)
}

/// When a retried record is due; `None` for a record without a (readable) due header.
pub fn due_of(record: &Record) -> Option<SystemTime> {
    number(record, RETRY_DUE).map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
}

/// How long until a record is due: `None` when it has no due header or is due already.
pub fn wait_for(record: &Record, now: SystemTime) -> Option<Duration> {
    due_of(record)?
        .duration_since(now)
        .ok()
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{test_record, Header};

    fn with(headers: &[(&str, &str)]) -> Record {
        let mut data = test_record(&"t".into(), 0, 0).data().clone();
        data.headers = headers
            .iter()
            .map(|(k, v)| Header {
                key: k.to_string(),
                value: Some(v.as_bytes().to_vec()),
            })
            .collect();
        Record::new(data)
    }

    #[test]
    fn attempt_and_due_come_from_the_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let due = with(&[(RETRY_ATTEMPT, "2"), (RETRY_DUE, "1000500")]);
        assert_eq!(attempt_of(&due), 2);
        assert_eq!(wait_for(&due, now), Some(Duration::from_millis(500)));
        let past = with(&[(RETRY_DUE, "999000")]);
        assert_eq!(wait_for(&past, now), None, "due already");
        let plain = with(&[]);
        assert_eq!((attempt_of(&plain), wait_for(&plain, now)), (0, None));
        let garbled = with(&[(RETRY_ATTEMPT, "x"), (RETRY_DUE, "soon")]);
        assert_eq!((attempt_of(&garbled), wait_for(&garbled, now)), (0, None));
    }
}
