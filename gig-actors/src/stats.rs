//! Counters and offsets of one consumer, serialisable to JSON.

use std::collections::BTreeMap;
use std::ops::Deref;

use std::time::Instant;

use gig_core::{Fault, Partition, Pipeline, Role};

pub use gig_core::Counters;
use serde::Serialize;

/// A snapshot of a consumer, as returned by [`GetStats`](crate::GetStats),
/// [`CaughtUp`](crate::CaughtUp) and [`Stop`](crate::Stop).
///
/// What each figure counts, in one place (counters count records since the consumer
/// started, unless they say otherwise; `Stats` dereferences to [`Counters`], so
/// `stats.acked` reads one):
///
/// | field | counts |
/// | --- | --- |
/// | `received` | records fetched and tracked (each once, refetches not included) |
/// | `discarded` | records fetched after a stop began, or fetched again below an offset already tracked: never delivered |
/// | `acked` | records the downstream acked in time, **routed** to the AckedActor (not yet necessarily accepted by it) |
/// | `nacked` | records the downstream nacked, routed to the NoAckedActor (reason [`NoAckReason::Nacked`](crate::NoAckReason::Nacked)) |
/// | `timed_out` | records not answered by their deadline, routed to the NoAckedActor |
/// | `undecodable` | records a typed downstream could not decode, routed to the NoAckedActor |
/// | `dropped` | records whose `Delivery`/`AckHandle` was dropped unanswered by a living downstream, routed to the NoAckedActor |
/// | `panicked` | records a handler panicked on (the downstream's, or the AckedActor's with the record alone in its hand-over), routed to the NoAckedActor |
/// | `crashed` | records whose deliveries consumer processes did not survive `max_deliveries` times, routed to the NoAckedActor undelivered |
/// | [`no_acked()`](Counters::no_acked) | the sum of the six above: every record routed to the NoAckedActor |
/// | `redelivered` | records delivered again to a restarted downstream (its dead instance had taken them, and not panicked on them) |
/// | `handed_over` | records the Acked or NoAcked actor **accepted** (answered `Ok`): only these may be committed. `acked + no_acked() - handed_over` are routed and not yet accepted |
/// | `handover_failures` | hand-over batches refused or not taken (each is offered again) |
/// | `late_answers` | answers for records already routed (timed out, or answered before): counted, ignored |
/// | `unknown_answers` | answers for records of a partition released meanwhile: counted, ignored |
/// | `left_to_next_owner` | records of revoked partitions still unresolved when the revocation's wait ended (within the rebalance timeout, [`ConsumerConfig::revocation_wait`](gig_core::ConsumerConfig::revocation_wait)): never handed over here; the next owner reads them again |
/// | `commits` / `commit_failures` | commit requests made / failed (a failed one is sent again) |
/// | `in_flight` | records now fetched and not yet handed over (what `max_in_flight` limits) |
/// | `queued_by_key` | of those, records waiting behind another of their key (key ordering) |
/// | `partitions[].committable` | the offset Gig would commit now: one past the longest prefix of handed-over records |
/// | `partitions[].committed` | the offset the broker confirmed as committed: **the next offset to read**, as Kafka's committed offsets are (one past the last record handed over) |
/// | `partitions[].high_watermark`, `lag` | the offset the next produced record gets, and `high_watermark - committed` (with `statistics.interval.ms` set) |
/// | `rebalances`, `assignment` | group assignments this member took part in; the partitions it holds now |
/// | `client_errors`, `last_client_error` | errors librdkafka reported (it retries them itself) |
/// | `client_errors_by_kind` | the same errors by [`FaultKind`](gig_core::FaultKind) name |
/// | `supervision` | restarts per role of the user actors given as factories, how each last died, records set aside, and why the consumer is stalled ([`SupervisionStats`]) |
/// | `faults` | what cannot be read until someone acts: a partition, a topic or the client, with the kind, librdkafka's text, the count and since when ([`Fault`]) |
/// | `outputs`, `outputs_committed`, `transactions`, `transactions_aborted`, `rewinds` | the transactional mode's work |
///
/// Names: the NoAckedActor receives [`NoAcked`](crate::NoAcked) batches for every record
/// that was not acked, whatever the reason; [`NoAckReason::Nacked`](crate::NoAckReason::Nacked)
/// is the one reason where the downstream said no. The embedded broker is
/// `testkit::EmbeddedBroker`; `testkit::Broker` chooses between it and an external one.
///
/// ```no_run
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # async fn demo(consumer: Addr<ConsumerActor>) -> Result<(), GigError> {
/// let stats = consumer.send(GetStats).await?;
/// let waiting = stats.acked + stats.no_acked() - stats.handed_over;
/// println!("{} in flight, {waiting} routed and not yet accepted", stats.in_flight);
/// println!("next offsets to read: {}", stats.committed_summary());
/// let json = serde_json::to_string(&stats).unwrap(); // the line `stats_interval` logs
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Where the records went: received, acked, nacked, timed out, dropped, handed over,
    /// commits… `Stats` dereferences to them, so `stats.acked` reads one.
    #[serde(flatten)]
    pub counters: Counters,
    /// Records delivered and not yet handed over.
    pub in_flight: u64,
    /// Of those, records waiting behind another of their key (key ordering), not yet
    /// delivered.
    pub queued_by_key: u64,
    /// Rebalances this member completed (each group-assignment callback, even one that
    /// brings no new partitions).
    pub rebalances: u64,
    /// Errors the Kafka client reported: an unreachable broker, an unknown topic, a
    /// failed fetch. librdkafka retries them itself; they are counted here so that a
    /// consumer that cannot make progress says why.
    pub client_errors: u64,
    /// The last of those errors that says something new: a repeat without the broker's
    /// reason, or librdkafka's "all brokers are down", does not hide the error before it
    /// that named the broker.
    pub last_client_error: Option<String>,
    /// The same errors counted by kind ([`FaultKind`](gig_core::FaultKind) names:
    /// `codec`, `authentication`, `tls`, `authorization`, `transport`, …).
    pub client_errors_by_kind: BTreeMap<String, u64>,
    /// What the consumer cannot read until someone acts, each kept until what it blocks
    /// reads again: a partition whose records this build cannot decompress, a topic or
    /// group an ACL denies, credentials or a certificate the broker refuses. Empty when
    /// all is well. librdkafka retries all of these without end; without this list such a
    /// stall looks like an idle topic. [`Health`](crate::Health) is not live while one is
    /// open.
    pub faults: Vec<Fault>,
    /// Whether fetching is paused: by the in-flight limit, or because a user actor is down
    /// for good or a record is stuck (see [`supervision`](Self::supervision)).
    pub paused: bool,
    /// The user actors' lives: how often each given as a factory was started again, how it
    /// last died, and what stalls the consumer.
    pub supervision: SupervisionStats,
    /// Partitions currently assigned to this consumer, as `topic/partition`.
    pub assignment: Vec<String>,
    /// Per-partition offsets.
    pub partitions: Vec<PartitionStats>,
    /// The transactional mode's state; `None` for an at-least-once consumer. Its counters
    /// (`transactions`, `transactions_aborted`, `outputs`, `outputs_committed`, `rewinds`)
    /// are among the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactional: Option<TransactionStats>,
    /// librdkafka's own statistics (its documented STATISTICS.md JSON, with per-partition
    /// `consumer_lag`), the latest emitted, when the `statistics.interval.ms` property is
    /// set; otherwise `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub librdkafka: Option<serde_json::Value>,
}

