//! gig-bench's command line: every flag, checked by clap (an unknown flag or phase name is an
//! error; `--help` explains each).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::settings::{fail, Settings, SILENT_IN_FLIGHT};

/// Gig against raw rdkafka (and Kafka's Java consumer) on the same broker, in one run.
///
/// Without --brokers (or GIG_BROKERS) it runs on an embedded mock cluster. Environment:
/// GIGCI_BENCH_CONSUMER / GIGCI_BENCH_PRODUCER / GIGCI_BENCH_TXN_PRODUCER ("key=value,...")
/// add librdkafka properties to the consumers (raw and Gig), the producer and Gig's
/// transactional producer; GIGCI_BENCH_DEBUG sets raw's `debug`; GIGCI_BENCH_MAX_DELIVERIES
/// sets Gig's crash-loop guard (0: off); GIGCI_BENCH_RAW_BATCH=N makes the raw phase read N
/// records a call (rd_kafka_consume_batch_queue) instead of one (issue 30).
#[derive(Parser, Debug)]
#[command(name = "gig-bench", version)]
pub(crate) struct Args {
    /// The broker, HOST:PORT (else GIG_BROKERS; else the embedded mock cluster).
    #[arg(long, value_name = "HOST:PORT")]
    brokers: Option<String>,

    /// Partition counts, comma-separated: each runs every phase [default: 1,4; the soak: 4].
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub(crate) partitions: Option<Vec<i32>>,

    /// Records each phase reads [default: 2000000; with --anchor 10000000].
    #[arg(long, value_name = "N")]
    records: Option<u64>,

    /// Bytes per record's payload.
    #[arg(long, default_value_t = 100)]
    pub(crate) size: usize,

    /// Rounds of every phase; the median run is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) repeat: u64,

    /// Run this phase alone and print no table (e.g. under callgrind).
    #[arg(long, value_enum, conflicts_with = "anchor")]
    pub(crate) phase: Option<Phase>,

    /// The anchor comparison alone, long enough for Java's JIT: raw, java, gig-ack and
    /// gig-batch, 10,000,000 records unless --records says otherwise (external broker).
    #[arg(long)]
    pub(crate) anchor: bool,

    /// Leave out gig-txn, gig-txn-out and raw-txn-out (a broker without transactions).
    #[arg(long)]
    pub(crate) no_transactions: bool,

    /// Gig's consumers read every record's headers (by default neither raw nor Gig does).
    #[arg(long)]
    pub(crate) headers: bool,

    /// The silent phase's in-flight limit.
    #[arg(long, default_value_t = SILENT_IN_FLIGHT, value_name = "N")]
    pub(crate) silent_in_flight: usize,

    /// `ConsumerConfig::poll_thread_nice` for Gig's consumers, 0 to 19 [default: unset].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=19))]
    pub(crate) poll_thread_nice: Option<u8>,

    /// Print the run as one JSON line at the end.
    #[arg(long)]
    pub(crate) json: bool,

    /// Draw the table (and the silent phase's lateness; the soak's RSS) to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<String>,

    /// Install a Prometheus metrics recorder first, to see what recording Gig's metrics costs.
    #[arg(long)]
    pub(crate) metrics: bool,

    /// Run the memory phase alone (external broker): its RSS starts from a fresh process.
    #[arg(long)]
    pub(crate) memory_only: bool,

    /// The memory phase's backlog, in records.
    #[arg(long, default_value_t = 5_000_000, value_name = "N")]
    pub(crate) memory_records: u64,

    /// How long the memory phase samples RSS, in seconds.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub(crate) memory_seconds: u64,

    /// Run the scaling sweep instead (external broker): CPU per record against partitions
    /// and keys.
    #[arg(long)]
    pub(crate) scaling: bool,

    /// The scaling sweep's partition counts.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,16,128,512",
        value_name = "N,..."
    )]
    pub(crate) scale_partitions: Vec<i32>,

    /// The scaling sweep's key counts (one partition, key ordering).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,1000,100000",
        value_name = "N,..."
    )]
    pub(crate) scale_keys: Vec<u64>,

    /// Run the soak instead, for this many seconds: a steady rate through every kind of
    /// answer at once.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) soak: Option<u64>,

    /// The soak's records per second.
    #[arg(long, default_value_t = 5000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) soak_rate: u64,

    /// Write the soak's ledger (and the records produced) to this directory, for gig-check.
    #[arg(long, value_name = "DIR")]
    pub(crate) soak_ledger: Option<PathBuf>,

    /// Internal: produce --records records of --size bytes to this topic and exit (the
    /// memory phase's backlog, produced in a child process).
    #[arg(long, value_name = "TOPIC", hide = true)]
    pub(crate) produce_to: Option<String>,
}

