//! `qoljetim bench workflow`: figures a reader can compare (DESIGN.md §5; issue "access workflow").
//! The server runs in-process over real HTTP; RSA-2048 end-entity keys directly under the trust anchor;
//! SQLite in WAL with synchronous=FULL; every sign-in's session and audit record durable before the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qoljetim_domain::OrganizationKind;
use qoljetim_signature::devca::{KeyKind, sign_cms};
use qoljetim_signature::{KeyPurpose, NcaRole};
use serde_json::json;
use tokio::sync::Mutex;

use crate::AnyError;
use crate::client::{FormLine, KeyPair, application_json};
use crate::people::demo_bin;
use crate::testkit::{TestApp, iin};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// CMS verifications per second, crypto only, on every core.
pub fn cms_verifications(seconds: f64) -> Result<(f64, usize), AnyError> {
    let now = Timestamp::now();
    let ca = qoljetim_signature::devca::DevCa::generate(
        KeyKind::Rsa2048,
        now - jiff::ToSpan::hours(1),
        now + jiff::ToSpan::hours(24),
    )?;
    let subject = qoljetim_signature::devca::Subject {
        surname: "БЕНЧ".into(),
        name: "ТЕСТ".into(),
        patronymic: None,
        iin: iin(1),
        organization: Some((demo_bin(1), "Bench".into())),
        role: Some(NcaRole::Employee),
        purpose: KeyPurpose::Authentication,
    };
    let (cert, key) = ca.issue(
        &subject,
        KeyKind::Rsa2048,
        now - jiff::ToSpan::hours(1),
        now + jiff::ToSpan::hours(24),
    )?;
    let cms = sign_cms(b"challenge-bytes-for-the-benchmark", &cert, &key, Some(now))?;
    let verifier = qoljetim_signature::Verifier::new(vec![qoljetim_signature::TrustAnchor {
        name: "bench".into(),
        certificate: ca.certificate.clone(),
        development: true,
    }]);
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

pub async fn workflow_on(
    pg_admin: Option<&str>,
    clients: usize,
    logins: usize,
    applications: usize,
) -> Result<WorkflowFigures, AnyError> {
    let app = TestApp::spawn(pg_admin, KeyKind::Rsa2048).await?;
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
    let iins: Vec<String> = (0..100).map(|i| iin(1000 + i)).collect();
    let lines: Vec<FormLine<'_>> = iins
        .iter()
        .map(|i| FormLine {
            iin: i,
            surname: "Сейітова",
            name: "Динара",
            patronymic: Some("Болатқызы"),
            access_until: &until,
        })
        .collect();
    let form = application_json(
        &bin,
        &today.to_string(),
        ("Әбенова", "Айгүл", None),
        &["analytical_central", "state_planning"],
        &lines,
    );
    let mut signed = vec![];
    for _ in 0..applications {
        signed.push(json!({"signed_cms": head.sign(form.to_string().as_bytes())?}));
    }
    let mut app_lat = vec![];
    for body in &signed {
        let t = Instant::now();
        let (s, v) = client.post("/api/v1/applications", body).await?;
        app_lat.push(t.elapsed());
        if s != 201 {
            return Err(format!("application refused: {s} {v}").into());
        }
    }
    app_lat.sort();
    let figures = WorkflowFigures {
        backend: format!("{:?}", app.state.store.backend()),
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
    clients: usize,
    logins: usize,
    applications: usize,
    pg_admin: Option<String>,
) -> Result<(), AnyError> {
    println!(
        "qoljetim bench workflow — {} cores, build: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        if cfg!(debug_assertions) {
            "debug (use --release for figures)"
        } else {
            "release"
        }
    );
    let (per_sec, threads) = tokio::task::spawn_blocking(|| cms_verifications(3.0)).await??;
    println!(
        "CMS verifications (RSA-2048 end entity under the anchor, SHA-256, crypto only): {per_sec:.0}/s on {threads} threads"
    );
    let mut backends: Vec<Option<&str>> = vec![None];
    if let Some(pg) = pg_admin.as_deref() {
        backends.push(Some(pg));
    }
    for b in backends {
        let f = workflow_on(b, clients, logins, applications).await?;
        println!(
            "[{}] sign-ins: {}/{} ok, {:.0}/s at {clients} concurrent clients (p50 {:.1} ms, p95 {:.1} ms; session + audit record durable before each answer)",
            f.backend,
            f.logins_ok,
            f.logins,
            f.logins_per_second,
            f.login_p50.as_secs_f64() * 1e3,
            f.login_p95.as_secs_f64() * 1e3
        );
        println!(
            "[{}] 100-line application accepted: p50 {:.1} ms, p95 {:.1} ms over {} submissions",
            f.backend,
            f.app_p50.as_secs_f64() * 1e3,
            f.app_p95.as_secs_f64() * 1e3,
            f.applications
        );
    }
    Ok(())
}
