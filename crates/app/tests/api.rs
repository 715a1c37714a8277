//! The one integration-test binary: each case boots the real server on port 0 with a fresh database,
//! once on SQLite and once on PostgreSQL (the PostgreSQL twins run when QOLJETIM_TEST_POSTGRES_URL is
//! set: `scripts/test` runs them with `--run-ignored`).

use jiff::{Timestamp, ToSpan};
use qoljetim::client::{ApiClient, FormLine, KeyPair, application_json};
use qoljetim::people::demo_bin;
use qoljetim_devca::KeyKind;
use qoljetim_domain::OrganizationKind as K;
use qoljetim_signature::{KeyPurpose, NcaRole};
use qoljetim_testkit::{TestApp, iin};
use serde_json::{Value, json};
use sqlx::Executor;

type R = Result<(), qoljetim::AnyError>;

/// Each named case twice: in `$sqlite` on SQLite and in `$postgres` on PostgreSQL (ignored unless
/// `scripts/test` runs it with QOLJETIM_TEST_POSTGRES_URL). With `(|db| spawn)`, the server is booted on
/// the database `db` (`None` is SQLite), the case gets `&app`, and the app's database is dropped after
/// it; with `database`, the case gets the database itself and boots what it needs.
macro_rules! on_both_databases {
    ($sqlite:ident, $postgres:ident; $how:tt; $($name:ident),* $(,)?) => {
        mod $sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> crate::R {
                on_both_databases!(@run None, $how, $name)
            })*
        }
        mod $postgres {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs QOLJETIM_TEST_POSTGRES_URL; scripts/test runs it"]
            async fn $name() -> crate::R {
                let url = crate::postgres_url()?;
                on_both_databases!(@run Some(url.as_str()), $how, $name)
            })*
        }
    };
    (@run $database:expr, (|$db:ident| $spawn:expr), $name:ident) => {{
        let $db: Option<&str> = $database;
        let app = $spawn.await?;
        let r = super::$name(&app).await;
        app.cleanup().await;
        r
    }};
    (@run $database:expr, database, $name:ident) => {
        super::$name($database).await
    };
}

/// The admin URL the PostgreSQL twins create their databases with.
fn postgres_url() -> Result<String, qoljetim::AnyError> {
    Ok(std::env::var("QOLJETIM_TEST_POSTGRES_URL")
        .map_err(|_| "QOLJETIM_TEST_POSTGRES_URL is not set")?)
}

// 10:00 on Thursday 19 March 2026 in Almaty, before Nauryz.
on_both_databases!(sqlite_nauryz, postgres_nauryz;
    (|db| TestApp::spawn_at(db, KeyKind::P256, "2026-03-19T05:00:00Z".parse()?));
    full_workflow,
    clocks_run_out_and_are_reported,
);

on_both_databases!(sqlite, postgres; (|db| TestApp::spawn(db, KeyKind::P256));
    signature_refusals,
    sign_in_refusals,
    concurrent_challenge_use,
    concurrent_double_review,
    wrong_actor_and_wrong_state,
    validation_errors_are_localized_and_named,
    organization_registry_rules,
    audit_tampering_is_detected,
    audit_failure_leaves_no_change,
    every_applicant_kind_gets_its_scope,
    cookie_sessions_need_same_origin,
    idle_session_expires,
    calendar_deadline_endpoint,
    openapi_and_health,
    signed_documents_are_accepted_once,
    the_demo_seeds_applications_in_every_state,
    work_before_authentication_is_bounded,
    sign_ins_of_one_certificate_are_rate_limited,
    sessions_end_and_sign_ins_come_from_this_site,
    every_answer_carries_the_security_headers,
    lists_page_reads_are_conditional_and_readiness_is_told,
    metrics_are_scraped,
    one_request_id_in_the_answer_the_audit_and_the_problem,
);

/// BIN 950341000052-like test BIN on the §2.6 list of the `excluded` apps.
const EXCLUDED: u32 = 97;

on_both_databases!(sqlite_excluded, postgres_excluded;
    (|db| TestApp::spawn_configured(db, KeyKind::P256, |c| c.excluded_bins = vec![demo_bin(EXCLUDED)]));
    excluded_bodies_are_refused_and_marked,
);

on_both_databases!(sqlite_abuse, postgres_abuse;
    (|db| TestApp::spawn_full(db, KeyKind::P256, 0, Some("2026-12-03T05:00:00Z".parse()?), |c| {
        c.limits.sign_ins_per_address_per_minute = 20;
    }));
    a_sign_in_flood_waits_and_leaves_one_record_per_window,
);

on_both_databases!(sqlite_slow, postgres_slow;
    (|db| TestApp::spawn_configured(db, KeyKind::P256, |c| {
        c.limits.header_read_seconds = 1;
        c.limits.body_read_seconds = 5;
        c.limits.request_seconds = 1;
    }));
    slow_and_idle_connections_are_closed,
);

on_both_databases!(sqlite_https, postgres_https;
    (|db| TestApp::spawn_configured(db, KeyKind::P256, |c| {
        c.public_url = "https://qoljetim.example.kz".into();
    }));
    an_https_public_url_makes_the_cookie_secure,
);

on_both_databases!(sqlite_proxy, postgres_proxy;
    (|db| TestApp::spawn_configured(db, KeyKind::P256, |c| {
        c.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()];
    }));
    a_trusted_proxy_names_the_client,
);

on_both_databases!(sqlite_start, postgres_start; database;
    a_bad_rules_file_stops_the_start,
);

on_both_databases!(sqlite_data, postgres_data;
    (|db| TestApp::spawn_with_data(db, KeyKind::P256, 3_000));
    maslikhat_reads_its_own_budget_only,
    district_maslikhat_scope_excludes_siblings,
    mvd_almaty_reads_administrator_352_only,
    expired_or_missing_grant_is_refused,
    data_routes_are_read_only_and_audited,
    rules_file_change_rederives_live_grants,
    a_persons_grant_is_found_past_any_window,
    every_signed_in_request_is_audited_and_counts_as_activity,
    filters_are_checked_against_every_part_of_the_scope,
);

#[path = "api/cluster.rs"]
mod cluster;
#[path = "api/lifecycle.rs"]
mod lifecycle;
#[path = "api/mobile.rs"]
mod mobile;
#[path = "api/operable.rs"]
mod operable;
#[path = "api/operations.rs"]
mod operations;
#[path = "api/pages.rs"]
mod pages;
#[path = "api/pki.rs"]
mod pki;
#[path = "api/recertification.rs"]
mod recertification;
#[path = "api/systems.rs"]
mod systems;
#[path = "api/training.rs"]
mod training;

const MINFIN: u32 = 1;
const INTEGRATOR: u32 = 2;
const ALMATY_MASLIKHAT: u32 = 3;
const ASTANA_MASLIKHAT: u32 = 4;

/// The values of a response's header `h`, joined by newlines; empty when it has none.
fn header_of(r: &reqwest::Response, h: &str) -> String {
    r.headers()
        .get_all(h)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("\n")
}

fn today(app: &TestApp) -> jiff::civil::Date {
    app.state.calendar.almaty_date(app.state.clock.now())
}

