//! W3C trace context on a record: the `traceparent` header, parsed.
//!
//! A producer that traces (OpenTelemetry's Kafka instrumentation, for one) puts the
//! [W3C `traceparent`](https://www.w3.org/TR/trace-context/#traceparent-header) of its span
//! in a record header. Gig keeps every header as it came, so the context is on the
//! [`Record`] of each `Delivery`, `Acked` and `NoAcked` entry, and dead-letter and retry
//! copies carry it on; [`Record::trace_parent`] reads it.
//!
//! ```
//! use gig_core::TraceParent;
//!
//! let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap();
//! assert!(tp.sampled());
//! assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! assert!("00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use crate::record::Record;

/// The header that carries the W3C trace parent.
pub const TRACEPARENT: &str = "traceparent";
/// The header that carries vendor trace state beside it (copied along, not parsed).
pub const TRACESTATE: &str = "tracestate";

/// A W3C `traceparent`: the trace, the caller's span in it, and the trace flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace's id (never all zeros).
    pub trace_id: [u8; 16],
    /// The id of the span that produced the record (never all zeros).
    pub parent_id: [u8; 8],
    /// The trace flags; bit 0 is "sampled".
    pub flags: u8,
}

/// Why a `traceparent` value was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a W3C traceparent: {0}")]
pub struct BadTraceParent(&'static str);

impl TraceParent {
    /// Whether the caller sampled the trace (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The parent span id as 16 lowercase hex digits.
    pub fn parent_id_hex(&self) -> String {
        hex(&self.parent_id)
    }
}

impl FromStr for TraceParent {
    type Err = BadTraceParent;

    /// Parses `version-traceid-parentid-flags` as the W3C spec says: version `00` has
    /// exactly these four fields; a later version may append more after a `-`, which are
    /// ignored; version `ff`, upper-case hex and all-zero ids are refused.
    fn from_str(value: &str) -> Result<Self, BadTraceParent> {
        let value = value.trim();
        // ASCII only, so that slicing by byte index below cannot split a character.
        if !value.is_ascii() {
            return Err(BadTraceParent("not ASCII"));
        }
        let bytes = value.as_bytes();
        if bytes.len() < 55 {
            return Err(BadTraceParent("shorter than 55 characters"));
        }
        let version = parse_hex::<1>(&value[0..2]).ok_or(BadTraceParent("version"))?[0];
        if version == 0xff {
            return Err(BadTraceParent("version ff"));
        }
        let extra_ok = bytes.len() == 55 || (version != 0 && bytes[55] == b'-');
        if !extra_ok || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(BadTraceParent("layout"));
        }
        let trace_id = parse_hex::<16>(&value[3..35]).ok_or(BadTraceParent("trace id"))?;
        let parent_id = parse_hex::<8>(&value[36..52]).ok_or(BadTraceParent("parent id"))?;
        let flags = parse_hex::<1>(&value[53..55]).ok_or(BadTraceParent("flags"))?[0];
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return Err(BadTraceParent("an all-zero id"));
        }
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }
}

impl fmt::Display for TraceParent {
    /// The header value, version `00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.parent_id_hex(),
            self.flags
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` bytes from `2N` lowercase hex digits.
fn parse_hex<const N: usize>(digits: &str) -> Option<[u8; N]> {
    let digits = digits.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

impl Record {
    /// The record's W3C trace context, from its `traceparent` header; `None` without the
    /// header or with a value that is not one.
    pub fn trace_parent(&self) -> Option<TraceParent> {
        self.header_str(TRACEPARENT)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_spec_example_parses_and_prints_back() {
        let tp: TraceParent = SPEC_EXAMPLE.parse().unwrap();
        assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");
        assert_eq!(tp.flags, 1);
        assert_eq!(tp.to_string(), SPEC_EXAMPLE);
    }

    #[test]
    fn malformed_values_are_refused() {
        let bad = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ];
        for value in bad {
            assert!(value.parse::<TraceParent>().is_err(), "{value:?}");
        }
    }

    #[test]
    fn a_later_version_may_append_fields() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more";
        let tp: TraceParent = later.parse().unwrap();
        assert!(!tp.sampled());
    }
}
