//! `qoljetim bench workflow`: figures a reader can compare (DESIGN.md §5; issue "access workflow").
//! The server runs in-process over real HTTP; RSA-2048 end-entity keys directly under the trust anchor;
//! SQLite in WAL with synchronous=FULL; every sign-in's session and audit record durable before the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qoljetim_devca::{KeyKind, sign_cms};
use qoljetim_domain::OrganizationKind;
use qoljetim_signature::{KeyPurpose, NcaRole};
use serde_json::json;
use tokio::sync::Mutex;

use crate::AnyError;
use crate::client::{FormLine, KeyPair, application_json};
use crate::inproc::{InProcess, iin};
use crate::people::demo_bin;

/// The application form the benches submit: one line per IIN, both systems.
fn bench_form(bin: &str, date: &str, iins: &[String], until: Option<&str>) -> serde_json::Value {
    let lines: Vec<FormLine<'_>> = iins
        .iter()
        .map(|i| FormLine {
            iin: i,
            surname: "Сейітова",
            name: "Динара",
            patronymic: Some("Болатқызы"),
            access_until: until,
        })
        .collect();
    application_json(
        bin,
        date,
        ("Әбенова", "Айгүл", None),
        &["analytical_central", "state_planning"],
        &lines,
    )
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Which build prints the figures: a debug build's are not the ones to compare.
fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug (use --release for figures)"
    } else {
        "release"
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The person every signature benchmark issues a certificate to.
/// A verifier trusting `ca` alone, without revocation checking: the crypto is what is measured.
fn bench_verifier(ca: &qoljetim_devca::DevCa) -> qoljetim_signature::Verifier {
    qoljetim_signature::Verifier::new(vec![qoljetim_signature::TrustAnchor {
        name: "bench".into(),
        certificate: ca.certificate.clone(),
        development: true,
        revocation: qoljetim_signature::Revocation::None,
    }])
}

fn bench_subject(purpose: KeyPurpose) -> qoljetim_devca::Subject {
    qoljetim_devca::Subject {
        surname: "БЕНЧ".into(),
        name: "ТЕСТ".into(),
        patronymic: None,
        iin: iin(1),
        organization: Some((demo_bin(1), "Bench".into())),
        role: Some(NcaRole::Employee),
        purpose,
    }
}

/// CMS verifications per second, crypto only, on every core.
pub fn cms_verifications(seconds: f64) -> Result<(f64, usize), AnyError> {
    let now = Timestamp::now();
    let ca = qoljetim_devca::DevCa::generate(
        KeyKind::Rsa2048,
        now - jiff::ToSpan::hours(1),
        now + jiff::ToSpan::hours(24),
    )?;
    let subject = bench_subject(KeyPurpose::Authentication);
    let (cert, key) = ca.issue(
        &subject,
        KeyKind::Rsa2048,
        now - jiff::ToSpan::hours(1),
        now + jiff::ToSpan::hours(24),
    )?;
    let cms = sign_cms(b"challenge-bytes-for-the-benchmark", &cert, &key, Some(now))?;
    let verifier = bench_verifier(&ca);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0usize;
                    while Instant::now() < deadline {
                        if verifier.verify_cms(&cms, now).is_ok() {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    Ok((total as f64 / seconds, threads))
}

pub struct WorkflowFigures {
    /// The signature family of the people's keys (and of the development CA).
    pub key: &'static str,
    pub backend: String,
    pub logins: usize,
    pub logins_ok: usize,
    pub logins_per_second: f64,
    pub login_p50: Duration,
    pub login_p95: Duration,
    pub applications: usize,
    pub app_p50: Duration,
    pub app_p95: Duration,
}

/// SQLite always, then PostgreSQL when an admin URL is given.
fn backends(pg_admin: Option<&str>) -> Vec<Option<&str>> {
    std::iter::once(None).chain(pg_admin.map(Some)).collect()
}

/// Sign-in rate limits off: a bench signs in many clients from one address, and measures the server's
/// own work (`bench workflow` prints this beside its figures).
fn sign_in_limits_off() -> crate::inproc::Configure<'static> {
    Box::new(|c: &mut crate::config::Config| {
        c.limits.sign_ins_per_address_per_minute = 0;
        c.limits.sign_ins_per_certificate_per_minute = 0;
    })
}

pub async fn workflow_on(
    pg_admin: Option<&str>,
    key: KeyKind,
    clients: usize,
    logins: usize,
    applications: usize,
) -> Result<WorkflowFigures, AnyError> {
    // The server's own work is measured: the sign-in rate limits are off here (printed above the
    // figures; the production defaults would hold 16 clients to 10 sign-ins a minute each).
    let app = InProcess::start(pg_admin, key, 0, None, Some(sign_in_limits_off())).await?;
    let bin = demo_bin(7);
    app.add_org(&bin, OrganizationKind::Maslikhat, Some("750000000"), &[])
        .await?;
    // People and their challenges are prepared beforehand: the figure is the server's, not the signer's.
    let people: Vec<KeyPair> = (0..clients)
        .map(|i| {
            app.person(
                &iin(100 + i as u32),
                Some(&bin),
                Some(NcaRole::Employee),
                KeyPurpose::Authentication,
            )
        })
        .collect::<Result<_, _>>()?;
    let client = app.client();
    let mut bodies = Vec::with_capacity(logins);
    for i in 0..logins {
        let c = client.challenge().await?;
        bodies.push(json!({"signed_cms": people[i % people.len()].sign(c.as_bytes())?}));
    }
    let queue = Arc::new(Mutex::new(bodies));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(logins)));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..clients {
        let (q, lat, c) = (queue.clone(), latencies.clone(), app.client());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            loop {
                let Some(body) = q.lock().await.pop() else {
                    break;
                };
                let t = Instant::now();
                if let Ok((200, _)) = c.post("/api/v1/auth/login", &body).await {
                    ok += 1;
                }
                lat.lock().await.push(t.elapsed());
            }
            ok
        }));
    }
    let mut logins_ok = 0;
    for t in tasks {
        logins_ok += t.await.unwrap_or(0);
    }
    let elapsed = started.elapsed();
    let mut lat = latencies.lock().await.clone();
    lat.sort();

    // 100-line applications, signed beforehand, submitted one after another.
    let head = app.person(
        &iin(99),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let today = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Almaty")?)
        .date();
    let until = today.checked_add(jiff::ToSpan::months(6))?.to_string();
    // Each application its own people: the same signed content is accepted once (issue 15).
    let mut signed = vec![];
    for a in 0..applications {
        let iins: Vec<String> = (0..100).map(|i| iin(1000 + (a * 100 + i) as u32)).collect();
        let form = bench_form(&bin, &today.to_string(), &iins, Some(&until));
        signed.push(json!({"signed_cms": head.sign(form.to_string().as_bytes())?}));
    }
    // Posted in a session of the applicant organization, as a submission must be.
    let session = app.signed_in(&iin(98), &bin, NcaRole::Employee).await?;
    let mut app_lat = vec![];
    for body in &signed {
        let t = Instant::now();
        let (s, v) = session.post("/api/v1/applications", body).await?;
        app_lat.push(t.elapsed());
        if s != 201 {
            return Err(format!("application refused: {s} {v}").into());
        }
    }
    app_lat.sort();
    let figures = WorkflowFigures {
        backend: format!("{:?}", app.state.store.backend()),
        key: key.label(),
        logins,
        logins_ok,
        logins_per_second: logins_ok as f64 / elapsed.as_secs_f64(),
        login_p50: percentile(&lat, 0.5),
        login_p95: percentile(&lat, 0.95),
        applications,
        app_p50: percentile(&app_lat, 0.5),
        app_p95: percentile(&app_lat, 0.95),
    };
    app.cleanup().await;
    Ok(figures)
}