fn plus_months(d: jiff::civil::Date, m: i32) -> String {
    d.checked_add(m.months())
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// Operators (reviewer, integrator admin) and the Almaty city maslikhat with a head.
struct World {
    reviewer: ApiClient,
    integrator: ApiClient,
    bin: String,
    head_sign: KeyPair,
}

async fn world(app: &TestApp) -> Result<World, qoljetim::AnyError> {
    let (minfin, integ, bin) = (
        demo_bin(MINFIN),
        demo_bin(INTEGRATOR),
        demo_bin(ALMATY_MASLIKHAT),
    );
    app.add_org(&minfin, K::AuthorizedBody, None, &[]).await?;
    app.add_org(&integ, K::Integrator, None, &[]).await?;
    app.add_org(&bin, K::Maslikhat, Some("750000000"), &[])
        .await?;
    app.add_staff(&iin(1), &minfin, "reviewer").await?;
    app.add_staff(&iin(2), &integ, "integrator_admin").await?;
    let reviewer = app.signed_in(&iin(1), &minfin, NcaRole::Employee).await?;
    let integrator = app.signed_in(&iin(2), &integ, NcaRole::Employee).await?;
    let head_sign = app.person(
        &iin(10),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    Ok(World {
        reviewer,
        integrator,
        bin,
        head_sign,
    })
}

impl World {
    /// The maslikhat's employee (IIN 11) with an authentication key: the user most sign-in tests need.
    fn employee(&self, app: &TestApp) -> Result<KeyPair, qoljetim::AnyError> {
        app.person(
            &iin(11),
            Some(&self.bin),
            Some(NcaRole::Employee),
            KeyPurpose::Authentication,
        )
    }
}

fn form(app: &TestApp, bin: &str, lines: &[(&str, String)]) -> Value {
    let fl: Vec<FormLine<'_>> = lines
        .iter()
        .map(|(i, until)| FormLine {
            iin: i,
            surname: "Сейітова",
            name: "Динара",
            patronymic: Some("Болатқызы"),
            access_until: Some(until),
        })
        .collect();
    application_json(
        bin,
        &today(app).to_string(),
        ("Әбенова", "Айгүл", Some("Қайратқызы")),
        &["analytical_central", "state_planning"],
        &fl,
    )
}

async fn submit_two_lines(app: &TestApp, w: &World) -> Result<i64, qoljetim::AnyError> {
    let t = today(app);
    let f = form(
        app,
        &w.bin,
        &[(&iin(11), plus_months(t, 6)), (&iin(12), plus_months(t, 6))],
    );
    // A new signed document on every call (trailing spaces, still the same form): the same signed
    // content is accepted once (issue 15).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = format!("{f}{}", " ".repeat(n));
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": w.head_sign.sign(text.as_bytes())?}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    Ok(v["id"].as_i64().unwrap_or(0))
}

/// One clock's summary in a deadline report (`clocks[]` by name); null when absent.
fn clock_summary(report: &Value, clock: &str) -> Value {
    report["clocks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|c| c["clock"] == clock)
        .unwrap_or(Value::Null)
}

fn problem_type(v: &Value) -> &str {
    v["type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("urn:qoljetim:problem:")
}

/// Moves the fixed clock of a `spawn_at` app to an Almaty wall-clock time.
fn set_almaty(app: &TestApp, almaty: &str) -> R {
    let t: Timestamp = format!("{almaty}+05:00[Asia/Almaty]")
        .parse::<jiff::Zoned>()?
        .timestamp();
    app.state.clock.set(t);
    Ok(())
}

// Order 270 §8, §9, §11: signed application → review → grant, with deadlines, evidence, scope and audit.
// The clock is fixed at 10:00 on Thursday 19 March 2026 (Almaty); the expected dates are read off the
// calendar files, not computed by the server's own calendar: Nauryz (21–23 March) falls on a weekend,
// so 24 and 25 March are days off too.
async fn full_workflow(app: &TestApp) -> R {
    let w = world(app).await?;
    // Line 1 asks for more than a year: capped with a notice; line 2 gives no until-date (the form
    // has no such column): the full year. Real IIN vectors from FACTS.md.
    let mut f = form(
        app,
        &w.bin,
        &[
            ("871008401427", "2028-01-31".to_owned()),
            ("850712300801", String::new()),
        ],
    );
    if let Some(line) = f["lines"][1].as_object_mut() {
        line.remove("access_until");
    }
    let signed = w.head_sign.sign(f.to_string().as_bytes())?;
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post("/api/v1/applications", &json!({"signed_cms": signed}))
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap_or(0);
    assert_eq!(v["status"], "submitted");
    // Order 270 §9: 2 working days to review — Friday 20 March, then Thursday 26 March.
    assert_eq!(v["review_due"], "2026-03-26");
    assert_eq!(
        v["review_due_at"], "2026-03-26T18:59:59Z",
        "23:59:59 in Almaty"
    );
    assert_eq!(v["review_overdue"], false);
    assert_eq!(v["lines"][0]["line"], 1);
    assert_eq!(v["lines"][0]["notice"], "access_until_capped_to_one_year");
    assert_eq!(v["lines"][0]["access_until_requested"], "2028-01-31");
    assert_eq!(v["lines"][0]["access_until_effective"], "2027-03-19");
    assert_eq!(v["lines"][1]["notice"], Value::Null);
    assert_eq!(v["lines"][1]["access_until_requested"], Value::Null);
    assert_eq!(v["lines"][1]["access_until_effective"], "2027-03-19");
    assert_eq!(
        v["lines"][1]["email"],
        "u850712300801@".to_owned() + &w.bin + ".example.kz"
    );
    assert!(
        v["claimed_signing_time"].is_string(),
        "the signing-time claim is recorded"
    );

    // The evidence is the signed bytes, unchanged.
    let (s, bytes) = w
        .reviewer
        .get_bytes(&format!("/api/v1/applications/{id}/evidence"))
        .await?;
    assert_eq!(s, 200);
    assert_eq!(base64_encode(&bytes), signed);

    // DESIGN.md §3: the reviewer's queue, by review due time.
    let second = submit_two_lines(app, &w).await?;
    let (s, v) = w
        .reviewer
        .get("/api/v1/applications?status=submitted")
        .await?;
    assert_eq!(s, 200);
    let queue: Vec<i64> = v
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| a["id"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(queue, vec![id, second]);
    let (_, v) = w
        .reviewer
        .get("/api/v1/applications?status=forwarded")
        .await?;
    assert_eq!(v.as_array().map(|a| a.len()), Some(0));

    // Friday 20 March, 11:00: reviewed; the grant is due 2 working days later, Friday 27 March.
    set_almaty(app, "2026-03-20T11:00:00")?;
    let reviewer = app
        .signed_in(&iin(1), &demo_bin(MINFIN), NcaRole::Employee)
        .await?;
    let integrator = app
        .signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
        .await?;
    let w = World {
        reviewer,
        integrator,
        ..w
    };
    let review = json!({"lines": [{"line": 1, "decision": "approve"}, {"line": 2, "decision": "reject", "reason": "не член маслихата"}]});
    let (s, v) = w
        .reviewer
        .post(&format!("/api/v1/applications/{id}/review"), &review)
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "forwarded");
    assert_eq!(v["lines"][1]["status"], "rejected");
    assert_eq!(v["lines"][1]["reason"], "не член маслихата");
    assert_eq!(v["grant_due"], "2026-03-27");
    assert_eq!(v["grant_overdue"], false);

    let (s, v) = w
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{v}");
    let grants = v["grants"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        grants.len(),
        2,
        "one grant per approved line and system: {v}"
    );
    let ac = grants
        .iter()
        .find(|g| g["system"] == "analytical_central")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ac["person_iin"], "871008401427");
    // Order 270 §9: one calendar year from the grant, capped.
    assert_eq!(ac["valid_from"], "2026-03-20");
    assert_eq!(ac["valid_until"], "2027-03-20");
    assert_eq!(ac["notice"], "access_until_capped_to_one_year");
    assert_eq!(ac["scope"]["territory_prefix"], "75");
    assert_eq!(
        ac["scope"]["levels"],
        json!(["regional", "district", "rural"])
    );
    assert_eq!(ac["scope"]["fiscal_years"], json!([2025, 2026, 2027]));
    let sp = grants
        .iter()
        .find(|g| g["system"] == "state_planning")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        sp["scope"]["fiscal_years"],
        json!([2026, 2027, 2028, 2029, 2030])
    );

    // The granted person sees their own line and grants, nothing of the other line.
    let emp = app
        .signed_in("871008401427", &w.bin, NcaRole::Employee)
        .await?;
    let (s, v) = emp.get(&format!("/api/v1/applications/{id}")).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["complete"], false);
    assert_eq!(v["lines"].as_array().map(|l| l.len()), Some(1));
    assert_eq!(v["lines"][0]["status"], "granted");
    let (s, v) = emp.get("/api/v1/me").await?;
    assert_eq!(s, 200);
    assert_eq!(v["grants"].as_array().map(|g| g.len()), Some(2));
    assert_eq!(v["roles"], json!(["employee"]));
    let (s, v) = emp
        .get(&format!("/api/v1/applications/{id}/evidence"))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"));

    // Every decision is in the audit chain with the policies that decided it.
    let (s, v) = w.integrator.get("/api/v1/audit?after=0&limit=1000").await?;
    assert_eq!(s, 200);
    let records = v.as_array().cloned().unwrap_or_default();
    let review_rec = records
        .iter()
        .find(|r| r["action"] == "review_application" && r["outcome"] == "allowed")
        .cloned()
        .unwrap_or_default();
    assert_eq!(review_rec["policies"], json!(["reviewer-reviews"]));
    assert!(
        review_rec["ip"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("127."))
    );
    let grant_rec = records
        .iter()
        .find(|r| r["action"] == "grant_access")
        .cloned()
        .unwrap_or_default();
    assert_eq!(grant_rec["policies"], json!(["integrator-grants"]));
    let submit_rec = records
        .iter()
        .find(|r| r["action"] == "submit_application")
        .cloned()
        .unwrap_or_default();
    assert_eq!(submit_rec["resource"], format!("application/{id}"));
    assert_eq!(submit_rec["policies"], json!(["applicant-head-submits"]));
    for pair in records.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    let report = app.state.store.verify_audit_chain().await?;
    assert_eq!(report.first_broken, None);
    Ok(())
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn submit_status(
    app: &TestApp,
    signer: &KeyPair,
    f: &Value,
) -> Result<(u16, String), qoljetim::AnyError> {
    let (s, v) = app.submit(signer, f).await?;
    Ok((s, problem_type(&v).to_owned()))
}

// Issue 15, Order 270 §8–§9: a signed document is accepted once and in a session of its organization.
// The same signed application twice is one application (the second answer 200 with its id); the
// evidence file a reviewer downloads is not a submission in the reviewer's hands nor without a session,
// and posted again by the applicant it is the application it made — a rejected one stays rejected;
// a form dated more than 7 days before the day of receipt is refused (`date_too_old`); a block request
// posted twice is one request; each repeat is in the audit log.
async fn signed_documents_are_accepted_once(app: &TestApp) -> R {
    let w = world(app).await?;
    let session = app.session_of(&w.bin).await?;
    let t = today(app);
    let f = form(app, &w.bin, &[(&iin(11), plus_months(t, 6))]);
    let body = json!({"signed_cms": w.head_sign.sign(f.to_string().as_bytes())?});
    let (s, first) = session.post("/api/v1/applications", &body).await?;
    assert_eq!(s, 201, "{first}");
    let id = first["id"].as_i64().ok_or("no id")?;
    let (s, again) = session.post("/api/v1/applications", &body).await?;
    assert_eq!((s, again["id"].as_i64()), (200, Some(id)), "{again}");
    assert_eq!(again["status"], "submitted");
    let listed = app.state.store.applications(None, None, 100).await?;
    assert_eq!(listed.len(), 1, "one application");
    // The evidence file in other hands.
    let (s, evidence) = w
        .reviewer
        .get_bytes(&format!("/api/v1/applications/{id}/evidence"))
        .await?;
    assert_eq!(s, 200);
    let replay = json!({"signed_cms": base64_encode(&evidence)});
    let (s, v) = app.client().post("/api/v1/applications", &replay).await?;
    assert_eq!((s, problem_type(&v)), (401, "not-signed-in"), "{v}");
    let (s, v) = w.reviewer.post("/api/v1/applications", &replay).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (403, "session-bin-mismatch"),
        "a session of another organization: {v}"
    );
    // Rejected, and posted again by the applicant: the same rejected application.
    let (s, v) = w
        .reviewer
        .post(
            &format!("/api/v1/applications/{id}/review"),
            &json!({"lines": [{"line": 1, "decision": "reject", "reason": "not needed"}]}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = session.post("/api/v1/applications", &replay).await?;
    assert_eq!((s, v["id"].as_i64()), (200, Some(id)), "{v}");
    assert_eq!(v["status"], "rejected", "not a new submitted one: {v}");
    assert_eq!(
        app.state.store.applications(None, None, 100).await?.len(),
        1
    );
    // The form's date: at most 7 calendar days before the day of receipt.
    let mut second = 0;
    for (days, expected) in [(8, 400), (7, 201)] {
        let mut old = form(app, &w.bin, &[(&iin(12), plus_months(t, 6))]);
        old["date"] = json!(t.checked_sub(jiff::Span::new().days(days))?.to_string());
        let (s, v) = session.submit(&w.head_sign, &old).await?;
        assert_eq!(s, expected, "{days} days back: {v}");
        if s == 400 {
            assert_eq!(v["errors"][0]["field"], "/date", "{v}");
            assert_eq!(v["errors"][0]["rule"], "date_too_old", "{v}");
        }
        second = v["id"].as_i64().unwrap_or(second);
    }
    // A block request (for the person just granted) posted twice is one request.
    approve_and_grant(&w, second).await?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let request = json!({"applicant_bin": w.bin, "date": t.to_string(),
        "lines": [{"iin": iin(12), "reason": "dismissed", "effective_date": t.to_string()}]});
    let signed = json!({"signed_cms": w.head_sign.sign(request.to_string().as_bytes())?});
    let (s1, v1) = head.post("/api/v1/block-requests", &signed).await?;
    let (s2, v2) = head.post("/api/v1/block-requests", &signed).await?;
    assert_eq!(
        (s1, s2, v2["id"].as_i64()),
        (201, 200, v1["id"].as_i64()),
        "{v1} {v2}"
    );
    let (_, list) = head.get("/api/v1/block-requests").await?;
    let n = list["block_requests"].as_array().map(Vec::len);
    assert_eq!(n, Some(1), "{list}");
    // Every repeat is recorded.
    let (_, audit) = w.integrator.get("/api/v1/audit?limit=1000").await?;
    let repeats = audit
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["outcome"] == "conflict:duplicate-document")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(repeats, 3, "{audit}");
    Ok(())
}

// The README's first command seeds the demo through the API (each application posted in its
// organization's session, each a new signed document — issue 15); a seed that stops on a refusal
// would leave `qoljetim demo` broken, so it runs here against the real server.
async fn the_demo_seeds_applications_in_every_state(app: &TestApp) -> R {
    let (ca, gost) = qoljetim::devca_files::init_both(&app.dir.join("dev-ca"), KeyKind::P256)?;
    let demo = app.dir.join("demo");
    let people = qoljetim::demo::make_people(&ca, &gost, &demo, KeyKind::P256)?;
    qoljetim::demo::seed_registry(&app.state.store, &people).await?;
    qoljetim::demo::seed_personnel(&app.state.store, &people).await?;
    let made = qoljetim::demo::seed_applications(&app.base, &people).await?;
    let states: std::collections::BTreeMap<&str, usize> =
        made.iter().fold(Default::default(), |mut m, (_, _, s)| {
            *m.entry(s.as_str()).or_default() += 1;
            m
        });
    assert_eq!(states.get("submitted"), Some(&1), "{made:?}");
    assert_eq!(states.get("forwarded"), Some(&1), "{made:?}");
    assert_eq!(states.get("rejected"), Some(&1), "{made:?}");
    assert!(states.get("granted").is_some_and(|n| *n >= 9), "{made:?}");
    let ids: std::collections::BTreeSet<i64> = made.iter().map(|(_, id, _)| *id).collect();
    assert_eq!(ids.len(), made.len(), "every application its own record");
    Ok(())
}

/// DER of `tag` around `content` (long-form lengths up to 4 bytes).
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A CMS SignedData around `content` carrying `copies` copies of `cert` — the shape of the probe's
/// 58,000-certificate document.
fn cms_with_certificates(cert: &[u8], copies: usize) -> Vec<u8> {
    let signed_data_oid = der_tlv(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
    );
    let data_oid = der_tlv(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
    );
    let sha256 = der_tlv(
        0x30,
        &der_tlv(
            0x06,
            &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
        ),
    );
    let encap = der_tlv(
        0x30,
        &[data_oid, der_tlv(0xa0, &der_tlv(0x04, b"{}"))].concat(),
    );
    let signer = der_tlv(
        0x30,
        &[
            der_tlv(0x02, &[1]),
            der_tlv(0x30, &[]),
            sha256.clone(),
            der_tlv(0x04, &[0; 64]),
        ]
        .concat(),
    );
    let sd = der_tlv(
        0x30,
        &[
            der_tlv(0x02, &[1]),
            der_tlv(0x31, &sha256),
            encap,
            der_tlv(0xa0, &cert.repeat(copies)),
            der_tlv(0x31, &signer),
        ]
        .concat(),
    );
    der_tlv(0x30, &[signed_data_oid, der_tlv(0xa0, &sd)].concat())
}

// Issue 15: what a request can make the server do before it knows who is asking is bounded. A body
// over its route's limit is refused from its Content-Length, or as soon as a chunked body passes it,
// naming the limit; a signed document with thousands of embedded certificates is refused from its
// headers (`cms-limit`, naming the part and the limit) at sign-in and as a document, and nothing is
// written; a real signature still passes.
async fn work_before_authentication_is_bounded(app: &TestApp) -> R {
    let w = world(app).await?;
    // 21 MiB declared at the sign-in: refused from the header, before a byte of the body is sent.
    let addr = app.base.trim_start_matches("http://").to_owned();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
    tcp.write_all(format!("POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept-Language: en\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", 21 * 1024 * 1024).as_bytes()).await?;
    let mut answer = vec![];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await??;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("payload-too-large") && answer.contains("65536"),
        "{answer}"
    );
    // Chunked, without a length: cut off once past the limit.
    let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
    tcp.write_all(format!("POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let chunk = vec![b' '; 16 * 1024];
    for _ in 0..8 {
        let head = format!("{:x}\r\n", chunk.len());
        if tcp.write_all(head.as_bytes()).await.is_err()
            || tcp.write_all(&chunk).await.is_err()
            || tcp.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![];
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload-too-large"), "{answer}");
    // Thousands of certificates in a signed document: refused from the headers, at sign-in and as an
    // application, with nothing written.
    let cert = der::Encode::to_der(&w.head_sign.cert)?;
    let flood = cms_with_certificates(&cert, 3_000);
    assert!(
        flood.len() > 2_000_000 && flood.len() < 6 * 1024 * 1024,
        "{}",
        flood.len()
    );
    let body = json!({"signed_cms": base64_encode(&flood)});
    let session = app.session_of(&w.bin).await?;
    let seq = |t: Vec<qoljetim_store::AuditRecord>| t.first().map(|r| r.seq).unwrap_or(0);
    let before = seq(app.state.store.audit_tail(1).await?);
    let (s, v) = session
        .with_lang("en")
        .post("/api/v1/applications", &body)
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "cms-limit"), "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap_or("")
            .contains("embedded certificates: at most 8"),
        "{v}"
    );
    assert!(
        app.state
            .store
            .applications(None, None, 10)
            .await?
            .is_empty()
    );
    assert_eq!(
        seq(app.state.store.audit_tail(1).await?),
        before + 1,
        "one refusal recorded, nothing else"
    );
    // A sign-in with nine certificates (under the body limit) is refused the same way.
    let nine = cms_with_certificates(&cert, 9);
    let (s, v) = app
        .client()
        .post(
            "/api/v1/auth/login",
            &json!({"signed_cms": base64_encode(&nine)}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (401, "cms-limit"), "{v}");
    // A genuine application passes the limits.
    let f = form(app, &w.bin, &[(&iin(11), plus_months(today(app), 6))]);
    let (s, v) = session.submit(&w.head_sign, &f).await?;
    assert_eq!(s, 201, "{v}");
    Ok(())
}

// Issue 15: 5,008 failed sign-ins from one address — 20 a minute reach the server, the rest wait
// (429 with Retry-After, nothing verified); the audit log grows by one record (the first refusal) and,
// once the window closes, one aggregate record counting the repeats.
async fn a_sign_in_flood_waits_and_leaves_one_record_per_window(app: &TestApp) -> R {
    let w = world(app).await?;
    let seq = |t: Vec<qoljetim_store::AuditRecord>| t.first().map(|r| r.seq).unwrap_or(0);
    let before = seq(app.state.store.audit_tail(1).await?);
    let body = json!({"signed_cms": "MAMCAQA="});
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let c = app.client().with_lang("en");
            let body = body.clone();
            tokio::spawn(async move {
                let mut seen = std::collections::BTreeMap::<u16, usize>::new();
                let mut retry_after = vec![];
                for _ in 0..(5_000 / 16 + 1) {
                    let Ok((s, v)) = c.post("/api/v1/auth/login", &body).await else {
                        continue;
                    };
                    *seen.entry(s).or_default() += 1;
                    if s == 429 {
                        retry_after.push(v["detail"].as_str().unwrap_or("").to_owned());
                    }
                }
                (seen, retry_after.pop())
            })
        })
        .collect();
    let mut seen = std::collections::BTreeMap::<u16, usize>::new();
    let mut detail = None;
    for t in tasks {
        let (s, d) = t.await?;
        for (k, v) in s {
            *seen.entry(k).or_default() += v;
        }
        detail = detail.or(d);
    }
    // 20 a minute from this address: the world's two sign-ins (a challenge and a sign-in each) took 4.
    assert_eq!(seen.get(&401), Some(&16), "16 reach the sign-in: {seen:?}");
    assert_eq!(seen.get(&429), Some(&(5_008 - 16)), "{seen:?}");
    assert!(
        detail.is_some_and(|d| d.starts_with("Try again in ")),
        "the wait in words"
    );
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("no Retry-After")?;
    assert!((1..=4).contains(&wait), "one attempt every 3 s: {wait}");
    let after = seq(app.state.store.audit_tail(1).await?);
    assert_eq!(after, before + 1, "one record for the window");
    // The window closes: one aggregate record with the 15 repeats.
    app.state.clock.set(app.state.clock.now() + 61.seconds());
    let flushed = app.state.flush_refusal_windows().await;
    assert_eq!(flushed.ok(), Some(1));
    let last = app.state.store.audit_tail(1).await?;
    let rec = last.first().ok_or("no record")?;
    assert_eq!(rec.seq, before + 2);
    assert_eq!(rec.outcome, "refused:cms-malformed (repeated)");
    let details: Value = serde_json::from_str(&rec.details)?;
    assert_eq!(details["repeats"], 15, "{details}");
    // Signed-in work is not limited by the sign-in rate.
    let (s, _) = w.reviewer.get("/api/v1/me").await?;
    assert_eq!(s, 200);
    Ok(())
}

// Issue 15, Order 270 §11: one certificate signs in at most 10 times a minute; the 11th waits.
async fn sign_ins_of_one_certificate_are_rate_limited(app: &TestApp) -> R {
    let w = world(app).await?;
    let key = w.employee(app)?;
    for n in 1..=10 {
        let (s, v) = app.client().login(&key).await?;
        assert_eq!(s, 200, "sign-in {n}: {v}");
    }
    let (s, v) = app.client().with_lang("ru").login(&key).await?;
    assert_eq!((s, problem_type(&v)), (429, "too-many-requests"), "{v}");
    assert_eq!(v["title"], "Слишком много попыток");
    // Another certificate of the same person is another key.
    let (s, _) = app.client().login(&w.employee(app)?).await?;
    assert_eq!(s, 200);
    Ok(())
}

// Issue 15: a slow or idle client holds a connection for seconds, not forever: headers sent too
// slowly, a kept-alive connection left idle, a body sent too slowly — each is cut off after its
// configured time (1 s here), and a normal request on a fresh connection is answered.
async fn slow_and_idle_connections_are_closed(app: &TestApp) -> R {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Reads until the server closes the connection (or 5 s pass): what it sent, and when it closed.
    async fn until_closed(tcp: &mut tokio::net::TcpStream) -> (String, Option<Duration>) {
        let t = Instant::now();
        let mut got = vec![];
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    return (String::from_utf8_lossy(&got).into(), Some(t.elapsed()));
                }
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => return (String::from_utf8_lossy(&got).into(), None),
            }
        }
    }
    // Headers that never end.
    let mut slow = tokio::net::TcpStream::connect(&addr).await?;
    slow.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await?;
    let (_, closed) = until_closed(&mut slow).await;
    assert!(
        closed.is_some_and(|d| d < Duration::from_secs(4)),
        "slow headers: {closed:?}"
    );
    // A kept-alive connection left idle after its answer.
    let mut idle = tokio::net::TcpStream::connect(&addr).await?;
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let (answer, closed) = until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed.is_some_and(|d| d < Duration::from_secs(4)),
        "idle keep-alive: {closed:?}"
    );
    // A body that stops coming.
    let mut body = tokio::net::TcpStream::connect(&addr).await?;
    body.write_all(format!("POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"signed").as_bytes()).await?;
    let (answer, closed) = until_closed(&mut body).await;
    assert!(
        closed.is_some_and(|d| d < Duration::from_secs(4)),
        "slow body: {closed:?} {answer}"
    );
    // The request's own time (1 s here) runs out first: a problem says so.
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("urn:qoljetim:problem:request-timeout"),
        "{answer}"
    );
    // The server still answers.
    let (s, v) = app.client().get("/healthz").await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    Ok(())
}

