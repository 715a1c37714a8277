//! The `qoljetim` program: configuration, wiring of the layers, the demo, the benchmarks and the
//! test kit the integration tests and benchmarks share.

pub mod backup;
pub mod bench;
pub mod client;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod dev_egov;
pub mod devca_files;
pub mod hr;
pub mod inproc;
pub mod mailer;
pub mod people;
pub mod pki;
pub mod worker;

use der::{Decode, DecodePem};
use qoljetim_domain::WorkingDayCalendar;
use qoljetim_policy::PolicyEngine;
use qoljetim_service::{Service as AppState, ServiceConfig};
use qoljetim_signature::Verifier;
use qoljetim_store::Store;
use x509_cert::Certificate;

use crate::config::Config;

pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The lessons of `lessons/` as shipped, built into the program: the demo loads them (and the tests
/// do) through the same use case as `qoljetim lessons load` (Order 270 §12).
pub fn shipped_lessons() -> Vec<qoljetim_service::LessonFile> {
    [
        (
            "lessons/analytical-central.toml",
            include_str!("../../../lessons/analytical-central.toml"),
        ),
        (
            "lessons/state-planning.toml",
            include_str!("../../../lessons/state-planning.toml"),
        ),
    ]
    .into_iter()
    .map(|(name, text)| qoljetim_service::LessonFile {
        name: name.to_owned(),
        text: text.to_owned(),
    })
    .collect()
}

/// Every lesson file of a folder (`*.toml`), sorted by name.
pub fn lesson_files(dir: &std::path::Path) -> Result<Vec<qoljetim_service::LessonFile>, AnyError> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            Ok(qoljetim_service::LessonFile {
                text: std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?,
                name: f.display().to_string(),
            })
        })
        .collect()
}

pub fn load_certificate(path: &std::path::Path) -> Result<Certificate, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Certificate::from_der(&bytes)
        .or_else(|_| Certificate::from_pem(&bytes))
        .map_err(|e| format!("{}: not a PEM or DER certificate: {e}", path.display()))
}

pub fn calendar(cfg: &Config) -> Result<WorkingDayCalendar, String> {
    let mut overrides = vec![];
    for f in &cfg.calendar_files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        overrides.push((f.display().to_string(), text));
    }
    WorkingDayCalendar::load(&overrides).map_err(|e| e.to_string())
}

/// The competence → scope rules in force: the configured file, or the shipped one. A bad file is an
/// error naming its line, and the process does not start.
pub fn competence_rules(cfg: &Config) -> Result<qoljetim_domain::CompetenceRules, String> {
    if cfg.competence_rules.as_os_str().is_empty() {
        return qoljetim_domain::CompetenceRules::shipped().map_err(|e| e.to_string());
    }
    let path = &cfg.competence_rules;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    qoljetim_domain::CompetenceRules::parse(&path.display().to_string(), &text)
        .map_err(|e| format!("competence rules: {e}"))
}

/// Order 270 §2.6 at start-up: every organization of a removed kind or an excluded BIN that is not
/// yet marked is marked not eligible, its live grants blocked and its sessions ended, with one audit
/// record each. Returns the BINs it marked.
pub async fn apply_exclusions(
    store: &Store,
    exclusions: &qoljetim_domain::org::Exclusions,
    at: jiff::Timestamp,
) -> Result<Vec<String>, AnyError> {
    let mut marked = vec![];
    for org in store.organizations().await? {
        if org.excluded.is_some() || !exclusions.excludes(org.bin.as_str(), org.kind.as_str()) {
            continue;
        }
        let clause = "Order 270 §2.6".to_owned();
        let out = store
            .commit(
                qoljetim_store::Change::ExcludeOrganization {
                    bin: org.bin.clone(),
                    clause: clause.clone(),
                    at: at.as_microsecond(),
                },
                cli_audit(
                    "system:start-up",
                    "exclude_organization",
                    format!("organization/{}", org.bin),
                    serde_json::json!({"kind": org.kind, "clause": clause,
                        "reason": "not a state audit body under Order 270 §2.6 (removed kind or excluded BIN)"}),
                ),
            )
            .await?;
        tracing::warn!(bin = %org.bin, kind = %org.kind, grants_blocked = ?out.counts.get("grants_blocked"),
            "organization marked not eligible (Order 270 §2.6)");
        marked.push(org.bin.to_string());
    }
    Ok(marked)
}

