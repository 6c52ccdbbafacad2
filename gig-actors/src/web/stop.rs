//! One graceful stop for an actix-web server and the consumers beside it.

use std::fmt;

use actix::Addr;
use actix_http::Request;
use actix_service::IntoServiceFactory;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Response, Service, ServiceFactory};
use actix_web::{Error, HttpServer};
use log::warn;

use crate::service::{shutdown_signal, Signal};
use crate::{ConsumerActor, GigError, Stats, Stop};

/// How [`serve`] ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct Served {
    /// The signal that asked for the stop; `None` if the HTTP server ended by itself.
    pub signal: Option<Signal>,
    /// What the HTTP server's run returned.
    pub server: std::io::Result<()>,
    /// Each consumer's final [`Stats`] (after its final commit), in the order given; an
    /// error for one that had stopped already.
    pub consumers: Vec<Result<Stats, GigError>>,
}

/// Runs `server` (bound, not yet run) until SIGTERM or SIGINT, then stops it and the
/// `consumers`, in that order:
///
/// 1. the HTTP server stops accepting connections, and the requests in progress finish
///    (within its `shutdown_timeout`, 30 s by default): an order a request was producing
///    is produced, or the request fails;
/// 2. every consumer gets [`Stop`] at once: it delivers nothing new, waits for what it
///    holds to be answered or to time out (the ack timeout and 5 s more at most), hands it
///    over and commits.
///
/// A second signal meanwhile exits at once ([`shutdown_signal`]). Gig handles the signals,
/// so this turns actix-web's own off (`disable_signals`): its SIGTERM would stop the actix
/// system under the consumers' drain. Call it on the actix system's thread.
///
/// Returns an error only if the signal handlers could not be installed; the server and the
/// consumers are stopped then too.
pub async fn serve<F, I, S, B>(
    server: HttpServer<F, I, S, B>,
    consumers: impl IntoIterator<Item = Addr<ConsumerActor>>,
) -> std::io::Result<Served>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let consumers: Vec<_> = consumers.into_iter().collect();
    let mut running = server.disable_signals().run();
    let handle = running.handle();
    let (signal, server) = tokio::select! {
        signal = shutdown_signal() => {
            match &signal {
                Ok(signal) => warn!("{signal:?}: the HTTP server stops accepting; then {} consumer(s) stop", consumers.len()),
                Err(e) => warn!("cannot wait for signals ({e}): stopping"),
            }
            // The command is sent now; the server's own future carries it out, so it is
            // that future that is awaited (awaiting the stop alone would wait forever).
            let stopped = handle.stop(true);
            let ended = running.await;
            stopped.await;
            (Some(signal), ended)
        }
        ended = &mut running => (None, ended),
    };
    // Sent to all before any answer is awaited: they drain side by side.
    let stopping: Vec<_> = consumers.iter().map(|c| c.send(Stop)).collect();
    let mut stopped = Vec::with_capacity(stopping.len());
    for stop in stopping {
        stopped.push(stop.await.map_err(GigError::from).and_then(|r| r));
    }
    let signal = signal.transpose()?;
    Ok(Served {
        signal,
        server,
        consumers: stopped,
    })
}