// Issue 15, Order 270 §11: a session ends on request (its token stops working, its cookie is
// cleared); a sign-in is JSON from this site only — another content type, another site, or this host
// under another scheme is refused before the signature is read (login CSRF).
async fn sessions_end_and_sign_ins_come_from_this_site(app: &TestApp) -> R {
    let w = world(app).await?;
    let key = w.employee(app)?;
    let mut c = app.client();
    let (s, _) = c.login(&key).await?;
    assert_eq!(s, 200);
    let (s, _) = c.get("/api/v1/me").await?;
    assert_eq!(s, 200);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/auth/logout", app.base))
        .bearer_auth(c.token.clone().unwrap_or_default())
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 204);
    let cleared = header_of(&r, "set-cookie");
    assert!(
        cleared.starts_with("qoljetim_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (s, v) = c.get("/api/v1/me").await?;
    assert_eq!(s, 401, "the token no longer works: {v}");
    let (s, _) = app.client().post("/api/v1/auth/logout", &json!({})).await?;
    assert_eq!(s, 401, "signing out needs a session");
    // Sign-ins: JSON, from this site.
    let challenge = app.client().challenge().await?;
    let body = json!({"signed_cms": key.sign(challenge.as_bytes())?}).to_string();
    let login = |content_type: &'static str, origin: Option<String>| {
        let mut r = http
            .post(format!("{}/api/v1/auth/login", app.base))
            .header("Content-Type", content_type)
            .body(body.clone());
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        r.send()
    };
    let r = login("text/plain", None).await?;
    assert_eq!(r.status().as_u16(), 415);
    let v: Value = r.json().await?;
    assert_eq!(problem_type(&v), "unsupported-media-type", "{v}");
    let r = login("application/x-www-form-urlencoded", None).await?;
    assert_eq!(r.status().as_u16(), 415);
    for origin in [
        "http://evil.example".to_owned(),
        app.base.replace("http://", "https://"),
        format!("{}1", app.base),
    ] {
        let r = login("application/json", Some(origin.clone())).await?;
        assert_eq!(r.status().as_u16(), 403, "{origin}");
        let v: Value = r.json().await?;
        assert_eq!(problem_type(&v), "origin-mismatch", "{origin}: {v}");
    }
    let r = login("application/json; charset=utf-8", Some(app.base.clone())).await?;
    assert_eq!(
        r.status().as_u16(),
        200,
        "this site, JSON: the challenge was never used before"
    );
    Ok(())
}

// Issue 15: behind an https public address the session cookie is Secure.
async fn an_https_public_url_makes_the_cookie_secure(app: &TestApp) -> R {
    let bin = demo_bin(ALMATY_MASLIKHAT);
    app.add_org(&bin, K::Maslikhat, Some("750000000"), &[])
        .await?;
    let key = app.person(
        &iin(11),
        Some(&bin),
        Some(NcaRole::Employee),
        KeyPurpose::Authentication,
    )?;
    let challenge = app.client().challenge().await?;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"signed_cms": key.sign(challenge.as_bytes())?}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let cookie = header_of(&r, "set-cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    Ok(())
}

// Issue 15: every answer — the API's, a problem, a page, an unknown route, a static file — says
// nosniff, same-origin referrers, no framing and a Content-Security-Policy; the API's are never cached.
// Forwarding headers from a client that is not a trusted proxy name nobody.
async fn every_answer_carries_the_security_headers(app: &TestApp) -> R {
    let w = world(app).await?;
    let http = reqwest::Client::new();
    let token = w.reviewer.token.clone().unwrap_or_default();
    for (path, bearer, api) in [
        ("/api/v1/me", true, true),
        ("/api/v1/me", false, true),
        ("/api/v1/nowhere", false, true),
        ("/sign-in", false, false),
        ("/healthz", false, false),
        ("/static/app.css", false, false),
    ] {
        let mut r = http.get(format!("{}{path}", app.base));
        if bearer {
            r = r.bearer_auth(&token);
        }
        let r = r.send().await?;
        let h = |n: &str| header_of(&r, n);
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "same-origin", "{path}");
        assert!(
            h("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        if api {
            assert_eq!(h("cache-control"), "no-store", "{path} {}", r.status());
        }
        if path == "/static/app.css" {
            assert!(
                h("cache-control").starts_with("public"),
                "a static file may be cached"
            );
        }
    }
    // Not a trusted proxy: X-Forwarded-For is a client's claim and is not recorded.
    let seq =
        |t: Vec<qoljetim_store::AuditRecord>| t.first().map(|r| r.ip.clone()).unwrap_or_default();
    let r = http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(&token)
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(seq(app.state.store.audit_tail(1).await?), "127.0.0.1");
    Ok(())
}

// Issue 15: behind a trusted reverse proxy the audit log records the client the proxy names — the
// right-most address of the chain that is not a trusted proxy, so a client cannot write its own.
async fn a_trusted_proxy_names_the_client(app: &TestApp) -> R {
    let w = world(app).await?;
    let token = w.reviewer.token.clone().unwrap_or_default();
    let http = reqwest::Client::new();
    let ip_of_last = || async {
        Ok::<String, qoljetim::AnyError>(
            app.state
                .store
                .audit_tail(1)
                .await?
                .first()
                .map(|r| r.ip.clone())
                .unwrap_or_default(),
        )
    };
    for (header, value, client) in [
        (
            "X-Forwarded-For",
            "198.51.100.9, 203.0.113.7",
            "203.0.113.7",
        ),
        ("X-Forwarded-For", "203.0.113.7, 10.1.2.3", "203.0.113.7"),
        (
            "Forwarded",
            "for=192.0.2.60;proto=https, for=10.0.0.2",
            "192.0.2.60",
        ),
        (
            "Forwarded",
            r#"for="[2001:db8:cafe::17]:4711""#,
            "2001:db8:cafe::17",
        ),
        ("X-Forwarded-For", "not-an-address", "127.0.0.1"),
    ] {
        let r = http
            .get(format!("{}/api/v1/me", app.base))
            .bearer_auth(&token)
            .header(header, value)
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(ip_of_last().await?, client, "{header}: {value}");
    }
    Ok(())
}

// Issue 15: `?offset=` pages the application list for real; a read answers a conditional request
// with 304 and no body; outbound HTTP speaks TLS and its refusals name their cause; the readiness
// endpoint tells a balancer when the database stops answering.
async fn lists_page_reads_are_conditional_and_readiness_is_told(app: &TestApp) -> R {
    let w = world(app).await?;
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(submit_two_lines(app, &w).await?);
    }
    let page = |q: &'static str| {
        let c = w.reviewer.clone();
        async move {
            let (s, v) = c.get(&format!("/api/v1/applications?{q}")).await?;
            assert_eq!(s, 200, "{v}");
            Ok::<Vec<i64>, qoljetim::AnyError>(
                v.as_array()
                    .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
                    .unwrap_or_default(),
            )
        }
    };
    let first = page("limit=2").await?;
    let second = page("limit=2&offset=2").await?;
    assert_eq!(first, vec![ids[2], ids[1]], "the newest first");
    assert_eq!(second, vec![ids[0]], "the next page, not the first again");
    // Conditional reads.
    let http = reqwest::Client::new();
    let token = w.reviewer.token.clone().unwrap_or_default();
    let url = format!("{}/api/v1/applications", app.base);
    let r = http.get(&url).bearer_auth(&token).send().await?;
    assert_eq!(r.status().as_u16(), 200);
    let etag = header_of(&r, "etag");
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    let r = http
        .get(&url)
        .bearer_auth(&token)
        .header("If-None-Match", &etag)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 304);
    assert!(r.bytes().await?.is_empty());
    let r = http
        .get(&url)
        .bearer_auth(&token)
        .header("If-None-Match", "\"other\"")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    // Outbound HTTPS: the HR registry at an https address that speaks plain HTTP — TLS is attempted,
    // and the refusal names why.
    let registry = qoljetim::hr::HttpRegistry::new(
        &app.base.replace("http://", "https://"),
        None,
        std::time::Duration::from_secs(5),
    )?;
    use qoljetim::hr::HrRegistry;
    let q = qoljetim_domain::lifecycle::HrQuery {
        iin: iin(11),
        bin: w.bin.clone(),
        position: String::new(),
        unit: String::new(),
        qr: String::new(),
    };
    let err = registry
        .current_posts(&q)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("could not be reached: error sending request")
            && err.to_lowercase().contains("tls")
            || err.contains("InvalidContentType")
            || err.contains("corrupt message"),
        "the cause is named: {err}"
    );
    // Readiness.
    let r = http.get(format!("{}/readyz", app.base)).send().await?;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await?;
    assert_eq!(
        v,
        json!({"ready": true, "database": "ok", "budget_data": "loaded"})
    );
    app.state.store.pool().close().await;
    let r = http.get(format!("{}/readyz", app.base)).send().await?;
    assert_eq!(r.status().as_u16(), 503);
    let v: Value = r.json().await?;
    assert_eq!(v["ready"], false);
    assert!(
        v["database"]
            .as_str()
            .is_some_and(|d| d.starts_with("unavailable")),
        "{v}"
    );
    Ok(())
}

