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
//! Both answer with the [`HealthReport`](crate::HealthReport) as JSON, and the status is
//! what the body says: `/health/live` is 200 exactly when the body says `"live":true`,
//! `/health/ready` exactly when it says `"ready":true` (a consumer that holds partitions but
//! has not caught up yet answers `"ready":false` and says so in `reason`). For several
//! consumers, the body is all of them together, each one's report under `consumers`.
//!
//! What is answered is decided in `probe_answers.rs`, for this server and for an actix-web
//! `App` alike.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use log::{debug, warn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::probe_answers::{route_of, Answer, ProbeAnswers, Render};
use crate::ConsumerActor;

/// The longest a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a request read: a probe's request is a line and a few headers.
const MAX_REQUEST: usize = 8 * 1024;

/// The probes of one or more consumers, before they are served: by [`bind`](Probes::bind),
/// or in an actix-web `App` (feature `actix-web`: `Probes::routes`).
pub struct Probes {
    pub(crate) consumers: Vec<(String, Addr<ConsumerActor>)>,
    pub(crate) metrics: Option<Render>,
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
    /// Probes of `consumer`. The body is its [`HealthReport`](crate::HealthReport).
    pub fn new(consumer: Addr<ConsumerActor>) -> Self {
        Probes::named("consumer", consumer)
    }

    /// Probes of `consumer`, named `name` in the body once [`consumer`](Self::consumer) adds
    /// another.
    pub fn named(name: impl Into<String>, consumer: Addr<ConsumerActor>) -> Self {
        Probes {
            consumers: vec![(name.into(), consumer)],
            metrics: None,
        }
    }

    /// Watches one more consumer. The process is then live when every consumer is, and
    /// ready when every consumer is; the body is all of them together (`assigned` summed,
    /// every fault, the reasons after each consumer's name), with each one's own report
    /// under `consumers`, by name.
    pub fn consumer(mut self, name: impl Into<String>, consumer: Addr<ConsumerActor>) -> Self {
        self.consumers.push((name.into(), consumer));
        self
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
        let answers = Rc::new(ProbeAnswers::start(self.consumers, self.metrics));
        actix::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let answers = answers.clone();
                        actix::spawn(async move {
                            if let Err(e) = serve(&answers, stream).await {
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
}

async fn serve(answers: &ProbeAnswers, mut stream: TcpStream) -> std::io::Result<()> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| std::io::Error::other("the request took too long"))??;
    let (answer, method) = match request_line(&head) {
        Err(answer) => (answer, Method::Get),
        Ok((method, target)) => match route_of(target) {
            Some(route) => (answers.answer(route).await, method),
            None => (Answer::text(404, "not found\n"), method),
        },
    };
    stream
        .write_all(response(&answer, method).as_bytes())
        .await?;
    stream.shutdown().await
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

/// The methods served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    /// The headers `GET` would answer, without the body (RFC 9110, 9.3.2).
    Head,
}

/// The method and target of a `GET` or `HEAD` request head (`GET /health/live HTTP/1.1 …`);
/// a 405 for any other method.
fn request_line(head: &str) -> Result<(Method, &str), Answer> {
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let method = match words.next() {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        _ => return Err(Answer::text(405, "GET only\n")),
    };
    Ok((method, words.next().unwrap_or_default()))
}

/// The response to `method`: status and headers, and the body unless it is `HEAD` (whose
/// `Content-Length` is still the body's, as `GET`'s).
fn response(answer: &Answer, method: Method) -> String {
    let reason = match answer.status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        answer.status,
        answer.content_type,
        answer.body.len(),
        match method {
            Method::Get => answer.body.as_str(),
            Method::Head => "",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_head_are_served_and_other_methods_refused() {
        fn line(head: &str) -> Result<(Method, &str), u16> {
            request_line(head).map_err(|a| a.status)
        }
        assert_eq!(
            line("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok((Method::Get, "/health/live"))
        );
        assert_eq!(
            line("HEAD /metrics HTTP/1.1\r\n\r\n"),
            Ok((Method::Head, "/metrics"))
        );
        assert_eq!(line("POST /health/live HTTP/1.1\r\n\r\n"), Err(405));
        assert_eq!(line(""), Err(405));
    }

    #[test]
    fn a_response_carries_its_status_and_the_length_of_its_body() {
        let answer = Answer {
            status: 503,
            content_type: "application/json",
            body: "{\"live\":false}\n".to_string(),
        };
        let text = response(&answer, Method::Get);
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!((body, length), (answer.body.as_str(), answer.body.len()));
    }

    #[test]
    fn head_gets_the_headers_of_get_without_the_body() {
        let answer = Answer {
            status: 200,
            content_type: "application/json",
            body: "{\"live\":true}\n".to_string(),
        };
        let get = response(&answer, Method::Get);
        let head = response(&answer, Method::Head);
        assert!(
            head.ends_with("\r\n\r\n"),
            "no body after the headers: {head:?}"
        );
        assert_eq!(format!("{head}{}", answer.body), get);
    }
}
