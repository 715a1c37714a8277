//! Lifecycle (Order 270 §8–§9): HR checks, leavers blocked, expiry and reminders, the outbox, reports.
//! Each case runs with the clock fixed and moved by the test (time travel), on SQLite and PostgreSQL.

use std::sync::Arc;

use qoljetim::hr::{FileRegistry, HttpRegistry};
use qoljetim::mailer::Mailer;
use qoljetim::worker::Worker;
use qoljetim_store::{Change, LifecycleChange, PersonnelPost};
use qoljetim_testkit::{SmtpSink, hr_system_bin};

use super::*;

// 10:00 in Almaty on Tuesday 10 March 2026.
on_both_databases!(sqlite_at, postgres_at;
    (|db| TestApp::spawn_at(db, KeyKind::P256, "2026-03-10T05:00:00Z".parse()?));
    leavers_are_blocked_at_once_and_the_block_clock_is_reported,
    grant_expires_after_its_last_day_and_reminders_fire_once,
    outbox_retries_and_never_sends_twice,
    hr_registry_checks_over_http_and_from_files,
    reports_render_kazakh_in_pdf_and_csv,
    employer_block_request_blocks_at_once_or_on_the_date,
    notices_go_to_the_forms_email_until_a_profile_sets_one,
);

pub(crate) fn set(app: &TestApp, almaty: &str) -> R {
    let t: Timestamp = format!("{almaty}+05:00[Asia/Almaty]")
        .parse::<jiff::Zoned>()?
        .timestamp();
    app.state.clock.set(t);
    Ok(())
}

async fn operators(app: &TestApp, w: &World) -> Result<(ApiClient, ApiClient), qoljetim::AnyError> {
    let _ = w;
    Ok((
        app.signed_in(&iin(1), &demo_bin(MINFIN), NcaRole::Employee)
            .await?,
        app.signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
            .await?,
    ))
}

