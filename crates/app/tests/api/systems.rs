//! Issue 18 (Order 270 §3): organizations apply for their own information systems on application
//! lines of kind `information_system`, reviewed and granted beside the people's lines.

use super::*;

// 10:00 in Almaty on Monday 7 December 2026; the clock is moved.
on_both_databases!(sqlite_systems, postgres_systems;
    (|db| TestApp::spawn_full(db, KeyKind::P256, 3_000, Some("2026-12-07T05:00:00Z".parse()?), |c| {
        c.systems.reads_per_minute = READS_PER_MINUTE;
    }));
    an_information_system_is_applied_for_reviewed_and_granted,
    a_systems_access_ends_with_its_year_and_with_its_organization,
    an_audit_chambers_system_reads_its_scope_with_its_own_certificate,
    a_systems_token_ends_with_its_certificate_its_minutes_and_its_rate,
    the_example_client_signs_in_and_pages_through_a_dataset,
);

/// Each system's requests a minute in these tests (`[systems] reads_per_minute`).
const READS_PER_MINUTE: u32 = 20;

/// A system's line naming the certificate given whole.
fn system_line(cert: &x509_cert::Certificate) -> Result<Value, qoljetim::AnyError> {
    Ok(
        json!({"kind": "information_system", "name": "АЖ «Аудит-Талдау»",
        "purpose": "Бюджеттік аудитке арналған талдау / аналитика для аудита бюджета",
        "certificate_pem": qoljetim_devca::certificate_pem(cert)?}),
    )
}

