//! Issue 18 (Order 270 §3): organizations apply for their own information systems on application
//! lines of kind `information_system`, reviewed and granted beside the people's lines.

use super::*;

// 10:00 in Almaty on Monday 7 December 2026; the clock is moved.
on_both_databases!(sqlite_systems, postgres_systems;
    (|db| TestApp::spawn_full(db, KeyKind::P256, 0, Some("2026-12-07T05:00:00Z".parse()?), |_| {}));
    an_information_system_is_applied_for_reviewed_and_granted,
    a_systems_access_ends_with_its_year_and_with_its_organization,
);

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
    let cert = app.person(
        &iin(n),
        Some(bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
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
    assert_eq!(
        (s, v["system_grants"][0]["status"].as_str()),
        (201, Some("active")),
        "{v}"
    );
    Ok(id)
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
    let end = app.state.store.system_grant_end_reason(g.id).await?;
    Ok((g.status.clone(), end))
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
