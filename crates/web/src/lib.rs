//! The HTTP API of Qoljetim (DESIGN.md §8). Each handler translates: it extracts the request's parts,
//! calls one use case of `qoljetim-service`, and answers with its outcome or its problem. Nothing here
//! decides who may do what (Cedar does, in the service) or touches the database.

pub mod auth;
pub mod export;
mod handlers;
pub mod i18n;
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

/// A signed 1,000-line application in base64 stays well below this.
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub use pages::PagesConfig;

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

pub fn router(service: Service, pages: PagesConfig) -> std::io::Result<Router> {
    let pages = pages::Pages::new(pages).map_err(std::io::Error::other)?;
    let (api, _spec) = openapi::api_routes().split_for_parts();
    Ok(api
        .merge(pages::routes())
        .layer(axum::middleware::from_fn(problem::localize_problems))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            problem::panic_to_problem,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(AppState {
            service,
            pages: Arc::new(pages),
        }))
}

/// Serves until the listener closes.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    pages: PagesConfig,
) -> std::io::Result<()> {
    let app = router(service, pages)?.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await
}
