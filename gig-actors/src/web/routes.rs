//! The probes as actix-web routes.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::service::probe_answers::{Answer, ProbeAnswers, PATHS};
use crate::service::Probes;

/// The probes of [`Probes`] as routes for an actix-web `App` or `Scope`:
/// `GET`/`HEAD` `/health/live`, `/health/ready` and `/metrics` (and the aliases `/healthz`,
/// `/livez`, `/readyz`); another method is answered 405. Clone it into the `HttpServer`'s
/// factory: every worker thread serves from the same watch of the consumers.
#[derive(Clone)]
pub struct ProbeRoutes {
    answers: Arc<ProbeAnswers>,
}

impl Probes {
    /// These probes as actix-web routes, for
    /// `App::new().configure(|cfg| routes.configure(cfg))`. Call it on the actix system's
    /// thread (in its `main`): the consumers' catch-up is watched from there, as
    /// [`bind`](Probes::bind) does.
    pub fn routes(self) -> ProbeRoutes {
        ProbeRoutes {
            answers: Arc::new(ProbeAnswers::start(self.consumers, self.metrics)),
        }
    }
}

impl ProbeRoutes {
    /// Adds the probes' routes to `cfg`: `App::new().configure(|cfg| routes.configure(cfg))`,
    /// or under a prefix, `web::scope("/ops").configure(|cfg| routes.configure(cfg))`.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        for (path, route) in PATHS {
            let answers = self.answers.clone();
            let answer = move || {
                let answers = answers.clone();
                async move { response(answers.answer(route).await) }
            };
            cfg.service(
                web::resource(path)
                    .route(web::get().to(answer.clone()))
                    .route(web::head().to(answer)),
            );
        }
    }
}

fn response(answer: Answer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(answer.content_type)
        .body(answer.body)
}