/// The state of a transactional consumer's producer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TransactionStats {
    /// The transactional id.
    pub id: String,
    /// Whether the producer has registered its transactional id with its coordinator
    /// (which fences any earlier producer with that id and aborts what it left open).
    pub ready: bool,
    /// Whether the producer is fenced: another producer took its transactional id (this
    /// consumer is a zombie), or it failed for good. A fenced consumer no longer delivers,
    /// hands over or commits, and has left its group.
    pub fenced: bool,
    /// Whether a transaction is in flight.
    pub in_transaction: bool,
    /// How many times a new producer took the transactional id because the broker had
    /// aborted a transaction that outlived `transaction.timeout.ms` (which fences the
    /// producer, as a zombie is fenced); that transaction counts as aborted.
    pub producers_replaced: u64,
    /// Why the last transaction that did not commit did not (not begun, aborted, fenced).
    pub last_error: Option<String>,
}

/// The lives of a consumer's user actors, as [`Stats::supervision`] reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SupervisionStats {
    /// Restarts per role (`downstream`, `acked`, `no_acked`) of the actors given as
    /// factories; a role given as an address never restarts.
    pub restarts: BTreeMap<String, u64>,
    /// How each role's actor last died (a panic's message, or that it stopped), per role.
    pub last_death: BTreeMap<String, String>,
    /// Records the NoAckedActor died on alone, as `topic/partition@offset`: set aside,
    /// never committed past.
    pub stuck: Vec<String>,
    /// Why the consumer cannot make progress by itself (a user actor down for good, a
    /// stuck record, hand-overs refused past `handover_refused_limit`); `None` when it can.
    pub stall: Option<String>,
}

