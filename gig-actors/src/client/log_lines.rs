//! librdkafka's own log lines, as Gig passes them on: under the target `librdkafka`, with
//! its error-level lines at `debug`.
//!
//! librdkafka logs a failure it also reports as an error (a refused login, a TLS
//! handshake, a denied topic), and rdkafka's default context logs that error once more: a
//! wrong password gave 16 `ERROR` lines in 10 s. Gig reports each fault itself, once, as
//! an `error` line of its own (`cannot read: …` for a consumer, `… cannot produce: …` for
//! a producer) and keeps counting the repeats; librdkafka's lines for the same failure are
//! there at `debug` for whoever needs librdkafka's detail. Its warnings (a property the
//! client ignores, …) stay warnings.

use log::{debug, info, warn};
use rdkafka::config::RDKafkaLogLevel;

/// Passes one librdkafka log line to the `log` crate.
pub(crate) fn forward(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error
        | RDKafkaLogLevel::Debug => {
            debug!(target: "librdkafka", "librdkafka: {facility} {message}")
        }
        RDKafkaLogLevel::Warning => warn!(target: "librdkafka", "librdkafka: {facility} {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            info!(target: "librdkafka", "librdkafka: {facility} {message}")
        }
    }
}
