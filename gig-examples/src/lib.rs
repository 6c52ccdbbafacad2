//! Helpers shared by Gig's example and benchmark binaries.

use std::future::Future;
use std::process::ExitCode;
use std::rc::Rc;

use actix::Addr;
use gig_actors::testkit::Broker;
use gig_actors::{ConsumerActor, ConsumerConfig, GetStats, GigError, Stats};

pub mod chaos;
pub mod eos;
pub mod ledger_file;
pub mod ledger_line;
pub mod metrics_demo;
pub mod service;
pub mod sink;
pub mod web_app;
pub mod worker;

/// The flag every example and tool shares: which broker. Flattened into each binary's own
/// `clap` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// The Kafka bootstrap servers (HOST:PORT[,HOST:PORT…]); without it, an embedded broker
    /// started for this run.
    #[arg(long, env = "GIG_BROKERS")]
    pub brokers: Option<String>,
}

/// The group protocol flag of the binaries that join a group with a short session
/// ([`quick_group`]).
#[derive(Debug, Clone, clap::Args)]
pub struct ProtocolArgs {
    /// The group protocol to join with: `classic`, or `consumer` (KIP-848).
    #[arg(long, env = "GIGCI_GROUP_PROTOCOL", default_value = "classic",
          value_parser = group_protocol)]
    pub group_protocol: String,
}

/// A group protocol's name, in lower case; empty (a variable set to nothing) is `classic`.
fn group_protocol(name: &str) -> Result<String, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "" | "classic" => Ok("classic".to_string()),
        "consumer" => Ok("consumer".to_string()),
        other => Err(format!("'{other}' is neither `classic` nor `consumer`")),
    }
}

/// Group settings for a demo, test or worker consumer that should hand a dead member's
/// partitions on within seconds. Under the classic protocol that is a short session
/// (`session_timeout_ms`, heartbeats every 500 ms at most); under the consumer protocol
/// (`protocol` = `consumer`) the broker owns sessions and heartbeats, so the config only
/// names the protocol (`.ci/kafka.sh` starts brokers with 6 s sessions).
pub fn quick_group(
    config: ConsumerConfig,
    protocol: &str,
    session_timeout_ms: u64,
) -> ConsumerConfig {
    if protocol.trim().eq_ignore_ascii_case("consumer") {
        return config.property("group.protocol", "consumer");
    }
    let heartbeat_ms = (session_timeout_ms / 10).clamp(100, 500);
    config
        .property("session.timeout.ms", session_timeout_ms.to_string())
        .property("heartbeat.interval.ms", heartbeat_ms.to_string())
}

/// The topic an example writes to: `base` on the embedded broker, which starts empty each
/// run, and `base-PID` on an external one, where topics and their records outlive a run, so
/// the example can run again and still count only its own records.
pub fn run_topic(base: &str, broker: &Broker) -> String {
    match broker.embedded() {
        Some(_) => base.to_string(),
        None => format!("{base}-{}", std::process::id()),
    }
}

/// Runs `run` to its end on a new actix system, then drops the system with every actor on
/// it, and with them every Kafka client they hold, before returning what `run` returned.
///
/// A process must not exit while a librdkafka thread runs: `std::process::exit` runs
/// OpenSSL's exit-time cleanup under a thread in the middle of a TLS handshake, which
/// crashed 4 runs in 20 (SIGSEGV) when a consumer failed to build beside a dead-letter
/// producer. A client's drop ends its threads, so an example's `main` returns its exit code
/// after this rather than calling `exit`.
pub fn block_on<T>(run: impl Future<Output = T>) -> T {
    let system = actix::System::new();
    let result = system.block_on(run);
    drop(system);
    result
}

/// Logs through env_logger, at `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    init_logging_at("info");
}

/// Logs through env_logger, at `level` unless `RUST_LOG` says otherwise.
pub fn init_logging_at(level: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
}

/// Runs an example on `brokers` (its `--brokers`) or, by default, the embedded broker: logs at `warn`,
/// prints the summary line `run` returns, or prints the error; the exit code for `main` to
/// return. The actors (and their Kafka clients) go before the broker they talk to, so
/// nothing logs a broker going away at exit, and both before `main` returns (see
/// [`block_on`]).
pub fn run_example<F, Fut>(name: &str, brokers: Option<String>, run: F) -> ExitCode
where
    F: FnOnce(Rc<Broker>) -> Fut,
    Fut: Future<Output = Result<String, GigError>>,
{
    init_logging_at("warn");
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("{name} failed: {e}");
        ExitCode::FAILURE
    };
    let broker = match Broker::external_or_embedded(brokers) {
        Ok(broker) => Rc::new(broker),
        Err(e) => return fail(&e),
    };
    let result = block_on(run(broker.clone()));
    drop(broker);
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Polls the consumer's stats every 100 ms until `done` holds for them.
pub async fn wait_until(
    consumer: &Addr<ConsumerActor>,
    done: impl Fn(&Stats) -> bool,
) -> Result<(), GigError> {
    loop {
        let stats = consumer.send(GetStats).await?;
        if done(&stats) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