pub async fn workflow(
    keys: &[KeyKind],
    clients: usize,
    logins: usize,
    applications: usize,
    pg_admin: Option<String>,
) -> Result<(), AnyError> {
    println!(
        "qoljetim bench workflow — {} cores, build: {}",
        cores(),
        build()
    );
    let defaults = crate::config::LimitsSection::default();
    println!(
        "sign-in rate limits: off for this run (sign_ins_per_address_per_minute = 0, sign_ins_per_certificate_per_minute = 0; configured defaults {} and {})",
        defaults.sign_ins_per_address_per_minute, defaults.sign_ins_per_certificate_per_minute
    );
    let (per_sec, threads) = tokio::task::spawn_blocking(|| cms_verifications(3.0)).await??;
    println!(
        "CMS verifications (RSA-2048 end entity under the anchor, SHA-256, crypto only): {per_sec:.0}/s on {threads} threads"
    );
    for b in backends(pg_admin.as_deref()) {
        for (k, &key) in keys.iter().enumerate() {
            // The 100-line applications once per backend, with the first family's keys.
            let apps = if k == 0 { applications } else { 0 };
            let f = workflow_on(b, key, clients, logins, apps).await?;
            println!(
                "[{}] {} sign-ins: {}/{} ok, {:.0}/s at {clients} concurrent clients (p50 {:.1} ms, p95 {:.1} ms; session + audit record durable before each answer)",
                f.backend,
                f.key,
                f.logins_ok,
                f.logins,
                f.logins_per_second,
                f.login_p50.as_secs_f64() * 1e3,
                f.login_p95.as_secs_f64() * 1e3
            );
            if apps > 0 {
                println!(
                    "[{}] 100-line application accepted: p50 {:.1} ms, p95 {:.1} ms over {} submissions",
                    f.backend,
                    f.app_p50.as_secs_f64() * 1e3,
                    f.app_p95.as_secs_f64() * 1e3,
                    f.applications
                );
            }
        }
    }
    Ok(())
}

