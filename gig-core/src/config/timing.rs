//! The waits a config implies: ack timeouts, revocation and commit periods.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    millis_property, ConsumerConfig, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_MAX_POLL_INTERVAL,
    HANDOVER_GRACE, MAX_POLL_INTERVAL, REVOCATION_MARGIN,
};
use crate::record::Record;

impl ConsumerConfig {
    /// The ack timeout `record` got: its own from the header, when the header is set and
    /// valid, else `ack_timeout`. (The consumer warns of an invalid header when it tracks
    /// the record; this reads it again quietly, e.g. to say how long a timed-out record had.)
    pub fn ack_timeout_of(&self, record: &Record) -> Duration {
        self.ack_timeout_header
            .as_ref()
            .and_then(|h| h.timeout_of(record)?.ok())
            .unwrap_or(self.ack_timeout)
    }

    /// The longest a record may wait for its ack: `ack_timeout`, or the header's maximum
    /// when that is longer.
    pub fn longest_ack_timeout(&self) -> Duration {
        let header_max = self.ack_timeout_header.as_ref().map(|h| h.max);
        self.ack_timeout.max(header_max.unwrap_or_default())
    }

    /// How long a stop waits for in-flight records to be resolved and handed over: the
    /// longest ack timeout plus 5 s of grace to hand over. A revocation waits as long, within the
    /// rebalance timeout ([`revocation_wait`](Self::revocation_wait)).
    pub fn resolve_wait(&self) -> Duration {
        self.longest_ack_timeout().saturating_add(HANDOVER_GRACE)
    }

    /// The rebalance timeout this member gives the broker: librdkafka 2.12 sends
    /// `max.poll.interval.ms` as the classic JoinGroup's `RebalanceTimeoutMs` and as the
    /// KIP-848 ConsumerGroupHeartbeat's. A classic group waits that long for the member to
    /// rejoin once a rebalance began; a KIP-848 group waits that long for it to give up
    /// revoked partitions; either then expels it. This is the value
    /// [`client_properties`](Self::client_properties) sets: the user's, else Gig's (see
    /// there), else librdkafka's default.
    pub fn rebalance_timeout(&self) -> Duration {
        let set = |props: &BTreeMap<String, String>| millis_property(props, MAX_POLL_INTERVAL);
        set(&self.properties)
            .or_else(|| set(&self.gig_defaults()))
            .unwrap_or(DEFAULT_MAX_POLL_INTERVAL)
    }

    /// How long before the end of its [`rebalance_timeout`](Self::rebalance_timeout) a
    /// revocation stops waiting: 3 s of room to commit and rejoin, plus the heartbeat interval under
    /// the classic protocol, and at most half the timeout.
    pub fn revocation_margin(&self) -> Duration {
        let margin = REVOCATION_MARGIN + self.heartbeat_lag();
        margin.min(self.rebalance_timeout() / 2)
    }

    /// How late a member may learn that a rebalance began: a classic member learns it from
    /// a heartbeat, one `heartbeat.interval.ms` at most; a KIP-848 member's revocation timer
    /// starts with the heartbeat answer that revokes.
    pub(super) fn heartbeat_lag(&self) -> Duration {
        match self.uses_consumer_protocol() {
            true => Duration::ZERO,
            false => millis_property(&self.properties, "heartbeat.interval.ms")
                .unwrap_or(DEFAULT_HEARTBEAT_INTERVAL),
        }
    }

    /// How long a revocation waits for its partitions' in-flight records to be resolved
    /// and handed over: [`resolve_wait`](Self::resolve_wait), but never past the rebalance
    /// timeout less the [`revocation_margin`](Self::revocation_margin), so that the member
    /// commits and rejoins before the group expels it. Records unresolved by then are
    /// left to the partitions' next owner.
    pub fn revocation_wait(&self) -> Duration {
        let bound = self.rebalance_timeout() - self.revocation_margin();
        self.resolve_wait().min(bound)
    }

    /// Why a revocation may leave records to the next owner, when the user's
    /// `max.poll.interval.ms` is too short for [`resolve_wait`](Self::resolve_wait); said
    /// once, at start. `None` when it fits (Gig raises the property itself when the user
    /// did not set it).
    pub fn revocation_warning(&self) -> Option<String> {
        let (wait, resolve) = (self.revocation_wait(), self.resolve_wait());
        if wait >= resolve {
            return None;
        }
        let set = match self.properties.contains_key(MAX_POLL_INTERVAL) {
            true => "is",
            false => "is at librdkafka's maximum,",
        };
        let timeout = match self.ack_timeout_header.is_some() {
            true => "`ack_timeout` (or the ack-timeout header's `max`)",
            false => "`ack_timeout`",
        };
        Some(format!(
            "`max.poll.interval.ms` {set} {} ms: the group waits that long for this member in a rebalance, \
             less {} ms of margin; {timeout} of {} ms plus {} s to hand over needs more: a revocation waits \
             {} ms for its records and leaves those still unresolved to the partitions' next owner \
             (raise `max.poll.interval.ms` to at least {} ms to wait for them)",
            self.rebalance_timeout().as_millis(),
            self.revocation_margin().as_millis(),
            self.longest_ack_timeout().as_millis(),
            HANDOVER_GRACE.as_secs(),
            wait.as_millis(),
            (resolve + REVOCATION_MARGIN + self.heartbeat_lag()).as_millis(),
        ))
    }

    /// How often resolved offsets are committed: `transactional.interval` in the
    /// transactional mode, else `commit_interval`.
    pub fn commit_period(&self) -> Duration {
        self.transactional
            .as_ref()
            .map_or(self.commit_interval, |t| t.interval)
    }
}
