//! What the probes answer, whatever serves them: [`Probes::bind`](super::Probes::bind)'s
//! own small server, or an actix-web `App` (feature `actix-web`). One consumer or several;
//! readiness waits for each to catch up once, and every answer's status is what its body
//! says.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use serde::Serialize;

use crate::consumer::assignment::WaitForAssignment;
use crate::consumer::caught_up::CaughtUp;
use crate::consumer::health::{Health, HealthReport};
use crate::ConsumerActor;

/// How often readiness asks whether a consumer has caught up, until it has.
const CATCH_UP_EVERY: Duration = Duration::from_secs(1);

/// Renders the metrics page.
pub(crate) type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Live,
    Ready,
    Metrics,
}

/// The paths served, and the route of each (the short ones are common aliases).
pub(crate) const PATHS: [(&str, Route); 6] = [
    ("/health/live", Route::Live),
    ("/healthz", Route::Live),
    ("/livez", Route::Live),
    ("/health/ready", Route::Ready),
    ("/readyz", Route::Ready),
    ("/metrics", Route::Metrics),
];

/// The route of a request's path; a query string is ignored.
pub(crate) fn route_of(target: &str) -> Option<Route> {
    let path = target.split('?').next().unwrap_or_default();
    PATHS.iter().find(|(p, _)| *p == path).map(|&(_, r)| r)
}

/// An answer, before a server writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    pub(crate) fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain",
            body: body.to_string(),
        }
    }
}

/// One consumer under watch.
struct Watched {
    name: String,
    consumer: Addr<ConsumerActor>,
    /// Set once `CaughtUp` answered; cleared while the consumer holds no partition.
    caught_up: Arc<AtomicBool>,
}

/// The consumers the probes watch and the metrics they serve, shared by every connection
/// and every actix-web worker thread.
pub(crate) struct ProbeAnswers {
    consumers: Vec<Watched>,
    metrics: Option<Render>,
}

impl ProbeAnswers {
    /// Starts watching `consumers` on the current actix arbiter: each one's catch-up is
    /// asked in the background (see [`watch_catch_up`]).
    pub(crate) fn start(
        consumers: Vec<(String, Addr<ConsumerActor>)>,
        metrics: Option<Render>,
    ) -> ProbeAnswers {
        let consumers = consumers
            .into_iter()
            .map(|(name, consumer)| {
                let caught_up = Arc::new(AtomicBool::new(false));
                actix::spawn(watch_catch_up(consumer.clone(), caught_up.clone()));
                Watched {
                    name,
                    consumer,
                    caught_up,
                }
            })
            .collect();
        ProbeAnswers { consumers, metrics }
    }

    /// The answer to `route`.
    pub(crate) async fn answer(&self, route: Route) -> Answer {
        let report = match route {
            Route::Metrics => {
                return match &self.metrics {
                    Some(render) => Answer {
                        status: 200,
                        content_type: "text/plain; version=0.0.4",
                        body: render(),
                    },
                    None => Answer::text(404, "no metrics here\n"),
                };
            }
            Route::Live | Route::Ready => self.report().await,
        };
        let ok = match route {
            Route::Live => report.all.live,
            _ => report.all.ready,
        };
        let body = serde_json::to_string(&report).unwrap_or_else(|_| "{}".to_string());
        Answer {
            status: if ok { 200 } else { 503 },
            content_type: "application/json",
            body: body + "\n",
        }
    }

    /// Every consumer's health, ready only once caught up, and all of them together.
    async fn report(&self) -> ProbeReport {
        // Asked all at once: the answers come back in the time of the slowest.
        let asked: Vec<_> = self
            .consumers
            .iter()
            .map(|w| w.consumer.send(Health))
            .collect();
        let mut named = Vec::with_capacity(asked.len());
        for (watched, asked) in self.consumers.iter().zip(asked) {
            let report = asked.await.unwrap_or_else(|_| HealthReport::stopped());
            let report = readiness(report, watched.caught_up.load(Ordering::Relaxed));
            named.push((watched.name.clone(), report));
        }
        ProbeReport::of(named)
    }
}

/// The probes' body: the consumers together (for one consumer, its own report), and each
/// one by name when there are several.
#[derive(Debug, Serialize)]
struct ProbeReport {
    #[serde(flatten)]
    all: HealthReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    consumers: Vec<Named>,
}

#[derive(Debug, Serialize)]
struct Named {
    name: String,
    #[serde(flatten)]
    report: HealthReport,
}