/// Submits one line for `person` (position as given), approves and grants it; returns the
/// application id and the grant ids. The head signs with a key valid at the clock's time.
async fn grant_line(
    app: &TestApp,
    w: &World,
    person: &str,
    until: &str,
    position: &str,
) -> Result<(i64, Vec<i64>), qoljetim::AnyError> {
    let head = app.person(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let lines = [FormLine {
        iin: person,
        surname: "Сейітова",
        name: "Динара",
        patronymic: Some("Болатқызы"),
        access_until: Some(until),
    }];
    let mut f = application_json(
        &w.bin,
        &today(app).to_string(),
        ("Әбенова", "Айгүл", Some("Қайратқызы")),
        &["analytical_central"],
        &lines,
    );
    f["lines"][0]["position"] = json!(position);
    let (s, v) = app.submit(&head, &f).await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap_or(0);
    let (reviewer, integrator) = operators(app, w).await?;
    let (s, v) = reviewer
        .post(
            &format!("/api/v1/applications/{id}/review"),
            &json!({"lines": [{"line": 1, "decision": "approve"}]}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{v}");
    let ids = v["grants"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|g| g["id"].as_i64().unwrap_or(0))
        .collect();
    Ok((id, ids))
}

/// An HR event signed by the HR system's certificate (or by `signer` when given).
fn hr_event_body(
    app: &TestApp,
    event: &Value,
    signer: Option<&KeyPair>,
) -> Result<Value, qoljetim::AnyError> {
    let own;
    let key = match signer {
        Some(k) => k,
        None => {
            own = app.person(
                &iin(90),
                Some(&hr_system_bin()),
                Some(NcaRole::Employee),
                KeyPurpose::Signing,
            )?;
            &own
        }
    };
    Ok(json!({"signed_cms": key.sign(event.to_string().as_bytes())?}))
}

fn dismissal(id: &str, person: &str, bin: &str, date: &str) -> Value {
    json!({"event_id": id, "kind": "dismissal", "iin": person, "bin": bin, "effective_date": date,
           "order_number": format!("{id}-ж/қ"), "order_date": date})
}

async fn grant_status(app: &TestApp, w: &World, id: i64) -> Result<Value, qoljetim::AnyError> {
    let (_, integrator) = operators(app, w).await?;
    let (s, v) = integrator.get("/api/v1/grants").await?;
    assert_eq!(s, 200, "{v}");
    Ok(v.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|g| g["id"].as_i64() == Some(id))
        .unwrap_or(Value::Null))
}

pub(crate) fn worker(app: &TestApp, mailer: Option<Mailer>) -> Worker {
    Worker {
        state: app.state.clone(),
        registry: Arc::new(FileRegistry::new(app.state.store.clone())),
        mailer,
        checkpointer: None,
    }
}

// Order 270 §9: access is blocked within 3 working days after the powers end; a late or back-dated
// event still blocks at once, the same event twice has one effect, the deadline is reported.
async fn leavers_are_blocked_at_once_and_the_block_clock_is_reported(app: &TestApp) -> R {
    let w = world(app).await?;
    let (a, b, c) = (iin(21), iin(22), iin(23));
    let (_, ga) = grant_line(app, &w, &a, "2026-12-31", "Бас маман").await?;
    let (_, gb) = grant_line(app, &w, &b, "2026-12-31", "Бас маман").await?;
    let (_, gc) = grant_line(app, &w, &c, "2026-12-31", "Бас маман").await?;

    // Negative: a signer that is not the configured HR system, a tampered document, a bad IIN.
    let stranger = app.person(
        &iin(91),
        Some(&w.bin),
        Some(NcaRole::Employee),
        KeyPurpose::Signing,
    )?;
    let (s, v) = app
        .client()
        .post(
            "/api/v1/hr/events",
            &hr_event_body(
                app,
                &dismissal("X1", &a, &w.bin, "2026-03-20"),
                Some(&stranger),
            )?,
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "hr-signer-not-allowed"), "{v}");
    let mut body = hr_event_body(app, &dismissal("X2", &a, &w.bin, "2026-03-20"), None)?;
    let mut raw = base64_decode(body["signed_cms"].as_str().unwrap_or(""));
    if let Some(pos) = raw.windows(10).position(|x| x == b"2026-03-20") {
        raw[pos + 9] = b'1'; // 2026-03-21: one byte of the signed content
    }
    body["signed_cms"] = json!(base64_encode(&raw));
    let (s, v) = app.client().post("/api/v1/hr/events", &body).await?;
    assert_eq!((s, problem_type(&v)), (400, "signature-invalid"), "{v}");
    let mut bad = dismissal("X3", "123", &w.bin, "2026-03-20");
    bad["kind"] = json!("fired");
    let (s, v) = app
        .client()
        .with_lang("ru")
        .post("/api/v1/hr/events", &hr_event_body(app, &bad, None)?)
        .await?;
    assert_eq!(s, 400, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["/kind", "/iin"], "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("Полей"),
        "Russian detail: {v}"
    );
    assert_eq!(
        grant_status(app, &w, ga[0]).await?["status"],
        "pending_training",
        "nothing half-written"
    );

    // The person is signed in when the dismissal arrives.
    let employee = app.signed_in(&a, &w.bin, NcaRole::Employee).await?;
    let (s, _) = employee.get("/api/v1/me").await?;
    assert_eq!(s, 200);

    // Dismissal dated Friday 20 March arriving Wednesday 25 March: blocked at once, deadline met.
    set(app, "2026-03-25T11:00:00")?;
    let (s, v) = app
        .client()
        .post(
            "/api/v1/hr/events",
            &hr_event_body(app, &dismissal("E-1", &a, &w.bin, "2026-03-20"), None)?,
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["block_due"], "2026-03-30", "3 working days after Nauryz");
    assert_eq!(v["met"], true);
    assert_eq!(v["working_days_taken"], 0);
    assert_eq!(v["grants_blocked"], 1);
    assert_eq!(v["sessions_ended"], 1);
    let (s, v) = employee.get("/api/v1/me").await?;
    assert_eq!(
        (s, problem_type(&v)),
        (401, "session-expired"),
        "sessions end with the powers"
    );
    let g = grant_status(app, &w, ga[0]).await?;
    assert_eq!(
        (g["status"].as_str(), g["end_reason"].as_str()),
        (Some("blocked"), Some("dismissal")),
        "{g}"
    );
    // The same event again (by id, and by content under another id): one effect.
    for again in [dismissal("E-1", &a, &w.bin, "2026-03-20"), {
        let mut d = dismissal("E-1", &a, &w.bin, "2026-03-20");
        d["event_id"] = json!("E-1-resent");
        d
    }] {
        let (s, v) = app
            .client()
            .post("/api/v1/hr/events", &hr_event_body(app, &again, None)?)
            .await?;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["duplicate"], true);
        assert_eq!(v["grants_blocked"], 1);
    }

    // The same kind of dismissal arriving Wednesday 1 April: still blocked at once, deadline missed.
    set(app, "2026-04-01T09:30:00")?;
    let (s, v) = app
        .client()
        .post(
            "/api/v1/hr/events",
            &hr_event_body(app, &dismissal("E-2", &b, &w.bin, "2026-03-20"), None)?,
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["block_due"], "2026-03-30");
    assert_eq!(v["met"], false);
    assert_eq!(v["working_days_taken"], 5);
    assert_eq!(grant_status(app, &w, gb[0]).await?["status"], "blocked");
    // The neighbour in the same organization keeps access.
    assert_eq!(
        grant_status(app, &w, gc[0]).await?["status"],
        "pending_training"
    );

    // A transfer inside the organization, from a file of personnel orders: the old grant ends, and
    // the renewal draft carries the new post.
    let orders = qoljetim::hr::parse_orders_csv(
        "orders.csv",
        &format!("event_id,kind,iin,bin,effective_date,order_number,new_position\nT-1,transfer,{c},{},2026-03-31,45-ж/қ,Бөлім басшысы\n", w.bin),
    )
    .map_err(|e| e.join("; "))?;
    let out = qoljetim::apply_hr_event(&app.state, &orders[0], "file", "cli:test").await?;
    assert!(out.contains("1 grants blocked"), "{out}");
    let again = qoljetim::apply_hr_event(&app.state, &orders[0], "file", "cli:test").await?;
    assert!(again.contains("no change"), "{again}");
    let g = grant_status(app, &w, gc[0]).await?;
    assert_eq!(g["end_reason"], "transfer");
    let moved = app.signed_in(&c, &w.bin, NcaRole::Employee).await?;
    let (s, v) = moved
        .get(&format!("/api/v1/grants/{}/renewal", gc[0]))
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["form"]["lines"][0]["position"], "Бөлім басшысы");
    assert_eq!(v["form"]["applicant_bin"], w.bin.as_str());
    // A dismissed person cannot renew; nobody renews another organization's grant.
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (s, v) = head
        .get(&format!("/api/v1/grants/{}/renewal", ga[0]))
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "renewal-not-possible"), "{v}");
    let (reviewer, _) = operators(app, &w).await?;
    let (s, v) = reviewer
        .get(&format!("/api/v1/grants/{}/renewal", gc[0]))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");

    // The report for March: the block clock met once and missed once, worst 5 working days.
    let (_, integrator) = operators(app, &w).await?;
    let (s, v) = integrator
        .get("/api/v1/reports/deadlines?from=2026-03-01&to=2026-03-31")
        .await?;
    assert_eq!(s, 200, "{v}");
    let block = clock_summary(&v, "block");
    assert_eq!(
        (
            block["total"].as_u64(),
            block["met"].as_u64(),
            block["missed"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{block}"
    );
    assert_eq!(block["worst_working_days"], 5);
    let missed: Vec<&Value> = v["items"]
        .as_array()
        .map(|i| i.iter().filter(|x| x["outcome"] == "missed").collect())
        .unwrap_or_default();
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["due"], "2026-03-30");
    // The monitor tells the reviewers and the integrator about the missed block, once.
    let first = worker(app, None).run_once().await?;
    assert_eq!(first.overdue_flags, 2, "{first:?}");
    assert_eq!(worker(app, None).run_once().await?.overdue_flags, 0);
    let (_, v) = integrator.get("/api/v1/notifications").await?;
    assert!(
        v["notifications"][0]["body"]
            .as_str()
            .unwrap_or("")
            .contains("2026-03-30"),
        "{v}"
    );
    Ok(())
}