// Issue 15: /metrics counts requests by route template and status, refusals by problem type and
// sign-ins by outcome, and reads the audit chain's length and the worker's runs from the database.
async fn metrics_are_scraped(app: &TestApp) -> R {
    let w = world(app).await?;
    let (s, _) = w.reviewer.get("/api/v1/me").await?;
    assert_eq!(s, 200);
    let (s, _) = app.client().get("/api/v1/applications/12345").await?;
    assert_eq!(s, 401);
    let (s, _) = app
        .client()
        .post("/api/v1/auth/login", &json!({"signed_cms": "MAMCAQA="}))
        .await?;
    assert_eq!(s, 401);
    let text = reqwest::get(format!("{}/metrics", app.base))
        .await?
        .text()
        .await?;
    let value = |line_start: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(
        value(r#"qoljetim_http_requests_total{method="GET",route="/api/v1/me",status="200"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/applications/{id}",status="401""#),
        "the route's template, not its id: {text}"
    );
    assert_eq!(
        value(r#"qoljetim_problems_total{type="not-signed-in"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(r#"qoljetim_problems_total{type="cms-malformed"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(r#"qoljetim_sign_ins_total{outcome="ok"}"#),
        Some(2.0),
        "the world's two: {text}"
    );
    assert_eq!(
        value(r#"qoljetim_sign_ins_total{outcome="refused"}"#),
        Some(1.0),
        "{text}"
    );
    let records = app
        .state
        .store
        .audit_tail(1)
        .await?
        .first()
        .map(|r| r.seq)
        .unwrap_or(0);
    assert_eq!(
        value("qoljetim_audit_records "),
        Some(records as f64),
        "{text}"
    );
    assert!(
        text.contains("qoljetim_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("qoljetim_worker_runs "), "{text}");
    Ok(())
}

// Issue 15: a request's id — the caller's X-Request-Id, or a new one — comes back in the answer's
// header, in a problem's body and in the audit record the request wrote, so a support call can find
// the server's side of it.
async fn one_request_id_in_the_answer_the_audit_and_the_problem(app: &TestApp) -> R {
    let w = world(app).await?;
    let http = reqwest::Client::new();
    let token = w.reviewer.token.clone().unwrap_or_default();
    let r = http
        .get(format!("{}/api/v1/applications/4242", app.base))
        .bearer_auth(&token)
        .header("X-Request-Id", "support-call-17")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(header_of(&r, "x-request-id"), "support-call-17");
    let v: Value = r.json().await?;
    assert_eq!(v["request_id"], "support-call-17", "{v}");
    let r = http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(&token)
        .header("X-Request-Id", "not a token; <script>")
        .send()
        .await?;
    let id = header_of(&r, "x-request-id");
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a new id: {id}"
    );
    let last = app.state.store.audit_tail(1).await?;
    let details: Value = serde_json::from_str(&last.first().ok_or("no record")?.details)?;
    assert_eq!(details["request_id"], id.as_str(), "{details}");
    let report = app.state.store.verify_audit_chain().await?;
    assert!(
        report.first_broken.is_none(),
        "the id is part of the hashed record"
    );
    Ok(())
}

// Order 270 §8: only a valid, trusted signature of the applicant's head is accepted.
async fn signature_refusals(app: &TestApp) -> R {
    let w = world(app).await?;
    let t = today(app);
    let f = form(app, &w.bin, &[(&iin(11), plus_months(t, 6))]);
    // Untrusted chain: a certificate from another CA.
    let rogue = qoljetim_devca::DevCa::generate(
        KeyKind::P256,
        Timestamp::now() - 1.hour(),
        Timestamp::now() + 24.hours(),
    )?;
    let subject = qoljetim_devca::Subject {
        surname: "ТЕСТ".into(),
        name: "ТЕСТ".into(),
        patronymic: None,
        iin: iin(10),
        organization: Some((w.bin.clone(), "X".into())),
        role: Some(NcaRole::FirstHead),
        purpose: KeyPurpose::Signing,
    };
    let (c, k) = rogue.issue(
        &subject,
        KeyKind::P256,
        Timestamp::now() - 1.hour(),
        Timestamp::now() + 24.hours(),
    )?;
    assert_eq!(
        submit_status(app, &KeyPair { cert: c, key: k }, &f).await?,
        (400, "certificate-untrusted".into())
    );
    // Expired at the time of receipt.
    let expired = app.person_valid(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
        Timestamp::now() - 48.hours(),
        Timestamp::now() - 1.hour(),
    )?;
    assert_eq!(
        submit_status(app, &expired, &f).await?,
        (400, "certificate-expired".into())
    );
    // Not valid yet: its own type, and the detail says when validity begins.
    let early = app.person_valid(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
        Timestamp::now() + 2.hours(),
        Timestamp::now() + 48.hours(),
    )?;
    let (s, v) = app.submit(&early, &f).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (400, "certificate-not-yet-valid"),
        "{v}"
    );
    assert!(
        v["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Valid from")),
        "{v}"
    );
    // Wrong BIN: the head of the Astana maslikhat signs for Almaty.
    let other_bin = demo_bin(ASTANA_MASLIKHAT);
    app.add_org(&other_bin, K::Maslikhat, Some("710000000"), &[])
        .await?;
    let foreign = app.person(
        &iin(20),
        Some(&other_bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    assert_eq!(
        submit_status(app, &foreign, &f).await?,
        (403, "certificate-wrong-bin".into())
    );
    // An individual's certificate.
    let individual = app.person(&iin(10), None, None, KeyPurpose::Signing)?;
    assert_eq!(
        submit_status(app, &individual, &f).await?,
        (403, "certificate-not-legal-entity".into())
    );
    // An employee without signing right.
    let employee = app.person(
        &iin(11),
        Some(&w.bin),
        Some(NcaRole::Employee),
        KeyPurpose::Signing,
    )?;
    assert_eq!(
        submit_status(app, &employee, &f).await?,
        (403, "certificate-no-signing-right".into())
    );
    // The head's authentication key used to sign an application.
    let auth = app.person(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Authentication,
    )?;
    assert_eq!(
        submit_status(app, &auth, &f).await?,
        (403, "certificate-not-signing-key".into())
    );
    // Signing right (an acting head) is accepted.
    let acting = app.person(
        &iin(13),
        Some(&w.bin),
        Some(NcaRole::SigningRight),
        KeyPurpose::Signing,
    )?;
    assert_eq!(submit_status(app, &acting, &f).await?.0, 201);
    // Tampered content: one byte of the signed JSON changed.
    let signed = w.head_sign.sign(f.to_string().as_bytes())?;
    let mut der = base64_decode(&signed);
    let needle = w.bin.as_bytes();
    let pos = der
        .windows(needle.len())
        .position(|x| x == needle)
        .unwrap_or(0);
    der[pos + 11] = if der[pos + 11] == b'0' { b'1' } else { b'0' };
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": base64_encode(&der)}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "signature-invalid"));
    assert_eq!(v["status"], 400);
    // Nothing but the acting head's application was kept.
    assert_eq!(
        app.state.store.applications(None, None, 100).await?.len(),
        1
    );
    // Each refusal is in the audit chain.
    let refusals = app
        .state
        .store
        .audit_records(0, 1000)
        .await?
        .into_iter()
        .filter(|r| r.outcome.starts_with("refused:"))
        .count();
    assert_eq!(refusals, 8);
    Ok(())
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

// Order 270 §11: sign-in with the organization's authentication key and a one-time challenge.
async fn sign_in_refusals(app: &TestApp) -> R {
    let w = world(app).await?;
    let auth = w.employee(app)?;
    let c = app.client();
    let challenge = c.challenge().await?;
    let body = json!({"signed_cms": auth.sign(challenge.as_bytes())?});
    let (s, v) = c.post("/api/v1/auth/login", &body).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["person"]["iin"], iin(11));
    assert_eq!(v["organization"]["bin"], w.bin);
    assert_eq!(
        v["person"]["patronymic"], "ҚАЙРАТҚЫЗЫ",
        "GIVENNAME carries the patronymic"
    );
    // Replayed.
    let (s, v) = c.post("/api/v1/auth/login", &body).await?;
    assert_eq!((s, problem_type(&v)), (401, "challenge-used"));
    // Expired: issued by this server six minutes ago.
    let (old, _) = qoljetim_service::issue_challenge(
        &app.state.challenge_keys,
        Timestamp::now() - 6.minutes(),
    )
    .map_err(|e| e.slug())?;
    let (s, v) = c
        .post(
            "/api/v1/auth/login",
            &json!({"signed_cms": auth.sign(old.as_bytes())?}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (401, "challenge-expired"));
    // Foreign: not issued by this server.
    let other_key = qoljetim_service::ChallengeKeys::random()?;
    let (foreign, _) =
        qoljetim_service::issue_challenge(&other_key, Timestamp::now()).map_err(|e| e.slug())?;
    let (s, v) = c
        .post(
            "/api/v1/auth/login",
            &json!({"signed_cms": auth.sign(foreign.as_bytes())?}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (401, "challenge-invalid"));
    // A signing key cannot sign in.
    let (s, v) = c
        .post(
            "/api/v1/auth/login",
            &json!({"signed_cms": w.head_sign.sign(c.challenge().await?.as_bytes())?}),
        )
        .await?;
    assert_eq!(
        (s, problem_type(&v)),
        (401, "certificate-not-authentication-key")
    );
    // An organization that is not registered.
    let stranger = app.person(
        &iin(30),
        Some(&demo_bin(40)),
        Some(NcaRole::Employee),
        KeyPurpose::Authentication,
    )?;
    let (s, v) = c
        .post(
            "/api/v1/auth/login",
            &json!({"signed_cms": stranger.sign(c.challenge().await?.as_bytes())?}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (401, "organization-unknown"));
    // No passwords anywhere: the only way in is a signature.
    let (s, v) = c
        .post("/api/v1/auth/login", &json!({"password": "x"}))
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "validation"));
    assert_eq!(v["errors"][0]["field"], "/password");
    Ok(())
}

// Order 270 §11: two concurrent uses of one challenge — exactly one succeeds.
async fn concurrent_challenge_use(app: &TestApp) -> R {
    let w = world(app).await?;
    let auth = w.employee(app)?;
    for _ in 0..5 {
        let c = app.client();
        let body = json!({"signed_cms": auth.sign(c.challenge().await?.as_bytes())?});
        let (a, b) = tokio::join!(
            c.post("/api/v1/auth/login", &body),
            c.post("/api/v1/auth/login", &body)
        );
        let mut statuses = vec![a?.0, b?.0];
        statuses.sort();
        assert_eq!(statuses, vec![200, 401]);
    }
    // Issue 20: the writer applies concurrent sign-ins together (one statement for their challenges,
    // one for their sessions). Twelve sign-ins and a replay of one of them, all at once: the replay
    // alone is refused, the twelve open their sessions, and the audit chain holds every attempt.
    // Each its own certificate (the per-certificate sign-in limit is 10 a minute).
    let c = app.client();
    let mut bodies = vec![];
    for _ in 0..12 {
        let person = w.employee(app)?;
        bodies.push(json!({"signed_cms": person.sign(c.challenge().await?.as_bytes())?}));
    }
    bodies.push(bodies[5].clone());
    let records_before = app.state.store.audit_records(0, 100_000).await?.len();
    let answers =
        futures_util::future::join_all(bodies.iter().map(|b| c.post("/api/v1/auth/login", b)))
            .await;
    let mut ok = 0;
    let mut refused = vec![];
    for a in answers {
        match a? {
            (200, v) => {
                assert_eq!(v["person"]["iin"], iin(11));
                // The session the batch kept works.
                let mut s = app.client();
                s.token = v["token"].as_str().map(str::to_owned);
                let (status, me) = s.get("/api/v1/me").await?;
                assert_eq!((status, &me["person"]["iin"]), (200, &json!(iin(11))));
                ok += 1;
            }
            (s, v) => refused.push((s, problem_type(&v).to_owned())),
        }
    }
    assert_eq!(ok, 12, "{refused:?}");
    assert_eq!(refused, vec![(401, "challenge-used".to_owned())]);
    // 13 sign-in attempts and the 12 reads of `/me`.
    assert_eq!(
        app.state.store.audit_records(0, 100_000).await?.len(),
        records_before + 13 + 12
    );
    assert_eq!(
        app.state.store.verify_audit_chain().await?.first_broken,
        None
    );
    Ok(())
}

// Order 270 §9: two reviewers deciding at the same moment — one wins, the other gets a 409.
async fn concurrent_double_review(app: &TestApp) -> R {
    let w = world(app).await?;
    let minfin = demo_bin(MINFIN);
    app.add_staff(&iin(3), &minfin, "reviewer").await?;
    let second = app.signed_in(&iin(3), &minfin, NcaRole::Employee).await?;
    for _ in 0..3 {
        let id = submit_two_lines(app, &w).await?;
        let approve = json!({"lines": [{"line": 1, "decision": "approve"}, {"line": 2, "decision": "approve"}]});
        let reject = json!({"lines": [{"line": 1, "decision": "reject", "reason": "a"}, {"line": 2, "decision": "reject", "reason": "b"}]});
        let path = format!("/api/v1/applications/{id}/review");
        let (a, b) = tokio::join!(
            w.reviewer.post(&path, &approve),
            second.post(&path, &reject)
        );
        let (a, b) = (a?, b?);
        let mut statuses = vec![a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, vec![200, 409], "{a:?} {b:?}");
        let loser = if a.0 == 409 { &a.1 } else { &b.1 };
        assert_eq!(problem_type(loser), "wrong-state");
        let winner_status = if a.0 == 200 { "forwarded" } else { "rejected" };
        let (_, v) = w
            .reviewer
            .get(&format!("/api/v1/applications/{id}"))
            .await?;
        assert_eq!(v["status"], winner_status);
        let line_status = if winner_status == "forwarded" {
            "approved"
        } else {
            "rejected"
        };
        assert!(
            v["lines"]
                .as_array()
                .is_some_and(|ls| ls.iter().all(|l| l["status"] == line_status)),
            "no mix of two decisions: {v}"
        );
    }
    Ok(())
}

// Order 270 §9: the wrong actor gets a 403, the wrong state a 409; nothing changes silently.
async fn wrong_actor_and_wrong_state(app: &TestApp) -> R {
    let w = world(app).await?;
    let id = submit_two_lines(app, &w).await?;
    let review =
        json!({"lines": [{"line": 1, "decision": "approve"}, {"line": 2, "decision": "approve"}]});
    let path = format!("/api/v1/applications/{id}/review");
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (s, v) = head.post(&path, &review).await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"));
    let (s, v) = w.integrator.post(&path, &review).await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"));
    let (s, v) = w
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"));
    assert_eq!(
        v["detail"],
        "The application is submitted; this action needs forwarded."
    );
    let (s, _) = w.reviewer.post(&path, &review).await?;
    assert_eq!(s, 200);
    let (s, v) = w.reviewer.post(&path, &review).await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"));
    let (s, v) = w
        .reviewer
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"));
    // Extra fiscal years only with a reason.
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/applications/{id}/grant"),
            &json!({"fiscal_years_extra": {"analytical_central": [2020]}}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "validation"));
    assert_eq!(v["errors"][0]["field"], "/reason");
    let (s, v) = w.integrator.post(&format!("/api/v1/applications/{id}/grant"), &json!({"fiscal_years_extra": {"analytical_central": [2020]}, "reason": "аудит 2020 года"})).await?;
    assert_eq!(s, 201, "{v}");
    let ac = v["grants"]
        .as_array()
        .and_then(|g| {
            g.iter()
                .find(|g| g["system"] == "analytical_central")
                .cloned()
        })
        .unwrap_or_default();
    assert_eq!(ac["scope"]["fiscal_years"][0], 2020);
    assert_eq!(ac["extra_years_reason"], "аудит 2020 года");
    let (s, v) = w
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"));
    // A signed-in head of another organization submitting with a session of a different BIN.
    let other_bin = demo_bin(ASTANA_MASLIKHAT);
    app.add_org(&other_bin, K::Maslikhat, Some("710000000"), &[])
        .await?;
    let other = app
        .signed_in(&iin(20), &other_bin, NcaRole::FirstHead)
        .await?;
    let t = today(app);
    let (s, v) = other
        .submit(
            &w.head_sign,
            &form(app, &w.bin, &[(&iin(11), plus_months(t, 6))]),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "session-bin-mismatch"));
    // The other head cannot read this application.
    let (s, v) = other.get(&format!("/api/v1/applications/{id}")).await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"));
    let (s, v) = other.get("/api/v1/applications").await?;
    assert_eq!((s, v.as_array().map(|a| a.len())), (200, Some(0)));
    Ok(())
}

// Bad input: RFC 9457, the field and the rule, in the caller's language; nothing half-written.
async fn validation_errors_are_localized_and_named(app: &TestApp) -> R {
    let w = world(app).await?;
    let t = today(app);
    let yesterday = t.yesterday()?.to_string();
    let f = form(
        app,
        &w.bin,
        &[
            ("871008401427", plus_months(t, 6)),
            ("821214240092", yesterday),
            ("850712300801", plus_months(t, 6)),
        ],
    );
    let mut c = app.signed_in(&iin(97), &w.bin, NcaRole::Employee).await?;
    c.lang = "ru".into();
    let (s, v) = c.submit(&w.head_sign, &f).await?;
    assert_eq!((s, problem_type(&v)), (400, "validation"));
    assert_eq!(v["title"], "Запрос содержит ошибки");
    let errs: Vec<(String, String, String)> = v["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or("").into(),
                e["rule"].as_str().unwrap_or("").into(),
                e["detail"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert!(
        errs.contains(&(
            "/lines/1/iin".into(),
            "never_issued".into(),
            "такой номер не выдаётся (контрольный разряд 10 дважды)".into()
        )),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.0 == "/lines/1/access_until" && e.1 == "access_until_past"),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 2);
    assert_eq!(
        app.state.store.applications(None, None, 10).await?.len(),
        0,
        "nothing half-written"
    );
    c.lang = "kk".into();
    let (_, v) = c.submit(&w.head_sign, &f).await?;
    assert_eq!(v["title"], "Сұрауда қателер бар");
    c.lang = "en".into();
    let (_, v) = c
        .post("/api/v1/applications", &json!({"signed_cms": "%%%"}))
        .await?;
    assert_eq!(v["errors"][0]["field"], "/signed_cms");
    assert_eq!(v["errors"][0]["rule"], "base64");
    let (_, v) = c
        .post("/api/v1/applications", &json!({"signed_cms": "MAMCAQA="}))
        .await?;
    assert_eq!(problem_type(&v), "cms-malformed");
    // A signed document that is not the form: the unknown field and the missing one are named by
    // their JSON Pointers, with the rule, in the caller's language.
    let mut bad = f.clone();
    bad["extra"] = json!(1);
    bad["lines"][0]["extra"] = json!(true);
    if let Some(line) = bad["lines"][0].as_object_mut() {
        line.remove("purpose");
    }
    c.lang = "ru".into();
    let (s, v) = c.submit(&w.head_sign, &bad).await?;
    assert_eq!(s, 400, "{v}");
    let named: Vec<(String, String, String)> = v["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or("").into(),
                e["rule"].as_str().unwrap_or("").into(),
                e["detail"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (
                "/extra".into(),
                "unknown_field".into(),
                "неизвестное поле".into()
            ),
            (
                "/lines/0/extra".into(),
                "unknown_field".into(),
                "неизвестное поле".into()
            ),
            (
                "/lines/0/purpose".into(),
                "required".into(),
                "обязательно".into()
            ),
        ]
    );
    // Appendix form: the e-mail contact is required and must be an address.
    let mut no_email = f.clone();
    if let Some(line) = no_email["lines"][0].as_object_mut() {
        line.remove("email");
    }
    no_email["lines"][1]["email"] = json!("not an address");
    let (s, v) = c.submit(&w.head_sign, &no_email).await?;
    assert_eq!(s, 400, "{v}");
    let named: Vec<(&str, &str)> = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or(""),
                        e["rule"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(named, vec![("/lines/0/email", "required")]);
    no_email["lines"][0]["email"] = json!("a@b.kz");
    let (s, v) = c.submit(&w.head_sign, &no_email).await?;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["errors"].as_array().is_some_and(|a| a
            .iter()
            .any(|e| e["field"] == "/lines/1/email" && e["rule"] == "email_format")),
        "{v}"
    );
    assert_eq!(
        app.state.store.applications(None, None, 10).await?.len(),
        0,
        "nothing half-written"
    );
    Ok(())
}

async fn organization_registry_rules(app: &TestApp) -> R {
    let w = world(app).await?;
    let mut c = w.integrator.clone();
    c.lang = "ru".into();
    let (s, v) = c
        .post(
            "/api/v1/organizations",
            &json!({"bin": demo_bin(20), "name_kk": "М", "name_ru": "М", "kind": "maslikhat"}),
        )
        .await?;
    assert_eq!(
        (
            s,
            v["errors"][0]["field"].as_str(),
            v["errors"][0]["rule"].as_str()
        ),
        (400, Some("/territory"), Some("territory_required"))
    );
    let (s, v) = c.post("/api/v1/organizations", &json!({"bin": demo_bin(20), "name_kk": "М", "name_ru": "М", "kind": "mvd_territorial_internal_audit", "territory": "194000000"})).await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("territory_must_be_region"))
    );
    let (s, v) = c
        .post(
            "/api/v1/organizations",
            &json!({"bin": "821214240092", "name_kk": "М", "name_ru": "М", "kind": "parliament"}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("never_issued"))
    );
    let (s, v) = c.post("/api/v1/organizations", &json!({"bin": demo_bin(20), "name_kk": "М", "name_ru": "М", "kind": "maslikhat", "territory": "750000000"})).await?;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c.post("/api/v1/organizations", &json!({"bin": demo_bin(20), "name_kk": "М", "name_ru": "М", "kind": "maslikhat", "territory": "750000000"})).await?;
    assert_eq!((s, problem_type(&v)), (409, "organization-exists"));
    let (s, v) = w
        .reviewer
        .post(
            "/api/v1/organizations",
            &json!({"bin": demo_bin(21), "name_kk": "М", "name_ru": "М", "kind": "parliament"}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"));
    let (s, v) = w.reviewer.get("/api/v1/organizations").await?;
    assert_eq!((s, v.as_array().map(|a| a.len())), (200, Some(4)));
    // An operator organization does not apply for access.
    let integ_head = app.person(
        &iin(40),
        Some(&demo_bin(INTEGRATOR)),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let t = today(app);
    let (s, v) = app
        .submit(
            &integ_head,
            &form(app, &demo_bin(INTEGRATOR), &[(&iin(41), plus_months(t, 6))]),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "not-an-applicant"));
    Ok(())
}

// DESIGN.md §5: the audit chain names the first broken link.
async fn audit_tampering_is_detected(app: &TestApp) -> R {
    let w = world(app).await?;
    submit_two_lines(app, &w).await?;
    let before = app.state.store.verify_audit_chain().await?;
    assert_eq!(before.first_broken, None);
    assert!(before.records >= 5);
    app.state
        .store
        .pool()
        .execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
        .await?;
    let after = app.state.store.verify_audit_chain().await?;
    assert_eq!(
        after.first_broken.as_ref().map(|b| b.0),
        Some(3),
        "{after:?}"
    );
    // Removing a record is found too.
    app.state
        .store
        .pool()
        .execute("UPDATE audit_log SET outcome = 'ok' WHERE seq = 3")
        .await?;
    app.state
        .store
        .pool()
        .execute("DELETE FROM audit_log WHERE seq = 4")
        .await?;
    let removed = app.state.store.verify_audit_chain().await?;
    assert_eq!(
        removed.first_broken.as_ref().map(|b| b.0),
        Some(4),
        "{removed:?}"
    );
    Ok(())
}

// DESIGN.md §5: a state change whose audit write fails leaves no change behind.
async fn audit_failure_leaves_no_change(app: &TestApp) -> R {
    let w = world(app).await?;
    let id = submit_two_lines(app, &w).await?;
    let pool = app.state.store.pool();
    match app.state.store.backend() {
        qoljetim_store::Backend::Sqlite => {
            pool.execute("CREATE TRIGGER fail_review_audit BEFORE INSERT ON audit_log WHEN NEW.action = 'review_application' BEGIN SELECT RAISE(ABORT, 'audit storage failed'); END").await?;
        }
        qoljetim_store::Backend::Postgres => {
            pool.execute("CREATE FUNCTION fail_review_audit() RETURNS trigger AS $$ BEGIN IF NEW.action = 'review_application' THEN RAISE EXCEPTION 'audit storage failed'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql").await?;
            pool.execute("CREATE TRIGGER fail_review_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_review_audit()").await?;
        }
    }
    let review =
        json!({"lines": [{"line": 1, "decision": "approve"}, {"line": 2, "decision": "approve"}]});
    let (s, v) = w
        .reviewer
        .post(&format!("/api/v1/applications/{id}/review"), &review)
        .await?;
    assert_eq!((s, problem_type(&v)), (500, "audit-failed"));
    let a = app.state.store.application(id).await?.ok_or("gone")?;
    assert_eq!(a.status.as_str(), "submitted");
    assert_eq!(a.reviewed_by, None);
    assert!(
        app.state
            .store
            .lines(id)
            .await?
            .iter()
            .all(|l| l.status.as_str() == "submitted")
    );
    assert_eq!(
        app.state.store.verify_audit_chain().await?.first_broken,
        None,
        "the chain stays whole"
    );
    let drop = if app.state.store.backend() == qoljetim_store::Backend::Postgres {
        "DROP TRIGGER fail_review_audit ON audit_log"
    } else {
        "DROP TRIGGER fail_review_audit"
    };
    pool.execute(drop).await?;
    let (s, v) = w
        .reviewer
        .post(&format!("/api/v1/applications/{id}/review"), &review)
        .await?;
    assert_eq!(s, 200, "{v}");
    Ok(())
}

async fn grant_one(
    app: &TestApp,
    w: &World,
    bin: &str,
    kind: K,
    territory: Option<&str>,
    admins: &[&str],
    n: u32,
) -> Result<Value, qoljetim::AnyError> {
    app.add_org(bin, kind, territory, admins).await?;
    let head = app.person(
        &iin(n),
        Some(bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let t = today(app);
    let (s, v) = app
        .submit(&head, &form(app, bin, &[(&iin(n + 1), plus_months(t, 6))]))
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap_or(0);
    let v = approve_and_grant(w, id).await?;
    Ok(v["grants"][0]["scope"].clone())
}

/// The reviewer approves line 1 of application `id` and the integrator grants it (Order 270 §9);
/// answers the grant.
async fn approve_and_grant(w: &World, id: i64) -> Result<Value, qoljetim::AnyError> {
    let (s, v) = w
        .reviewer
        .post(
            &format!("/api/v1/applications/{id}/review"),
            &json!({"lines": [{"line": 1, "decision": "approve"}]}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = w
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{v}");
    Ok(v)
}

// Order 270 §6: a district maslikhat's scope is its district's prefix, which no sibling district shares:
// the data holds sibling districts' budgets whose KATO shares the digits a trailing-zero prefix ("191")
// would keep, and none of them reaches the maslikhat.
async fn district_maslikhat_scope_excludes_siblings(app: &TestApp) -> R {
    let w = world(app).await?;
    let district = granted_user(
        app,
        &w,
        10,
        K::Maslikhat,
        Some("191000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let everyone = granted_user(
        app,
        &w,
        11,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let budgets = |v: &Value| -> Vec<String> {
        rows(v)
            .iter()
            .filter_map(|r| r["group"]["budget"].as_str().map(str::to_owned))
            .collect()
    };
    let q = format!("{AC}?fiscal_year=2026&group_by=budget&measures=paid&limit=10000");
    let (s, v) = everyone.get(&q).await?;
    assert_eq!(s, 200, "{v}");
    let all = budgets(&v);
    // The rows a broken prefix would let through: budgets of districts 1911…–1919… .
    let siblings: Vec<&String> = all
        .iter()
        .filter(|b| b.starts_with("191") && !b.starts_with("1910"))
        .collect();
    assert!(
        !siblings.is_empty(),
        "the data has sibling districts: {all:?}"
    );
    let (s, v) = district.get(&q).await?;
    assert_eq!(s, 200, "{v}");
    let seen = budgets(&v);
    assert!(!seen.is_empty(), "the district's own budgets");
    assert!(seen.iter().all(|b| b.starts_with("1910")), "{seen:?}");
    for sibling in siblings {
        assert!(
            !seen.contains(sibling),
            "{sibling} is a sibling district's budget"
        );
    }
    // And exactly the district's budgets: every budget inside it that Parliament sees.
    let inside: Vec<&String> = all.iter().filter(|b| b.starts_with("1910")).collect();
    assert_eq!(seen.iter().collect::<Vec<_>>(), inside);
    Ok(())
}

// Order 270 §6: every applicant kind gets the scope of its competence. Parliament, the Supreme
// Audit Chamber and internal state audit: the republican budget and all local budgets.
async fn every_applicant_kind_gets_its_scope(app: &TestApp) -> R {
    let w = world(app).await?;
    let cases: Vec<(K, Option<&str>, Vec<&str>, Value)> = vec![
        (
            K::Parliament,
            None,
            vec![],
            json!({"levels": ["republican", "regional", "district", "rural"], "territory_prefix": null, "administrators": []}),
        ),
        (
            K::SupremeAuditChamber,
            None,
            vec![],
            json!({"levels": ["republican", "regional", "district", "rural"], "territory_prefix": null, "administrators": []}),
        ),
        (
            K::InternalStateAudit,
            None,
            vec![],
            json!({"levels": ["republican", "regional", "district", "rural"], "territory_prefix": null, "administrators": []}),
        ),
        (
            K::RevisionCommission,
            Some("350000000"),
            vec![],
            json!({"levels": ["regional", "district", "rural"], "territory_prefix": "35", "administrators": []}),
        ),
        (
            K::LocalInternalAudit,
            Some("630000000"),
            vec![],
            json!({"levels": ["regional", "district", "rural"], "territory_prefix": "63", "administrators": []}),
        ),
        (
            K::CentralInternalAudit,
            None,
            vec!["217"],
            json!({"levels": ["republican"], "territory_prefix": null, "administrators": ["217"]}),
        ),
        (
            K::MvdTerritorialInternalAudit,
            Some("750000000"),
            vec![],
            json!({"levels": ["regional", "district", "rural"], "territory_prefix": "75", "administrators": ["352"]}),
        ),
        (
            K::MvdTerritorialInternalAudit,
            Some("550000000"),
            vec![],
            json!({"levels": ["regional", "district", "rural"], "territory_prefix": "55", "administrators": ["252"]}),
        ),
    ];
    for (i, (kind, territory, admins, expected)) in cases.into_iter().enumerate() {
        let scope = grant_one(
            app,
            &w,
            &demo_bin(60 + i as u32),
            kind,
            territory,
            &admins,
            100 + 2 * i as u32,
        )
        .await?;
        for key in ["levels", "territory_prefix", "administrators"] {
            assert_eq!(scope[key], expected[key], "{kind:?} {key}: {scope}");
        }
    }
    Ok(())
}

// DESIGN.md §8: a browser session (cookie) needs a same-origin Origin on unsafe methods.
async fn cookie_sessions_need_same_origin(app: &TestApp) -> R {
    let w = world(app).await?;
    let token = w.integrator.token.clone().unwrap_or_default();
    let http = reqwest::Client::new();
    let cookie = format!("qoljetim_session={token}");
    let r = http
        .get(format!("{}/api/v1/me", app.base))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let body = json!({"bin": demo_bin(22), "name_kk": "П", "name_ru": "П", "kind": "parliament"});
    let r = http
        .post(format!("{}/api/v1/organizations", app.base))
        .header("Cookie", &cookie)
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = r.json().await?;
    assert_eq!(problem_type(&v), "origin-mismatch");
    let host = app.base.trim_start_matches("http://").to_owned();
    let r = http
        .post(format!("{}/api/v1/organizations", app.base))
        .header("Cookie", &cookie)
        .header("Origin", format!("http://{host}"))
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 201);
    // The login answer sets an HttpOnly cookie.
    let auth = w.employee(app)?;
    let c = app.client();
    let body = json!({"signed_cms": auth.sign(c.challenge().await?.as_bytes())?});
    let r = http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&body)
        .send()
        .await?;
    let set_cookie = header_of(&r, "set-cookie");
    assert!(
        set_cookie.starts_with("qoljetim_session=")
            && set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    Ok(())
}

// DESIGN.md §4: sessions end after 30 idle minutes.
async fn idle_session_expires(app: &TestApp) -> R {
    let w = world(app).await?;
    let (s, _) = w.reviewer.get("/api/v1/me").await?;
    assert_eq!(s, 200);
    let old = (Timestamp::now() - 31.minutes()).as_microsecond();
    app.state
        .store
        .pool()
        .execute(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET last_seen = {old}"
        )))
        .await?;
    let (s, v) = w.reviewer.get("/api/v1/me").await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"));
    let mut anon = app.client();
    anon.token = Some("not-a-token".into());
    let (s, v) = anon.get("/api/v1/me").await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"));
    Ok(())
}

// Order 270 §9: working-day deadlines over HTTP (Nauryz 2026; the 2025 transfer).
async fn calendar_deadline_endpoint(app: &TestApp) -> R {
    let c = app.client();
    let (s, v) = c
        .get("/api/v1/calendar/deadline?from=2026-03-20&working_days=2")
        .await?;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"from": "2026-03-20", "working_days": 2, "due": "2026-03-27", "due_at": "2026-03-27T18:59:59Z", "provisional": false})
    );
    let (_, v) = c
        .get("/api/v1/calendar/deadline?from=2025-01-02&working_days=2")
        .await?;
    assert_eq!(v["due"], "2025-01-06");
    let (_, v) = c
        .get("/api/v1/calendar/deadline?from=2027-12-30&working_days=2")
        .await?;
    assert_eq!(v["provisional"], true);
    let (s, v) = c
        .get("/api/v1/calendar/deadline?from=2026-03-20&working_days=0")
        .await?;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (400, Some("/working_days"))
    );
    Ok(())
}

async fn openapi_and_health(app: &TestApp) -> R {
    let c = app.client();
    let (s, v) = c.get("/api/v1/openapi.json").await?;
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().is_some_and(|x| x.starts_with("3.1")));
    for p in [
        "/api/v1/auth/challenge",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/applications",
        "/api/v1/applications/{id}/review",
        "/api/v1/applications/{id}/grant",
        "/api/v1/grants",
        "/api/v1/organizations",
        "/api/v1/calendar/deadline",
        "/api/v1/audit",
        "/api/v1/me",
        "/api/v1/hr/events",
        "/api/v1/me/profile",
        "/api/v1/notifications",
        "/api/v1/grants/{id}/renewal",
        "/api/v1/reports/deadlines",
        "/api/v1/reports/access-registry",
        "/api/v1/block-requests",
        "/api/v1/data/{system}/{dataset}",
        "/api/v1/data/{system}/dimensions/{dim}",
        "/api/v1/mobile-signing/{id}",
        "/api/v1/mobile-signing/{id}/document",
        "/api/v1/lessons",
        "/api/v1/lessons/{id}/attempts",
        "/api/v1/duties",
        "/api/v1/grants/{id}/duties",
        "/api/v1/training/sessions",
        "/api/v1/training/sessions/{id}/enrolments",
        "/api/v1/training/sessions/{id}/attendance",
        "/api/v1/training/sessions/{id}/report",
        "/api/v1/support/requests",
        "/api/v1/support/requests/{id}/messages",
        "/api/v1/support/requests/{id}/attachments",
        "/healthz",
    ] {
        assert!(v["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    // Issue 18: the systems' own route takes a system's token only; the data routes take either.
    assert_eq!(
        v["paths"]["/api/v1/systems/me"]["get"]["security"],
        json!([{"systemToken": []}])
    );
    assert_eq!(
        v["paths"]["/api/v1/data/{system}/{dataset}"]["get"]["security"],
        json!([{"session": []}, {"sessionCookie": []}, {"systemToken": []}])
    );
    // Issue 15: who may call what, as the server decides it: public routes need nothing, the rest a
    // session (bearer or cookie).
    for (p, m, public) in [
        ("/healthz", "get", true),
        ("/readyz", "get", true),
        ("/api/v1/auth/challenge", "get", true),
        ("/api/v1/me", "get", false),
        ("/api/v1/applications", "post", false),
        ("/api/v1/auth/system", "post", true),
    ] {
        let security = &v["paths"][p][m]["security"];
        assert_eq!(
            security.as_array().is_some_and(|a| a.is_empty()),
            public,
            "{p}: {security}"
        );
        assert_eq!(
            v["paths"][p][m]["responses"]["default"]["content"]["application/problem+json"]["schema"]
                ["$ref"],
            "#/components/schemas/Problem",
            "{p}"
        );
    }
    // The router and the document are one list: every documented path and method is served (an
    // unrouted one answers 404, a method the path lacks 405; signed-out calls get 401 or 400 instead).
    let http = reqwest::Client::new();
    let paths = v["paths"].as_object().cloned().unwrap_or_default();
    assert_eq!(paths.len(), 65, "every route of the router");
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "1")
            .replace("{system}", "analytical_central")
            .replace("{dataset}", "expenditure")
            .replace("{dim}", "month")
            .replace("{attachment}", "1")
            .replace("{decision}", "1")
            .replace("{answer}", "1");
        for method in item
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())?;
            let r = http
                .request(m, format!("{}{concrete}", app.base))
                .send()
                .await?;
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert!(
                status != 405,
                "{method} {path} is documented but not routed"
            );
            assert!(
                !(status == 404 && body.is_empty()),
                "{method} {path} is documented but not routed"
            );
        }
    }
    if app.state.store.backend() == qoljetim_store::Backend::Sqlite {
        use sqlx::Row;
        let row = sqlx::query("PRAGMA journal_mode")
            .fetch_one(app.state.store.pool())
            .await?;
        assert_eq!(row.try_get::<String, _>(0)?, "wal");
        let row = sqlx::query("PRAGMA foreign_keys")
            .fetch_one(app.state.store.pool())
            .await?;
        assert_eq!(row.try_get::<i64, _>(0)?, 1);
    }
    let (s, v) = c.get("/healthz").await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    // Kazakh, the state language, when the caller names no language.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await?;
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let v: Value = r.json().await?;
    assert_eq!(
        (v["title"].as_str(), v["status"].as_u64()),
        (Some("Кіру қажет"), Some(401))
    );
    let (s, v) = c.get("/api/v1/nope").await?;
    assert_eq!((s, problem_type(&v)), (404, "not-found"));
    Ok(())
}

/// Issue 16, Order 270 §12: the lessons are data the integrator edits; `qoljetim lessons check`
/// passes the shipped ones (each system's, both languages) and refuses a broken copy naming its file,
/// line and rule.
#[test]
fn lessons_check_passes_the_shipped_and_names_a_broken_line() -> R {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qoljetim"))
        .args(["lessons", "check"])
        .arg(root.join("lessons"))
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("analytical-central v1 (analytical_central)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("state-planning v1 (state_planning)"),
        "{stdout}"
    );
    let mut b = [0u8; 6];
    getrandom::fill(&mut b)?;
    let dir = std::env::temp_dir().join(format!("qoljetim-lessons-{}", hex::encode(b)));
    std::fs::create_dir_all(&dir)?;
    let text = std::fs::read_to_string(root.join("lessons/analytical-central.toml"))?;
    let broken = text.replacen("choices_ru = [\"Логином и паролем\", ", "choices_ru = [", 1);
    assert_ne!(broken, text);
    std::fs::write(dir.join("broken.toml"), &broken)?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qoljetim"))
        .args(["lessons", "check"])
        .arg(&dir)
        .output()?;
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = broken[..broken.find("choices_ru = [\"Ключом").ok_or("no line")?]
        .matches('\n')
        .count()
        + 1;
    assert!(
        stderr.contains(&format!(
            "broken.toml:{line}: question 1: 3 choices in Kazakh, 2 in Russian"
        )),
        "{stderr}"
    );
    Ok(())
}

/// Order 270 §12: `qoljetim lessons load` loads the shipped lessons into a fresh data folder once
/// (again: unchanged), refuses a loaded version whose text changed (a change is a new version), and
/// loads nothing when a file breaks a rule, naming its line.
#[test]
fn cli_lessons_load_checks_and_loads_versions_once() -> R {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut b = [0u8; 6];
    getrandom::fill(&mut b)?;
    let base = std::env::temp_dir().join(format!("qoljetim-lessons-load-{}", hex::encode(b)));
    let (data, edited) = (base.join("data"), base.join("edited"));
    std::fs::create_dir_all(&edited)?;
    let run = |dir: &std::path::Path| -> Result<(bool, String), qoljetim::AnyError> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_qoljetim"))
            .args(["lessons", "load"])
            .arg(dir)
            .arg("--data-dir")
            .arg(&data)
            .output()?;
        Ok((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    };
    let (ok, text) = run(&root.join("lessons"))?;
    assert!(
        ok && text.contains("loaded analytical-central v1")
            && text.contains("loaded state-planning v1"),
        "{text}"
    );
    let (ok, text) = run(&root.join("lessons"))?;
    assert!(
        ok && text.contains("unchanged analytical-central v1"),
        "{text}"
    );
    // The same version with another text is refused; raised to version 2 it loads.
    let original = std::fs::read_to_string(root.join("lessons/analytical-central.toml"))?;
    let changed = original.replacen("pass_percent = 80", "pass_percent = 90", 1);
    assert_ne!(changed, original);
    std::fs::write(edited.join("analytical-central.toml"), &changed)?;
    let (ok, text) = run(&edited)?;
    assert!(!ok && text.contains("lesson-changed-in-place"), "{text}");
    // A broken file next to a good new version: nothing is loaded, the broken line is named.
    std::fs::write(
        edited.join("analytical-central.toml"),
        changed.replacen("version = 1", "version = 2", 1),
    )?;
    std::fs::write(
        edited.join("broken.toml"),
        original.replacen("correct = 2", "correct = 7", 1),
    )?;
    let (ok, text) = run(&edited)?;
    assert!(
        !ok && text.contains("broken.toml:") && text.contains("nothing loaded"),
        "{text}"
    );
    std::fs::remove_file(edited.join("broken.toml"))?;
    let (ok, text) = run(&edited)?;
    assert!(
        ok && text.contains("loaded analytical-central v2"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}

/// Order 270 §2.6: `qoljetim org add` goes through the same use case as `POST /organizations` — the
/// same exclusions, the same field rules, the same audit record — on a fresh data folder.
#[test]
fn cli_org_add_uses_the_registration_use_case() {
    let dir = std::env::temp_dir().join(format!("qoljetim-cli-org-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_qoljetim"))
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let add = |bin: &str, kind: &str| {
        run(&[
            "org",
            "add",
            "--bin",
            bin,
            "--kind",
            kind,
            "--name-kk",
            "Ұйым",
            "--name-ru",
            "Орган",
        ])
    };
    let integrator = demo_bin(901);
    let (ok, text) = add(&integrator, "integrator");
    assert!(
        ok && text.contains(&format!("organization {integrator} registered")),
        "{text}"
    );
    // The same BIN again is the API's conflict.
    let (ok, text) = add(&integrator, "integrator");
    assert!(!ok && text.contains("organization-exists"), "{text}");
    // A wrong check digit names the field and the rule.
    let mut wrong = integrator.clone();
    let last = wrong.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    wrong.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    let (ok, text) = add(&wrong, "integrator");
    assert!(
        !ok && text.contains("/bin") && text.contains("check_digit"),
        "{text}"
    );
    // Order 270 §2.6: the National Bank's internal audit service is not a state audit body.
    let (ok, text) = add(&demo_bin(902), "national_bank_internal_audit");
    assert!(!ok && text.contains("not-eligible"), "{text}");
    // One record each: the registration, the conflict (written by the store), the two refusals.
    let (ok, text) = run(&["audit", "verify"]);
    assert!(
        ok && text.contains("audit chain intact: 4 records"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn production_mode_refuses_the_development_ca() {
    let mut cfg = qoljetim::config::Config {
        production: true,
        ..Default::default()
    };
    cfg.pki.trust_dev_ca = true;
    assert!(qoljetim::pki::trust_anchors(&cfg).is_err());
    cfg.pki.trust_dev_ca = false;
    cfg.pki.trust_anchors = vec![qoljetim::config::TrustAnchorConfig {
        name: "dev".into(),
        certificate: "x.pem".into(),
        development: true,
        revocation: qoljetim::config::RevocationConfig::None,
    }];
    assert!(
        qoljetim::pki::trust_anchors(&cfg)
            .err()
            .is_some_and(|e| e.contains("production"))
    );
}

#[test]
fn example_configuration_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../qoljetim.example.toml");
    let cfg = qoljetim::config::Config::load(Some(&path));
    assert!(cfg.is_ok(), "{cfg:?}");
}

/// Grants the person `user` of a new organization access to `systems` through the real workflow;
/// the person has passed the lessons and accepted the duties (Order 270 §13, §15).
async fn granted_user(
    app: &TestApp,
    w: &World,
    n: u32,
    kind: K,
    territory: Option<&str>,
    admins: &[&str],
    systems: &[&str],
) -> Result<ApiClient, qoljetim::AnyError> {
    let client = granted_untrained(app, w, n, kind, territory, admins, systems).await?;
    let ready = client.pass_training(&qoljetim::shipped_lessons()).await?;
    assert_eq!(
        ready.len(),
        systems.len(),
        "every granted system is ready to read"
    );
    Ok(client)
}

/// As `granted_user`, signed in right after the grant: not trained, duties not accepted.
async fn granted_untrained(
    app: &TestApp,
    w: &World,
    n: u32,
    kind: K,
    territory: Option<&str>,
    admins: &[&str],
    systems: &[&str],
) -> Result<ApiClient, qoljetim::AnyError> {
    let bin = demo_bin(200 + n);
    app.add_org(&bin, kind, territory, admins).await?;
    let head = app.person(
        &iin(300 + 2 * n),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let user = iin(301 + 2 * n);
    let t = today(app);
    let until = plus_months(t, 6);
    let lines = [FormLine {
        iin: &user,
        surname: "Депутат",
        name: "Тест",
        patronymic: None,
        access_until: Some(&until),
    }];
    let f = application_json(
        &bin,
        &t.to_string(),
        ("Басшы", "Тест", None),
        systems,
        &lines,
    );
    let (s, v) = app.submit(&head, &f).await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap_or(0);
    let (s, v) = w
        .reviewer
        .post(
            &format!("/api/v1/applications/{id}/review"),
            &json!({"lines": [{"line": 1, "decision": "approve"}]}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = w
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{v}");
    app.signed_in(&user, &bin, NcaRole::Employee).await
}

fn rows(v: &Value) -> Vec<Value> {
    v["rows"].as_array().cloned().unwrap_or_default()
}

const AC: &str = "/api/v1/data/analytical_central/expenditure";

// Order 270 §6: a maslikhat reads the budgets of its region and nothing of the region next door.
async fn maslikhat_reads_its_own_budget_only(app: &TestApp) -> R {
    let w = world(app).await?;
    let mut almaty = granted_user(
        app,
        &w,
        1,
        K::Maslikhat,
        Some("750000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    almaty.lang = "ru".into();
    let (s, v) = almaty
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=program&region=750000000"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(!rows(&v).is_empty(), "Almaty's budget by program has data");
    let (s, v) = almaty
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=region,budget_level&measures=paid"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(
        rows(&v).iter().all(|r| r["group"]["region"] == "750000000"),
        "{v}"
    );
    assert!(
        rows(&v)
            .iter()
            .all(|r| r["group"]["budget_level"] != "republican")
    );
    assert_eq!(rows(&v)[0]["group"]["region_name"], "город Алматы");
    // Astana: a 403 that says why, naming the caller's scope.
    let (s, v) = almaty
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=program&region=710000000"
        ))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "data-out-of-scope"));
    let detail = v["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("region=710000000") && detail.contains("territory=750000000"),
        "{detail}"
    );
    // The neighbour's maslikhat sees nothing of Almaty.
    let astana = granted_user(
        app,
        &w,
        2,
        K::Maslikhat,
        Some("710000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let (s, v) = astana
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=budget&measures=paid&limit=10000"
        ))
        .await?;
    assert_eq!(s, 200);
    assert!(!rows(&v).is_empty());
    assert!(
        rows(&v).iter().all(|r| r["group"]["budget"]
            .as_str()
            .is_some_and(|b| b.starts_with("71"))),
        "{v}"
    );
    // A fiscal year outside the grant's years.
    let (s, v) = astana
        .get(&format!("{AC}?fiscal_year=2020&group_by=program"))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "data-out-of-scope"));
    // Order 270 §6: Parliament reads the republican budget and all local budgets: every level, the
    // Almaty city budget and a rural budget in Karaganda oblast.
    let parliament = granted_user(
        app,
        &w,
        3,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let (s, v) = parliament
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=budget_level&measures=paid"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    let mut levels: Vec<String> = rows(&v)
        .iter()
        .filter_map(|r| r["group"]["budget_level"].as_str().map(str::to_owned))
        .collect();
    levels.sort();
    assert_eq!(levels, vec!["district", "regional", "republican", "rural"]);
    let (s, v) = parliament
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=budget&budget=750000000&measures=paid"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(rows(&v).len(), 1, "the Almaty city budget: {v}");
    assert!(rows(&v)[0]["values"]["paid"].as_i64() > Some(0));
    let (s, v) = parliament
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=budget,budget_level&region=350000000&budget_level=rural&measures=paid&limit=10000"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(
        !rows(&v).is_empty(),
        "rural budgets of Karaganda oblast: {v}"
    );
    assert!(rows(&v).iter().all(|r| {
        r["group"]["budget_level"] == "rural"
            && r["group"]["budget"]
                .as_str()
                .is_some_and(|b| b.starts_with("35"))
    }));
    // The Almaty maslikhat still reads nothing outside Almaty, at any level.
    let (s, v) = almaty
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=program&budget=000000000"
        ))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "data-out-of-scope"));
    Ok(())
}