/// `qoljetim bench reads` (issue 20): small signed-in reads — `GET /api/v1/me`, each audited durably
/// before its answer — from `connections` signed-in clients at once for `seconds`, on SQLite and, with
/// an admin URL, PostgreSQL: requests per second and p50/p99.
pub async fn reads(
    connection_counts: &[usize],
    seconds: f64,
    pg_admin: Option<String>,
) -> Result<(), AnyError> {
    println!(
        "qoljetim bench reads — {} cores, build: {}",
        cores(),
        build()
    );
    for b in backends(pg_admin.as_deref()) {
        let app = InProcess::start(b, KeyKind::P256, 0, None, Some(sign_in_limits_off())).await?;
        let bin = demo_bin(8);
        app.add_org(&bin, OrganizationKind::Maslikhat, Some("750000000"), &[])
            .await?;
        let most = connection_counts.iter().copied().max().unwrap_or(1);
        let mut sessions = vec![];
        for i in 0..most {
            sessions.push(Arc::new(
                app.signed_in(&iin(300 + i as u32), &bin, NcaRole::Employee)
                    .await?,
            ));
        }
        let backend = format!("{:?}", app.state.store.backend());
        for &n in connection_counts {
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let started = Instant::now();
            let mut tasks = vec![];
            for session in sessions.iter().take(n) {
                let session = Arc::clone(session);
                tasks.push(tokio::spawn(async move {
                    let mut lat = vec![];
                    let mut wrong = 0usize;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        match session.get("/api/v1/me").await {
                            // The answer names the reader: a read that answered something else counts
                            // as wrong.
                            Ok((200, v)) if v["person"]["iin"].is_string() => lat.push(t.elapsed()),
                            _ => wrong += 1,
                        }
                    }
                    (lat, wrong)
                }));
            }
            let mut lat = vec![];
            let mut wrong = 0;
            for t in tasks {
                let (l, w) = t.await?;
                lat.extend(l);
                wrong += w;
            }
            let elapsed = started.elapsed().as_secs_f64();
            lat.sort();
            println!(
                "[{backend}] GET /me at {n:>3} connections: {:>6.0} req/s, p50 {:.1} ms, p99 {:.1} ms ({} reads, {wrong} refused or wrong; each audited durably before its answer)",
                lat.len() as f64 / elapsed,
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.99)),
                lat.len()
            );
        }
        app.cleanup().await;
    }
    Ok(())
}

/// One fixed scoped query of `bench data`.
struct DataCase {
    label: &'static str,
    kind: OrganizationKind,
    territory: Option<&'static str>,
    administrators: &'static [&'static str],
    path: &'static str,
}

const DATA_CASES: [DataCase; 4] = [
    DataCase {
        label: "maslikhat of Almaty city: its budgets by functional group and month",
        kind: OrganizationKind::Maslikhat,
        territory: Some("750000000"),
        administrators: &[],
        path: "group_by=functional_group,month&measures=approved_plan,paid&limit=1000",
    },
    DataCase {
        label: "Supreme Audit Chamber: republican budget by administrator and program",
        kind: OrganizationKind::SupremeAuditChamber,
        territory: None,
        administrators: &[],
        path: "group_by=administrator,program&measures=corrected_plan,paid&limit=1000",
    },
    DataCase {
        label: "MVD internal audit of Karaganda oblast: administrator 252 by specifics",
        kind: OrganizationKind::MvdTerritorialInternalAudit,
        territory: Some("350000000"),
        administrators: &[],
        path: "group_by=specifics&measures=corrected_plan,registered_obligations,paid&limit=1000",
    },
    DataCase {
        label: "central internal audit (administrator 217): by program",
        kind: OrganizationKind::CentralInternalAudit,
        territory: None,
        administrators: &["217"],
        path: "group_by=program&measures=corrected_plan,paid&limit=1000",
    },
];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One scoped query of `bench data`, ready to run: a signed-in user of the case's organization, the
/// URL, and the same query and scope for the engine.
pub struct DataRun {
    pub label: &'static str,
    pub user: crate::client::ApiClient,
    pub url: String,
    pub scope: qoljetim_budget::DataScope,
    pub query: qoljetim_budget::DataQuery,
}

/// What `bench data` measures: the server (its own engine, so the data is in memory once) and the
/// four queries.
pub struct DataBench {
    pub engine: Arc<dyn qoljetim_budget::BudgetStore>,
    pub runs: Vec<DataRun>,
    /// Seconds from starting the server (its data loaded) to serving.
    pub start_seconds: f64,
    pub budget_dir: std::path::PathBuf,
}

/// The data folder's layout: generated data of another layout is generated again.
const BENCH_LAYOUT: &str = "scope-sorted-1";