// Order 270 §9: one calendar year, inclusive of the last day (Asia/Almaty); reminders 30, 7, 1 days
// before, once each, in-app and by e-mail to the address set in the profile.
async fn grant_expires_after_its_last_day_and_reminders_fire_once(app: &TestApp) -> R {
    let w = world(app).await?;
    set(app, "2026-03-15T10:00:00")?;
    let person = iin(31);
    let (_, g) = grant_line(app, &w, &person, "2027-03-15", "Бас маман").await?;
    let g = g[0];
    let granted = grant_status(app, &w, g).await?;
    assert_eq!(
        (
            granted["valid_from"].as_str(),
            granted["valid_until"].as_str()
        ),
        (Some("2026-03-15"), Some("2027-03-15"))
    );
    let user = app.signed_in(&person, &w.bin, NcaRole::Employee).await?;
    let (s, v) = user
        .put(
            "/api/v1/me/profile",
            &json!({"email": "not-an-address", "language": "ru"}),
        )
        .await?;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errors"][0]["field"], "/email");
    let (s, v) = user
        .put(
            "/api/v1/me/profile",
            &json!({"email": "dinara@maslikhat.kz", "language": "ru"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");

    let sink = SmtpSink::start().await?;
    let run = || {
        worker(
            app,
            Mailer::new(&sink.url, "Qoljetim <no-reply@qoljetim.local>").ok(),
        )
    };
    set(app, "2027-02-12T09:00:00")?;
    assert_eq!(
        run().run_once().await?.reminders,
        0,
        "31 days before: nothing yet"
    );
    for (day, threshold) in [("2027-02-13", 30), ("2027-03-08", 7), ("2027-03-14", 1)] {
        set(app, &format!("{day}T09:00:00"))?;
        let s1 = run().run_once().await?;
        assert_eq!(
            s1.reminders, 2,
            "{day}: the person and the head who signed: {s1:?}"
        );
        assert_eq!(s1.emails_sent, 1, "only the person has an e-mail address");
        let s2 = run().run_once().await?;
        assert_eq!((s2.reminders, s2.emails_sent), (0, 0), "{day}: once");
        let again = app.signed_in(&person, &w.bin, NcaRole::Employee).await?;
        let (_, v) = again.with_lang("ru").get("/api/v1/notifications").await?;
        let n = &v["notifications"][0];
        assert_eq!(n["kind"], format!("expiry_reminder_{threshold}"));
        assert!(
            n["body"].as_str().unwrap_or("").contains("2027-03-15"),
            "{n}"
        );
        assert!(
            n["title"].as_str().unwrap_or("").contains("Срок доступа"),
            "{n}"
        );
    }
    let ids = sink.accepted_ids();
    assert_eq!(ids.len(), 3, "three reminders, three e-mails");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3);
    assert!(
        sink.accepted
            .lock()
            .map(|m| m[0].contains("Subject: Qoljetim:"))
            .unwrap_or(false)
    );

    // Active through 15 March 2027, expired from 16 March (Almaty).
    set(app, "2027-03-15T23:59:00")?;
    assert_eq!(run().run_once().await?.expired, 0);
    assert_eq!(
        grant_status(app, &w, g).await?["status"],
        "pending_training"
    );
    set(app, "2027-03-16T00:00:30")?;
    let s = run().run_once().await?;
    assert_eq!(s.expired, 1);
    let e = grant_status(app, &w, g).await?;
    assert_eq!(
        (e["status"].as_str(), e["end_reason"].as_str()),
        (Some("expired"), Some("validity_ended")),
        "{e}"
    );
    assert_eq!(run().run_once().await?.expired, 0, "idempotent");
    // The renewal draft is pre-filled from the expired grant.
    let again = app.signed_in(&person, &w.bin, NcaRole::Employee).await?;
    let (s, v) = again.get(&format!("/api/v1/grants/{g}/renewal")).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["form"]["lines"][0]["iin"], person.as_str());
    assert_eq!(v["form"]["date"], "2027-03-16");
    assert_eq!(v["form"]["lines"][0]["access_until"], "2028-03-16");
    Ok(())
}

// E-mails: a refused send is retried later, never lost; a send whose answer never came is not sent
// again by a restarted worker (it waits as `uncertain` for an operator).
async fn outbox_retries_and_never_sends_twice(app: &TestApp) -> R {
    let w = world(app).await?;
    let person = iin(41);
    let (_, g) = grant_line(app, &w, &person, "2026-04-01", "Бас маман").await?;
    let user = app.signed_in(&person, &w.bin, NcaRole::Employee).await?;
    let (s, _) = user
        .put(
            "/api/v1/me/profile",
            &json!({"email": "a@example.kz", "language": "kk"}),
        )
        .await?;
    assert_eq!(s, 200);
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (s, _) = head
        .put(
            "/api/v1/me/profile",
            &json!({"email": "head@example.kz", "language": "kk"}),
        )
        .await?;
    assert_eq!(s, 200);
    let sink = SmtpSink::start().await?;
    let mailer = || Mailer::new(&sink.url, "Qoljetim <no-reply@qoljetim.local>").ok();

    // 30-day reminder: two e-mails, and the grant's notice to its person (issue 16); the relay
    // refuses the first with 451.
    set(app, "2026-03-10T12:00:00")?;
    sink.refuse_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let s1 = worker(app, mailer()).run_once().await?;
    assert_eq!(
        (
            s1.reminders,
            s1.grant_notices,
            s1.emails_sent,
            s1.emails_retry
        ),
        (2, 1, 2, 1),
        "{s1:?}"
    );
    let pending = app.state.store.outbox(Some("pending")).await?;
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("451"),
        "{pending:?}"
    );
    // Not due yet: nothing happens; a minute later it goes.
    assert_eq!(worker(app, mailer()).run_once().await?.emails_sent, 0);
    set(app, "2026-03-10T12:01:30")?;
    assert_eq!(worker(app, mailer()).run_once().await?.emails_sent, 1);
    assert_eq!(app.state.store.outbox(Some("sent")).await?.len(), 3);

    // 7-day reminder: the relay receives one message but its answer never comes; the worker is
    // stopped in the middle of that send.
    set(app, "2026-03-26T12:00:00")?;
    sink.hold_next
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = sink.received_ids().len();
    let state = app.state.clone();
    let m = mailer();
    let task = tokio::spawn(async move {
        let w = Worker {
            state: state.clone(),
            registry: Arc::new(FileRegistry::new(state.store.clone())),
            mailer: m,
            checkpointer: None,
        };
        w.run_once().await.map_err(|e| e.to_string())
    });
    for _ in 0..200 {
        if sink.received_ids().len() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        sink.received_ids().len(),
        before + 1,
        "the relay got the message"
    );
    task.abort();
    let _ = task.await;
    assert_eq!(app.state.store.outbox(Some("sending")).await?.len(), 1);
    // Restarted: the unconfirmed one is not sent again, the other one goes, the rest was done.
    let s2 = worker(app, mailer()).run_once().await?;
    assert_eq!(s2.outbox_uncertain, 1, "{s2:?}");
    assert_eq!(s2.reminders, 0, "reminders were committed before the stop");
    assert_eq!(s2.emails_sent, 1);
    let s3 = worker(app, mailer()).run_once().await?;
    assert_eq!((s3.emails_sent, s3.outbox_uncertain), (0, 0));
    let accepted = sink.accepted_ids();
    let mut unique = accepted.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        accepted.len(),
        "no message was accepted twice"
    );
    let uncertain = app.state.store.outbox(Some("uncertain")).await?;
    assert_eq!(uncertain.len(), 1);
    let held = &uncertain[0].message_id;
    assert_eq!(
        sink.received_ids().iter().filter(|i| *i == held).count(),
        1,
        "the held message was not sent again"
    );
    assert!(!accepted.contains(held));
    // The operator checked the relay's log and resends it: it goes once more, on purpose.
    app.state
        .store
        .commit(
            Change::Lifecycle(Box::new(LifecycleChange::OutboxResend {
                id: uncertain[0].id,
                at: app.state.clock.now().as_microsecond(),
            })),
            qoljetim::cli_audit("cli:test", "resend_email", "outbox".into(), json!({})),
        )
        .await?;
    assert_eq!(worker(app, mailer()).run_once().await?.emails_sent, 1);
    assert_eq!(app.state.store.outbox(Some("sent")).await?.len(), 5);
    assert_eq!(sink.accepted_ids().iter().filter(|i| *i == held).count(), 1);
    assert_eq!(g.len(), 1);
    Ok(())
}

