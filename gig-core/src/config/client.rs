//! The librdkafka properties a config gives the Kafka client.

use std::collections::BTreeMap;

use super::{
    ConsumerConfig, DEFAULT_MAX_POLL_INTERVAL, MAX_POLL_INTERVAL, MOST_MAX_POLL_INTERVAL, RESERVED,
    REVOCATION_MARGIN,
};

impl ConsumerConfig {
    /// librdkafka properties Gig sets unless the user does (see
    /// [`client_properties`](Self::client_properties)).
    pub(super) fn gig_defaults(&self) -> BTreeMap<String, String> {
        let mut props = BTreeMap::new();
        // A new group reads a topic from the start.
        props.insert("auto.offset.reset".to_string(), "earliest".to_string());
        // librdkafka stops fetching a partition whose local queue passed
        // `queued.min.messages` and looks again only after this back-off (1 s by default).
        // Gig's in-flight gate holds consumption now and then, so the queue passes that
        // mark often, and a partition then sat idle for the whole second.
        props.insert("fetch.queue.backoff.ms".to_string(), "10".to_string());
        // Incremental rebalancing: partitions that stay keep flowing during a rebalance,
        // and a member revokes only once the group has synced, so the commit Gig makes on
        // revocation lands in a stable group instead of being refused mid-join. The
        // consumer protocol is incremental by design and its assignor is the broker's.
        if !self.uses_consumer_protocol() {
            props.insert(
                "partition.assignment.strategy".to_string(),
                "cooperative-sticky".to_string(),
            );
        }
        // A revocation waits up to `resolve_wait` for its records, inside the rebalance
        // timeout: raise it past librdkafka's default when the ack timeout needs more.
        let margin = REVOCATION_MARGIN + self.heartbeat_lag();
        let needed = self.resolve_wait().saturating_add(margin);
        if needed > DEFAULT_MAX_POLL_INTERVAL {
            let raised = needed.min(MOST_MAX_POLL_INTERVAL).as_millis();
            props.insert(MAX_POLL_INTERVAL.to_string(), raised.to_string());
        }
        props
    }

    /// Whether the consumer joins its group with the KIP-848 consumer protocol
    /// (`group.protocol=consumer`) rather than the classic one.
    pub fn uses_consumer_protocol(&self) -> bool {
        self.properties
            .get("group.protocol")
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("consumer"))
    }

    /// The librdkafka properties for the consumer: the user's, then Gig's own.
    pub fn client_properties(&self) -> BTreeMap<String, String> {
        let mut props = self.gig_defaults();
        props.extend(self.properties.clone());
        props.insert("bootstrap.servers".to_string(), self.brokers.clone());
        props.insert("group.id".to_string(), self.group_id.clone());
        if self.transactional.is_some() {
            // librdkafka's default, said out loud: offsets are fetched stable (KIP-447) and
            // records of aborted transactions are skipped.
            props.insert("isolation.level".to_string(), "read_committed".to_string());
        }
        for (key, value, _) in RESERVED {
            props.insert(key.to_string(), value.to_string());
        }
        props
    }
}
