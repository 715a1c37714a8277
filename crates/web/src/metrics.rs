//! `/metrics` (issue 15): what the operations team's Prometheus scrapes, in the OpenMetrics text
//! format (`prometheus-client`). Per request: counts by method, route (its template, never its ids)
//! and status, and latencies by route; per refusal: its problem type; sign-ins by outcome. At scrape
//! time, from the database: the audit chain's length, the e-mail outbox by status, the worker's runs.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::problem::ApiError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProblemLabels {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// The counters of this process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    problems: Family<ProblemLabels, Counter>,
    sign_ins: Family<OutcomeLabels, Counter>,
    audit_records: Gauge,
    outbox: Family<StatusLabels, Gauge>,
    job_runs: Gauge,
    last_job: Gauge,
    worker_lease: Gauge,
    checkpoint_seq: Gauge,
    checkpoint_at: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("qoljetim");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        let problems = Family::<ProblemLabels, Counter>::default();
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        let audit_records = Gauge::default();
        let outbox = Family::<StatusLabels, Gauge>::default();
        let job_runs = Gauge::default();
        let last_job = Gauge::default();
        let worker_lease = Gauge::default();
        let checkpoint_seq = Gauge::default();
        let checkpoint_at = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by route",
            latency.clone(),
        );
        registry.register(
            "problems",
            "Refusals and errors answered, by problem type",
            problems.clone(),
        );
        registry.register(
            "sign_ins",
            "Sign-in attempts by outcome (ok, refused, rate_limited)",
            sign_ins.clone(),
        );
        registry.register(
            "audit_records",
            "Records in the audit chain",
            audit_records.clone(),
        );
        registry.register(
            "outbox_emails",
            "E-mails in the outbox, by status",
            outbox.clone(),
        );
        registry.register(
            "worker_runs",
            "Passes of the background worker recorded",
            job_runs.clone(),
        );
        registry.register(
            "worker_last_run_finished_seconds",
            "When the worker's last pass finished (Unix seconds)",
            last_job.clone(),
        );
        registry.register(
            "worker_lease_held",
            "1 when this instance holds the worker lease (runs the jobs, writes checkpoints)",
            worker_lease.clone(),
        );
        registry.register(
            "audit_checkpoint_seq",
            "The audit record this instance's last checkpoint vouches for (0: none yet)",
            checkpoint_seq.clone(),
        );
        registry.register(
            "audit_checkpoint_written_seconds",
            "When this instance last wrote an audit checkpoint (Unix seconds; 0: never)",
            checkpoint_at.clone(),
        );
        Metrics {
            registry,
            worker_lease,
            checkpoint_seq,
            checkpoint_at,
            requests,
            latency,
            problems,
            sign_ins,
            audit_records,
            outbox,
            job_runs,
            last_job,
        }
    }
}

/// Middleware: counts every answer (inside the problem rendering, where the problem's type is known).
pub async fn count(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    if let Some(e) = response.extensions().get::<ApiError>() {
        metrics
            .problems
            .get_or_create(&ProblemLabels {
                r#type: e.error.slug().to_owned(),
            })
            .inc();
    }
    if route == "/api/v1/auth/login" {
        let outcome = match status {
            200 => "ok",
            429 => "rate_limited",
            _ => "refused",
        };
        metrics
            .sign_ins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status,
        })
        .inc();
    response
}

/// `GET /metrics`: the counters, and the figures read from the database now.
pub async fn metrics(State(st): State<AppState>) -> Response {
    let m = &st.metrics;
    match st.operational_counts().await {
        Ok(c) => {
            m.audit_records.set(c.audit_records);
            for (status, n) in &c.outbox {
                m.outbox
                    .get_or_create(&StatusLabels {
                        status: status.clone(),
                    })
                    .set(*n);
            }
            m.job_runs.set(c.job_runs);
            m.last_job.set(c.last_job_finished_at / 1_000_000);
        }
        Err(e) => tracing::warn!(error = %e.slug(), "metrics: the database did not answer"),
    }
    {
        use std::sync::atomic::Ordering::Relaxed;
        let i = &st.instance;
        m.worker_lease.set(i64::from(i.worker_lease.load(Relaxed)));
        m.checkpoint_seq.set(i.checkpoint_seq.load(Relaxed));
        m.checkpoint_at.set(i.checkpoint_at.load(Relaxed));
    }
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &m.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