/// The phases of a run, in the order a round runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Phase {
    /// An rdkafka BaseConsumer reads every record.
    Raw,
    /// Kafka's own consumer (ConsumerPerformance), external broker with Java only.
    Java,
    /// Gig, each record delivered to an actor that acks it.
    GigAck,
    /// gig-ack through a DeliveryStream.
    GigStream,
    /// gig-ack in batches of 1,000.
    GigBatch,
    /// A downstream that never answers, 200 ms ack timeout.
    GigSilent,
    /// gig-ack with offsets committed in transactions.
    GigTxn,
    /// gig-txn with one output per record.
    GigTxnOut,
    /// gig-txn-out's job with rdkafka by hand (external broker).
    RawTxnOut,
}

impl Phase {
    /// Its name on the command line and in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Raw => "raw",
            Phase::Java => "java",
            Phase::GigAck => "gig-ack",
            Phase::GigStream => "gig-stream",
            Phase::GigBatch => "gig-batch",
            Phase::GigSilent => "gig-silent",
            Phase::GigTxn => "gig-txn",
            Phase::GigTxnOut => "gig-txn-out",
            Phase::RawTxnOut => "raw-txn-out",
        }
    }

    /// Whether `--anchor` runs it.
    pub(crate) fn anchor(self) -> bool {
        matches!(
            self,
            Phase::Raw | Phase::Java | Phase::GigAck | Phase::GigBatch
        )
    }

    /// Whether it needs a broker with transactions.
    pub(crate) fn transactional(self) -> bool {
        matches!(self, Phase::GigTxn | Phase::GigTxnOut | Phase::RawTxnOut)
    }
}

impl Args {
    /// The broker: `--brokers`, else the env var `GIG_BROKERS`, else none (embedded).
    pub(crate) fn brokers(&self) -> Option<String> {
        self.brokers
            .clone()
            .or_else(|| std::env::var("GIG_BROKERS").ok())
    }

    /// The settings every phase reads.
    pub(crate) fn settings(&self) -> Settings {
        Settings {
            records: self
                .records
                .unwrap_or(if self.anchor { 10_000_000 } else { 2_000_000 }),
            keys: None,
            key_ordering: false,
            silent_in_flight: self.silent_in_flight,
            poll_thread_nice: self.poll_thread_nice,
            size: self.size,
            repeat: self.repeat as usize,
            memory_records: self.memory_records,
            memory_seconds: self.memory_seconds,
            headers: self.headers,
        }
    }

    /// The soak's one partition count.
    pub(crate) fn soak_partitions(&self) -> i32 {
        match self.partitions.as_deref() {
            None => 4,
            Some(&[n]) if n >= 1 => n,
            Some(_) => fail("--partitions: one number for the soak, e.g. 4"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("gig-bench").chain(line.iter().copied()))
    }

    #[test]
    fn unknown_flags_and_phases_are_errors() {
        assert!(parse(&["--recrods", "5"]).is_err());
        assert!(parse(&["--phase", "gig-slient"]).is_err());
        let args = parse(&[
            "--phase",
            "gig-txn-out",
            "--partitions",
            "1,4",
            "--records=5",
        ]);
        let args = args.unwrap();
        assert_eq!(args.phase, Some(Phase::GigTxnOut));
        assert_eq!(args.partitions, Some(vec![1, 4]));
        assert_eq!(args.settings().records, 5);
        assert_eq!(parse(&["--anchor"]).unwrap().settings().records, 10_000_000);
        assert!(parse(&["--anchor", "--phase", "raw"]).is_err());
    }

    #[test]
    fn the_phase_names_are_clap_s() {
        for phase in Phase::value_variants() {
            let value = phase.to_possible_value().unwrap();
            assert_eq!(value.get_name(), phase.name());
        }
    }

    #[test]
    fn the_command_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