// Order 270 §6: the MVD internal audit of Almaty city reads administrator 352 in Almaty only.
async fn mvd_almaty_reads_administrator_352_only(app: &TestApp) -> R {
    let w = world(app).await?;
    let mvd = granted_user(
        app,
        &w,
        5,
        K::MvdTerritorialInternalAudit,
        Some("750000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let (s, v) = mvd.get(&format!("{AC}?fiscal_year=2026&group_by=administrator,region,specifics&measures=paid,registered_obligations&limit=10000")).await?;
    assert_eq!(s, 200, "{v}");
    assert!(!rows(&v).is_empty());
    for r in rows(&v) {
        assert_eq!(
            (
                r["group"]["administrator"].as_str(),
                r["group"]["region"].as_str()
            ),
            (Some("352"), Some("750000000")),
            "{r}"
        );
        assert!(r["values"]["paid"].as_i64() <= r["values"]["registered_obligations"].as_i64());
    }
    let (s, v) = mvd
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=program&administrator=252"
        ))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "data-out-of-scope"));
    // A central internal audit reads its state body's administrators in the republican budget only.
    let central = granted_user(
        app,
        &w,
        8,
        K::CentralInternalAudit,
        None,
        &["217"],
        &["analytical_central"],
    )
    .await?;
    let (s, v) = central
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=administrator,budget_level&measures=paid"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(!rows(&v).is_empty());
    assert!(
        rows(&v)
            .iter()
            .all(|r| r["group"]["administrator"] == "217"
                && r["group"]["budget_level"] == "republican"),
        "{v}"
    );
    // A district maslikhat sees its district's budgets and none of its sibling districts'.
    let district = granted_user(
        app,
        &w,
        9,
        K::Maslikhat,
        Some("191000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let (s, v) = district
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=budget&measures=paid&limit=10000"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(!rows(&v).is_empty());
    assert!(
        rows(&v).iter().all(|r| r["group"]["budget"]
            .as_str()
            .is_some_and(|b| b.starts_with("1910"))),
        "{v}"
    );
    let (s, v) = district
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=program&district=191200000"
        ))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "data-out-of-scope"));
    // Revenue has no administrators: nothing for an administrator-limited scope.
    let (s, v) = mvd
        .get("/api/v1/data/analytical_central/revenue?fiscal_year=2026&group_by=revenue_code")
        .await?;
    assert_eq!((s, rows(&v).len()), (200, 0));
    Ok(())
}