impl SupervisionStats {
    fn of(pipeline: &Pipeline, now: Instant) -> Self {
        let supervision = pipeline.supervision();
        let restarts = Role::ALL
            .into_iter()
            .filter(|role| supervision.is_supervised(*role))
            .map(|role| (role.name().to_string(), supervision.restarts(role)))
            .collect();
        let last_death = Role::ALL
            .into_iter()
            .filter_map(|role| {
                let why = supervision.last_death(role)?;
                Some((role.name().to_string(), why.to_string()))
            })
            .collect();
        let stuck = pipeline
            .stuck()
            .iter()
            .map(|s| format!("{}/{}@{}", s.partition.0, s.partition.1, s.offset))
            .collect();
        SupervisionStats {
            restarts,
            last_death,
            stuck,
            stall: pipeline.stall(now),
        }
    }
}

/// Offsets of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PartitionStats {
    /// The topic of the partition.
    pub topic: String,
    /// The partition within its topic.
    pub partition: i32,
    /// The next offset to commit: one past the handed-over prefix.
    pub committable: Option<i64>,
    /// The offset the broker last confirmed as committed: the next offset to read (one
    /// past the last record handed over), as Kafka's committed offsets are.
    pub committed: Option<i64>,
    /// Records of this partition not yet handed over.
    pub in_flight: u64,
    /// The partition's high watermark (the offset the next produced record gets), from
    /// librdkafka's statistics: `None` unless the `statistics.interval.ms` property is set.
    pub high_watermark: Option<i64>,
    /// Records not yet committed: `high_watermark - committed`, when both are known.
    pub lag: Option<i64>,
}

impl PartitionStats {
    /// The entry of `key` in `partitions`, added empty if it is not there.
    fn of<'a>(
        partitions: &'a mut BTreeMap<Partition, PartitionStats>,
        key: &Partition,
    ) -> &'a mut PartitionStats {
        partitions
            .entry(key.clone())
            .or_insert_with(|| PartitionStats {
                topic: key.0.to_string(),
                partition: key.1,
                committable: None,
                committed: None,
                in_flight: 0,
                high_watermark: None,
                lag: None,
            })
    }
}

impl Stats {
    /// What the pipeline knows: its counters, and per partition the committable offset,
    /// the confirmed commit and the records in flight. The consumer adds what its Kafka
    /// client knows.
    pub(crate) fn of(pipeline: &Pipeline, now: Instant) -> Stats {
        let mut partitions: BTreeMap<Partition, PartitionStats> = BTreeMap::new();
        for (key, &offset) in pipeline.committed() {
            PartitionStats::of(&mut partitions, key).committed = Some(offset);
        }
        for progress in pipeline.partitions() {
            let p = PartitionStats::of(&mut partitions, &progress.partition);
            p.committable = progress.committable;
            p.in_flight = progress.unresolved as u64;
        }
        Stats {
            counters: pipeline.counters().clone(),
            in_flight: pipeline.unresolved() as u64,
            queued_by_key: pipeline.queued_by_key() as u64,
            partitions: partitions.into_values().collect(),
            supervision: SupervisionStats::of(pipeline, now),
            ..Stats::default()
        }
    }

    /// The committed offset of a partition (the next offset to read), if known.
    pub fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.partitions
            .iter()
            .find(|p| p.topic == topic && p.partition == partition)
            .and_then(|p| p.committed)
    }

    /// `topic/partition=offset` for every committed partition, or `none`.
    pub fn committed_summary(&self) -> String {
        let parts: Vec<String> = self
            .partitions
            .iter()
            .filter_map(|p| {
                p.committed
                    .map(|c| format!("{}/{}={}", p.topic, p.partition, c))
            })
            .collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(",")
        }
    }
}

impl Deref for Stats {
    type Target = Counters;

    fn deref(&self) -> &Counters {
        &self.counters
    }
}
