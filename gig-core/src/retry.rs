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

/// The retry attempt a record is on: 0 for a record that was never retried. A number
/// past `u32::MAX` reads as `u32::MAX`.
pub fn attempt_of(record: &Record) -> u32 {
    number(record, RETRY_ATTEMPT).map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The attempt a failed record goes on to: one more than [`attempt_of`], saturating, so a
/// header of `u32::MAX` stays there (and a sink with fewer delays dead-letters it).
pub fn next_attempt(record: &Record) -> u32 {
    attempt_of(record).saturating_add(1)
}

/// When a retried record is due; `None` for a record without a (readable) due header, or
/// with one past what the system clock can represent.
pub fn due_of(record: &Record) -> Option<SystemTime> {
    let ms = number(record, RETRY_DUE)?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
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
        assert_eq!(next_attempt(&due), 3);
    }

    #[test]
    fn the_largest_attempt_saturates_instead_of_wrapping_to_zero() {
        let last = with(&[(RETRY_ATTEMPT, "4294967295")]);
        assert_eq!(
            (attempt_of(&last), next_attempt(&last)),
            (u32::MAX, u32::MAX)
        );
        let past = with(&[(RETRY_ATTEMPT, "18446744073709551615")]);
        assert_eq!(next_attempt(&past), u32::MAX);
    }
}