// Order 270 §9: access ends with the grant; no grant for a system, no data of it.
async fn expired_or_missing_grant_is_refused(app: &TestApp) -> R {
    let w = world(app).await?;
    let user = granted_user(
        app,
        &w,
        6,
        K::RevisionCommission,
        Some("350000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let (s, _) = user
        .get(&format!("{AC}?fiscal_year=2026&group_by=program"))
        .await?;
    assert_eq!(s, 200);
    let (s, v) = user
        .get("/api/v1/data/state_planning/budget_applications?fiscal_year=2026&group_by=program")
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "grant-inactive"));
    app.state
        .store
        .pool()
        .execute("UPDATE grants SET valid_until = '2020-01-01'")
        .await?;
    let (s, v) = user
        .get(&format!("{AC}?fiscal_year=2026&group_by=program"))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "grant-inactive"));
    let (s, v) = app.client().get(&format!("{AC}?fiscal_year=2026")).await?;
    assert_eq!((s, problem_type(&v)), (401, "not-signed-in"));
    Ok(())
}

// Order 270 §5: read mode only; every data read is in the audit chain with the scope applied.
async fn data_routes_are_read_only_and_audited(app: &TestApp) -> R {
    let w = world(app).await?;
    let user = granted_user(
        app,
        &w,
        7,
        K::LocalInternalAudit,
        Some("630000000"),
        &[],
        &["analytical_central", "state_planning"],
    )
    .await?;
    let http = reqwest::Client::new();
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let r = http
            .request(method.clone(), format!("{}{AC}", app.base))
            .bearer_auth(user.token.clone().unwrap_or_default())
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 405, "{method}");
    }
    // Order 270 §15: a CSV export says who read it, when, under which audit record, and the duty.
    let csv_query =
        format!("{AC}?fiscal_year=2026&group_by=functional_group&measures=paid&format=csv");
    let (s, bytes) = user.get_bytes(&csv_query).await?;
    assert_eq!(s, 200);
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "UTF-8 BOM for Excel"
    );
    let text = String::from_utf8_lossy(&bytes[3..]).to_string();
    let comments: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(comments.len(), 4, "{text}");
    assert!(
        comments[0].contains("Order 270 §15")
            && comments[0].contains("not passed to third parties"),
        "{}",
        comments[0]
    );
    assert!(
        comments[2].contains("tiyn"),
        "the unit of amounts: {}",
        comments[2]
    );
    let export_id: i64 = comments[3]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("export_id="))
        .and_then(|n| n.parse().ok())
        .ok_or("no export id")?;
    let reader = comments[3]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("reader="))
        .ok_or("no reader")?
        .to_owned();
    // pandas.read_csv(comment='#') reads what follows: a header and rows, a name beside each code.
    let mut r = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header: Vec<String> = r.headers()?.iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        vec!["functional_group", "functional_group_name (name)", "paid"]
    );
    let records: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>()?;
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|rec| rec.len() == 3 && !rec[1].is_empty())
    );
    // The export's id is the read's audit record, with the same reader and filters (GET /audit).
    let (s, v) = w
        .integrator
        .get(&format!("/api/v1/audit?after={}&limit=1", export_id - 1))
        .await?;
    assert_eq!(s, 200, "{v}");
    let record = v
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_default();
    assert_eq!(record["seq"], export_id);
    assert_eq!(record["action"], "query_data");
    assert_eq!(record["actor"].as_str(), Some(reader.as_str()));
    assert_eq!(record["details"]["filters"]["group_by"], "functional_group");
    assert_eq!(record["details"]["export"]["format"], "csv");
    // A Kazakh or Russian caller's spreadsheet reads `;` as the column separator; ?sep= overrides.
    let ru = user.with_lang("ru");
    let (_, bytes) = ru.get_bytes(&csv_query).await?;
    let text = String::from_utf8_lossy(&bytes[3..]).to_string();
    assert!(text.contains("Приказ 270 п.15"), "{text}");
    let header = text.lines().find(|l| !l.starts_with('#')).unwrap_or("");
    assert_eq!(
        header,
        "functional_group;functional_group_name (наименование);paid"
    );
    let (_, bytes) = ru.get_bytes(&format!("{csv_query}&sep=comma")).await?;
    let text = String::from_utf8_lossy(&bytes[3..]).to_string();
    let header = text.lines().find(|l| !l.starts_with('#')).unwrap_or("");
    assert_eq!(
        header,
        "functional_group,functional_group_name (наименование),paid"
    );
    let (s, v) = ru.get(&format!("{csv_query}&sep=pipe")).await?;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (400, Some("/sep")));
    // JSON answers carry the same notice as an object.
    let (s, v) = user
        .with_lang("kk")
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=functional_group&measures=paid"
        ))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["notice"]["clause"], "Order 270 §15");
    assert_eq!(v["notice"]["reader"].as_str(), Some(reader.as_str()));
    assert!(v["notice"]["audit_id"].as_i64() > Some(export_id));
    assert!(
        v["notice"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("үшінші тұлғаларға берілмейді")),
        "{v}"
    );
    let (s, v) = user.get("/api/v1/data/state_planning/budget_applications?fiscal_year=2026&group_by=program&measures=year_1").await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = user
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=nonsense&measures=bogus"
        ))
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "validation"));
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, vec!["/group_by", "/measures"]);
    let (s, v) = user
        .get("/api/v1/data/analytical_central/dimensions/functional_group")
        .await?;
    assert_eq!((s, v.as_array().map(|a| a.len())), (200, Some(15)));
    let reads: Vec<_> = app
        .state
        .store
        .audit_records(0, 10_000)
        .await?
        .into_iter()
        .filter(|r| r.action == "query_data")
        .collect();
    let ok = reads
        .iter()
        .find(|r| r.outcome == "allowed")
        .ok_or("no audited read")?;
    let details: Value = serde_json::from_str(&ok.details)?;
    assert_eq!(details["scope"]["territory_prefix"], "63");
    assert!(details["rows"].as_u64().is_some());
    assert_eq!(ok.policies, "[\"grant-scope-permits-query\"]");
    Ok(())
}

