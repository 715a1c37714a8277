//! The HTTP API of Qoljetim (DESIGN.md §8): thin handlers that parse, call the domain and the policy,
//! commit through the store with their audit record, and map the result.

mod applications;
pub mod auth;
pub mod block;
pub mod data;
mod grants;
mod organizations;
mod sign_in;
mod system;
mod toolbox;
pub use toolbox::signed_body_cms;
pub mod i18n;
pub mod lifecycle;
mod openapi;
pub mod problem;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use qoljetim_domain::{Clock, CompetenceRules, WorkingDayCalendar};
use qoljetim_policy::PolicyEngine;
use qoljetim_signature::Verifier;
use qoljetim_store::Store;
use tokio::net::TcpListener;

pub use data::parse_query as parse_data_query;
pub use openapi::openapi_json;
pub use organizations::{not_eligible, org_domain, parse_organization};
pub use views::OrganizationBody;

/// A signed 1,000-line application in base64 stays well below this.
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Production mode refuses development trust anchors.
    pub production: bool,
    pub session_hours: i64,
    pub session_idle_minutes: i64,
    /// Mark the session cookie `Secure` (behind TLS).
    pub cookie_secure: bool,
    /// BINs of the HR systems whose signed events (dismissals, transfers) are accepted.
    pub hr_event_signer_bins: Vec<String>,
    /// Order 270 §2.6: the excluded kinds and the configured BINs that may not register or apply.
    pub exclusions: qoljetim_domain::org::Exclusions,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            production: false,
            session_hours: 8,
            session_idle_minutes: 30,
            cookie_secure: false,
            hr_event_signer_bins: vec![],
            exclusions: qoljetim_domain::org::Exclusions::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub policy: Arc<PolicyEngine>,
    pub verifier: Arc<Verifier>,
    pub calendar: Arc<WorkingDayCalendar>,
    pub challenge_key: Arc<[u8; 32]>,
    pub config: Arc<WebConfig>,
    /// The budget data engine (read only); None when the data folder has none.
    pub budget: Option<Arc<dyn qoljetim_budget::BudgetStore>>,
    /// The clock every rule reads (settable in tests and by `qoljetim jobs run-once --at`).
    pub clock: Clock,
    /// Competence → scope (Order 270 §6), read from the rules file at start-up.
    pub rules: Arc<CompetenceRules>,
}

impl AppState {
    pub fn new(
        store: Store,
        policy: PolicyEngine,
        verifier: Verifier,
        calendar: WorkingDayCalendar,
        config: WebConfig,
    ) -> std::io::Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        let rules = CompetenceRules::shipped().map_err(std::io::Error::other)?;
        Ok(AppState {
            store,
            policy: Arc::new(policy),
            verifier: Arc::new(verifier),
            calendar: Arc::new(calendar),
            challenge_key: Arc::new(key),
            config: Arc::new(config),
            budget: None,
            clock: Clock::system(),
            rules: Arc::new(rules),
        })
    }
}

pub fn router(state: AppState) -> Router {
    let (api, _spec) = openapi::api_routes().split_for_parts();
    api.layer(axum::middleware::from_fn(problem::localize_problems))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            system::panic_to_problem,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serves until the listener closes; returns the bound address through `on_bound`.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await
}