/// The use cases as the server runs them: `build_service`, with the CRLs loaded and kept fresh and the
/// budget data open.
pub async fn build_state(cfg: &Config) -> Result<AppState, AnyError> {
    let (mut state, feeds) = build_service(cfg).await?;
    // The first load is awaited so that the first sign-in finds the CRLs in force.
    pki::refresh(&feeds).await;
    pki::spawn_refresher(
        feeds,
        std::time::Duration::from_secs(cfg.pki.crl_refresh_minutes * 60),
    );
    state.budget = Some(open_budget(&budget_dir(cfg)).await?);
    Ok(state)
}

/// The use cases for a command-line call that verifies no signature and reads no budget data
/// (`org add`, `hr import-orders`): no CRL fetch, no budget data loaded; the CRL feeds are returned
/// for a caller that needs them.
pub async fn build_service(cfg: &Config) -> Result<(AppState, Vec<pki::CrlFeed>), AnyError> {
    let rules = competence_rules(cfg)?;
    let exclusions = qoljetim_domain::org::Exclusions::new(&cfg.excluded_bins)?;
    std::fs::create_dir_all(&cfg.data_dir)?;
    let store = Store::open(&cfg.database_url()).await?;
    let policy = PolicyEngine::new()?;
    let (anchors, feeds) = pki::trust_anchors(cfg)?;
    let verifier = Verifier::new(anchors)
        .with_limits(cfg.limits.cms_limits())
        .with_fail_open(cfg.pki.revocation_fail_open)
        .with_tsa_anchors(pki::tsa_anchors(cfg)?);
    let web = ServiceConfig {
        production: cfg.production,
        session_hours: cfg.session.hours,
        session_idle_minutes: cfg.session.idle_minutes,
        // Secure whenever the public address is https, whatever `[session] cookie_secure` says.
        cookie_secure: cfg.session.cookie_secure || cfg.public_url.starts_with("https://"),
        hr_event_signer_bins: cfg.hr.event_signer_bins.clone(),
        exclusions: exclusions.clone(),
        mobile_signing: {
            cfg.mobile_signing.check()?;
            let mut m = cfg.mobile_signing.clone();
            if m.public_url.is_empty() {
                m.public_url = cfg.public_url.clone();
            }
            m
        },
        intake_date_days_back: cfg.intake.date_days_back,
        support_first_answer_working_days: cfg.support.first_answer_working_days,
        change_rules: {
            cfg.change_requests.check()?;
            cfg.change_requests.clone()
        },
        recertification: {
            cfg.recertification.check()?;
            cfg.recertification.clone()
        },
        abuse: cfg.limits.abuse(),
        systems: {
            cfg.systems.check()?;
            cfg.systems
        },
    };
    apply_exclusions(&store, &exclusions, jiff::Timestamp::now()).await?;
    let mut state = AppState::new(store, policy, verifier, calendar(cfg)?, web)?;
    state.rules = std::sync::Arc::new(rules);
    state.challenge_keys = std::sync::Arc::new(cfg.challenge_keys()?);
    if cfg.sign_in.challenge_key.is_empty() && cfg.sqlite_file().is_none() {
        // Several instances may share this database: each would refuse the others' challenges.
        if cfg.production {
            return Err(
                "production mode on PostgreSQL needs [sign_in] challenge_key, the same on \
                        every instance (`qoljetim challenge-key` makes one; docs/deployment.md)"
                    .into(),
            );
        }
        tracing::warn!(
            "[sign_in] challenge_key is not set: a second instance on this database would refuse this one's challenges"
        );
    }
    Ok((state, feeds))
}

/// Where the budget data (Parquet files and their manifest) lives: `<data_dir>/budget`.
pub fn budget_dir(cfg: &Config) -> std::path::PathBuf {
    cfg.data_dir.join("budget")
}

/// Opens the budget data read-only (the server never writes it); an empty folder gets a manifest.
pub async fn open_budget(
    root: &std::path::Path,
) -> Result<std::sync::Arc<dyn qoljetim_budget::BudgetStore>, AnyError> {
    if !qoljetim_budget::engine::manifest_path(root).exists() {
        qoljetim_budget::files::publish_manifest(root)?;
    }
    Ok(std::sync::Arc::new(
        qoljetim_budget::BudgetTables::open(root).await?,
    ))
}

/// Binds and serves in the background; returns the bound address and the state.
pub async fn spawn_server(cfg: &Config) -> Result<(std::net::SocketAddr, AppState), AnyError> {
    spawn_server_with_clock(cfg, qoljetim_domain::Clock::system()).await
}