impl ProbeReport {
    /// Live when every consumer is, ready when every consumer is; the reasons of those that
    /// are not, each after its consumer's name.
    fn of(mut named: Vec<(String, HealthReport)>) -> ProbeReport {
        if named.len() == 1 {
            let (_, all) = named.remove(0);
            return ProbeReport {
                all,
                consumers: Vec::new(),
            };
        }
        let reasons: Vec<String> = named
            .iter()
            .filter_map(|(name, r)| Some(format!("{name}: {}", r.reason.as_ref()?)))
            .collect();
        let all = HealthReport {
            live: named.iter().all(|(_, r)| r.live),
            ready: named.iter().all(|(_, r)| r.ready),
            assigned: named.iter().map(|(_, r)| r.assigned).sum(),
            faults: named.iter().flat_map(|(_, r)| r.faults.clone()).collect(),
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        };
        let consumers = named
            .into_iter()
            .map(|(name, report)| Named { name, report })
            .collect();
        ProbeReport { all, consumers }
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
/// the assignment rather than ask every second. Ends when the consumer stops.
async fn watch_catch_up(consumer: Addr<ConsumerActor>, caught_up: Arc<AtomicBool>) {
    loop {
        let Ok(report) = consumer.send(Health).await else {
            return; // the consumer has stopped
        };
        if report.assigned == 0 {
            caught_up.store(false, Ordering::Relaxed);
            if report.live {
                let assigned = consumer.send(WaitForAssignment::within(CATCH_UP_EVERY * 5));
                if let Ok(Ok(_)) = assigned.await {
                    continue;
                }
            }
        } else if report.ready && !caught_up.load(Ordering::Relaxed) {
            let asked = consumer.send(CaughtUp::within(CATCH_UP_EVERY * 5)).await;
            if let Ok(Ok(_)) = asked {
                caught_up.store(true, Ordering::Relaxed);
                continue;
            }
        }
        tokio::time::sleep(CATCH_UP_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gig_core::{FaultBook, FaultKind, FaultScope};
    use std::time::Instant;

    fn ready(assigned: usize) -> HealthReport {
        HealthReport {
            live: true,
            ready: true,
            assigned,
            reason: None,
            ..HealthReport::stopped()
        }
    }

    fn body(report: &ProbeReport) -> serde_json::Value {
        serde_json::to_value(report).unwrap()
    }

    #[test]
    fn paths_route_with_or_without_a_query() {
        assert_eq!(route_of("/health/live"), Some(Route::Live));
        assert_eq!(route_of("/health/ready?verbose=1"), Some(Route::Ready));
        assert_eq!(route_of("/readyz"), Some(Route::Ready));
        assert_eq!(route_of("/metrics"), Some(Route::Metrics));
        assert_eq!(route_of("/"), None);
        assert_eq!(route_of("/health"), None);
    }

    #[test]
    fn ready_only_once_caught_up_and_the_body_says_so() {
        let waiting = readiness(ready(3), false);
        assert!(!waiting.ready && waiting.reason.as_deref().unwrap().contains("caught up"));
        assert_eq!(readiness(ready(3), true), ready(3));
        let alone = ProbeReport::of(vec![("orders".into(), waiting)]);
        assert_eq!(body(&alone)["ready"], false);
        assert!(
            body(&alone).get("consumers").is_none(),
            "one consumer: its own report"
        );
    }

    #[test]
    fn several_consumers_are_ready_when_all_are_and_say_which_is_not() {
        let (mut book, now) = (FaultBook::new(), Instant::now());
        let scope = FaultScope::of(Some("payments"), 0);
        book.handle_error(scope, FaultKind::Authorization, "denied", now);
        let stuck = HealthReport::of(book.faults(now), 1, true, None);
        let both = ProbeReport::of(vec![
            ("orders".into(), ready(2)),
            ("payments".into(), stuck),
        ]);
        let json = body(&both);
        assert_eq!(
            (json["live"].clone(), json["ready"].clone()),
            (false.into(), false.into())
        );
        assert_eq!(json["assigned"], 3);
        assert_eq!(json["faults"][0]["topic"], "payments");
        assert!(
            json["reason"].as_str().unwrap().starts_with("payments: "),
            "{json}"
        );
        assert_eq!(json["consumers"][0]["name"], "orders");
        assert_eq!(json["consumers"][0]["ready"], true);
        assert_eq!(json["consumers"][1]["live"], false);

        let fine = ProbeReport::of(vec![("a".into(), ready(1)), ("b".into(), ready(1))]);
        assert_eq!(body(&fine)["ready"], true);
        assert!(body(&fine)["reason"].is_null());
    }
}