// Order 270 §2.6: the internal audit services of the National Bank and of the financial-market
// regulator are not state audit bodies under the order ("…қоспағанда" = "except"): neither their kind
// nor a listed BIN registers or applies; an organization already registered is marked not eligible,
// its grants blocked and sessions ended, with an audit record.
async fn excluded_bodies_are_refused_and_marked(app: &TestApp) -> R {
    let w = world(app).await?;
    let c = w.integrator.with_lang("en");
    for body in [
        json!({"bin": demo_bin(EXCLUDED), "name_kk": "Н", "name_ru": "Н", "kind": "maslikhat", "territory": "750000000"}),
        json!({"bin": demo_bin(96), "name_kk": "Н", "name_ru": "Н", "kind": "national_bank_internal_audit"}),
    ] {
        let (s, v) = c.post("/api/v1/organizations", &body).await?;
        assert_eq!((s, problem_type(&v)), (403, "not-eligible"), "{v}");
        assert!(
            v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Order 270 §2.6")),
            "{v}"
        );
    }
    assert!(app.state.store.organization(&demo_bin(96)).await?.is_none());
    // A listed BIN registered before the list named it cannot apply, even before it is marked.
    app.add_org(&demo_bin(EXCLUDED), K::Maslikhat, Some("750000000"), &[])
        .await?;
    let head = app.person(
        &iin(69),
        Some(&demo_bin(EXCLUDED)),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let f = form(
        app,
        &demo_bin(EXCLUDED),
        &[(&iin(68), plus_months(today(app), 6))],
    );
    let (s, v) = app.submit(&head, &f).await?;
    assert_eq!((s, problem_type(&v)), (403, "not-eligible"), "{v}");
    assert_eq!(
        app.state
            .store
            .applications(Some(&demo_bin(EXCLUDED)), None, 10)
            .await?
            .len(),
        0
    );
    // An organization with a live grant and a session whose BIN the list names from the next start.
    app.add_org(&demo_bin(95), K::Maslikhat, Some("750000000"), &[])
        .await?;
    let listed = World {
        bin: demo_bin(95),
        head_sign: app.person(
            &iin(70),
            Some(&demo_bin(95)),
            Some(NcaRole::FirstHead),
            KeyPurpose::Signing,
        )?,
        ..w
    };
    let id = {
        let f = form(app, &listed.bin, &[(&iin(71), plus_months(today(app), 6))]);
        let (s, v) = app.submit(&listed.head_sign, &f).await?;
        assert_eq!(s, 201, "{v}");
        v["id"].as_i64().unwrap_or(0)
    };
    let (s, v) = listed
        .reviewer
        .post(
            &format!("/api/v1/applications/{id}/review"),
            &json!({"lines": [{"line": 1, "decision": "approve"}]}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = listed
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{v}");
    let user = app
        .signed_in(&iin(71), &listed.bin, NcaRole::Employee)
        .await?;
    // The start-up step (run at every start) marks it.
    let exclusions = qoljetim_domain::org::Exclusions::new(&[demo_bin(95)])?;
    let marked =
        qoljetim::apply_exclusions(&app.state.store, &exclusions, Timestamp::now()).await?;
    assert_eq!(marked, vec![demo_bin(95)]);
    assert!(
        qoljetim::apply_exclusions(&app.state.store, &exclusions, Timestamp::now())
            .await?
            .is_empty(),
        "once"
    );
    let (s, v) = user.get("/api/v1/me").await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");
    let (s, v) = listed.integrator.get("/api/v1/grants").await?;
    assert_eq!(s, 200);
    let g = v
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|g| g["organization_bin"] == listed.bin.as_str())
        .unwrap_or_default();
    assert_eq!(
        (g["status"].as_str(), g["end_reason"].as_str()),
        (Some("blocked"), Some("not_eligible")),
        "{g}"
    );
    let (_, v) = listed.integrator.get("/api/v1/organizations").await?;
    let org = v
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|o| o["bin"] == listed.bin.as_str())
        .unwrap_or_default();
    assert_eq!(
        (org["eligible"].as_bool(), org["excluded"].as_str()),
        (Some(false), Some("Order 270 §2.6")),
        "{org}"
    );
    let record = app
        .state
        .store
        .audit_records(0, 10_000)
        .await?
        .into_iter()
        .find(|r| r.action == "exclude_organization")
        .ok_or("no audit record")?;
    assert_eq!(record.resource, format!("organization/{}", listed.bin));
    // Its head's next application is refused with the clause.
    let f = form(app, &listed.bin, &[(&iin(72), plus_months(today(app), 6))]);
    let (s, v) = app
        .signed_in(&iin(97), &listed.bin, NcaRole::Employee)
        .await?
        .with_lang("ru")
        .submit(&listed.head_sign, &f)
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "not-eligible"), "{v}");
    assert!(
        app.state
            .config
            .exclusions
            .bins()
            .all(|b| b.as_str() != listed.bin),
        "marked, not listed"
    );
    assert!(
        v["detail"].as_str().is_some_and(|d| d.contains("п.2.6")),
        "{v}"
    );
    // A record of the removed kind (from before the re-reading) is marked the same way.
    app.state
        .store
        .commit(
            qoljetim_store::Change::CreateOrganization {
                bin: qoljetim_domain::Bin::parse(&demo_bin(96))?,
                name_kk: "Ұлттық Банктің ішкі аудит қызметі".into(),
                name_ru: "Служба внутреннего аудита Национального Банка".into(),
                kind: qoljetim_domain::org::RegisteredKind::parse("national_bank_internal_audit")
                    .ok_or("an excluded kind is recognised")?,
                territory: None,
                administrators: vec![],
                created_at: 0,
            },
            qoljetim::cli_audit("cli:test", "manage_organizations", demo_bin(96), json!({})),
        )
        .await?;
    let marked = qoljetim::apply_exclusions(
        &app.state.store,
        &qoljetim_domain::org::Exclusions::default(),
        Timestamp::now(),
    )
    .await?;
    assert_eq!(marked, vec![demo_bin(96)]);
    Ok(())
}

// DESIGN.md §2: the competence rules are data, validated at start-up: a file with an unknown kind
// stops the server, naming the file and line.
async fn a_bad_rules_file_stops_the_start(db: Option<&str>) -> R {
    let text = qoljetim_domain::competence::SHIPPED_RULES.replace(
        "kind = \"maslikhat\"",
        "kind = \"national_bank_internal_audit\"",
    );
    let line = qoljetim_domain::competence::SHIPPED_RULES
        .lines()
        .position(|l| l.contains("kind = \"maslikhat\""))
        .map(|i| i + 1)
        .unwrap_or(0);
    let path = std::env::temp_dir().join(format!("qoljetim-rules-{}.toml", std::process::id()));
    std::fs::write(&path, text)?;
    let p = path.clone();
    let r = TestApp::spawn_configured(db, KeyKind::P256, move |c| c.competence_rules = p).await;
    let _ = std::fs::remove_file(&path);
    match r {
        Ok(app) => {
            app.cleanup().await;
            Err("the server started with a bad rules file".into())
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("{}:{line}:", path.display())),
                "{msg}"
            );
            assert!(msg.contains("unknown kind"), "{msg}");
            Ok(())
        }
    }
}

