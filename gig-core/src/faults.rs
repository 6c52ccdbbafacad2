//! What keeps a consumer from reading, per partition, topic or client: the fault book.
//!
//! librdkafka retries every error itself, so a partition it cannot read (a codec it was
//! built without, corrupt data, an ACL that denies the topic, credentials the broker
//! refuses) stalls with no end, and the consumer looks like one on an idle topic. The
//! book keeps each such *blocking* fault until the thing it blocks makes progress, so
//! `Stats` and the health answer can name it, and counts every error by [`FaultKind`] for
//! metrics. It does no I/O and reads no clock: events come with `now`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What kind of error the Kafka client reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Records compressed with a codec this build cannot decompress (e.g. zstd on a build
    /// without the `zstd` feature), or a decompression failure.
    Codec,
    /// Records that fail their checksum or cannot be parsed.
    Corrupt,
    /// The broker refused the client's credentials (SASL).
    Authentication,
    /// The TLS handshake failed: an untrusted or expired certificate, a host-name
    /// mismatch, a protocol the other side does not speak.
    Tls,
    /// An ACL denies what the client asked: a topic, the group, a transactional id.
    Authorization,
    /// A committed or requested offset is outside the partition's log, and
    /// `auto.offset.reset` says not to move it (`error`).
    OffsetOutOfRange,
    /// The client can go no further (librdkafka's fatal error); a new consumer is needed.
    Fatal,
    /// The topic or partition does not exist (yet).
    UnknownTopic,
    /// A broker could not be reached, or a connection dropped. librdkafka reconnects.
    Transport,
    /// Anything else.
    Other,
}

impl FaultKind {
    /// Every kind, in order.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Codec,
        FaultKind::Corrupt,
        FaultKind::Authentication,
        FaultKind::Tls,
        FaultKind::Authorization,
        FaultKind::OffsetOutOfRange,
        FaultKind::Fatal,
        FaultKind::UnknownTopic,
        FaultKind::Transport,
        FaultKind::Other,
    ];

    /// The kind's name, as in `Stats` JSON and the metric's `kind` label.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Codec => "codec",
            FaultKind::Corrupt => "corrupt",
            FaultKind::Authentication => "authentication",
            FaultKind::Tls => "tls",
            FaultKind::Authorization => "authorization",
            FaultKind::OffsetOutOfRange => "offset_out_of_range",
            FaultKind::Fatal => "fatal",
            FaultKind::UnknownTopic => "unknown_topic",
            FaultKind::Transport => "transport",
            FaultKind::Other => "other",
        }
    }

    /// Whether an error of this kind stops reading until someone acts (a rebuild, an ACL,
    /// new credentials, a seek): such an error is kept as a fault until what it blocks
    /// makes progress. The others are passing states librdkafka retries through (a broker
    /// restarting, a topic being created) and are only counted.
    pub fn blocks_reading(self) -> bool {
        !matches!(
            self,
            FaultKind::UnknownTopic | FaultKind::Transport | FaultKind::Other
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an error is about: one partition, a whole topic, the client (its connections, its
/// group), or a transactional consumer's producer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FaultScope {
    /// The client as a whole.
    Client,
    /// Every partition of a topic.
    Topic(Arc<str>),
    /// One partition.
    Partition(Arc<str>, i32),
    /// The transactional producer of a transactional consumer: it cannot commit.
    Transactions,
}

impl FaultScope {
    /// The scope of an error about `topic` (if named) and `partition` (librdkafka gives
    /// -1 when the error is about the whole topic).
    pub fn of(topic: Option<&str>, partition: i32) -> FaultScope {
        match topic {
            None | Some("") => FaultScope::Client,
            Some(topic) if partition < 0 => FaultScope::Topic(Arc::from(topic)),
            Some(topic) => FaultScope::Partition(Arc::from(topic), partition),
        }
    }

    fn topic(&self) -> Option<&Arc<str>> {
        match self {
            FaultScope::Client | FaultScope::Transactions => None,
            FaultScope::Topic(t) | FaultScope::Partition(t, _) => Some(t),
        }
    }
}

impl fmt::Display for FaultScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultScope::Client => f.write_str("the client"),
            FaultScope::Topic(t) => write!(f, "topic {t}"),
            FaultScope::Partition(t, p) => write!(f, "{t}/{p}"),
            FaultScope::Transactions => f.write_str("the transactional producer"),
        }
    }
}

