//! A per-record ack timeout read from a header.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::millis;
use crate::record::Record;

/// A per-record ack timeout, read from a record header, bounded by a maximum.
///
/// The header's value is a whole number of milliseconds in ASCII (`"30000"`). A record
/// without the header gets the consumer's `ack_timeout`; one whose value does not parse gets
/// it too, and the consumer logs a warning. Values above `max` are cut to `max`. In JSON:
/// `"ack_timeout_header": { "name": "gig.ack-timeout-ms", "max_ms": 60000 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AckTimeoutHeader {
    /// The header's name.
    pub name: String,
    /// The longest timeout a header may ask for.
    #[serde(rename = "max_ms", with = "millis")]
    pub max: Duration,
}

impl AckTimeoutHeader {
    /// The timeout `record` asks for: `None` without the header, `Some(Err(why))` when its
    /// value is not a number of milliseconds, else the value bounded by `max`.
    pub fn timeout_of(&self, record: &Record) -> Option<Result<Duration, String>> {
        let value = record.header_value(&self.name)?.unwrap_or_default();
        Some(
            std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .map(|ms| Duration::from_millis(ms).min(self.max))
                .ok_or_else(|| {
                    format!(
                        "header `{}` is {:?}, not a number of milliseconds",
                        self.name,
                        String::from_utf8_lossy(value)
                    )
                }),
        )
    }
}