/// Generates (or reuses) `rows` expenditure rows under `dir`, starts the server on them and grants
/// each case's organization its scope through the real workflow (signed application, review, grant).
pub async fn data_setup(
    rows: usize,
    dir: &std::path::Path,
    quiet: bool,
) -> Result<DataBench, AnyError> {
    use crate::config::Config;
    let say = |line: String| {
        if !quiet {
            println!("{line}");
        }
    };
    let budget = dir.join("budget");
    let marker = dir.join("bench-rows");
    let wanted = format!("{rows} {BENCH_LAYOUT}");
    let have = std::fs::read_to_string(&marker).ok();
    if have.as_deref().map(str::trim) != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&budget);
        let t = Instant::now();
        say(format!(
            "generating {rows} expenditure rows (2025–2027) into {} …",
            budget.display()
        ));
        qoljetim_budget::generate::generate(&budget, rows, 2026, &[2025, 2026, 2027])?;
        std::fs::write(&marker, &wanted)?;
        say(format!("generated in {:.1} s", t.elapsed().as_secs_f64()));
    } else {
        say(format!("reusing {rows} rows in {}", budget.display()));
    }
    // A fresh workflow database next to the data; the development CA signs the bench's people.
    let _ = std::fs::remove_file(dir.join("qoljetim.db"));
    let _ = std::fs::remove_file(dir.join("qoljetim.db-wal"));
    let _ = std::fs::remove_file(dir.join("qoljetim.db-shm"));
    let ca = crate::devca_files::init(&dir.join("dev-ca"), KeyKind::P256)?;
    let cfg = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_owned(),
        pki: crate::config::PkiConfig {
            trust_dev_ca: true,
            ..Default::default()
        },
        ..Config::default()
    };
    let t = Instant::now();
    let (addr, state) = crate::spawn_server(&cfg).await?;
    let start_seconds = t.elapsed().as_secs_f64();
    say(format!(
        "server up with the data loaded in {start_seconds:.1} s"
    ));
    let engine = state
        .budget
        .clone()
        .ok_or("the server has no budget data")?;
    // Order 270 §12: the shipped lessons, loaded as `qoljetim lessons load` loads them.
    state
        .load_lessons("bench", crate::shipped_lessons())
        .await
        .map_err(|e| format!("loading the lessons: {e:?}"))?;
    let base = format!("http://{addr}");
    let minfin = demo_bin(1);
    let integrator = demo_bin(2);
    let store = &state.store;
    let now = Timestamp::now().as_microsecond();
    let add = |bin: String, kind: OrganizationKind, territory: Option<&str>, admins: &[&str]| {
        crate::organization_change(&bin, ("bench", "bench"), kind, territory, admins, now)
    };
    let audit = || {
        crate::cli_audit(
            "cli:bench",
            "manage_organizations",
            "bench".into(),
            json!({}),
        )
    };
    store
        .commit(
            add(minfin.clone(), OrganizationKind::AuthorizedBody, None, &[])?,
            audit(),
        )
        .await?;
    store
        .commit(
            add(integrator.clone(), OrganizationKind::Integrator, None, &[])?,
            audit(),
        )
        .await?;
    store
        .commit(
            crate::staff_change(&iin(1), &minfin, "reviewer", now)?,
            audit(),
        )
        .await?;
    store
        .commit(
            crate::staff_change(&iin(2), &integrator, "integrator_admin", now)?,
            audit(),
        )
        .await?;
    let person =
        |iin_: &str, bin: &str, role: NcaRole, purpose: KeyPurpose| -> Result<KeyPair, AnyError> {
            let subject = qoljetim_devca::Subject {
                surname: "БЕНЧ".into(),
                name: "ТЕСТ".into(),
                patronymic: None,
                iin: iin_.into(),
                organization: Some((bin.into(), "Bench".into())),
                role: Some(role),
                purpose,
            };
            let (cert, key) = ca.issue(
                &subject,
                KeyKind::P256,
                Timestamp::now() - jiff::ToSpan::hours(1),
                Timestamp::now() + jiff::ToSpan::hours(24),
            )?;
            Ok(KeyPair { cert, key })
        };
    let mut reviewer = crate::client::ApiClient::new(&base);
    reviewer
        .login(&person(
            &iin(1),
            &minfin,
            NcaRole::Employee,
            KeyPurpose::Authentication,
        )?)
        .await?;
    let mut integ = crate::client::ApiClient::new(&base);
    integ
        .login(&person(
            &iin(2),
            &integrator,
            NcaRole::Employee,
            KeyPurpose::Authentication,
        )?)
        .await?;
    let today = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Almaty")?)
        .date();
    let until = today.checked_add(jiff::ToSpan::months(6))?.to_string();
    let mut runs = vec![];
    for (i, case) in DATA_CASES.iter().enumerate() {
        let bin = demo_bin(10 + i as u32);
        store
            .commit(
                add(bin.clone(), case.kind, case.territory, case.administrators)?,
                audit(),
            )
            .await?;
        let head = person(
            &iin(20 + i as u32),
            &bin,
            NcaRole::FirstHead,
            KeyPurpose::Signing,
        )?;
        let user_iin = iin(40 + i as u32);
        let lines = [FormLine {
            iin: &user_iin,
            surname: "Бенч",
            name: "Тест",
            patronymic: None,
            access_until: Some(&until),
        }];
        let form = application_json(
            &bin,
            &today.to_string(),
            ("Бенч", "Тест", None),
            &["analytical_central"],
            &lines,
        );
        let mut session = crate::client::ApiClient::new(&base);
        session
            .login(&person(
                &iin(20 + i as u32),
                &bin,
                NcaRole::FirstHead,
                KeyPurpose::Authentication,
            )?)
            .await?;
        let (_, v) = session.submit(&head, &form).await?;
        let id = v["id"].as_i64().ok_or("submission refused")?;
        reviewer
            .post(
                &format!("/api/v1/applications/{id}/review"),
                &json!({"lines": [{"line": 1, "decision": "approve"}]}),
            )
            .await?;
        let (_, v) = integ
            .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
            .await?;
        let scope: qoljetim_domain::Scope =
            serde_json::from_value(v["grants"][0]["scope"].clone())?;
        let mut user = crate::client::ApiClient::new(&base);
        user.login(&person(
            &user_iin,
            &bin,
            NcaRole::Employee,
            KeyPurpose::Authentication,
        )?)
        .await?;
        // Order 270 §13, §15: the lesson passed and the duties accepted before the first read.
        user.pass_training(&crate::shipped_lessons()).await?;
        let url = format!(
            "/api/v1/data/analytical_central/expenditure?fiscal_year=2026&{}",
            case.path
        );
        let spec = &qoljetim_budget::DATASETS[0];
        let params: std::collections::HashMap<String, String> = url
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let (q, _) = qoljetim_service::parse_query(spec, &params).map_err(|e| format!("{e:?}"))?;
        let ds = qoljetim_budget::DataScope::from_grant(&scope);
        runs.push(DataRun {
            label: case.label,
            user,
            url,
            scope: ds,
            query: q,
        });
    }
    Ok(DataBench {
        engine,
        runs,
        start_seconds,
        budget_dir: budget,
    })
}