/// A blocking error that has not cleared: what it is about, what it is, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Fault {
    /// What it is about, for a person: `orders/3`, `topic orders`, `the client`, `the
    /// transactional producer`.
    pub on: String,
    /// The topic, when the fault is a topic's or a partition's.
    pub topic: Option<String>,
    /// The partition, when the fault is one partition's.
    pub partition: Option<i32>,
    /// The kind of error.
    pub kind: FaultKind,
    /// librdkafka's text of the latest occurrence.
    pub message: String,
    /// How many times it was reported since it began.
    pub count: u64,
    /// How long since it was first reported, in milliseconds.
    pub for_ms: u64,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error on {} ({} time(s) in {:.1} s): {}",
            self.kind,
            self.on,
            self.count,
            self.for_ms as f64 / 1000.0,
            self.message
        )
    }
}

#[derive(Debug, Clone)]
struct Open {
    kind: FaultKind,
    message: String,
    count: u64,
    since: Instant,
}

/// Every error counted by kind, and the blocking ones kept until they clear.
#[derive(Debug, Default, Clone)]
pub struct FaultBook {
    open: BTreeMap<FaultScope, Open>,
    totals: BTreeMap<FaultKind, u64>,
}

impl FaultBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// An error was reported. A blocking one is kept (the latest text replaces the
    /// earlier one; the count and start stay) until [`handle_progress`](Self::handle_progress)
    /// or [`handle_assigned`](Self::handle_assigned) clears it. Returns whether a new
    /// fault opened, for a caller that logs the first occurrence louder than the rest.
    pub fn handle_error(
        &mut self,
        scope: FaultScope,
        kind: FaultKind,
        message: &str,
        now: Instant,
    ) -> bool {
        *self.totals.entry(kind).or_default() += 1;
        if !kind.blocks_reading() {
            return false;
        }
        let mut opened = false;
        let open = self.open.entry(scope).or_insert_with(|| {
            opened = true;
            Open {
                kind,
                message: String::new(),
                count: 0,
                since: now,
            }
        });
        open.kind = kind;
        open.count += 1;
        message.clone_into(&mut open.message);
        opened
    }

    /// A record of `topic`/`partition` was fetched: that partition, its topic, and the
    /// client's connection all work, so their faults clear (a fatal one never does).
    pub fn handle_progress(&mut self, topic: &str, partition: i32) {
        self.open.retain(|scope, open| match scope {
            FaultScope::Client => open.kind == FaultKind::Fatal,
            FaultScope::Topic(t) => &**t != topic,
            FaultScope::Partition(t, p) => !(&**t == topic && *p == partition),
            FaultScope::Transactions => true,
        });
    }

    /// The group assigned partitions: the client authenticated and may use its group, and
    /// may read the assigned partitions' topics. Client faults (but a fatal one) and the
    /// topic-wide faults of `topics` clear; a partition's own fault stays until it reads.
    pub fn handle_assigned<'a>(&mut self, topics: impl IntoIterator<Item = &'a str>) {
        let topics: Vec<&str> = topics.into_iter().collect();
        self.open.retain(|scope, open| match scope {
            FaultScope::Client => open.kind == FaultKind::Fatal,
            FaultScope::Topic(t) => !topics.contains(&&**t),
            FaultScope::Partition(..) | FaultScope::Transactions => true,
        });
    }

    /// A transaction committed: the transactional producer works again (a fenced one
    /// never commits, so its fault stays).
    pub fn handle_transaction_committed(&mut self) {
        self.open.remove(&FaultScope::Transactions);
    }

    /// Whether any blocking fault is open.
    pub fn is_blocked(&self) -> bool {
        !self.open.is_empty()
    }

    /// Whether a fault is open on exactly this scope.
    pub fn is_open(&self, scope: &FaultScope) -> bool {
        self.open.contains_key(scope)
    }

    /// Whether a fault is open on this partition or its topic: a cheap check a caller
    /// makes before [`handle_progress`](Self::handle_progress).
    pub fn blocks(&self, topic: &str, partition: i32) -> bool {
        self.open.keys().any(|scope| match scope {
            FaultScope::Client | FaultScope::Transactions => false,
            FaultScope::Topic(t) => &**t == topic,
            FaultScope::Partition(t, p) => &**t == topic && *p == partition,
        })
    }

    /// The open faults, client first, then by topic and partition.
    pub fn faults(&self, now: Instant) -> Vec<Fault> {
        self.open
            .iter()
            .map(|(scope, open)| Fault {
                on: scope.to_string(),
                topic: scope.topic().map(|t| t.to_string()),
                partition: match scope {
                    FaultScope::Partition(_, p) => Some(*p),
                    _ => None,
                },
                kind: open.kind,
                message: open.message.clone(),
                count: open.count,
                for_ms: duration_ms(now.saturating_duration_since(open.since)),
            })
            .collect()
    }

    /// How many errors of each kind were reported, blocking or not.
    pub fn totals(&self) -> &BTreeMap<FaultKind, u64> {
        &self.totals
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