/// A stand-in for the E-Qyzmet gateway over real HTTP: the adapter under test speaks to it.
async fn fake_eqyzmet(
    bin: String,
    known: String,
    moved: String,
    flaky: String,
) -> Result<String, qoljetim::AnyError> {
    use axum::Json;
    use axum::extract::{Path, Query};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/v1/persons/{iin}/posts",
        axum::routing::get(move |Path(person): Path<String>, Query(q): Query<std::collections::HashMap<String, String>>| {
            let (bin, known, moved, flaky, calls) = (bin.clone(), known.clone(), moved.clone(), flaky.clone(), calls.clone());
            async move {
                assert!(q.get("qr").is_some_and(|v| v.starts_with("EQYZMET:")), "the QR text is passed on");
                if person == known {
                    Json(json!({"posts": [{"bin": bin, "position": "бас маман /  Главный специалист.", "unit": null}]})).into_response()
                } else if person == moved {
                    Json(json!({"posts": [{"bin": bin, "position": "Жетекші маман"}]})).into_response()
                } else if person == flaky && calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else if person == flaky {
                    Json(json!({"posts": [{"bin": bin, "position": "Бас маман / главный специалист"}]})).into_response()
                } else {
                    StatusCode::NOT_FOUND.into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

// Order 270 §8: each line's post is verified against E-Qyzmet by the worker, after submission; the
// reviewer sees confirmed, mismatch (with what differs), unknown, or pending while it cannot answer.
async fn hr_registry_checks_over_http_and_from_files(app: &TestApp) -> R {
    let w = world(app).await?;
    let (known, moved, unknown, flaky) = (iin(51), iin(52), iin(53), iin(54));
    let until = "2026-09-30";
    let lines: Vec<FormLine<'_>> = [&known, &moved, &unknown, &flaky]
        .iter()
        .map(|p| FormLine {
            iin: p,
            surname: "Сейітова",
            name: "Динара",
            patronymic: None,
            access_until: Some(until),
        })
        .collect();
    let f = application_json(
        &w.bin,
        &today(app).to_string(),
        ("Әбенова", "Айгүл", None),
        &["analytical_central"],
        &lines,
    );
    let (s, v) = app.submit(&w.head_sign, &f).await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["lines"][0]["hr_check"]["status"], "pending",
        "submission does not wait for the registry"
    );
    let id = v["id"].as_i64().unwrap_or(0);

    let base = fake_eqyzmet(w.bin.clone(), known.clone(), moved.clone(), flaky.clone()).await?;
    let http = Worker {
        state: app.state.clone(),
        registry: Arc::new(HttpRegistry::new(
            &base,
            None,
            std::time::Duration::from_secs(5),
        )?),
        mailer: None,
        checkpointer: None,
    };
    let s1 = http.run_once().await?;
    assert_eq!((s1.hr_checked, s1.hr_retry), (3, 1), "{s1:?}");
    let (_, v) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    let check = |n: usize| v["lines"][n]["hr_check"].clone();
    assert_eq!(check(0)["status"], "confirmed");
    assert_eq!(check(1)["status"], "mismatch");
    assert_eq!(check(1)["detail"]["differs"][0]["field"], "position");
    assert_eq!(
        check(1)["detail"]["differs"][0]["registry"],
        "Жетекші маман"
    );
    assert_eq!(
        check(2)["status"],
        "unknown",
        "elected deputies may be unknown"
    );
    assert_eq!(check(3)["status"], "pending");
    assert!(
        check(3)["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("503"),
        "{}",
        check(3)
    );
    // Retried after its backoff, not before.
    assert_eq!(http.run_once().await?.hr_checked, 0);
    set(app, "2026-03-10T10:05:00")?;
    assert_eq!(http.run_once().await?.hr_checked, 1);
    let (_, v) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    assert_eq!(v["lines"][3]["hr_check"]["status"], "confirmed");

    // The file adapter: personnel lists imported, all or nothing.
    let bad = format!("bin,iin,position\n{},{},\n", w.bin, "12345");
    assert!(qoljetim::hr::parse_personnel_csv("p.csv", &bad).is_err());
    // The same form signed again as a new document (a trailing space): a second application.
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": w.head_sign.sign(format!("{f} ").as_bytes())?}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let id2 = v["id"].as_i64().unwrap_or(0);
    app.state
        .store
        .commit(
            Change::Lifecycle(Box::new(LifecycleChange::ImportPersonnel {
                posts: vec![
                    PersonnelPost {
                        bin: w.bin.clone(),
                        iin: known.clone(),
                        position: "«Бас маман / главный специалист»".into(),
                        unit: None,
                    },
                    PersonnelPost {
                        bin: demo_bin(ASTANA_MASLIKHAT),
                        iin: moved.clone(),
                        position: "Бас маман".into(),
                        unit: None,
                    },
                ],
                bins: vec![w.bin.clone(), demo_bin(ASTANA_MASLIKHAT)],
                at: 0,
            })),
            qoljetim::cli_audit(
                "cli:test",
                "import_personnel",
                "hr_personnel".into(),
                json!({}),
            ),
        )
        .await?;
    worker(app, None).run_once().await?;
    let (_, v) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id2}"))
        .await?;
    assert_eq!(v["lines"][0]["hr_check"]["status"], "confirmed");
    assert_eq!(
        v["lines"][1]["hr_check"]["detail"]["differs"][0]["field"], "organization",
        "works next door"
    );
    assert_eq!(v["lines"][2]["hr_check"]["status"], "unknown");
    Ok(())
}

// Reports in JSON, CSV with a BOM and PDF with the Kazakh letters rendered (fonts embedded).
async fn reports_render_kazakh_in_pdf_and_csv(app: &TestApp) -> R {
    let w = world(app).await?;
    let bin = demo_bin(77);
    let name = "ӘҒҚҢӨҰҮҺІ аудан мәслихаты";
    app.state
        .store
        .commit(
            qoljetim::organization_change(
                &bin,
                (name, "Маслихат района"),
                qoljetim_domain::OrganizationKind::Maslikhat,
                Some("194000000"),
                &[],
                0,
            )?,
            qoljetim::cli_audit("cli:test", "manage_organizations", bin.clone(), json!({})),
        )
        .await?;
    let w2 = World {
        bin: bin.clone(),
        head_sign: app.person(
            &iin(10),
            Some(&bin),
            Some(NcaRole::FirstHead),
            KeyPurpose::Signing,
        )?,
        ..w
    };
    grant_line(app, &w2, &iin(61), "2026-12-31", "Хатшы").await?;
    let (reviewer, _) = operators(app, &w2).await?;
    let (s, v) = reviewer.get("/api/v1/reports/access-registry").await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"][0]["organization_name_kk"], name);
    let (s, csv) = reviewer
        .get_bytes("/api/v1/reports/access-registry?format=csv")
        .await?;
    assert_eq!(s, 200);
    assert_eq!(&csv[..3], &[0xEF, 0xBB, 0xBF]);
    assert!(String::from_utf8_lossy(&csv).contains(name));
    let (s, pdf) = reviewer
        .get_bytes("/api/v1/reports/access-registry?format=pdf")
        .await?;
    assert_eq!(s, 200);
    assert!(pdf.starts_with(b"%PDF-"));
    let (s, dpdf) = reviewer
        .get_bytes("/api/v1/reports/deadlines?from=2026-03-01&to=2026-03-31&format=pdf")
        .await?;
    assert_eq!(s, 200);
    // An independent reader (poppler's pdftotext) finds the Kazakh text.
    for (doc, must) in [
        (&pdf, name),
        (&dpdf, "Мерзімдердің сақталуы / Соблюдение сроков"),
    ] {
        let path = app.dir.join("report.pdf");
        std::fs::write(&path, doc)?;
        let out = std::process::Command::new("pdftotext")
            .args(["-layout"])
            .arg(&path)
            .arg("-")
            .output()
            .map_err(|e| format!("pdftotext (Debian poppler-utils) is needed: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(must), "{must} not in:\n{text}");
    }
    // Refusals: a head may not read reports; a bad format and a bad period name their fields.
    let head = app.signed_in(&iin(10), &bin, NcaRole::FirstHead).await?;
    let (s, v) = head.get("/api/v1/reports/deadlines").await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"));
    let (s, v) = reviewer
        .get("/api/v1/reports/deadlines?format=xlsx&from=2026-04-01&to=2026-03-01")
        .await?;
    assert_eq!(s, 400);
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["/format", "/to"], "{v}");
    Ok(())
}

/// A block request signed by the organization's head, posted by its signed-in head.
async fn post_block_request(
    app: &TestApp,
    w: &World,
    request: &Value,
) -> Result<(u16, Value), qoljetim::AnyError> {
    let head_sign = app.person(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let signed = head_sign.sign(request.to_string().as_bytes())?;
    head.post("/api/v1/block-requests", &json!({"signed_cms": signed}))
        .await
}

pub(crate) fn pdf_text(app: &TestApp, pdf: &[u8]) -> Result<String, qoljetim::AnyError> {
    let path = app.dir.join("block-report.pdf");
    std::fs::write(&path, pdf)?;
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .map_err(|e| format!("pdftotext (Debian poppler-utils) is needed: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// Order 270 §9: the state body where the user works sends, within 3 working days of the day the
// employee's powers end, a request to block the account; the integrator blocks on it. Blocked at once
// (sessions end), or at the start of a future effective date; a person the organization has not
// been granted for names the line and nothing is applied; the clock is reported per organization.
async fn employer_block_request_blocks_at_once_or_on_the_date(app: &TestApp) -> R {
    let w = world(app).await?;
    let (d, e, f, g) = (iin(31), iin(32), iin(33), iin(34));
    let (_, gd) = grant_line(app, &w, &d, "2026-12-31", "Бас маман").await?;
    let (_, ge) = grant_line(app, &w, &e, "2026-12-31", "Бас маман").await?;
    let (_, gf) = grant_line(app, &w, &f, "2026-12-31", "Бас маман").await?;
    let (_, gg) = grant_line(app, &w, &g, "2026-12-31", "Бас маман").await?;
    // Thursday 12 March 2026: two employees, signed in, whose powers ended on Wednesday 11 March.
    set(app, "2026-03-12T10:00:00")?;
    let user_d = app.signed_in(&d, &w.bin, NcaRole::Employee).await?;
    let user_e = app.signed_in(&e, &w.bin, NcaRole::Employee).await?;
    assert_eq!(user_d.get("/api/v1/me").await?.0, 200);

    // Only the head posts it: an employee of the organization is refused by policy.
    let request = json!({"applicant_bin": w.bin, "date": "2026-03-12", "lines": [
        {"iin": d, "reason": "dismissed", "effective_date": "2026-03-11", "order_number": "12-ж/қ"},
        {"iin": e, "reason": "transferred", "effective_date": "2026-03-11"}]});
    let head_sign = app.person(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (s, v) = user_e
        .post(
            "/api/v1/block-requests",
            &json!({"signed_cms": head_sign.sign(request.to_string().as_bytes())?}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");

    let (s, v) = post_block_request(app, &w, &request).await?;
    assert_eq!(s, 201, "{v}");
    let request_id = v["id"].as_i64().unwrap_or(0);
    // The audit record names the request the change created.
    let rec = app
        .state
        .store
        .audit_records(0, 10_000)
        .await?
        .into_iter()
        .find(|r| r.action == "submit_block_request" && r.outcome == "allowed")
        .ok_or("no audit record of the request")?;
    assert_eq!(rec.resource, format!("block_request/{request_id}"));
    let lines = v["lines"].as_array().cloned().unwrap_or_default();
    assert_eq!(lines.len(), 2, "{v}");
    for l in &lines {
        assert_eq!(l["blocked_grants"], 1, "{l}");
        assert_eq!(l["deadline_met"], true, "{l}");
        assert_eq!(
            l["block_due"], "2026-03-16",
            "3 working days after 11 March: {l}"
        );
        assert_eq!(l["scheduled_for"], Value::Null);
    }
    assert_eq!(lines[0]["order_number"], "12-ж/қ");
    // Their sessions end; signed in again, the next data read is refused.
    for user in [&user_d, &user_e] {
        let (s, v) = user.get("/api/v1/me").await?;
        assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");
    }
    let again = app.signed_in(&d, &w.bin, NcaRole::Employee).await?;
    let (s, v) = again
        .get("/api/v1/data/analytical_central/expenditure?fiscal_year=2026")
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "grant-inactive"), "{v}");
    for (id, reason) in [(gd[0], "dismissed"), (ge[0], "transferred")] {
        let gr = grant_status(app, &w, id).await?;
        assert_eq!(
            (gr["status"].as_str(), gr["end_reason"].as_str()),
            (Some("blocked"), Some(reason)),
            "{gr}"
        );
    }
    // Order 270 §13: untouched by the block, still waiting for its person's training.
    assert_eq!(
        grant_status(app, &w, gf[0]).await?["status"],
        "pending_training"
    );
    // The evidence is the signed document, as received.
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (s, bytes) = head
        .get_bytes(&format!("/api/v1/block-requests/{request_id}/evidence"))
        .await?;
    assert_eq!(s, 200);
    let signed_json = request.to_string();
    assert!(
        bytes
            .windows(signed_json.len())
            .any(|x| x == signed_json.as_bytes()),
        "the CMS carries the signed JSON unchanged"
    );

    // A line naming a person the organization holds no grant for: 400 naming /lines/1/iin, and
    // nothing applied — not even the valid line before it.
    let (s, v) = post_block_request(
        app,
        &w,
        &json!({"applicant_bin": w.bin, "date": "2026-03-12", "lines": [
            {"iin": f, "reason": "dismissed", "effective_date": "2026-03-11"},
            {"iin": iin(35), "reason": "dismissed", "effective_date": "2026-03-11"}]}),
    )
    .await?;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errors"][0]["field"], "/lines/1/iin");
    assert_eq!(v["errors"][0]["rule"], "no_grant_in_organization");
    // Order 270 §13: untouched by the block, still waiting for its person's training.
    assert_eq!(
        grant_status(app, &w, gf[0]).await?["status"],
        "pending_training"
    );

    // Received on Tuesday 17 March, the 4th working day after 11 March: blocked, and late.
    set(app, "2026-03-17T09:00:00")?;
    let (s, v) = post_block_request(
        app,
        &w,
        &json!({"applicant_bin": w.bin, "date": "2026-03-17", "lines": [
            {"iin": f, "reason": "dismissed", "effective_date": "2026-03-11"}]}),
    )
    .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["lines"][0]["deadline_met"], false, "{v}");
    assert_eq!(v["lines"][0]["working_days_taken"], 4);
    assert_eq!(v["lines"][0]["blocked_grants"], 1);

    // Powers ending on Friday 20 March: the person holds the post until then, so the block is
    // scheduled for the start of that day (Almaty), not made at once.
    let (s, v) = post_block_request(
        app,
        &w,
        &json!({"applicant_bin": w.bin, "date": "2026-03-17", "lines": [
            {"iin": g, "reason": "other", "effective_date": "2026-03-20"}]}),
    )
    .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["lines"][0]["scheduled_for"], "2026-03-20", "{v}");
    assert_eq!(v["lines"][0]["blocked_grants"], 0);
    assert_eq!(
        grant_status(app, &w, gg[0]).await?["status"],
        "pending_training"
    );
    set(app, "2026-03-19T23:59:00")?;
    assert_eq!(worker(app, None).run_once().await?.scheduled_blocks, 0);
    assert_eq!(
        grant_status(app, &w, gg[0]).await?["status"],
        "pending_training"
    );
    set(app, "2026-03-20T00:01:00")?;
    assert_eq!(worker(app, None).run_once().await?.scheduled_blocks, 1);
    let gr = grant_status(app, &w, gg[0]).await?;
    assert_eq!(
        (gr["status"].as_str(), gr["end_reason"].as_str()),
        (Some("blocked"), Some("other")),
        "{gr}"
    );
    assert_eq!(
        worker(app, None).run_once().await?.scheduled_blocks,
        0,
        "once"
    );
    // An HR event dated ahead is scheduled the same way.
    let (h, gh) = {
        let h = iin(36);
        let (_, gh) = grant_line(app, &w, &h, "2026-12-31", "Бас маман").await?;
        (h, gh)
    };
    let (s, v) = app
        .client()
        .post(
            "/api/v1/hr/events",
            &hr_event_body(app, &dismissal("F-1", &h, &w.bin, "2026-03-23"), None)?,
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["scheduled_for"].as_str(), v["grants_blocked"].as_i64()),
        (Some("2026-03-23"), Some(0)),
        "{v}"
    );
    assert_eq!(
        grant_status(app, &w, gh[0]).await?["status"],
        "pending_training"
    );
    set(app, "2026-03-23T00:00:30")?;
    assert_eq!(worker(app, None).run_once().await?.scheduled_blocks, 1);
    assert_eq!(grant_status(app, &w, gh[0]).await?["status"], "blocked");

    // Who sees the requests: the head its own; the integrator every one, and the late ones.
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (s, v) = head.get("/api/v1/block-requests").await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["block_requests"].as_array().map(|a| a.len()),
        Some(3),
        "{v}"
    );
    let (reviewer, integrator) = operators(app, &w).await?;
    let (s, v) = integrator.get("/api/v1/block-requests?late=true").await?;
    assert_eq!(s, 200, "{v}");
    let late = v["block_requests"].as_array().cloned().unwrap_or_default();
    assert_eq!(late.len(), 1, "{v}");
    assert_eq!(late[0]["lines"][0]["iin"], f.as_str());
    let (s, v) = reviewer.get("/api/v1/block-requests?late=true").await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v) = head.get("/api/v1/block-requests?late=true").await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");

    // The deadline report: the block-request clock, met twice and late once, per organization too;
    // in JSON, CSV and PDF.
    let (s, v) = integrator
        .get("/api/v1/reports/deadlines?from=2026-03-01&to=2026-03-31")
        .await?;
    assert_eq!(s, 200, "{v}");
    let clock = clock_summary(&v, "block_request");
    assert_eq!(
        (
            clock["total"].as_u64(),
            clock["met"].as_u64(),
            clock["missed"].as_u64()
        ),
        (Some(4), Some(3), Some(1)),
        "{clock}"
    );
    assert_eq!(
        v["block_requests_by_organization"],
        json!([{"organization_bin": w.bin, "lines": 4, "met": 3, "late": 1}])
    );
    let (s, csv) = integrator
        .get_bytes("/api/v1/reports/deadlines?from=2026-03-01&to=2026-03-31&format=csv")
        .await?;
    assert_eq!(s, 200);
    let csv = String::from_utf8_lossy(&csv).into_owned();
    assert!(csv.contains("Запрос на блокировку"), "{csv}");
    let late_row = csv
        .lines()
        .find(|l| l.contains(&format!("{}/{f}", w.bin)))
        .unwrap_or("");
    assert!(late_row.contains("просрочено"), "{late_row}");
    let (s, pdf) = integrator
        .get_bytes("/api/v1/reports/deadlines?from=2026-03-01&to=2026-03-31&format=pdf")
        .await?;
    assert_eq!(s, 200);
    let text = pdf_text(app, &pdf)?;
    assert!(text.contains("Бұғаттауға өтінім"), "{text}");
    assert!(
        text.contains("Запросы на блокировку по организациям"),
        "{text}"
    );
    Ok(())
}

// Order 270, appendix form: the contact details are a work phone and an e-mail address; that e-mail receives the
// person's notices until the person's profile sets another.
async fn notices_go_to_the_forms_email_until_a_profile_sets_one(app: &TestApp) -> R {
    let w = world(app).await?;
    let person = iin(41);
    grant_line(app, &w, &person, "2026-04-10", "Бас маман").await?;
    let form_email = format!("u{person}@{}.example.kz", w.bin);
    // Seven days before the last day: the reminder's e-mail waits in the outbox (no relay configured).
    set(app, "2026-04-03T09:00:00")?;
    assert_eq!(worker(app, None).run_once().await?.reminders, 2);
    let to: Vec<String> = app
        .state
        .store
        .outbox(None)
        .await?
        .into_iter()
        .map(|m| m.to_address)
        .collect();
    assert_eq!(
        to,
        vec![form_email.clone()],
        "the head who signed has no e-mail"
    );
    // The person sets another address: the next notice goes there.
    let user = app.signed_in(&person, &w.bin, NcaRole::Employee).await?;
    let (s, v) = user
        .put(
            "/api/v1/me/profile",
            &json!({"email": "own@maslikhat.kz", "language": "ru"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    set(app, "2026-04-09T09:00:00")?;
    assert_eq!(worker(app, None).run_once().await?.reminders, 2);
    let mut to: Vec<String> = app
        .state
        .store
        .outbox(None)
        .await?
        .into_iter()
        .map(|m| m.to_address)
        .collect();
    to.sort();
    assert_eq!(to, vec!["own@maslikhat.kz".to_owned(), form_email]);
    Ok(())
}