// Order 270 §6, DESIGN.md §2: the rules file changed to republican-only for Parliament and re-derived
// narrows the live grant, one audit record per grant; run again, nothing changes.
async fn rules_file_change_rederives_live_grants(app: &TestApp) -> R {
    let w = world(app).await?;
    let deputy = granted_user(
        app,
        &w,
        12,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let almaty = format!("{AC}?fiscal_year=2026&group_by=budget&budget=750000000&measures=paid");
    let (s, v) = deputy.get(&almaty).await?;
    assert_eq!((s, rows(&v).len()), (200, 1), "{v}");
    let stricter_text = qoljetim_domain::competence::SHIPPED_RULES.replacen(
        "levels = [\"republican\", \"regional\", \"district\", \"rural\"]",
        "levels = [\"republican\"]",
        1,
    );
    let stricter = qoljetim_domain::CompetenceRules::parse("stricter.toml", &stricter_text)?;
    let changed = qoljetim::rederive_scopes(
        &app.state.store,
        &stricter,
        K::Parliament,
        "cli:test",
        false,
    )
    .await?;
    assert_eq!(changed.len(), 1, "{changed:?}");
    let (scope, previous) = (
        serde_json::to_value(&changed[0].scope)?,
        serde_json::to_value(&changed[0].previous)?,
    );
    assert_eq!(scope["levels"], json!(["republican"]));
    assert_eq!(
        previous["levels"],
        json!(["republican", "regional", "district", "rural"])
    );
    assert_eq!(
        scope["fiscal_years"], previous["fiscal_years"],
        "years stay"
    );
    let records: Vec<_> = app
        .state
        .store
        .audit_records(0, 10_000)
        .await?
        .into_iter()
        .filter(|r| r.action == "rederive_scope")
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].resource, format!("grant/{}", changed[0].grant));
    let (s, v) = deputy.get(&almaty).await?;
    assert_eq!((s, problem_type(&v)), (403, "data-out-of-scope"), "{v}");
    let (s, v) = deputy
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=budget_level&measures=paid"
        ))
        .await?;
    assert_eq!(s, 200);
    assert_eq!(
        rows(&v)
            .iter()
            .map(|r| r["group"]["budget_level"].clone())
            .collect::<Vec<_>>(),
        vec![json!("republican")]
    );
    assert!(
        qoljetim::rederive_scopes(
            &app.state.store,
            &stricter,
            K::Parliament,
            "cli:test",
            false
        )
        .await?
        .is_empty()
    );
    // The shipped rules widen it again.
    let shipped = qoljetim_domain::CompetenceRules::shipped()?;
    assert_eq!(
        qoljetim::rederive_scopes(&app.state.store, &shipped, K::Parliament, "cli:test", false)
            .await?
            .len(),
        1
    );
    let (s, v) = deputy.get(&almaty).await?;
    assert_eq!((s, rows(&v).len()), (200, 1), "{v}");
    Ok(())
}

// A person's grant is read directly: in an organization with more grants than any window (5,001
// newer grants of other people), the older valid grant still reads data and shows in GET /me.
async fn a_persons_grant_is_found_past_any_window(app: &TestApp) -> R {
    let w = world(app).await?;
    let user = granted_user(
        app,
        &w,
        13,
        K::RevisionCommission,
        Some("350000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let bin = demo_bin(213);
    app.state
        .store
        .pool()
        .execute(sqlx::AssertSqlSafe(format!(
            "INSERT INTO grants (application_id, line, person_iin, organization_bin, system, status, valid_from, valid_until, \
             access_until_requested, notice, scope, extra_years_reason, granted_by, granted_at) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5001) \
             SELECT g.application_id, 1000 + n.i, 'other' || CAST(n.i AS TEXT), g.organization_bin, g.system, g.status, \
             g.valid_from, g.valid_until, NULL, NULL, g.scope, NULL, g.granted_by, g.granted_at \
             FROM n, grants g WHERE g.organization_bin = '{bin}'"
        )))
        .await?;
    let (s, v) = user.get("/api/v1/me").await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["grants"].as_array().map(|g| g.len()), Some(1), "{v}");
    let (s, v) = user
        .get(&format!("{AC}?fiscal_year=2026&group_by=program"))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(!rows(&v).is_empty());
    Ok(())
}

/// `last_seen` of the client's session.
async fn last_seen(app: &TestApp, c: &ApiClient) -> Result<i64, qoljetim::AnyError> {
    let hash = qoljetim_service::token_hash(c.token.as_deref().unwrap_or(""));
    Ok(app
        .state
        .store
        .session(&hash)
        .await?
        .ok_or("no session")?
        .last_seen)
}

// DESIGN.md §5: every signed-in request writes an audit record and counts as activity for the idle
// timeout; a request a page makes by itself (X-Qoljetim-Background: 1) is audited but does not.
// Issue 20: activity is written at most every 30 seconds per session, so each foreground request
// below first finds its last activity a minute old; one within the 30 seconds writes none.
async fn every_signed_in_request_is_audited_and_counts_as_activity(app: &TestApp) -> R {
    let w = world(app).await?;
    let user = granted_user(
        app,
        &w,
        14,
        K::LocalInternalAudit,
        Some("630000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let http = reqwest::Client::new();
    for (path, action) in [
        ("/api/v1/me/profile", "read_profile"),
        ("/api/v1/notifications", "read_notifications"),
        (
            "/api/v1/data/analytical_central/dimensions/functional_group",
            "read_dimension",
        ),
    ] {
        let hash = qoljetim_service::token_hash(user.token.as_deref().unwrap_or(""));
        app.state
            .store
            .pool()
            .execute(sqlx::AssertSqlSafe(format!(
                "UPDATE sessions SET last_seen = last_seen - 60000000 WHERE token_hash = '{hash}'"
            )))
            .await?;
        let before_records = app.state.store.audit_records(0, 100_000).await?.len();
        let before = last_seen(app, &user).await?;
        let (s, _) = user.get(path).await?;
        assert_eq!(s, 200, "{path}");
        let after = last_seen(app, &user).await?;
        assert!(after >= before + 60_000_000, "{path} counts as activity");
        let records = app.state.store.audit_records(0, 100_000).await?;
        assert_eq!(records.len(), before_records + 1, "{path} is audited");
        assert_eq!(records.last().map(|r| r.action.as_str()), Some(action));
        // The same request made by a page on its own: audited, no activity.
        let r = http
            .get(format!("{}{path}", app.base))
            .bearer_auth(user.token.clone().unwrap_or_default())
            .header("X-Qoljetim-Background", "1")
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(
            last_seen(app, &user).await?,
            after,
            "{path} in the background"
        );
        assert_eq!(
            app.state.store.audit_records(0, 100_000).await?.len(),
            before_records + 2
        );
        // Again in the foreground within 30 seconds: audited, the recorded activity stays.
        let (s, _) = user.get(path).await?;
        assert_eq!(s, 200, "{path}");
        assert_eq!(last_seen(app, &user).await?, after, "{path} again");
        assert_eq!(
            app.state.store.audit_records(0, 100_000).await?.len(),
            before_records + 3
        );
    }
    Ok(())
}

// Order 270 §6: every filter value is checked against every part of the scope it implies — a budget's
// KATO its level and territory, a region or district its territory and levels, an administrator code
// the administrator — for each kind of scope.
async fn filters_are_checked_against_every_part_of_the_scope(app: &TestApp) -> R {
    let w = world(app).await?;
    let central = granted_user(
        app,
        &w,
        15,
        K::CentralInternalAudit,
        None,
        &["217"],
        &["analytical_central"],
    )
    .await?;
    let city = granted_user(
        app,
        &w,
        16,
        K::Maslikhat,
        Some("750000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let district = granted_user(
        app,
        &w,
        17,
        K::Maslikhat,
        Some("191000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let mvd = granted_user(
        app,
        &w,
        18,
        K::MvdTerritorialInternalAudit,
        Some("350000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let everyone = granted_user(
        app,
        &w,
        19,
        K::SupremeAuditChamber,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let q = |f: &str| format!("{AC}?fiscal_year=2026&group_by=program&{f}");
    // (who, filter, allowed)
    let cases: Vec<(&ApiClient, &str, bool)> = vec![
        // Republican budget only, administrator 217.
        (&central, "budget=000000000", true),
        (&central, "budget=750000000", false),
        (&central, "budget=351000000", false),
        (&central, "region=750000000", false),
        (&central, "district=191000000", false),
        (&central, "budget_level=regional", false),
        (&central, "budget_level=republican", true),
        (&central, "administrator=217", true),
        (&central, "administrator=218", false),
        // Almaty city (region level and below), any administrator.
        (&city, "budget=750000000", true),
        (&city, "budget=710000000", false),
        (&city, "budget=000000000", false),
        (&city, "region=750000000", true),
        (&city, "region=710000000", false),
        (&city, "budget_level=republican", false),
        (&city, "budget_level=district", true),
        (&city, "administrator=999", true),
        (&city, "district=751000000", true),
        (&city, "district=191000000", false),
        // A district: its own district's budgets; its region, a sibling, the republican budget not.
        (&district, "budget=191000000", true),
        (&district, "budget=190000000", false),
        (&district, "budget=191200000", false),
        (&district, "district=191000000", true),
        (&district, "district=191200000", false),
        (&district, "region=190000000", false),
        (&district, "budget_level=regional", false),
        (&district, "budget_level=rural", true),
        (&district, "administrator=217", true),
        // MVD of an oblast: administrator 252 in the oblast.
        (&mvd, "administrator=252", true),
        (&mvd, "administrator=352", false),
        (&mvd, "budget=350000000", true),
        (&mvd, "budget=000000000", false),
        (&mvd, "region=750000000", false),
        (&mvd, "region=350000000", true),
        (&mvd, "district=351000000", true),
        (&mvd, "district=191000000", false),
        (&mvd, "budget_level=regional", true),
        (&mvd, "budget_level=republican", false),
        // All budgets (§6 indent 1): every level and territory.
        (&everyone, "budget=000000000", true),
        (&everyone, "budget=750000000", true),
        (&everyone, "district=191200000", true),
        (&everyone, "budget_level=rural", true),
        (&everyone, "administrator=352", true),
        (&everyone, "region=750000000", true),
    ];
    for (who, filter, allowed) in cases {
        let (s, v) = who.get(&q(filter)).await?;
        if allowed {
            assert_eq!(s, 200, "{filter}: {v}");
        } else {
            assert_eq!(
                (s, problem_type(&v)),
                (403, "data-out-of-scope"),
                "{filter}: {v}"
            );
            let name = filter.split('=').next().unwrap_or("");
            assert!(
                v["detail"].as_str().is_some_and(|d| d.contains(name)),
                "{filter}: {v}"
            );
        }
    }
    Ok(())
}

/// The reviewer and integrator signed in afresh at the clock's time (sessions idle out across jumps).
async fn operators_now(app: &TestApp) -> Result<(ApiClient, ApiClient), qoljetim::AnyError> {
    Ok((
        app.signed_in(&iin(1), &demo_bin(MINFIN), NcaRole::Employee)
            .await?,
        app.signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
            .await?,
    ))
}

// Order 270 §9: the review and grant clocks run out at 23:59:59 Almaty of their last working day; the
// overdue flags turn true then and not before, and the deadline report gives each clock's outcome.
// Dates are literal, from calendar/2026.toml (Nauryz carry-overs 24–25 March).
async fn clocks_run_out_and_are_reported(app: &TestApp) -> R {
    let w = world(app).await?;
    let a = submit_two_lines(app, &w).await?;
    // B's form gives no until-date (the appendix form has no such column): a full year from the grant.
    let mut fb = form(
        app,
        &w.bin,
        &[(&iin(11), String::new()), (&iin(12), String::new())],
    );
    for line in fb["lines"].as_array_mut().into_iter().flatten() {
        if let Some(l) = line.as_object_mut() {
            l.remove("access_until");
        }
    }
    let (s, v) = app.submit(&w.head_sign, &fb).await?;
    assert_eq!(s, 201, "{v}");
    let b = v["id"].as_i64().unwrap_or(0);
    set_almaty(app, "2026-03-20T11:00:00")?;
    let (reviewer, _) = operators_now(app).await?;
    let (s, v) = reviewer
        .post(
            &format!("/api/v1/applications/{b}/review"),
            &json!({"lines": [{"line": 1, "decision": "approve"}, {"line": 2, "decision": "approve"}]}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["grant_due"], "2026-03-27");
    let flags = |v: &Value| (v["review_overdue"].as_bool(), v["grant_overdue"].as_bool());
    for (at, a_flags, b_flags) in [
        (
            "2026-03-26T23:59:59",
            (Some(false), Some(false)),
            (Some(false), Some(false)),
        ),
        (
            "2026-03-27T00:00:01",
            (Some(true), Some(false)),
            (Some(false), Some(false)),
        ),
        (
            "2026-03-27T23:59:59",
            (Some(true), Some(false)),
            (Some(false), Some(false)),
        ),
        (
            "2026-03-28T00:00:01",
            (Some(true), Some(false)),
            (Some(false), Some(true)),
        ),
    ] {
        set_almaty(app, at)?;
        let (reviewer, _) = operators_now(app).await?;
        let (_, va) = reviewer.get(&format!("/api/v1/applications/{a}")).await?;
        let (_, vb) = reviewer.get(&format!("/api/v1/applications/{b}")).await?;
        assert_eq!((flags(&va), flags(&vb)), (a_flags, b_flags), "at {at}");
    }
    // Granted on Monday 30 March: three working days (26, 27, 30 March) after forwarding — late.
    set_almaty(app, "2026-03-30T10:00:00")?;
    let (reviewer, integrator) = operators_now(app).await?;
    let (s, v) = integrator
        .post(&format!("/api/v1/applications/{b}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{v}");
    // Order 270 §9: one full calendar year from the grant, no notice.
    for g in v["grants"].as_array().cloned().unwrap_or_default() {
        assert_eq!(
            (
                g["valid_from"].as_str(),
                g["valid_until"].as_str(),
                g["access_until_requested"].is_null(),
                g["notice"].is_null()
            ),
            (Some("2026-03-30"), Some("2027-03-30"), true, true),
            "{g}"
        );
    }
    assert_eq!(v["grants"].as_array().map(|g| g.len()), Some(4), "{v}");
    let (s, v) = reviewer
        .get("/api/v1/reports/deadlines?from=2026-03-01&to=2026-03-31")
        .await?;
    assert_eq!(s, 200, "{v}");
    let item = |clock: &str, id: i64| -> Value {
        v["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .find(|i| i["clock"] == clock && i["subject"] == format!("application:{id}"))
            .unwrap_or(Value::Null)
    };
    let ra = item("review", a);
    assert_eq!(
        (
            ra["due"].as_str(),
            ra["outcome"].as_str(),
            ra["done_at"].is_null()
        ),
        (Some("2026-03-26"), Some("missed"), true),
        "{ra}"
    );
    let rb = item("review", b);
    assert_eq!(
        (
            rb["due"].as_str(),
            rb["outcome"].as_str(),
            rb["working_days_taken"].as_u64()
        ),
        (Some("2026-03-26"), Some("met"), Some(1)),
        "{rb}"
    );
    let gb = item("grant", b);
    assert_eq!(
        (
            gb["started"].as_str(),
            gb["due"].as_str(),
            gb["outcome"].as_str(),
            gb["working_days_taken"].as_u64()
        ),
        (
            Some("2026-03-20"),
            Some("2026-03-27"),
            Some("missed"),
            Some(3)
        ),
        "{gb}"
    );
    let summary = |clock: &str| clock_summary(&v, clock);
    assert_eq!(
        (
            summary("review")["met"].as_u64(),
            summary("review")["missed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            summary("grant")["met"].as_u64(),
            summary("grant")["missed"].as_u64()
        ),
        (Some(0), Some(1))
    );
    Ok(())
}

/// The content of a signed CMS as `openssl cms -verify` reads it against the development CA, at the
/// machine's time or at `at` (Unix seconds: the tests' certificates are made at the test's clock and
/// are short-lived); an error with openssl's words when it does not verify.
fn openssl_cms_content(
    app: &TestApp,
    der: &[u8],
    at: Option<i64>,
) -> Result<String, qoljetim::AnyError> {
    let (file, out) = (app.dir.join("evidence.p7s"), app.dir.join("evidence.out"));
    std::fs::write(&file, der)?;
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["cms", "-verify", "-inform", "DER", "-purpose", "any", "-in"])
        .arg(&file)
        .arg("-CAfile")
        .arg(app.config.dev_ca_dir().join("ca.pem"))
        .arg("-out")
        .arg(&out);
    if let Some(t) = at {
        cmd.arg("-attime").arg(t.to_string());
    }
    let r = cmd.output()?;
    if !r.status.success() {
        return Err(format!(
            "openssl cms -verify: {}",
            String::from_utf8_lossy(&r.stderr)
        )
        .into());
    }
    Ok(std::fs::read_to_string(&out)?)
}
