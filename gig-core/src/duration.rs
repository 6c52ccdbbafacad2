//! Durations in Gig's settings: the longest one taken, and their JSON form (whole
//! milliseconds).

use std::time::Duration;

/// The longest duration Gig takes for any of its settings (ack timeouts, intervals). Each
/// unresolved record is held in memory until its deadline, and a stop or a revocation waits
/// for the longest ack timeout, so a longer value is a unit mistake, not a plan: with
/// `ack_timeout_ms` = 2^64 - 1 a silent record would never time out and `Stop` never answer.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// `serde(with = "millis")`: a duration as whole milliseconds.
pub(crate) mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// `serde(with = "opt_millis")`: an optional duration as whole milliseconds.
pub(crate) mod opt_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}
