//! Issue 18 (Order 270 §3): organizations apply for their own information systems on application
//! lines of kind `information_system`, reviewed and granted beside the people's lines.

use super::*;

on_both_databases!(sqlite_systems, postgres_systems;
    (|db| TestApp::spawn(db, KeyKind::P256));
    an_information_system_is_applied_for_reviewed_and_granted,
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
    let employee = app.signed_in(&person, &w.bin, NcaRole::Employee).await?;
    let (s, a) = employee.get(&format!("/api/v1/applications/{id}")).await?;
    assert_eq!(
        (s, a["complete"].as_bool(), a["information_systems"].clone()),
        (200, Some(false), json!([])),
        "{a}"
    );
    Ok(())
}
