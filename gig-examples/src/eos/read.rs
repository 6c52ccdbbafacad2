//! Reading the outputs back: a `read_committed` (or uncommitted) reader of the output,
//! dead-letter and retry topics, the tally of what it read, and a group's lag.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use gig_actors::dead_letter::{ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message as _};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;

/// A record a [`read_committed`] reader read.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// Where it was read.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its payload as text.
    pub payload: String,
    /// Its source, from the `gig.original.*` headers: topic, partition, offset.
    pub source: Option<(String, i32, i64)>,
}

/// Why reading back failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// librdkafka refused a request.
    #[error("{action}: {source}")]
    Kafka {
        /// What the reader was doing.
        action: &'static str,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// Not every partition reached its end in time.
    #[error(
        "read {read} record(s); {pending} partition(s) did not reach their end within {timeout:?}"
    )]
    Timeout {
        /// Records read so far.
        read: usize,
        /// Partitions not at their end.
        pending: usize,
        /// How long it waited.
        timeout: Duration,
    },
}

fn kafka(action: &'static str) -> impl FnOnce(KafkaError) -> ReadError {
    move |source| ReadError::Kafka { action, source }
}

/// How a reader treats records written in transactions (librdkafka's `isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Only records of committed transactions (and records written outside one).
    ReadCommitted,
    /// Every record in the log, aborted ones too.
    ReadUncommitted,
}

impl Isolation {
    fn property(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        }
    }
}

/// Reads every partition of `topics` from the start to its end as an rdkafka consumer with
/// `isolation.level=read_committed` sees them: records of aborted transactions, and of
/// transactions not yet committed, are not returned. Plain rdkafka, no Gig, no group.
pub fn read_committed(
    brokers: &str,
    topics: &[String],
    timeout: Duration,
) -> Result<Vec<ReadRecord>, ReadError> {
    read(brokers, topics, Isolation::ReadCommitted, timeout)
}

/// Reads every partition of `topics` from the start to its end with `isolation`.
pub fn read(
    brokers: &str,
    topics: &[String],
    isolation: Isolation,
    timeout: Duration,
) -> Result<Vec<ReadRecord>, ReadError> {
    let until = Instant::now() + timeout;
    let mut read = Vec::new();
    for topic in topics {
        read_topic(brokers, topic, isolation, until, timeout, &mut read)?;
    }
    Ok(read)
}

/// A reader's librdkafka callbacks: the end of a partition is what it waits for, not an
/// error to log.
struct Reader;

impl ClientContext for Reader {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
            log::error!("reader: {error}: {reason}");
        }
    }
}

impl ConsumerContext for Reader {}

/// Reads one topic to the end of each partition. One consumer per topic: rdkafka's
/// end-of-partition event names the partition, not its topic.
fn read_topic(
    brokers: &str,
    topic: &str,
    isolation: Isolation,
    until: Instant,
    timeout: Duration,
    read: &mut Vec<ReadRecord>,
) -> Result<(), ReadError> {
    let consumer: BaseConsumer<Reader> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("gig-read-committed-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation.property())
        .set("enable.partition.eof", "true")
        .create_with_context(Reader)
        .map_err(kafka("creating the reader"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(kafka("reading topic metadata"))?;
    let mut tpl = TopicPartitionList::new();
    let mut pending = BTreeSet::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .map_err(kafka("assigning"))?;
            pending.insert(p.id());
        }
    }
    consumer.assign(&tpl).map_err(kafka("assigning"))?;
    while !pending.is_empty() {
        if Instant::now() >= until {
            return Err(ReadError::Timeout {
                read: read.len(),
                pending: pending.len(),
                timeout,
            });
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => read.push(ReadRecord {
                topic: m.topic().to_string(),
                partition: m.partition(),
                offset: m.offset(),
                payload: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                source: source_of(&m),
            }),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => return Err(kafka("reading")(e)),
            None => {}
        }
    }
    Ok(())
}

fn source_of(m: &rdkafka::message::BorrowedMessage<'_>) -> Option<(String, i32, i64)> {
    let headers = m.headers()?;
    let mut topic = None;
    let mut partition = None;
    let mut offset = None;
    for h in headers.iter() {
        let value = h.value.map(String::from_utf8_lossy);
        match h.key {
            ORIGINAL_TOPIC => topic = value.map(|v| v.into_owned()),
            ORIGINAL_PARTITION => partition = value.and_then(|v| v.parse().ok()),
            ORIGINAL_OFFSET => offset = value.and_then(|v| v.parse().ok()),
            _ => {}
        }
    }
    Some((topic?, partition?, offset?))
}

/// How often each source record reached the topics read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Source records expected.
    pub expected: usize,
    /// Records read per topic.
    pub per_topic: BTreeMap<String, usize>,
    /// Source records read more than once, across all topics.
    pub duplicates: usize,
    /// Source records never read.
    pub lost: usize,
    /// Records read that name no expected source.
    pub foreign: usize,
}

