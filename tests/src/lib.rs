//! Shared harness for Gig's integration tests.
//!
//! - [`checker`]: the reliability checker over the ledgers of several worker processes
//!   (lost, duplicates, poll skips, order, serial processing, reprocessing after a commit).
//! - [`broker`](mod@broker): the suite's broker (the embedded mock cluster, or `GIGCI_TEST_BROKERS`),
//!   unique names, configs and topics, and skipping a test on a backend.
//! - [`produce`](mod@produce): the suite's producer and its records (payload `v{i}`, key `k{i}`).
//! - [`ledger`]: [`Ledger`], the Acked and NoAcked actor that records what it accepts, and
//!   waiting on it.
//! - [`secure`]: the secured Kafka node, its users, ACLs and login configs.
//! - [`kafka_tools`]: Kafka's own tools through `.ci/kafka.sh`, on Apache Kafka.
//! - [`child`]: an example run as a child process: its stdout's JSON lines, signals, its exit.
//! - [`downstream`]: [`Scripted`], a downstream whose answer is a function of the record;
//!   [`start`], the one way a test starts a consumer on it; [`stats_until`].
//!
//! Every test uses fresh topic and group names, so tests can share one real broker. Waiting
//! is event-driven: the ledger publishes its count on a `watch` channel and tests await a
//! count, with a timeout that only bounds a failure.

pub mod broker;
pub mod checker;
pub mod child;
pub mod downstream;
pub mod kafka_tools;
pub mod ledger;
pub mod produce;
pub mod rehearsed;
pub mod secure;
pub mod transacted;

pub use broker::*;
pub use downstream::*;
pub use kafka_tools::*;
pub use ledger::*;
pub use produce::*;
