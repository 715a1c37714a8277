//! The HTTP API of Qoljetim (DESIGN.md §8). Each handler translates: it extracts the request's parts,
//! calls one use case of `qoljetim-service`, and answers with its outcome or its problem. Nothing here
//! decides who may do what (Cedar does, in the service) or touches the database.

pub mod auth;
pub mod export;
mod handlers;
mod headers;
pub mod i18n;
pub mod limits;
mod metrics;
mod openapi;
pub mod pages;
pub mod problem;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use qoljetim_service::Service;
use tokio::net::TcpListener;

pub use openapi::openapi_json;

pub use limits::BodyLimits;
pub use pages::PagesConfig;

/// What the HTTP layer is configured with besides the use cases.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    pub pages: PagesConfig,
    pub body_limits: BodyLimits,
    /// Sign-in attempts per client address per minute (0: no limit).
    pub sign_ins_per_address_per_minute: u32,
    pub timeouts: Timeouts,
    /// Reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: auth::TrustedProxies,
}

/// How long a connection may take (issue 15): a slow or idle client holds nothing for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To send a request's headers, counted from the first byte, and to start the next request on a
    /// kept-alive connection.
    pub header_read: std::time::Duration,
    /// To send a request's body.
    pub body_read: std::time::Duration,
    /// For a whole request, from its headers to its answer (`408` past it).
    pub request: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: std::time::Duration::from_secs(10),
            body_read: std::time::Duration::from_secs(30),
            request: std::time::Duration::from_secs(120),
        }
    }
}

/// The router's state: the use cases, and the pages' templates.
#[derive(Clone)]
pub struct AppState {
    /// Shared, not copied: axum clones the state for every extractor of every request (issue 20).
    pub service: Arc<Service>,
    pub pages: Arc<pages::Pages>,
    pub metrics: Arc<metrics::Metrics>,
}

impl Deref for AppState {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.service
    }
}

pub fn router(service: Service, config: WebConfig) -> std::io::Result<Router> {
    let pages = pages::Pages::new(config.pages).map_err(std::io::Error::other)?;
    let (api, _spec) = openapi::api_routes().split_for_parts();
    let limits = config.body_limits;
    let counters = Arc::new(metrics::Metrics::default());
    Ok(api
        .merge(pages::routes())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::bound_bodies,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits::SignInRate::per_minute(config.sign_ins_per_address_per_minute),
            limits::limit_sign_ins,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.trusted_proxies),
            auth::resolve_client,
        ))
        .layer(axum::middleware::from_fn_with_state(
            counters.clone(),
            metrics::count,
        ))
        // Inside the problem rendering, so that a request stopped for taking too long is a problem.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.timeouts.request,
        ))
        .layer(axum::middleware::from_fn(problem::localize_problems))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            problem::panic_to_problem,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            config.timeouts.body_read,
        ))
        .layer(DefaultBodyLimit::max(limits.largest()))
        .layer(axum::middleware::from_fn(headers::conditional_reads))
        // Outermost: every answer, a problem made by the layers above included, carries them.
        .layer(axum::middleware::from_fn(headers::secure_headers))
        .layer(axum::middleware::from_fn(headers::request_id))
        .with_state(AppState {
            service: Arc::new(service),
            pages: Arc::new(pages),
            metrics: counters,
        }))
}

/// Serves until the listener closes.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    config: WebConfig,
) -> std::io::Result<()> {
    serve_until(
        listener,
        service,
        config,
        std::future::pending(),
        std::time::Duration::ZERO,
    )
    .await
}

/// Serves until `stop` completes, then drains (issue 15): no new connection is accepted, each open
/// one finishes the request it is answering and closes, and the call returns when all have — or
/// after `drain` at the latest.
pub async fn serve_until(
    listener: TcpListener,
    service: Service,
    config: WebConfig,
    stop: impl std::future::Future<Output = ()>,
    drain: std::time::Duration,
) -> std::io::Result<()> {
    let timeouts = config.timeouts;
    let app = router(service, config)?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    // Our own accept loop (axum's `serve` has no timeouts): HTTP/1.1 with hyper, the headers of each
    // request — the first, and each next one on a kept-alive connection — within `header_read`.
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut stop => break,
        };
        let (stream, remote) = match accepted {
            Ok(c) => c,
            // A refused accept (too many open files, a reset) is not the end of the server.
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo::<SocketAddr>(remote));
                    tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
                },
            );
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(timeouts.header_read)
                .keep_alive(true);
            let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, %remote, "connection ended");
            }
        });
    }
    drop(listener);
    tracing::info!(
        open = graceful.count(),
        "stopping: draining open connections"
    );
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?drain,
            "connections still open after the drain time; closing them"
        );
    }
    Ok(())
}