impl Tally {
    /// Counts `read` against the `expected` sources (topic, partition, offset).
    pub fn of(read: &[ReadRecord], expected: &BTreeSet<(String, i32, i64)>) -> Tally {
        let mut per_source: BTreeMap<&(String, i32, i64), usize> = BTreeMap::new();
        let mut per_topic = BTreeMap::new();
        let mut foreign = 0;
        for r in read {
            *per_topic.entry(r.topic.clone()).or_default() += 1;
            match r.source.as_ref().filter(|s| expected.contains(*s)) {
                Some(source) => *per_source.entry(source).or_default() += 1,
                None => foreign += 1,
            }
        }
        Tally {
            expected: expected.len(),
            per_topic,
            duplicates: per_source.values().filter(|&&n| n > 1).count(),
            lost: expected.len() - per_source.len(),
            foreign,
        }
    }

    /// Whether every source was read exactly once, and nothing else.
    pub fn exactly_once(&self) -> bool {
        self.duplicates == 0 && self.lost == 0 && self.foreign == 0
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sources={} duplicates={} lost={}",
            self.expected, self.duplicates, self.lost
        )?;
        if self.foreign > 0 {
            write!(f, " foreign={}", self.foreign)?;
        }
        for (topic, n) in &self.per_topic {
            write!(f, " {topic}={n}")?;
        }
        Ok(())
    }
}

/// A group's lag on one topic, as the broker reports it to a plain rdkafka client (what
/// `kafka-consumer-groups` shows): per partition, the committed offset and the log end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lag {
    /// Per partition: the committed offset (`None` if nothing is committed) and the end.
    pub partitions: BTreeMap<i32, (Option<i64>, i64)>,
}

impl Lag {
    /// The records not yet committed, over all partitions (a partition with nothing
    /// committed counts whole).
    pub fn total(&self) -> i64 {
        let behind = |(committed, end): &(Option<i64>, i64)| end - committed.unwrap_or(0);
        self.partitions.values().map(behind).sum()
    }
}

/// The committed offsets of `group` on `topic` and each partition's end, read with
/// `isolation.level=read_committed` (so the broker answers with stable offsets only).
pub fn group_lag(brokers: &str, group: &str, topic: &str) -> Result<Lag, ReadError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .map_err(kafka("creating the lag reader"))?;
    let timeout = Duration::from_secs(30);
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka("reading topic metadata"))?;
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition(topic, p.id());
        }
    }
    let committed = consumer
        .committed_offsets(tpl, timeout)
        .map_err(kafka("reading committed offsets"))?;
    let mut lag = Lag::default();
    for e in committed.elements() {
        let (_, end) = consumer
            .fetch_watermarks(topic, e.partition(), timeout)
            .map_err(kafka("reading watermarks"))?;
        let offset = match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        };
        lag.partitions.insert(e.partition(), (offset, end));
    }
    Ok(lag)
}
