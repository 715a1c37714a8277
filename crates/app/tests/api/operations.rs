//! The operators' daily work (issue 17): revoking one grant, editing and deactivating an organization,
//! removing a staff role — signed in, through Cedar and the audit chain.

use super::*;

on_both_databases!(sqlite_operations, postgres_operations;
    (|db| TestApp::spawn_with_data(db, KeyKind::P256, 3_000));
    revoking_a_grant_ends_its_reads_at_the_next_request,
    operators_edit_and_deactivate_an_organization_and_remove_staff,
    operators_do_the_daily_work_on_the_pages,
    change_requests_are_agreed_by_competence_returned_and_approved,
    change_requests_on_the_pages,
);

const READ: &str = "/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=program";

// Issue 17: the integrator revokes one grant with a reason (status `revoked`); the person's very next
// read, in the same session, is refused; the authorized body may not revoke; a reason is required.
async fn revoking_a_grant_ends_its_reads_at_the_next_request(app: &TestApp) -> R {
    let w = world(app).await?;
    let user = granted_user(
        app,
        &w,
        47,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let (s, v) = user.get(READ).await?;
    assert_eq!(s, 200, "{v}");
    let (_, grants) = user.get("/api/v1/grants?own=true").await?;
    let id = grants[0]["id"].as_i64().ok_or("no grant")?;
    let (s, v) = w
        .reviewer
        .post(
            &format!("/api/v1/grants/{id}/revoke"),
            &json!({"reason": "не требуется"}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/grants/{id}/revoke"),
            &json!({"reason": "x"}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("reason_length")),
        "{v}"
    );
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/grants/{id}/revoke"),
            &json!({"reason": "доступ более не нужен по служебной записке"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["end_reason"].as_str()),
        (Some("revoked"), Some("revoked")),
        "{v}"
    );
    assert_eq!(
        v["revoke_reason"],
        "доступ более не нужен по служебной записке"
    );
    let (s, v) = user.get(READ).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (403, "grant-inactive"),
        "the next read: {v}"
    );
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/grants/{id}/revoke"),
            &json!({"reason": "ещё раз"}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"), "{v}");
    let (_, audit) = w.integrator.get("/api/v1/audit?limit=1000").await?;
    assert!(
        audit
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["action"] == "revoke_grant"
                && e["outcome"] == "allowed"
                && e["details"].to_string().contains("служебной записке")),
        "{audit}"
    );
    Ok(())
}

// Issue 17: an edit of an organization changes its names and territory for new grants only (the grant
// made before keeps its scope); a deactivation blocks its grants and ends its sessions at once, and it
// applies no more; a staff role removed ends that person's sessions. Each by the integrator only.
async fn operators_edit_and_deactivate_an_organization_and_remove_staff(app: &TestApp) -> R {
    let w = world(app).await?;
    let user = granted_user(
        app,
        &w,
        48,
        K::Maslikhat,
        Some("750000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let bin = demo_bin(248);
    let edit = json!({"name_kk": "Алматы қалалық мәслихаты", "name_ru": "Маслихат города Алматы", "territory": "710000000"});
    let (s, v) = w
        .reviewer
        .put(&format!("/api/v1/organizations/{bin}"), &edit)
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v) = w
        .integrator
        .put(
            &format!("/api/v1/organizations/{bin}"),
            &json!({"name_kk": "М", "name_ru": "М"}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("territory_required")),
        "a maslikhat has a territory: {v}"
    );
    let (s, v) = w
        .integrator
        .put(&format!("/api/v1/organizations/{bin}"), &edit)
        .await?;
    assert_eq!(
        (s, v["territory"].as_str(), v["name_ru"].as_str()),
        (200, Some("710000000"), Some("Маслихат города Алматы")),
        "{v}"
    );
    let (_, grants) = user.get("/api/v1/grants?own=true").await?;
    assert_eq!(
        grants[0]["scope"]["territory"], "750000000",
        "the grant keeps its scope: {grants}"
    );
    let (s, _) = user.get(&format!("{READ}&region=750000000")).await?;
    assert_eq!(s, 200);
    // Deactivated: the grant blocked, the session ended, no more applications.
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/organizations/{bin}/deactivate"),
            &json!({"reason": "орган упразднён"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["grants_blocked"].as_i64(),
            v["sessions_ended"].as_i64().is_some_and(|n| n >= 1)
        ),
        (Some(1), true),
        "{v}"
    );
    let (s, v) = user.get("/api/v1/me").await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/organizations/{bin}/deactivate"),
            &json!({"reason": "ещё раз"}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"), "{v}");
    let head = app.person(
        &iin(396),
        Some(&bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let t = today(app);
    let until = plus_months(t, 6);
    let f = application_json(
        &bin,
        &t.to_string(),
        ("Басшы", "Тест", None),
        &["analytical_central"],
        &[FormLine {
            iin: &iin(397),
            surname: "Жаңа",
            name: "Қызметкер",
            patronymic: None,
            access_until: Some(&until),
        }],
    );
    let (s, v) = app.submit(&head, &f).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (403, "organization-deactivated"),
        "{v}"
    );
    // A support agent's role removed: their session ends; twice is not found; not one's own role.
    let integ = demo_bin(INTEGRATOR);
    app.add_staff(&iin(6), &integ, "support_agent").await?;
    let agent = app.signed_in(&iin(6), &integ, NcaRole::Employee).await?;
    let path = format!("/api/v1/staff/{integ}/{}/support_agent", iin(6));
    let delete = |c: &ApiClient, p: String| {
        let (url, token) = (
            format!("{}{p}", app.base),
            c.token.clone().unwrap_or_default(),
        );
        async move {
            let r = reqwest::Client::new()
                .delete(url)
                .bearer_auth(token)
                .send()
                .await?;
            let s = r.status().as_u16();
            Ok::<_, qoljetim::AnyError>((s, r.json::<Value>().await.unwrap_or(Value::Null)))
        }
    };
    let (s, v) = delete(&w.reviewer, path.clone()).await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v) = delete(&w.integrator, path.clone()).await?;
    assert_eq!((s, v["sessions_ended"].as_i64()), (200, Some(1)), "{v}");
    let (s, v) = agent.get("/api/v1/support/requests").await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");
    let (s, v) = delete(&w.integrator, path).await?;
    assert_eq!((s, problem_type(&v)), (404, "not-found"), "{v}");
    let (s, v) = delete(
        &w.integrator,
        format!("/api/v1/staff/{integ}/{}/integrator_admin", iin(2)),
    )
    .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("not_yourself")),
        "{v}"
    );
    Ok(())
}

/// Issue 17: the command line does the operators' daily work through the same use cases (the same
/// rules, the same audit records), on a fresh data folder.
#[test]
fn cli_edits_deactivates_removes_staff_and_revokes() -> R {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b)?;
    let dir = std::env::temp_dir().join(format!("qoljetim-cli-ops-{}", hex::encode(b)));
    let run = |args: &[&str]| -> Result<(bool, String), qoljetim::AnyError> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_qoljetim"))
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
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
    let (integ, masl) = (demo_bin(911), demo_bin(912));
    for (bin, kind, territory) in [
        (&integ, "integrator", None),
        (&masl, "maslikhat", Some("750000000")),
    ] {
        let mut args = vec![
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
        ];
        if let Some(t) = territory {
            args.extend(["--territory", t]);
        }
        let (ok, text) = run(&args)?;
        assert!(ok, "{text}");
    }
    let (ok, text) = run(&[
        "org",
        "edit",
        "--bin",
        &masl,
        "--name-kk",
        "Мәслихат",
        "--name-ru",
        "Маслихат",
    ])?;
    assert!(
        !ok && text.contains("territory_required"),
        "the kind's rules hold: {text}"
    );
    let (ok, text) = run(&[
        "org",
        "edit",
        "--bin",
        &masl,
        "--name-kk",
        "Мәслихат",
        "--name-ru",
        "Маслихат",
        "--territory",
        "710000000",
    ])?;
    assert!(ok && text.contains("territory 710000000"), "{text}");
    let (ok, text) = run(&[
        "staff",
        "add",
        "--org",
        &integ,
        "--iin",
        &iin(7),
        "--role",
        "support_agent",
    ])?;
    assert!(ok, "{text}");
    let (ok, text) = run(&[
        "staff",
        "remove",
        "--org",
        &integ,
        "--iin",
        &iin(7),
        "--role",
        "support_agent",
    ])?;
    assert!(ok && text.contains("no longer support_agent"), "{text}");
    let (ok, text) = run(&[
        "staff",
        "remove",
        "--org",
        &integ,
        "--iin",
        &iin(7),
        "--role",
        "support_agent",
    ])?;
    assert!(!ok && text.contains("not-found"), "{text}");
    // Issue 17: a recertification campaign needs live grants to review, and an active organization.
    let (ok, text) = run(&["recertification", "open", "--bin", &masl])?;
    assert!(
        !ok && text.contains("wrong-state") && text.contains("no live grants"),
        "{text}"
    );
    let (ok, text) = run(&[
        "org",
        "deactivate",
        "--bin",
        &masl,
        "--reason",
        "орган упразднён",
    ])?;
    assert!(ok && text.contains("0 grants blocked"), "{text}");
    let (ok, text) = run(&["recertification", "open", "--bin", &masl])?;
    assert!(!ok && text.contains("organization-deactivated"), "{text}");
    let (ok, text) = run(&["grants", "revoke", "999", "--reason", "нет такого"])?;
    assert!(!ok && text.contains("not-found"), "{text}");
    let (ok, text) = run(&["audit", "verify"])?;
    assert!(ok, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

// Issue 17 on the pages: the integrator revokes a grant from `/grants` with a reason, edits an
// organization (the page says the scope of grants made before stays) and deactivates it, and removes a
// staff role from `/operations`; a reviewer sees none of these forms.
async fn operators_do_the_daily_work_on_the_pages(app: &TestApp) -> R {
    let w = world(app).await?;
    let user = granted_user(
        app,
        &w,
        49,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let pages = Pages::new(app)?;
    let (_, grants) = user.get("/api/v1/grants?own=true").await?;
    let id = grants[0]["id"].as_i64().ok_or("no grant")?;
    let html = pages.get(&w.integrator, "/grants").await?;
    assert!(
        html.contains(&format!(r#"action="/grants/{id}/revoke""#)),
        "{html}"
    );
    assert!(
        !pages
            .get(&w.reviewer, "/grants")
            .await?
            .contains("/revoke\""),
        "the reviewer has no revoke form"
    );
    let (s, _, html) = pages
        .post(
            &w.integrator,
            &format!("/grants/{id}/revoke"),
            vec![("reason", "x".into())],
        )
        .await?;
    assert!(s == 400 && html.contains("от 3 до 500"), "{s} {html}");
    let (s, location, _) = pages
        .post(
            &w.integrator,
            &format!("/grants/{id}/revoke"),
            vec![("reason", "по служебной записке".into())],
        )
        .await?;
    assert_eq!((s, location.as_str()), (303, "/grants"));
    let (s, v) = user
        .get("/api/v1/data/analytical_central/expenditure?fiscal_year=2026")
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "grant-inactive"), "{v}");
    assert!(
        pages
            .get(&w.integrator, "/grants")
            .await?
            .contains("отозван")
    );
    // The organization's page: the scope note, an edit, a deactivation.
    let bin = demo_bin(249);
    let html = pages
        .get(&w.integrator, &format!("/operations/organizations/{bin}"))
        .await?;
    assert!(
        html.contains("сохраняет закреплённую за ним область"),
        "{html}"
    );
    let (s, _, _) = pages
        .post(
            &w.integrator,
            &format!("/operations/organizations/{bin}"),
            vec![
                ("name_kk", "Парламент Мәжілісі".into()),
                ("name_ru", "Мажилис Парламента".into()),
            ],
        )
        .await?;
    assert_eq!(s, 303);
    let (_, orgs) = w.integrator.get("/api/v1/organizations").await?;
    assert!(orgs.to_string().contains("Мажилис Парламента"), "{orgs}");
    let (s, _, _) = pages
        .post(
            &w.integrator,
            &format!("/operations/organizations/{bin}/deactivate"),
            vec![("reason", "упразднён".into())],
        )
        .await?;
    assert_eq!(s, 303);
    assert!(
        pages
            .get(&w.integrator, &format!("/operations/organizations/{bin}"))
            .await?
            .contains("Деактивирована")
    );
    // A staff role removed from the staff list.
    let integ = demo_bin(INTEGRATOR);
    app.add_staff(&iin(8), &integ, "support_agent").await?;
    let html = pages.get(&w.integrator, "/operations").await?;
    assert!(
        html.contains(r#"action="/operations/staff/remove""#),
        "{html}"
    );
    assert!(
        !pages
            .get(&w.reviewer, "/operations")
            .await?
            .contains(r#"action="/operations/staff/remove""#)
    );
    let (s, location, _) = pages
        .post(
            &w.integrator,
            "/operations/staff/remove",
            vec![
                ("bin", integ.clone()),
                ("iin", iin(8)),
                ("role", "support_agent".into()),
            ],
        )
        .await?;
    assert_eq!((s, location.as_str()), (303, "/operations#staff"));
    let html = pages.get(&w.integrator, "/operations").await?;
    assert!(
        !html.contains(&format!(r#"name="iin" value="{}""#, iin(8))),
        "removed from the list"
    );
    Ok(())
}

// Order 270 §10: a change of the access software is made on a request agreed with the authorized body
// or the budget-planning body by competence, and approved. A request about access goes to the
// authorized body, which agrees and approves; one about state planning goes to the budget-planning
// body, which returns it once with reasons, then agrees to the revision; each decision is a CMS signed
// by the deciding head, kept, and verifies with `openssl cms`. A deployed version names what it
// implements. Nobody else decides.
async fn change_requests_are_agreed_by_competence_returned_and_approved(app: &TestApp) -> R {
    let w = world(app).await?;
    let planning = demo_bin(6);
    app.add_org(&planning, K::BudgetPlanningBody, None, &[])
        .await?;
    let head = |n: u32, bin: &str| {
        app.person(
            &iin(n),
            Some(bin),
            Some(NcaRole::FirstHead),
            KeyPurpose::Signing,
        )
    };
    let (minfin_head, planning_head, maslikhat_head) = (
        head(60, &demo_bin(MINFIN))?,
        head(61, &planning)?,
        head(10, &w.bin)?,
    );
    let draft = |component: &str| {
        json!({"title": "Экспорт в XLSX", "what": "Выгрузка данных в XLSX наряду с CSV",
        "why": "Просьба аудиторов", "component": component, "risk": "низкий", "rollback": "вернуть предыдущую версию"})
    };
    let (s, v) = w
        .reviewer
        .post("/api/v1/change-requests", &draft("access"))
        .await?;
    assert_eq!(
        (s, problem_type(&v)),
        (403, "forbidden"),
        "the integrator drafts: {v}"
    );
    let (s, a) = w
        .integrator
        .post("/api/v1/change-requests", &draft("access"))
        .await?;
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        (a["agreeing"].as_str(), a["status"].as_str()),
        (Some("authorized_body"), Some("submitted")),
        "{a}"
    );
    let (_, b) = w
        .integrator
        .post("/api/v1/change-requests", &draft("state_planning"))
        .await?;
    assert_eq!(b["agreeing"], "budget_planning_body", "by competence: {b}");
    let (a, b) = (a["id"].as_i64().ok_or("a")?, b["id"].as_i64().ok_or("b")?);
    let decide = |id: i64,
                  revision: i64,
                  decision: &str,
                  reasons: Option<&str>,
                  signer: &KeyPair| {
        let doc = json!({"change_request": id, "revision": revision, "decision": decision, "reasons": reasons}).to_string();
        let cms = signer.sign(doc.as_bytes());
        let reviewer = &w.reviewer;
        async move {
            let cms = cms?;
            let (s, v) = reviewer
                .post(
                    &format!("/api/v1/change-requests/{id}/decisions"),
                    &json!({"signed_cms": cms}),
                )
                .await?;
            Ok::<_, qoljetim::AnyError>((s, v, doc))
        }
    };
    // Case 1: the authorized body agrees, then approves; an applicant's head may do neither.
    let (s, v, _) = decide(a, 1, "agree", None, &maslikhat_head).await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v, _) = decide(a, 1, "approve", None, &minfin_head).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (409, "wrong-state"),
        "agreement comes first: {v}"
    );
    let (s, v, agreed) = decide(a, 1, "agree", None, &minfin_head).await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("agreed")), "{v}");
    assert!(v["approval_due"].is_string());
    let (s, v, _) = decide(a, 1, "approve", None, &minfin_head).await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
    assert_eq!(v["decisions"].as_array().map(Vec::len), Some(2));
    // The first decision's evidence verifies with openssl against the development CA.
    let decision = v["decisions"][0]["id"].as_i64().ok_or("decision id")?;
    let (s, der) = w
        .integrator
        .get_bytes(&format!(
            "/api/v1/change-requests/{a}/decisions/{decision}/evidence"
        ))
        .await?;
    assert_eq!(s, 200);
    assert_eq!(
        openssl_cms_content(app, &der, None)?,
        agreed,
        "the signed decision, as signed"
    );
    // Case 2: the budget-planning body returns it with reasons (the authorized body may not agree in
    // its place); the integrator revises; revision 2 is agreed and approved.
    let (s, v, _) = decide(b, 1, "agree", None, &minfin_head).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (403, "forbidden"),
        "not the competent body: {v}"
    );
    let (s, v, _) = decide(b, 1, "return", None, &planning_head).await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("reason_required")),
        "{v}"
    );
    let (s, v, _) = decide(
        b,
        1,
        "return",
        Some("Укажите влияние на бюджетные заявки"),
        &planning_head,
    )
    .await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("returned")), "{v}");
    let mut revised = draft("state_planning");
    revised["why"] = json!("Просьба аудиторов; бюджетные заявки не затрагиваются");
    let (s, v) = w
        .integrator
        .put(&format!("/api/v1/change-requests/{b}"), &revised)
        .await?;
    assert_eq!(
        (s, v["status"].as_str(), v["revision"].as_i64()),
        (200, Some("submitted"), Some(2)),
        "{v}"
    );
    let (s, v, _) = decide(b, 1, "agree", None, &planning_head).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (409, "wrong-state"),
        "a decision on the old revision: {v}"
    );
    let (s, v, _) = decide(b, 2, "agree", None, &planning_head).await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("agreed")), "{v}");
    let (s, v, _) = decide(b, 2, "approve", None, &minfin_head).await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
    // Both sides read the history; a deployed version records what it implements (approved only).
    let planning_session = app
        .signed_in(&iin(62), &planning, NcaRole::Employee)
        .await?;
    let (s, list) = planning_session.get("/api/v1/change-requests").await?;
    assert_eq!((s, list.as_array().map(Vec::len)), (200, Some(2)), "{list}");
    let (_, third) = w
        .integrator
        .post("/api/v1/change-requests", &draft("access"))
        .await?;
    let third = third["id"].as_i64().ok_or("third")?;
    let refused = app
        .state
        .record_deployment("cli:test", "1.5.0", vec![a, third])
        .await;
    assert!(
        refused.is_err_and(|e| e.slug() == "wrong-state"),
        "only approved requests"
    );
    app.state
        .record_deployment("cli:test", "1.5.0", vec![a, b])
        .await
        .map_err(|e| format!("{e:?}"))?;
    let (s, v) = w.reviewer.get("/api/v1/deployments").await?;
    assert_eq!(
        (s, v[0]["version"].as_str(), v[0]["implements"].clone()),
        (200, Some("1.5.0"), json!([a, b])),
        "{v}"
    );
    // The clocks are reported: both agreed and approved in time; the third waits for agreement.
    let (_, report) = w.reviewer.get("/api/v1/reports/deadlines").await?;
    let clock = |name: &str| {
        report["clocks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["clock"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (agreement, approval) = (clock("change_agreement"), clock("change_approval"));
    assert_eq!(
        (
            agreement["working_days_allowed"].as_i64(),
            agreement["met"].as_i64(),
            agreement["open"].as_i64()
        ),
        (Some(5), Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(
        (
            approval["working_days_allowed"].as_i64(),
            approval["met"].as_i64()
        ),
        (Some(2), Some(2)),
        "{report}"
    );
    Ok(())
}

// Order 270 §10 on the pages: the integrator drafts a request from `/changes`; the authorized body's
// head prepares the decision on the request's page, which shows the exact document to sign; signed (as
// the page's NCALayer box does) and posted, the page shows the decision and its evidence link.
async fn change_requests_on_the_pages(app: &TestApp) -> R {
    let w = world(app).await?;
    let pages = Pages::new(app)?;
    assert!(
        pages
            .get(&w.integrator, "/changes")
            .await?
            .contains(r#"id="change-form""#)
    );
    assert!(
        !pages
            .get(&w.reviewer, "/changes")
            .await?
            .contains(r#"id="change-form""#),
        "the integrator drafts"
    );
    let form: Vec<(&'static str, String)> = [
        ("title", "Экспорт в XLSX"),
        ("what", "Выгрузка в XLSX"),
        ("why", "Просьба аудиторов"),
        ("component", "access"),
        ("risk", "низкий"),
        ("rollback", "предыдущая версия"),
    ]
    .map(|(k, v)| (k, v.to_owned()))
    .to_vec();
    let (s, location, _) = pages.post(&w.integrator, "/changes", form).await?;
    assert_eq!(s, 303);
    let id: i64 = location.trim_start_matches("/changes/").parse()?;
    let minfin_head = app
        .signed_in(&iin(63), &demo_bin(MINFIN), NcaRole::FirstHead)
        .await?;
    let html = pages
        .get(&minfin_head, &format!("/changes/{id}?decision=agree"))
        .await?;
    let document =
        format!(r#"{{"change_request":{id},"revision":1,"decision":"agree","reasons":null}}"#);
    assert!(
        html.contains(&document.replace('"', "&quot;")) || html.contains(&document),
        "the exact document: {html}"
    );
    assert!(
        html.contains(r#"data-endpoint="/api/v1/change-requests/"#),
        "{html}"
    );
    let signer = app.person(
        &iin(63),
        Some(&demo_bin(MINFIN)),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (s, v) = minfin_head
        .post(
            &format!("/api/v1/change-requests/{id}/decisions"),
            &json!({"signed_cms": signer.sign(document.as_bytes())?}),
        )
        .await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("agreed")), "{v}");
    let html = pages.get(&w.integrator, &format!("/changes/{id}")).await?;
    assert!(
        html.contains("согласован, ждёт утверждения") && html.contains("/evidence"),
        "{html}"
    );
    Ok(())
}

/// The pages as a browser without JavaScript uses them: the session cookie, Russian, redirects not
/// followed (a form's answer is its `303` and `Location`).
pub(crate) struct Pages {
    http: reqwest::Client,
    base: String,
}

impl Pages {
    pub(crate) fn new(app: &TestApp) -> Result<Pages, qoljetim::AnyError> {
        Ok(Pages {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: app.base.clone(),
        })
    }

    fn cookie(c: &ApiClient) -> String {
        format!("qoljetim_session={}", c.token.clone().unwrap_or_default())
    }

    pub(crate) async fn get(
        &self,
        c: &ApiClient,
        path: &str,
    ) -> Result<String, qoljetim::AnyError> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Cookie", Self::cookie(c))
            .header("Accept-Language", "ru")
            .send()
            .await?;
        Ok(r.text().await?)
    }

    /// A form posted: the status, the `Location` and the page.
    pub(crate) async fn post(
        &self,
        c: &ApiClient,
        path: &str,
        form: Vec<(&'static str, String)>,
    ) -> Result<(u16, String, String), qoljetim::AnyError> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Cookie", Self::cookie(c))
            .header("Origin", self.base.clone())
            .header("Accept-Language", "ru")
            .form(&form)
            .send()
            .await?;
        let s = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((s, location, r.text().await?))
    }
}
