//! The HTTP API of Qoljetim (DESIGN.md §8). Each handler translates: it extracts the request's parts,
//! calls one use case of `qoljetim-service`, and answers with its outcome or its problem. Nothing here
//! decides who may do what (Cedar does, in the service) or touches the database.

pub mod auth;
pub mod export;
mod handlers;
pub mod i18n;
pub mod limits;
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
}

/// The router's state: the use cases, and the pages' templates.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub pages: Arc<pages::Pages>,
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
    Ok(api
        .merge(pages::routes())
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::bound_bodies,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits::SignInRate::per_minute(config.sign_ins_per_address_per_minute),
            limits::limit_sign_ins,
        ))
        .layer(axum::middleware::from_fn(problem::localize_problems))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            problem::panic_to_problem,
        ))
        .layer(DefaultBodyLimit::max(limits.largest()))
        .with_state(AppState {
            service,
            pages: Arc::new(pages),
        }))
}

/// Serves until the listener closes.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    config: WebConfig,
) -> std::io::Result<()> {
    let app = router(service, config)?.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await
}
