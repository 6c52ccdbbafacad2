//! Gig inside an actix-web service (feature `actix-web`): the probes and metrics as routes
//! of your own `App` ([`ProbeRoutes`], made by [`Probes::routes`](crate::service::Probes::routes)),
//! and one graceful stop for the HTTP server and the consumers ([`serve`]).
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use gig_actors::prelude::*;
//! use gig_actors::service::Probes;
//!
//! # async fn run(consumer: actix::Addr<ConsumerActor>) -> Result<(), Box<dyn std::error::Error>> {
//! // On the actix system's thread: the probes watch the consumer from here.
//! let probes = Probes::named("orders", consumer.clone()).routes();
//! let server = HttpServer::new(move || {
//!     App::new()
//!         .configure(|cfg| probes.configure(cfg)) // /health/live, /health/ready, /metrics
//!         .route("/hello", web::get().to(|| async { HttpResponse::Ok().body("hello") }))
//! })
//! .bind("0.0.0.0:8080")?;
//! // Until SIGTERM or SIGINT; then no new connection, the requests in progress finish,
//! // and each consumer resolves what it holds, hands it over and commits.
//! let served = gig_actors::web::serve(server, [consumer]).await?;
//! for stopped in served.consumers {
//!     println!("committed {}", stopped?.committed_summary());
//! }
//! # Ok(()) }
//! ```
//!
//! The probes' answers are [`Probes::bind`](crate::service::Probes::bind)'s, byte for byte:
//! both come from one place (`service/probe_answers.rs`).

mod routes;
mod stop;

pub use routes::ProbeRoutes;
pub use stop::{serve, Served};
