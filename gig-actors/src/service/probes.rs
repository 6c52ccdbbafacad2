//! An HTTP server for probes and metrics: `GET /health/live`, `GET /health/ready` and, when
//! given a renderer, `GET /metrics`. HTTP/1.1, one request per connection; small enough
//! that a service needs no web framework for it.
//!
//! - `/health/live`: 200 while the consumer can make progress by itself, 503 once it cannot
//!   (a fault is open: a partition it cannot read, a refused login, an ACL, a fatal error;
//!   or its poll thread has exited; or the actor has stopped). A Kubernetes liveness probe
//!   restarts it then.
//! - `/health/ready`: 200 once it is live, holds a partition and has caught up once (every
//!   record below the high watermarks it found is handed over and committed); 503 before.
//!   Caught up is asked in the background as soon as the consumer holds a partition (and
//!   every second while it has not caught up), and asked again after it held none.
//!
//! Both answer with the [`HealthReport`] as JSON, and the status is what the body says:
//! `/health/live` is 200 exactly when the body says `"live":true`, `/health/ready` exactly
//! when it says `"ready":true` (a consumer that holds partitions but has not caught up yet
//! answers `"ready":false` and says so in `reason`).

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use log::{debug, warn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::consumer::assignment::WaitForAssignment;
use crate::consumer::caught_up::CaughtUp;
use crate::consumer::health::{Health, HealthReport};
use crate::ConsumerActor;

/// How often readiness asks whether the consumer has caught up, until it has.
const CATCH_UP_EVERY: Duration = Duration::from_secs(1);
/// The longest a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a request read: a probe's request is a line and a few headers.
const MAX_REQUEST: usize = 8 * 1024;

type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// The probes of one consumer, before they listen.
pub struct Probes {
    consumer: Addr<ConsumerActor>,
    metrics: Option<Render>,
}

/// A running probe server; it serves until the actix system stops.
#[derive(Debug, Clone, Copy)]
pub struct ProbeServer {
    local_addr: SocketAddr,
}

impl ProbeServer {
    /// Where it listens (the port, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Probes {
    /// Probes of `consumer`.
    pub fn new(consumer: Addr<ConsumerActor>) -> Self {
        Probes {
            consumer,
            metrics: None,
        }
    }

    /// Also serves `GET /metrics` with what `render` returns (e.g. a Prometheus handle's
    /// `render`), as `text/plain; version=0.0.4`.
    pub fn metrics(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.metrics = Some(Arc::new(render));
        self
    }

    /// Listens on `addr` and serves on the current actix arbiter.
    pub async fn bind(self, addr: SocketAddr) -> std::io::Result<ProbeServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let caught_up = Rc::new(Cell::new(false));
        actix::spawn(watch_catch_up(self.consumer.clone(), caught_up.clone()));
        let probes = Rc::new(self);
        actix::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let (probes, caught_up) = (probes.clone(), caught_up.clone());
                        actix::spawn(async move {
                            if let Err(e) = probes.serve(stream, &caught_up).await {
                                debug!("probe connection: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        warn!("probe server: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(ProbeServer { local_addr })
    }

    async fn serve(&self, mut stream: TcpStream, caught_up: &Cell<bool>) -> std::io::Result<()> {
        let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
            .await
            .map_err(|_| std::io::Error::other("the request took too long"))??;
        let response = match route(&head) {
            Route::Live => {
                let report = self.health().await;
                json(report.live, &report)
            }
            Route::Ready => {
                let report = readiness(self.health().await, caught_up.get());
                json(report.ready, &report)
            }
            Route::Metrics => match &self.metrics {
                Some(render) => response(200, "text/plain; version=0.0.4", &render()),
                None => response(404, "text/plain", "no metrics here\n"),
            },
            Route::NotFound => response(404, "text/plain", "not found\n"),
            Route::BadMethod => response(405, "text/plain", "GET only\n"),
        };
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    }

    /// The consumer's health; not live once the actor has stopped.
    async fn health(&self) -> HealthReport {
        match self.consumer.send(Health).await {
            Ok(report) => report,
            Err(_) => HealthReport::stopped(),
        }
    }
}

/// The readiness answer: the consumer's health, ready only once it has also caught up, so
/// that the body says what the status says.
fn readiness(mut report: HealthReport, caught_up: bool) -> HealthReport {
    if report.ready && !caught_up {
        report.ready = false;
        report.reason = Some(
            "not caught up yet: the records below the high watermarks found at the assignment are not all handed over and committed".to_string(),
        );
    }
    report
}

/// Asks `CaughtUp` as soon as the consumer is ready, and every second until it has caught
/// up; forgets it when the consumer holds no partition. While it holds none, it waits for
/// the assignment rather than ask every second.
async fn watch_catch_up(consumer: Addr<ConsumerActor>, caught_up: Rc<Cell<bool>>) {
    loop {
        let Ok(report) = consumer.send(Health).await else {
            return; // the consumer has stopped
        };
        if report.assigned == 0 {
            caught_up.set(false);
            if report.live {
                let assigned = consumer.send(WaitForAssignment::within(CATCH_UP_EVERY * 5));
                if let Ok(Ok(_)) = assigned.await {
                    continue;
                }
            }
        } else if report.ready && !caught_up.get() {
            let asked = consumer.send(CaughtUp::within(CATCH_UP_EVERY * 5)).await;
            if let Ok(Ok(_)) = asked {
                caught_up.set(true);
                continue;
            }
        }
        tokio::time::sleep(CATCH_UP_EVERY).await;
    }
}

/// Reads up to the blank line that ends a request's head.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            return Err(std::io::Error::other("request head too large"));
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Live,
    Ready,
    Metrics,
    NotFound,
    BadMethod,
}

/// The route of a request head (`GET /health/live HTTP/1.1 …`); a query string is ignored.
fn route(head: &str) -> Route {
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (words.next(), words.next().unwrap_or_default());
    if !matches!(method, Some("GET") | Some("HEAD")) {
        return Route::BadMethod;
    }
    match target.split('?').next().unwrap_or_default() {
        "/health/live" | "/healthz" | "/livez" => Route::Live,
        "/health/ready" | "/readyz" => Route::Ready,
        "/metrics" => Route::Metrics,
        _ => Route::NotFound,
    }
}

fn json(ok: bool, report: &HealthReport) -> String {
    let body = serde_json::to_string(report).unwrap_or_else(|_| "{}".to_string());
    response(
        if ok { 200 } else { 503 },
        "application/json",
        &(body + "\n"),
    )
}

fn response(status: u16, content_type: &str, body: &str) -> String {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_route_by_method_and_path() {
        let get = |path: &str| route(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(get("/health/live"), Route::Live);
        assert_eq!(get("/health/ready?verbose=1"), Route::Ready);
        assert_eq!(get("/metrics"), Route::Metrics);
        assert_eq!(get("/"), Route::NotFound);
        assert_eq!(
            route("POST /health/live HTTP/1.1\r\n\r\n"),
            Route::BadMethod
        );
        assert_eq!(route(""), Route::BadMethod);
    }

    #[test]
    fn ready_only_once_caught_up_and_the_body_says_so() {
        let ready = HealthReport::stopped();
        let ready = HealthReport {
            live: true,
            ready: true,
            assigned: 3,
            reason: None,
            ..ready
        };
        let waiting = readiness(ready.clone(), false);
        assert!(!waiting.ready && waiting.reason.as_deref().unwrap().contains("caught up"));
        assert!(json(waiting.ready, &waiting).contains("503"));
        assert!(json(waiting.ready, &waiting).contains(r#""ready":false"#));
        assert_eq!(readiness(ready.clone(), true), ready);
    }

    #[test]
    fn an_unhealthy_report_is_a_503_with_its_reason() {
        let text = json(false, &HealthReport::stopped());
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let report: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(report["live"], false);
        assert!(report["reason"].as_str().unwrap().contains("stopped"));
    }
}