/// `qoljetim bench data`: generates (or reuses) data, then times each scoped query through HTTP (signed
/// in, Cedar, scope, durable audit record, JSON) and directly in the engine.
pub async fn data(rows: usize, dir: &std::path::Path, iterations: usize) -> Result<(), AnyError> {
    let bench = data_setup(rows, dir, false).await?;
    println!(
        "{:<72} {:>9} {:>9} {:>9} {:>9} {:>8} {:>6}",
        "query (fiscal year 2026)", "http p50", "http p95", "eng p50", "eng p95", "adds", "rows"
    );
    let spec = &qoljetim_budget::DATASETS[0];
    for run in &bench.runs {
        let mut http = vec![];
        let mut returned = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let (s, v) = run.user.get(&run.url).await?;
            http.push(t.elapsed());
            if s != 200 {
                return Err(format!("{}: {s} {v}", run.label).into());
            }
            returned = v["rows"].as_array().map(|r| r.len()).unwrap_or(0);
        }
        let mut direct = vec![];
        for _ in 0..iterations {
            let t = Instant::now();
            bench.engine.query(spec, &run.scope, &run.query).await?;
            direct.push(t.elapsed());
        }
        http.sort();
        direct.sort();
        let (h50, h95, e50, e95) = (
            percentile(&http, 0.5),
            percentile(&http, 0.95),
            percentile(&direct, 0.5),
            percentile(&direct, 0.95),
        );
        println!(
            "{:<72} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>6.1}ms {:>6}",
            run.label,
            ms(h50),
            ms(h95),
            ms(e50),
            ms(e95),
            ms(h50) - ms(e50),
            returned
        );
    }
    println!(
        "(adds = HTTP p50 − engine p50: session, Cedar, scope, durable audit record, JSON; {iterations} runs each)"
    );
    Ok(())
}

/// The resident and peak memory of this process, in KiB (Linux `/proc/self/status`).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `qoljetim bench data-peer`: the Qoljetim side of `scripts/compare-duckdb` (issue 19). Sets up as
/// `bench data`, prints one JSON line describing the four queries (scope and query, so that the
/// script writes the same SQL), then answers JSON commands on standard input, one per line:
/// `{"do": "engine"|"http", "case": i, "times": n}` → each run's milliseconds and the last answer's
/// rows; `{"do": "memory"}` → resident and peak KiB; `{"do": "quit"}`.
pub async fn data_peer(rows: usize, dir: &std::path::Path) -> Result<(), AnyError> {
    let bench = data_setup(rows, dir, true).await?;
    let spec = &qoljetim_budget::DATASETS[0];
    let cases: Vec<serde_json::Value> = bench
        .runs
        .iter()
        .map(|r| {
            json!({
                "label": r.label,
                "fiscal_year": r.query.fiscal_year,
                "group_by": r.query.group_by.iter().map(|d| d.name()).collect::<Vec<_>>(),
                "measures": r.query.measures,
                "scope": {
                    "fiscal_years": r.scope.fiscal_years,
                    "levels": r.scope.levels,
                    "kato_range": r.scope.kato_range(),
                    "administrators": r.scope.administrators,
                },
            })
        })
        .collect();
    let (rss, _) = memory_kib();
    println!(
        "{}",
        json!({
            "ready": true,
            "pid": std::process::id(),
            "rows": rows,
            "start_seconds": bench.start_seconds,
            "rss_kib": rss,
            "budget_dir": bench.budget_dir,
            "cases": cases,
        })
    );
    loop {
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|n| (n, line))
        })
        .await??;
        if line.0 == 0 {
            break;
        }
        let cmd: serde_json::Value = serde_json::from_str(&line.1)?;
        let answer = match cmd["do"].as_str() {
            Some(path @ ("engine" | "http")) => {
                let run = cmd["case"]
                    .as_u64()
                    .and_then(|i| bench.runs.get(i as usize))
                    .ok_or("no such case")?;
                let times = cmd["times"].as_u64().unwrap_or(1).max(1);
                let mut took = vec![];
                let mut rows = serde_json::Value::Null;
                for _ in 0..times {
                    let t = Instant::now();
                    if path == "engine" {
                        let a = bench.engine.query(spec, &run.scope, &run.query).await?;
                        took.push(ms(t.elapsed()));
                        rows = json!(a.rows);
                    } else {
                        let (s, v) = run.user.get(&run.url).await?;
                        took.push(ms(t.elapsed()));
                        if s != 200 {
                            return Err(format!("{}: {s} {v}", run.label).into());
                        }
                        rows = json!(
                            v["rows"]
                                .as_array()
                                .map(Vec::as_slice)
                                .unwrap_or_default()
                                .iter()
                                .map(|row| {
                                    let codes: Vec<&serde_json::Value> = run
                                        .query
                                        .group_by
                                        .iter()
                                        .map(|d| &row["group"][d.name()])
                                        .collect();
                                    let values: Vec<&serde_json::Value> = run
                                        .query
                                        .measures
                                        .iter()
                                        .map(|m| &row["values"][m.as_str()])
                                        .collect();
                                    json!([codes, values])
                                })
                                .collect::<Vec<_>>()
                        );
                    }
                }
                json!({"ms": took, "rows": rows})
            }
            Some("memory") => {
                let (rss, hwm) = memory_kib();
                json!({"rss_kib": rss, "hwm_kib": hwm})
            }
            Some("quit") => break,
            _ => json!({"error": "unknown command"}),
        };
        println!("{answer}");
    }
    Ok(())
}

