//! Reading a config: the settings its drivers act on. The fields are private so that
//! every config a consumer runs went through the setters and validation; a getter whose
//! setter already has the field's name gets a name of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{AckTimeoutHeader, ConsumerConfig};
use crate::transactional::Transactional;

impl ConsumerConfig {
    /// Bootstrap servers, comma-separated (librdkafka's `bootstrap.servers`).
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Consumer group id (`group.id`).
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// Topics subscribed to when the consumer starts ([`topics`](Self::topics) sets
    /// them); empty to subscribe or assign later.
    pub fn topic_names(&self) -> &[String] {
        &self.topics
    }

    /// The ack timeout of a record without one of its own
    /// ([`ack_timeout`](Self::ack_timeout) sets it).
    pub fn default_ack_timeout(&self) -> Duration {
        self.ack_timeout
    }

    /// The header through which a record may set its own ack timeout, if any
    /// ([`ack_timeout_header`](Self::ack_timeout_header) sets it).
    pub fn timeout_header(&self) -> Option<&AckTimeoutHeader> {
        self.ack_timeout_header.as_ref()
    }

    /// Whether a record waits for the time in its `gig.retry.due` header
    /// ([`wait_for_due`](Self::wait_for_due) sets it).
    pub fn waits_for_due(&self) -> bool {
        self.wait_for_due
    }

    /// Records in flight before fetching pauses
    /// ([`max_in_flight`](Self::max_in_flight) sets it).
    pub fn in_flight_limit(&self) -> usize {
        self.max_in_flight
    }

    /// Records in flight or not yet confirmed committed before fetching pauses, if
    /// limited ([`max_uncommitted`](Self::max_uncommitted) sets it).
    pub fn uncommitted_limit(&self) -> Option<usize> {
        self.max_uncommitted
    }

    /// The poll thread's nice increment
    /// ([`poll_thread_nice`](Self::poll_thread_nice) sets it).
    pub fn poll_thread_niceness(&self) -> u8 {
        self.poll_thread_nice
    }

    /// How often the consumer logs its stats, if it does
    /// ([`stats_interval`](Self::stats_interval) sets it).
    pub fn stats_period(&self) -> Option<Duration> {
        self.stats_interval
    }

    /// The transactional mode's settings, when the consumer commits in transactions
    /// ([`transactional`](Self::transactional) sets them).
    pub fn transactional_settings(&self) -> Option<&Transactional> {
        self.transactional.as_ref()
    }

    /// The librdkafka properties set on this config, passed through untouched
    /// ([`property`](Self::property) sets one). [`client_properties`](Self::client_properties)
    /// adds Gig's own.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }
}