// Order 270 §3 (issue 18): the Almaty maslikhat's head applies for one person and for the maslikhat's
// own information system (its certificate given whole); a person's certificate, or an information
// system's of another BIN, is refused at its line; the reviewer decides both lines (one alone is not a
// review); the integrator grants the system the maslikhat's scope for a year; the person of the other
// line, reading their own line, does not see the system's.
async fn an_information_system_is_applied_for_reviewed_and_granted(app: &TestApp) -> R {
    let w = world(app).await?;
    let person = iin(21);
    let until = plus_months(today(app), 6);
    let form = |system: Value| -> Value {
        let mut f = application_json(
            &w.bin,
            &today(app).to_string(),
            ("Басшы", "Тест", None),
            &["analytical_central"],
            &[FormLine {
                iin: &person,
                surname: "Иванова",
                name: "Анна",
                patronymic: None,
                access_until: Some(&until),
            }],
        );
        if let Some(lines) = f["lines"].as_array_mut() {
            lines.push(system);
        }
        f
    };
    let system_auth = app.person(
        &iin(22),
        Some(&w.bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
    )?;
    let personal = app.person(
        &iin(23),
        Some(&w.bin),
        Some(NcaRole::Employee),
        KeyPurpose::Authentication,
    )?;
    let other_bin = demo_bin(ASTANA_MASLIKHAT);
    app.add_org(&other_bin, K::Maslikhat, Some("710000000"), &[])
        .await?;
    let other_system = app.person(
        &iin(24),
        Some(&other_bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
    )?;
    for (cert, rule) in [
        (&personal.cert, "system_certificate_profile"),
        (&other_system.cert, "system_certificate_bin"),
    ] {
        let (s, v) = app.submit(&w.head_sign, &form(system_line(cert)?)).await?;
        assert_eq!(
            (
                s,
                v["errors"][0]["field"].as_str(),
                v["errors"][0]["rule"].as_str()
            ),
            (400, Some("/lines/1/certificate_pem"), Some(rule)),
            "{v}"
        );
    }
    let (s, v) = app
        .submit(&w.head_sign, &form(system_line(&system_auth.cert)?))
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().ok_or("no id")?;
    let serial = qoljetim_signature::identity::CertificateIdentity::of(&system_auth.cert)
        .serial_hex
        .trim_start_matches('0')
        .to_owned();
    let (_, a) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    assert_eq!(
        (
            a["lines"].as_array().map(Vec::len),
            a["information_systems"][0]["line"].as_i64(),
            a["information_systems"][0]["certificate_serial"].as_str(),
            a["information_systems"][0]["status"].as_str()
        ),
        (Some(1), Some(2), Some(serial.as_str()), Some("submitted")),
        "{a}"
    );
    // The reviewer's page lists the system beside the person, with the same decision.
    let html = crate::operations::Pages::new(app)?
        .get(&w.reviewer, &format!("/applications/{id}"))
        .await?;
    assert!(
        html.contains(r#"id="information-systems""#)
            && html.contains("АЖ «Аудит-Талдау»")
            && html.contains(r#"name="decision-2""#),
        "{html}"
    );
    let path = format!("/api/v1/applications/{id}/review");
    let (s, v) = w
        .reviewer
        .post(
            &path,
            &json!({"lines": [{"line": 1, "decision": "approve"}]}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("line_missing")),
        "the system's line is decided too: {v}"
    );
    let both =
        json!({"lines": [{"line": 1, "decision": "approve"}, {"line": 2, "decision": "approve"}]});
    let (s, v) = w.reviewer.post(&path, &both).await?;
    assert_eq!(
        (
            s,
            v["status"].as_str(),
            v["information_systems"][0]["status"].as_str()
        ),
        (200, Some("forwarded"), Some("approved")),
        "{v}"
    );
    // The integrator's page shows the system's grant and its scope before the decision.
    let html = crate::operations::Pages::new(app)?
        .get(&w.integrator, &format!("/applications/{id}"))
        .await?;
    let preview = html.split(r#"class="grant""#).nth(1).unwrap_or_default();
    assert!(preview.contains("АЖ «Аудит-Талдау»"), "{html}");
    let (s, g) = w
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{g}");
    let sg = &g["system_grants"][0];
    assert_eq!(
        (
            g["grants"].as_array().map(Vec::len),
            g["system_grants"].as_array().map(Vec::len),
            sg["line"].as_i64(),
            sg["system"].as_str(),
            sg["status"].as_str(),
            sg["scope"]["territory"].as_str(),
            sg["certificate_serial"].as_str()
        ),
        (
            Some(1),
            Some(1),
            Some(2),
            Some("analytical_central"),
            Some("active"),
            Some("750000000"),
            Some(serial.as_str())
        ),
        "{g}"
    );
    // Order 270 §9: a year of access from the grant's day.
    let year = qoljetim_domain::calendar::one_year_after(today(app)).to_string();
    assert_eq!(sg["valid_until"].as_str(), Some(year.as_str()), "{g}");
    let (_, a) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    assert_eq!(a["information_systems"][0]["status"], "granted", "{a}");
    // The access registry names the system beside the people (JSON and CSV).
    let (s, r) = w.reviewer.get("/api/v1/reports/access-registry").await?;
    let e = &r["information_systems"][0];
    assert_eq!(
        (
            s,
            r["information_systems"].as_array().map(Vec::len),
            e["name"].as_str(),
            e["status"].as_str(),
            e["scope"]["territory"].as_str(),
            e["certificate_serial"].as_str()
        ),
        (
            200,
            Some(1),
            Some("АЖ «Аудит-Талдау»"),
            Some("active"),
            Some("750000000"),
            Some(serial.as_str())
        ),
        "{r}"
    );
    let (_, csv) = w
        .reviewer
        .get_bytes("/api/v1/reports/access-registry?format=csv")
        .await?;
    let csv = String::from_utf8_lossy(&csv).into_owned();
    assert!(
        csv.contains("Информационные системы организаций") && csv.contains("АЖ «Аудит-Талдау»"),
        "{csv}"
    );
    // The integrator revokes the system's grant alone, with a reason (the reviewer may not).
    let revoke = format!("/api/v1/system-grants/{}/revoke", sg["id"]);
    let (s, v) = w
        .reviewer
        .post(&revoke, &json!({"reason": "не нужен"}))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v) = w.integrator.post(&revoke, &json!({"reason": "x"})).await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("reason_length")),
        "{v}"
    );
    let (s, v) = w
        .integrator
        .post(
            &revoke,
            &json!({"reason": "система выведена из эксплуатации"}),
        )
        .await?;
    assert_eq!(
        (s, v["status"].as_str(), v["end_reason"].as_str()),
        (200, Some("revoked"), Some("revoked")),
        "{v}"
    );
    let (s, v) = w
        .integrator
        .post(&revoke, &json!({"reason": "ещё раз"}))
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"), "{v}");
    let (_, r) = w.reviewer.get("/api/v1/reports/access-registry").await?;
    assert_eq!(r["information_systems"][0]["status"], "revoked", "{r}");
    let employee = app.signed_in(&person, &w.bin, NcaRole::Employee).await?;
    let (s, a) = employee.get(&format!("/api/v1/applications/{id}")).await?;
    assert_eq!(
        (s, a["complete"].as_bool(), a["information_systems"].clone()),
        (200, Some(false), json!([])),
        "{a}"
    );
    Ok(())
}

/// An application of `bin` (signed by `head`) for one information system only, with a new certificate
/// of person number `n`; reviewed and granted. Answers the application's id.
async fn granted_system(
    app: &TestApp,
    w: &World,
    bin: &str,
    head: &KeyPair,
    n: u32,
) -> Result<i64, qoljetim::AnyError> {
    Ok(granted_system_key(app, w, bin, head, n).await?.0)
}

/// As `granted_system`, answering also the system's certificate and authentication key.
async fn granted_system_key(
    app: &TestApp,
    w: &World,
    bin: &str,
    head: &KeyPair,
    n: u32,
) -> Result<(i64, KeyPair), qoljetim::AnyError> {
    // Valid beyond the grant's year (the development CA's CRL is in force as long as the CA).
    let now = app.state.clock.now();
    let cert = app.person_valid(
        &iin(n),
        Some(bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
        now - jiff::SignedDuration::from_hours(1),
        now + jiff::SignedDuration::from_hours(24 * 400),
    )?;
    let mut f = application_json(
        bin,
        &today(app).to_string(),
        ("Басшы", "Тест", None),
        &["analytical_central"],
        &[],
    );
    f["lines"] = json!([system_line(&cert.cert)?]);
    let (s, v) = app.submit(head, &f).await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().ok_or("no id")?;
    let v = approve_and_grant(w, id).await?;
    assert_eq!(v["system_grants"][0]["status"], "active", "{v}");
    Ok((id, cert))
}

async fn system_grant_status(
    app: &TestApp,
    application: i64,
) -> Result<(String, Option<String>), qoljetim::AnyError> {
    let g = app
        .state
        .store
        .system_grants_of_application(application)
        .await?;
    let g = g.first().ok_or("no system grant")?;
    Ok((g.status.as_str().to_owned(), g.end_reason.clone()))
}

// Order 270 §9 and issue 17 for systems (issue 18): a system's grant is blocked with its organization's
// deactivation, and another's expires at the end of its year — by the worker's pass of the next day.
async fn a_systems_access_ends_with_its_year_and_with_its_organization(app: &TestApp) -> R {
    let w = world(app).await?;
    let almaty = granted_system(app, &w, &w.bin, &w.head_sign, 26).await?;
    let astana_bin = demo_bin(ASTANA_MASLIKHAT);
    app.add_org(&astana_bin, K::Maslikhat, Some("710000000"), &[])
        .await?;
    let astana_head = app.person(
        &iin(27),
        Some(&astana_bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let astana = granted_system(app, &w, &astana_bin, &astana_head, 28).await?;
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/organizations/{}/deactivate", w.bin),
            &json!({"reason": "орган упразднён"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        system_grant_status(app, almaty).await?,
        ("blocked".into(), Some("organization_deactivated".into()))
    );
    assert_eq!(system_grant_status(app, astana).await?.0, "active");
    let until = qoljetim_domain::calendar::one_year_after(today(app));
    let wk = crate::lifecycle::worker(app, None);
    crate::lifecycle::set(app, &format!("{until}T23:00:00"))?;
    wk.run_once().await?;
    assert_eq!(
        system_grant_status(app, astana).await?.0,
        "active",
        "valid through {until}"
    );
    let next = until.tomorrow()?;
    crate::lifecycle::set(app, &format!("{next}T00:30:00"))?;
    wk.run_once().await?;
    assert_eq!(
        system_grant_status(app, astana).await?,
        ("expired".into(), Some("validity_ended".into()))
    );
    assert_eq!(
        system_grant_status(app, almaty).await?.0,
        "blocked",
        "a blocked grant stays blocked"
    );
    Ok(())
}

/// Signs `key`'s system in (`POST /auth/system` over a fresh challenge): the status, the answer, and a
/// client holding the token when one was given.
async fn system_sign_in(
    app: &TestApp,
    key: &KeyPair,
) -> Result<(u16, Value, ApiClient), qoljetim::AnyError> {
    let mut c = app.client();
    let challenge = c.challenge().await?;
    let (s, v) = c
        .post(
            "/api/v1/auth/system",
            &json!({"signed_cms": key.sign(challenge.as_bytes())?}),
        )
        .await?;
    c.token = v["token"].as_str().map(str::to_owned);
    Ok((s, v, c))
}

/// The audit records after `seq` whose action is one of `actions`.
async fn audited(
    app: &TestApp,
    after: i64,
    actions: &[&str],
) -> Result<Vec<qoljetim_store::AuditRecord>, qoljetim::AnyError> {
    Ok(app
        .state
        .store
        .audit_records(after, 10_000)
        .await?
        .into_iter()
        .filter(|r| actions.contains(&r.action.as_str()))
        .collect())
}

async fn audit_head(app: &TestApp) -> Result<i64, qoljetim::AnyError> {
    Ok(app
        .state
        .store
        .audit_tail(1)
        .await?
        .first()
        .map_or(0, |r| r.seq))
}

// Order 270 §3, §6 (issue 18): Almaty's revision commission — the region's audit chamber — applies for
// its analytics system; granted, the system signs in with its own certificate and reads exactly what a
// person of the commission reads (same query, same rows), the neighbouring territory refused; every
// read is audited under the system's name, and the CSV export's notice names it. A personal
// certificate, an unregistered system's certificate and another organization's are refused at sign-in;
// a person's session cannot open the systems' route, nor a system's token a person's. The integrator
// revokes the system's grant: its token ends at its next request, and it cannot sign in again.
async fn an_audit_chambers_system_reads_its_scope_with_its_own_certificate(app: &TestApp) -> R {
    let w = world(app).await?;
    let person = granted_user(
        app,
        &w,
        5,
        K::RevisionCommission,
        Some("750000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let bin = demo_bin(205);
    let head = app.person(
        &iin(310),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (application, system_key) = granted_system_key(app, &w, &bin, &head, 60).await?;
    let before = audit_head(app).await?;

    // Refused at sign-in: a person's certificate of the same organization, a system certificate no
    // granted line names, another organization's granted system's certificate presented for this one
    // is its own organization's (so only an unregistered one is tried here).
    let personal = app.person(
        &iin(61),
        Some(&bin),
        Some(NcaRole::Employee),
        KeyPurpose::Authentication,
    )?;
    let unregistered = app.person(
        &iin(62),
        Some(&bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
    )?;
    let system_signing_key = app.person(
        &iin(63),
        Some(&bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Signing,
    )?;
    for (key, problem) in [
        (&personal, "certificate-not-information-system"),
        (&unregistered, "system-not-registered"),
        (&system_signing_key, "certificate-not-authentication-key"),
    ] {
        let (s, v, c) = system_sign_in(app, key).await?;
        assert_eq!((s, problem_type(&v)), (401, problem), "{v}");
        assert!(c.token.is_none(), "{v}");
    }

    let (s, v, system) = system_sign_in(app, &system_key).await?;
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().unwrap_or_default();
    assert!(token.starts_with("sys."), "{v}");
    assert_eq!(v["expires_in_seconds"], 600, "[systems] token_minutes 10");
    let info = &v["information_system"];
    let system_id = info["id"].as_i64().ok_or("no system id")?;
    let actor = format!("system:{system_id}@{bin}");
    assert_eq!(
        (
            info["name"].as_str(),
            info["organization"]["bin"].as_str(),
            info["grants"][0]["system"].as_str(),
            info["grants"][0]["scope"]["territory"].as_str(),
        ),
        (
            Some("АЖ «Аудит-Талдау»"),
            Some(bin.as_str()),
            Some("analytical_central"),
            Some("750000000")
        ),
        "{v}"
    );
    let (s, me) = system.get("/api/v1/systems/me").await?;
    assert_eq!(
        (s, me["id"].as_i64(), me["grants"].as_array().map(Vec::len)),
        (200, Some(system_id), Some(1)),
        "{me}"
    );

    // The same query, the same rows as the commission's person.
    let q = format!(
        "{AC}?fiscal_year=2026&group_by=region,budget_level,administrator&measures=paid&limit=10000"
    );
    let (s, theirs) = system.get(&q).await?;
    assert_eq!(s, 200, "{theirs}");
    let (s, persons) = person.get(&q).await?;
    assert_eq!(s, 200, "{persons}");
    assert!(!rows(&theirs).is_empty(), "{theirs}");
    assert_eq!(rows(&theirs), rows(&persons));
    assert!(
        rows(&theirs)
            .iter()
            .all(|r| r["group"]["region"] == "750000000"),
        "{theirs}"
    );
    // Paging through the scope: two pages of 5 are the first 10 rows.
    let page = |o: usize| {
        format!(
            "{AC}?fiscal_year=2026&group_by=budget&measures=paid&sort=budget&limit=5&offset={o}"
        )
    };
    let (_, p0) = system.get(&page(0)).await?;
    let (_, p1) = system.get(&page(5)).await?;
    let (_, p01) = system
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=budget&measures=paid&sort=budget&limit=10"
        ))
        .await?;
    assert_eq!([rows(&p0), rows(&p1)].concat(), rows(&p01));
    // The territory next door.
    let (s, v) = system
        .get(&format!("{AC}?fiscal_year=2026&region=710000000"))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "data-out-of-scope"), "{v}");
    // The CSV export's §15 notice names the system.
    let (s, csv) = system
        .get_bytes(&format!("{AC}?fiscal_year=2026&group_by=region&format=csv"))
        .await?;
    let csv = String::from_utf8(csv)?;
    assert!(s == 200 && csv.contains(&actor), "{csv}");
    let (s, v) = system
        .get("/api/v1/data/analytical_central/dimensions/region")
        .await?;
    assert_eq!(
        (s, v.as_array().is_some_and(|a| !a.is_empty())),
        (200, true)
    );

    // Who may go where: a system's token opens no person's route, a person's session no system's.
    for path in ["/api/v1/me", "/api/v1/applications", "/api/v1/grants"] {
        let (s, v) = system.get(path).await?;
        assert_eq!(
            (s, problem_type(&v)),
            (403, "person-token-required"),
            "{path}: {v}"
        );
    }
    let (s, v) = person.get("/api/v1/systems/me").await?;
    assert_eq!((s, problem_type(&v)), (403, "system-token-required"), "{v}");
    let (s, v) = app.client().get("/api/v1/systems/me").await?;
    assert_eq!((s, problem_type(&v)), (401, "not-signed-in"), "{v}");

    // Every read audited under the system's name: 2 + 3 pages + refused + CSV + dimension + me.
    let reads = audited(
        app,
        before,
        &["query_data", "read_dimension", "read_own_system"],
    )
    .await?;
    let mine: Vec<_> = reads.iter().filter(|r| r.actor == actor).collect();
    assert_eq!(mine.len(), 8, "{reads:#?}");
    assert!(
        mine.iter()
            .all(|r| r.actor_bin.as_deref() == Some(bin.as_str()))
    );
    assert_eq!(
        mine.iter()
            .filter(|r| r.outcome == "denied" || r.outcome.starts_with("refused"))
            .count(),
        1,
        "the neighbouring territory"
    );
    let first: Value = serde_json::from_str(&mine[1].details)?;
    assert!(first["system_grant"].as_i64().is_some(), "{first}");
    let logins = audited(app, before, &["system_login"]).await?;
    assert_eq!(
        logins
            .iter()
            .map(|r| (r.actor.starts_with("system:"), r.outcome.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (false, "refused:certificate-not-information-system"),
            (false, "refused:system-not-registered"),
            (false, "refused:certificate-not-authentication-key"),
            (true, "allowed"),
        ]
    );

    // The integrator revokes the system's grant: the token ends at its next request.
    let grant = app
        .state
        .store
        .system_grants_of_application(application)
        .await?
        .first()
        .map(|g| g.id)
        .ok_or("no grant")?;
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/system-grants/{grant}/revoke"),
            &json!({"reason": "система выведена из эксплуатации"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = system.get(&q).await?;
    assert_eq!((s, problem_type(&v)), (401, "system-access-ended"), "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&grant.to_string()),
        "{v}"
    );
    let (s, v) = system.get(&q).await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");
    let ended = audited(app, before, &["end_system_token"]).await?;
    assert_eq!(
        ended
            .iter()
            .map(|r| (r.actor.as_str(), r.outcome.as_str()))
            .collect::<Vec<_>>(),
        vec![(actor.as_str(), "grant_ended")]
    );
    let (s, v, _) = system_sign_in(app, &system_key).await?;
    assert_eq!((s, problem_type(&v)), (401, "system-access-ended"), "{v}");
    // The person of the commission reads on: their grant is their own.
    let (s, _) = person.get(&q).await?;
    assert_eq!(s, 200);
    Ok(())
}

// Order 270 §3 and §9 (issue 18): a system's token lasts `token_minutes` by the service's clock; a revoked certificate ends it
// at its next request (DESIGN.md §4, as a person's session); each system's requests are rate-limited
// (`429` with `Retry-After`), another system's not counted with it; and its grant ends with its year.
async fn a_systems_token_ends_with_its_certificate_its_minutes_and_its_rate(app: &TestApp) -> R {
    let w = world(app).await?;
    let bin = demo_bin(250);
    app.add_org(&bin, K::RevisionCommission, Some("750000000"), &[])
        .await?;
    let head = app.person(
        &iin(70),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (_, first) = granted_system_key(app, &w, &bin, &head, 71).await?;
    let (_, second) = granted_system_key(app, &w, &bin, &head, 72).await?;
    let q = format!("{AC}?fiscal_year=2026&group_by=region");

    // Minutes: still open at 9:59, ended at 10:01 (token_minutes 10), by the service's clock.
    let (s, v, c) = system_sign_in(app, &first).await?;
    assert_eq!(s, 200, "{v}");
    crate::lifecycle::set(app, "2026-12-07T10:09:59")?;
    assert_eq!(c.get(&q).await?.0, 200);
    crate::lifecycle::set(app, "2026-12-07T10:10:01")?;
    let (s, v) = c.get(&q).await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");

    // Revocation of the certificate after sign-in.
    let (s, v, c) = system_sign_in(app, &first).await?;
    assert_eq!(s, 200, "{v}");
    app.revoke(&first.cert).await?;
    let (s, v) = c.get(&q).await?;
    assert_eq!((s, problem_type(&v)), (401, "certificate-revoked"), "{v}");
    let (s, v) = c.get(&q).await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");
    let (s, v, _) = system_sign_in(app, &first).await?;
    assert_eq!((s, problem_type(&v)), (401, "certificate-revoked"), "{v}");

    // The rate: READS_PER_MINUTE requests, then 429 with Retry-After; the other system is not held.
    let (s, v, c) = system_sign_in(app, &second).await?;
    assert_eq!(s, 200, "{v}");
    for n in 1..=READS_PER_MINUTE {
        let (s, v) = c.get("/api/v1/systems/me").await?;
        assert_eq!(s, 200, "request {n}: {v}");
    }
    let resp = app
        .client()
        .http
        .get(format!("{}{q}", c.base))
        .bearer_auth(c.token.clone().unwrap_or_default())
        .send()
        .await?;
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert_eq!(resp.status().as_u16(), 429);
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");

    // Blocked: the organization's deactivation blocks its system's grant, and the token ends there.
    let astana = demo_bin(252);
    app.add_org(&astana, K::RevisionCommission, Some("710000000"), &[])
        .await?;
    let astana_head = app.person(
        &iin(76),
        Some(&astana),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (_, astana_system) = granted_system_key(app, &w, &astana, &astana_head, 77).await?;
    let (s, v, c) = system_sign_in(app, &astana_system).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(c.get(&q).await?.0, 200);
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/organizations/{astana}/deactivate"),
            &json!({"reason": "орган упразднён"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c.get(&q).await?;
    assert_eq!(
        (
            s,
            problem_type(&v),
            v["detail"].as_str().is_some_and(|d| d.contains("blocked"))
        ),
        (401, "system-access-ended", true),
        "{v}"
    );

    // The year: the token of a grant whose year has ended is refused at its next request.
    let until = qoljetim_domain::calendar::one_year_after(today(app));
    let other_head = app.person(
        &iin(74),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (_, fourth) = granted_system_key(app, &w, &bin, &other_head, 75).await?;
    crate::lifecycle::set(app, &format!("{until}T23:55:00"))?;
    let (s, v, c) = system_sign_in(app, &fourth).await?;
    assert_eq!(s, 200, "{v}");
    crate::lifecycle::set(app, &format!("{}T00:01:00", until.tomorrow()?))?;
    let (s, v) = c.get(&q).await?;
    assert_eq!(
        (
            s,
            problem_type(&v),
            v["detail"].as_str().is_some_and(|d| d.contains("expired"))
        ),
        (401, "system-access-ended", true),
        "{v}"
    );
    // Expired: past the certificate's own validity (400 days here) it signs in no more.
    app.state
        .clock
        .set(app.state.clock.now() + jiff::SignedDuration::from_hours(24 * 60));
    let (s, v, c) = system_sign_in(app, &fourth).await?;
    assert_eq!((s, problem_type(&v)), (401, "certificate-expired"), "{v}");
    assert!(c.token.is_none());
    Ok(())
}

/// The Python that runs scripts/system-client.py: `QOLJETIM_PYTHON`, else Debian's (scripts/test
/// installs python3-cryptography for it), else the first `python3` on the path.
fn python() -> String {
    std::env::var("QOLJETIM_PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".into()
        } else {
            "python3".into()
        }
    })
}

// Order 270 §3 (issue 18, part 4): the documented example client (scripts/system-client.py, Python `cryptography`)
// signs in as the system with its certificate and key files and pages through a dataset; its pages
// together are exactly the rows the whole query answers, and each page is a read audited under the
// system's name.
async fn the_example_client_signs_in_and_pages_through_a_dataset(app: &TestApp) -> R {
    let w = world(app).await?;
    let bin = demo_bin(251);
    app.add_org(&bin, K::RevisionCommission, Some("750000000"), &[])
        .await?;
    let head = app.person(
        &iin(80),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (_, key) = granted_system_key(app, &w, &bin, &head, 81).await?;
    let (cert_file, key_file) = (app.dir.join("system.pem"), app.dir.join("system-key.pem"));
    std::fs::write(&cert_file, qoljetim_devca::certificate_pem(&key.cert)?)?;
    std::fs::write(&key_file, key.key.to_pkcs8_pem()?)?;
    let before = audit_head(app).await?;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/system-client.py");
    let base = app.client().base;
    let out = tokio::process::Command::new(python())
        .arg(&script)
        .args(["--base", &base, "--cert"])
        .arg(&cert_file)
        .arg("--key")
        .arg(&key_file)
        .args([
            "--system",
            "analytical_central",
            "--dataset",
            "expenditure",
            "--param",
            "fiscal_year=2026",
            "--param",
            "group_by=administrator,program",
            "--param",
            "measures=paid",
            "--param",
            "sort=administrator,program",
            "--limit",
            "4",
            "--language",
            "ru",
        ])
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed: Vec<Value> = String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    // The whole query in one answer, read by the same system from here.
    let (s, v, system) = system_sign_in(app, &key).await?;
    assert_eq!(s, 200, "{v}");
    let (s, all) = system
        .with_lang("ru")
        .get(&format!(
            "{AC}?fiscal_year=2026&group_by=administrator,program&measures=paid&sort=administrator,program&limit=10000"
        ))
        .await?;
    assert_eq!(s, 200, "{all}");
    assert!(rows(&all).len() > 4, "more than one page: {all}");
    assert_eq!(printed, rows(&all));
    // The client stops at the page whose answer says `has_more: false`.
    let pages = rows(&all).len().div_ceil(4);
    assert!(
        stderr.contains(&format!("{} rows in {pages} pages", rows(&all).len())),
        "{stderr}"
    );
    let system_id = v["information_system"]["id"].as_i64().ok_or("no id")?;
    let reads = audited(app, before, &["query_data"]).await?;
    let actor = format!("system:{system_id}@{bin}");
    assert_eq!(
        reads.iter().filter(|r| r.actor == actor).count(),
        pages + 1,
        "every page and the whole query: {reads:#?}"
    );
    let logins = audited(app, before, &["system_login"]).await?;
    assert_eq!(
        logins
            .iter()
            .filter(|r| r.actor == actor && r.outcome == "allowed")
            .count(),
        2
    );
    Ok(())
}