/// As `spawn_server`, reading `clock` (a fixed clock lets tests travel in time).
pub async fn spawn_server_with_clock(
    cfg: &Config,
    clock: qoljetim_domain::Clock,
) -> Result<(std::net::SocketAddr, AppState), AnyError> {
    let running = start_server(cfg, clock).await?;
    let (addr, state) = (running.addr, running.state.clone());
    // Serves until the process ends (the tests, the benches): the stop handle is not kept.
    std::mem::forget(running.stop);
    Ok((addr, state))
}

/// A server started with a way to stop it gracefully.
pub struct RunningServer {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Starts the background worker beside the server (when the configuration enables it); it stops
    /// with the server, after the job it is running.
    pub fn with_worker(mut self, cfg: &Config) -> Result<Self, AnyError> {
        if cfg.worker.enabled {
            let worker = worker::worker_for(cfg, self.state.clone())?;
            let every = std::time::Duration::from_secs(cfg.worker.interval_seconds.max(1));
            self.worker = Some(tokio::spawn(worker.run_until(every, self.stop.subscribe())));
        }
        Ok(self)
    }

    /// Graceful shutdown (issue 15): no new connection; the requests in flight are answered (within
    /// `[limits] request_seconds`); the worker finishes its current job; then it returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(w) = self.worker {
            let _ = w.await;
        }
    }
}

