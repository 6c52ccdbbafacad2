//! What a deployed consumer needs around it (feature `service`): [`shutdown_signal`], a stop
//! on SIGTERM or SIGINT with a final commit (and an exit at once on a second signal), and
//! [`Probes`], an HTTP server for Kubernetes liveness and readiness probes beside the
//! metrics.
//!
//! ```no_run
//! # use actix::prelude::*;
//! # use gig_actors::prelude::*;
//! # use gig_actors::service::{shutdown_signal, Probes};
//! # async fn run(consumer: Addr<ConsumerActor>) -> Result<(), Box<dyn std::error::Error>> {
//! let probes = Probes::new(consumer.clone()).bind("0.0.0.0:9095".parse()?).await?;
//! println!("probes on http://{}/health/live and /health/ready", probes.local_addr());
//! let signal = shutdown_signal().await?; // a second signal exits at once
//! let stats = consumer.send(Stop).await??; // resolves, hands over, commits
//! println!("{signal:?}: stopped, committed {}", stats.committed_summary());
//! # Ok(()) }
//! ```

pub(crate) mod probe_answers;
mod probes;
// SIGTERM and SIGINT through tokio's Unix signal streams.
#[cfg(unix)]
mod signals;

pub use probes::{ProbeServer, Probes};
#[cfg(unix)]
pub use signals::{shutdown_signal, Signal};