/// `qoljetim bench signatures`: certificate-signature verifications per second on one core, by family.
/// RSA-2048 and ECDSA P-256: a certificate issued by a CA generated at run time. GOST: the NCA test
/// PKI's own signatures (34.310-2004: the first head's certificate by its CA; 34.10-2015-512: the GOST
/// TEST 2022 CRL by its CA), so the figures are on real NCA data.
pub fn signatures(seconds: f64) -> Result<Vec<(String, f64)>, AnyError> {
    use der::{Decode, Encode};
    use qoljetim_signature::verify::{certificate_signed_by, verify_gost};
    use x509_cert::Certificate;
    use x509_cert::crl::CertificateList;

    fn per_second(seconds: f64, mut f: impl FnMut() -> bool) -> Result<f64, AnyError> {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed().as_secs_f64() < seconds {
            if !f() {
                return Err("a benchmark signature did not verify".into());
            }
            n += 1;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    }

    let now = Timestamp::now();
    let mut out = vec![];
    for (label, kind) in [
        ("RSA-2048 (sha256WithRSAEncryption)", KeyKind::Rsa2048),
        ("ECDSA P-256 (ecdsa-with-SHA256)", KeyKind::P256),
    ] {
        let ca = qoljetim_devca::DevCa::generate(
            kind,
            now - jiff::ToSpan::hours(1),
            now + jiff::ToSpan::hours(24),
        )?;
        let subject = bench_subject(KeyPurpose::Signing);
        let (cert, _) = ca.issue(
            &subject,
            kind,
            now - jiff::ToSpan::hours(1),
            now + jiff::ToSpan::hours(24),
        )?;
        let rate = per_second(seconds, || {
            certificate_signed_by(&cert, &ca.certificate) == Ok(true)
        })?;
        out.push((label.to_owned(), rate));
    }
    let ca2004 = Certificate::from_der(include_bytes!(
        "../../signature/tests/fixtures/nca-test/nca_gost_test.crt"
    ))
    .or_else(|_| {
        <Certificate as der::DecodePem>::from_pem(include_bytes!(
            "../../signature/tests/fixtures/nca-test/nca_gost_test.crt"
        ))
    })?;
    let ceo = Certificate::from_der(include_bytes!(
        "../../signature/tests/fixtures/nca-test/ceo_valid_sign_2004_gost.cer"
    ))
    .or_else(|_| {
        <Certificate as der::DecodePem>::from_pem(include_bytes!(
            "../../signature/tests/fixtures/nca-test/ceo_valid_sign_2004_gost.cer"
        ))
    })?;
    let rate = per_second(seconds, || certificate_signed_by(&ceo, &ca2004) == Ok(true))?;
    out.push((
        "GOST 34.310-2004 (CryptoPro-A, GOST 34.311-95) — NCA test certificate".into(),
        rate,
    ));
    let ca2015 = Certificate::from_der(include_bytes!(
        "../../signature/tests/fixtures/nca-test/nca_gost2015_test.cer"
    ))
    .or_else(|_| {
        <Certificate as der::DecodePem>::from_pem(include_bytes!(
            "../../signature/tests/fixtures/nca-test/nca_gost2015_test.cer"
        ))
    })?;
    let crl_bytes = include_bytes!("../../signature/tests/fixtures/nca-test/nca_gost2022_test.crl");
    let crl = CertificateList::from_der(crl_bytes)
        .or_else(|_| <CertificateList as der::DecodePem>::from_pem(crl_bytes))?;
    let tbs = crl.tbs_cert_list.to_der()?;
    let sig = crl.signature.raw_bytes().to_vec();
    let spki = ca2015.tbs_certificate().subject_public_key_info().clone();
    let alg = crl.signature_algorithm.oid;
    let rate = per_second(seconds, || {
        matches!(verify_gost(&spki, &alg, &tbs, &sig), Some(Ok(true)))
    })?;
    out.push((
        "GOST 34.10-2015 512-bit (TC26 A, Streebog-512) — NCA test CRL".into(),
        rate,
    ));
    // Whole attached CMS as a sign-in or an application arrives (signed attributes, the signer's
    // signature and the certificate's, under a development CA of the same family; no revocation).
    for (label, kind) in [
        ("CMS, RSA-2048", KeyKind::Rsa2048),
        ("CMS, ECDSA P-256", KeyKind::P256),
        ("CMS, GOST 34.310-2004", KeyKind::Gost2004),
        ("CMS, GOST 34.10-2015 512", KeyKind::Gost2015_512),
    ] {
        let ca = qoljetim_devca::DevCa::generate(
            kind,
            now - jiff::ToSpan::hours(1),
            now + jiff::ToSpan::hours(24),
        )?;
        let (cert, key) = ca.issue(
            &bench_subject(KeyPurpose::Authentication),
            kind,
            now - jiff::ToSpan::hours(1),
            now + jiff::ToSpan::hours(24),
        )?;
        let cms = sign_cms(b"challenge-bytes-for-the-benchmark", &cert, &key, Some(now))?;
        let verifier = bench_verifier(&ca);
        let rate = per_second(seconds, || verifier.verify_cms(&cms, now).is_ok())?;
        out.push((
            format!("{label} (two signatures: CMS and certificate)"),
            rate,
        ));
    }
    Ok(out)
}

/// One page of `bench pages`: who asks, how, and what the answer must contain (a page that refused
/// would be fast and wrong).
struct PageCase {
    label: String,
    cookie: String,
    path: String,
    form: Option<Vec<(String, String)>>,
    expect: &'static str,
    /// The p95 the issue asks for: 50 ms for the pages (issue 13), 100 ms for the explorer at 10 M
    /// rows (issue 14).
    limit: Duration,
}

/// `qoljetim bench pages`: every page of every role answered server-side over real HTTP, each
/// `iterations` times after a warm-up, on SQLite and (with a URL) PostgreSQL; p50/p95/max per page.
/// The world: the authorized body, the integrator, the Almaty maslikhat with `applications`
/// applications of `lines` lines each (all states present), signed in as the head, the reviewer,
/// the integrator administrator and an employee with grants.
pub async fn pages(
    iterations: usize,
    applications: usize,
    lines: usize,
    rows: usize,
    pg_admin: Option<String>,
) -> Result<(), AnyError> {
    println!(
        "qoljetim bench pages — {} cores, build: {}; {applications} applications of {lines} lines, {rows} budget rows, {iterations} requests per page",
        cores(),
        build()
    );
    let limits = crate::config::LimitsSection::default();
    println!(
        "sign-in rate limits: off per address (every role signs in from this one client), {} per certificate a minute",
        limits.sign_ins_per_certificate_per_minute
    );
    let mut slow = vec![];
    for b in backends(pg_admin.as_deref()) {
        let started = Instant::now();
        let app = InProcess::start(b, KeyKind::P256, rows, None, None).await?;
        let backend = if b.is_some() { "postgresql" } else { "sqlite" };
        if rows > 0 {
            println!(
                "[{backend}] {rows} budget rows generated and loaded in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        let r = pages_on(
            &app,
            backend,
            iterations,
            applications,
            lines.max(2),
            rows > 0,
            &mut slow,
        )
        .await;
        app.cleanup().await;
        r?;
    }
    if slow.is_empty() {
        println!(
            "every page within its limit at p95 (pages 50 ms, the explorer 100 ms, the chain check on request 1 s)"
        );
    } else {
        println!("over the limit at p95: {}", slow.join("; "));
    }
    Ok(())
}

async fn pages_on(
    app: &InProcess,
    backend: &str,
    iterations: usize,
    applications: usize,
    lines: usize,
    explorer: bool,
    slow: &mut Vec<String>,
) -> Result<(), AnyError> {
    let (minfin, integ, bin) = (demo_bin(1), demo_bin(2), demo_bin(3));
    app.add_org(&minfin, OrganizationKind::AuthorizedBody, None, &[])
        .await?;
    app.add_org(&integ, OrganizationKind::Integrator, None, &[])
        .await?;
    app.add_org(&bin, OrganizationKind::Maslikhat, Some("750000000"), &[])
        .await?;
    app.add_staff(&iin(1), &minfin, "reviewer").await?;
    app.add_staff(&iin(2), &integ, "integrator_admin").await?;
    let reviewer = app.signed_in(&iin(1), &minfin, NcaRole::Employee).await?;
    let integrator = app.signed_in(&iin(2), &integ, NcaRole::Employee).await?;
    let head = app.signed_in(&iin(10), &bin, NcaRole::FirstHead).await?;
    let signer = app.person(
        &iin(10),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let today = app
        .state
        .calendar
        .almaty_date(app.state.clock.now())
        .to_string();
    // Applications in every state: the last is left submitted, the one before forwarded, the rest
    // granted; line 1 of each is the same employee, so they hold many grants.
    let mut ids = vec![];
    for a in 0..applications.max(3) {
        let iins: Vec<String> = (0..lines)
            .map(|l| {
                iin(if l == 0 {
                    11
                } else {
                    1000 + (a * lines + l) as u32
                })
            })
            .collect();
        let form = bench_form(&bin, &today, &iins, None);
        let (s, v) = head.submit(&signer, &form).await?;
        if s != 201 {
            return Err(format!("submission: {s} {v}").into());
        }
        ids.push(v["id"].as_i64().unwrap_or(0));
    }
    let (submitted, forwarded) = (ids[ids.len() - 1], ids[ids.len() - 2]);
    for id in &ids[..ids.len() - 1] {
        let decisions: Vec<_> = (1..=lines)
            .map(|l| json!({"line": l, "decision": "approve"}))
            .collect();
        let (s, v) = reviewer
            .post(
                &format!("/api/v1/applications/{id}/review"),
                &json!({ "lines": decisions }),
            )
            .await?;
        if s != 200 {
            return Err(format!("review: {s} {v}").into());
        }
        if *id != forwarded {
            let (s, v) = integrator
                .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
                .await?;
            if s != 201 {
                return Err(format!("grant: {s} {v}").into());
            }
        }
    }
    let employee = app.signed_in(&iin(11), &bin, NcaRole::Employee).await?;
    let cookie = |c: &crate::client::ApiClient| {
        format!(
            "qoljetim_session={}; qoljetim_lang=kk",
            c.token.clone().unwrap_or_default()
        )
    };
    // The composing form, checked with `lines` valid rows: the page then shows the document to sign.
    let mut check: Vec<(String, String)> = vec![
        ("date".into(), today.clone()),
        ("head-surname".into(), "Әбенова".into()),
        ("head-name".into(), "Айгүл".into()),
        ("systems".into(), "state_planning".into()),
        ("action".into(), "check".into()),
    ];
    for l in 0..lines {
        let cells = [
            ("surname", "Сейітова".to_owned()),
            ("name", "Динара".to_owned()),
            ("iin", iin(5000 + l as u32)),
            ("position", "бас маман".to_owned()),
            ("unit", "бюджет бөлімі".to_owned()),
            ("phone", "+7 7172 000000".to_owned()),
            ("email", format!("p{l}@maslikhat.example.kz")),
            ("purpose", "мемлекеттік аудит".to_owned()),
            ("eqyzmet_qr", format!("EQYZMET:{l}")),
        ];
        for (k, v) in cells {
            check.push((format!("lines-{l}-{k}"), v));
        }
    }
    let case = |label: &str, c: Option<&crate::client::ApiClient>, path: String, expect| PageCase {
        label: label.to_owned(),
        cookie: c.map(cookie).unwrap_or_else(|| "qoljetim_lang=kk".into()),
        path,
        form: None,
        expect,
        limit: Duration::from_millis(50),
    };
    let cases = vec![
        case("sign-in", None, "/sign-in".into(), "sign-in-button"),
        case("home · head", Some(&head), "/".into(), "org-applications"),
        case(
            "home · reviewer",
            Some(&reviewer),
            "/".into(),
            "review-queue",
        ),
        case(
            "home · integrator",
            Some(&integrator),
            "/".into(),
            "grant-queue",
        ),
        case(
            "home · employee",
            Some(&employee),
            "/".into(),
            "KATO 750000000",
        ),
        case(
            "all grants, page 1 · head",
            Some(&head),
            "/grants".into(),
            "KATO 750000000",
        ),
        case(
            "all grants, page 1 · integrator",
            Some(&integrator),
            "/grants".into(),
            "KATO 750000000",
        ),
        case(
            "operations · integrator",
            Some(&integrator),
            "/operations".into(),
            "id=\"outbox\"",
        ),
        // On request only: it reads the whole audit log, which this bench itself lengthens (every
        // request is audited), so it is held to a second, not to the pages' 50 ms.
        PageCase {
            limit: Duration::from_secs(1),
            ..case(
                "operations, chain checked (on request) · integrator",
                Some(&integrator),
                "/operations?check=chain".into(),
                "id=\"chain\"",
            )
        },
        case(
            "application · reviewer (review form)",
            Some(&reviewer),
            format!("/applications/{submitted}"),
            "decision-1",
        ),
        case(
            "application · integrator (scope preview)",
            Some(&integrator),
            format!("/applications/{forwarded}"),
            "KATO 750000000",
        ),
        case(
            "application · head (granted)",
            Some(&head),
            format!("/applications/{}", ids[0]),
            "evidence",
        ),
        case(
            "new application · head",
            Some(&head),
            "/applications/new".into(),
            "lines-0-iin",
        ),
        case(
            "new block request · head",
            Some(&head),
            "/block-requests/new".into(),
            "lines-0-reason",
        ),
        PageCase {
            form: Some(check),
            ..case(
                "new application checked · head",
                Some(&head),
                "/applications/new".into(),
                "sign-document-button",
            )
        },
    ];
    let mut cases = cases;
    if explorer {
        // The employee holds grants of the Almaty city maslikhat for both systems: the explorer
        // reads every row of the year in its scope (Order 270 §6) for each answer.
        for (label, query) in [
            (
                "explorer, 2026 by program · employee",
                "group_by=program&measures=paid",
            ),
            (
                "explorer, a program by month · employee",
                "group_by=month&measures=paid,approved_plan&program=002",
            ),
        ] {
            cases.push(PageCase {
                limit: Duration::from_millis(100),
                ..case(
                    label,
                    Some(&employee),
                    format!("/explore?system=analytical_central&dataset=expenditure&fiscal_year=2026&{query}"),
                    "data-chart",
                )
            });
        }
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    println!(
        "[{backend}] {:<44} {:>9} {:>9} {:>9} {:>9}",
        "page", "p50 ms", "p95 ms", "max ms", "bytes"
    );
    for c in &cases {
        let mut times = Vec::with_capacity(iterations);
        let mut bytes = 0;
        for i in 0..iterations + iterations / 10 + 1 {
            let url = format!("{}{}", app.base, c.path);
            let req = match &c.form {
                Some(f) => http.post(&url).header("Origin", &app.base).form(f),
                None => http.get(&url),
            }
            .header("Cookie", &c.cookie);
            let t = Instant::now();
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let body = resp.text().await?;
            let took = t.elapsed();
            if status != 200 || !body.contains(c.expect) {
                return Err(format!("{}: {status}, no {:?} in the page", c.label, c.expect).into());
            }
            bytes = body.len();
            // The first tenth warms up (templates, caches, connections) and is not counted.
            if i > iterations / 10 {
                times.push(took);
            }
        }
        times.sort();
        let p95 = percentile(&times, 0.95);
        println!(
            "[{backend}] {:<44} {:>9.2} {:>9.2} {:>9.2} {:>9}",
            c.label,
            ms(percentile(&times, 0.5)),
            ms(p95),
            ms(times.last().copied().unwrap_or_default()),
            bytes
        );
        if p95 > c.limit {
            slow.push(format!(
                "[{backend}] {} {:.1} ms (limit {} ms)",
                c.label,
                ms(p95),
                c.limit.as_millis()
            ));
        }
    }
    Ok(())
}