/// Binds and serves in the background, with a handle to stop it gracefully.
pub async fn start_server(
    cfg: &Config,
    clock: qoljetim_domain::Clock,
) -> Result<RunningServer, AnyError> {
    // SQLite is one server's (issue 21): a second `serve` on the same file stops here.
    let lock = cluster::ServeLock::take(cfg)?;
    let mut state = build_state(cfg).await?;
    // Commands run beside the server (`qoljetim grants revoke` …) tell its read cache of their changes.
    state.store.serve();
    state.clock = clock;
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
    let addr = listener.local_addr()?;
    let s = state.clone();
    let web = qoljetim_web::WebConfig {
        pages: qoljetim_web::PagesConfig {
            ncalayer_url: cfg.pages.ncalayer_url.clone(),
        },
        body_limits: cfg.limits.body_limits(),
        sign_ins_per_address_per_minute: cfg.limits.sign_ins_per_address_per_minute,
        timeouts: cfg.limits.timeouts(),
        trusted_proxies: qoljetim_web::auth::TrustedProxies::parse(&cfg.trusted_proxies)?,
    };
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let drain = cfg.limits.timeouts().request;
    let server = tokio::spawn(async move {
        // Held as long as the server runs.
        let _lock = lock;
        let until = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = qoljetim_web::serve_until(listener, s, web, until, drain).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(RunningServer {
        addr,
        state,
        stop,
        server,
        worker: None,
    })
}

/// Starts the background worker inside the server process, when the configuration enables it.
pub fn start_worker(cfg: &Config, state: AppState) -> Result<(), AnyError> {
    if !cfg.worker.enabled {
        return Ok(());
    }
    let worker = worker::worker_for(cfg, state)?;
    let every = std::time::Duration::from_secs(cfg.worker.interval_seconds.max(1));
    tokio::spawn(worker.run_forever(every));
    Ok(())
}

/// An organization registered directly in the store (the demo, the benchmarks, the test kit), its codes
/// parsed as the store keeps them.
pub fn organization_change(
    bin: &str,
    names: (&str, &str),
    kind: qoljetim_domain::OrganizationKind,
    territory: Option<&str>,
    administrators: &[&str],
    at: i64,
) -> Result<qoljetim_store::Change, AnyError> {
    Ok(qoljetim_store::Change::CreateOrganization {
        bin: qoljetim_domain::Bin::parse(bin)?,
        name_kk: names.0.to_owned(),
        name_ru: names.1.to_owned(),
        kind: kind.into(),
        territory: territory.map(qoljetim_domain::Kato::parse).transpose()?,
        administrators: administrators
            .iter()
            .map(|a| qoljetim_domain::org::AdministratorCode::parse(a))
            .collect::<Result<_, _>>()?,
        created_at: at,
    })
}

/// An operator's staff entry (reviewer or integrator administrator) added directly in the store.
pub fn staff_change(
    iin: &str,
    bin: &str,
    role: &str,
    at: i64,
) -> Result<qoljetim_store::Change, AnyError> {
    Ok(qoljetim_store::Change::AddStaff {
        iin: qoljetim_domain::Iin::parse(iin)?,
        bin: qoljetim_domain::Bin::parse(bin)?,
        role: qoljetim_domain::Role::parse(role).ok_or_else(|| format!("unknown role {role}"))?,
        created_at: at,
    })
}

/// An error with every cause under it (`error sending request: tcp connect error: Connection refused`):
/// an HTTP client's own message hides why a source cannot be reached (issue 15).
pub fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

/// The audit record of a command-line change (no policy decides it: the operator has the machine).
pub fn cli_audit(
    actor: &str,
    action: &str,
    resource: String,
    details: serde_json::Value,
) -> qoljetim_store::AuditEntry {
    qoljetim_store::AuditEntry {
        actor: actor.to_owned(),
        actor_bin: None,
        action: action.to_owned(),
        resource,
        outcome: "ok".to_owned(),
        ip: "local".to_owned(),
        policies: vec![],
        details,
        creates: None,
    }
}

/// Applies one HR event (file import or test) through the webhook's use case after its signature:
/// blocks at once, records the clock. Returns a one-line summary; a repeated event is reported as such
/// and changes nothing.
pub async fn apply_hr_event(
    state: &AppState,
    event: &qoljetim_domain::lifecycle::HrEvent,
    source: &str,
    actor: &str,
) -> Result<String, AnyError> {
    let ev = state
        .import_hr_event(event, source, actor)
        .await
        .map_err(|e| format!("{}: {:?}", e.slug(), e.problem.args()))?;
    if ev.duplicate {
        return Ok(format!(
            "{} was received before (event {}): no change",
            event.event_id, ev.id
        ));
    }
    Ok(format!(
        "{} {} of {} in {} (powers ended {}): block due {}, {}; {} grants blocked, {} sessions ended",
        ev.event_id,
        ev.kind,
        ev.iin,
        ev.bin,
        ev.effective_date,
        ev.block_due,
        if ev.met { "met" } else { "missed" },
        ev.grants_blocked,
        ev.sessions_ended
    ))
}

/// One grant whose scope `rederive_scopes` changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rederived {
    pub grant: i64,
    pub organization_bin: String,
    pub person_iin: String,
    pub system: String,
    pub previous: qoljetim_domain::Scope,
    pub scope: qoljetim_domain::Scope,
}

/// Re-derives the scope of every live grant of organizations of `kind` under `rules` (Order 270 §6,
/// after a change of the rules file): the fiscal years granted stay as they were; levels, territory
/// and administrators follow the rules. One audit record per changed grant, with both scopes. Grants
/// that are no longer live keep the scope they were issued with (they are evidence).
pub async fn rederive_scopes(
    store: &Store,
    rules: &qoljetim_domain::CompetenceRules,
    kind: qoljetim_domain::OrganizationKind,
    actor: &str,
    dry_run: bool,
) -> Result<Vec<Rederived>, AnyError> {
    let mut changed = vec![];
    for org_row in store.organizations().await? {
        if org_row.kind.current() != Some(kind) || org_row.excluded.is_some() {
            continue;
        }
        let org = qoljetim_service::org_domain(&org_row)
            .map_err(|e| format!("{}: {e:?}", org_row.bin))?;
        for g in store.active_grants_of(org_row.bin.as_str()).await? {
            let years = g.scope.fiscal_years.iter().copied().collect();
            let new = qoljetim_domain::org::derive_scope(
                rules,
                &org,
                g.system,
                g.valid_from,
                g.valid_until,
                &years,
            );
            if new == g.scope {
                continue;
            }
            let item = Rederived {
                grant: g.id,
                organization_bin: g.organization_bin.to_string(),
                person_iin: g.person_iin.to_string(),
                system: g.system.as_str().to_owned(),
                previous: g.scope.clone(),
                scope: new,
            };
            if !dry_run {
                store
                    .commit(
                        qoljetim_store::Change::RederiveScope {
                            grant_id: g.id,
                            previous: item.previous.clone(),
                            scope: item.scope.clone(),
                        },
                        cli_audit(
                            actor,
                            "rederive_scope",
                            format!("grant/{}", g.id),
                            serde_json::json!({"kind": kind.as_str(), "rules": rules.source,
                                "previous": item.previous, "scope": item.scope}),
                        ),
                    )
                    .await?;
            }
            changed.push(item);
        }
    }
    Ok(changed)
}
