//! Recertification campaigns (issue 17): the integrator opens a campaign for an organization; its head
//! confirms or withdraws each live grant by a signed answer; the line left unanswered is blocked after
//! the deadline, on the right working day. The clock is fixed and moved.

use super::*;
use crate::lifecycle::{pdf_text, set, worker};
use crate::operations::Pages;

// 10:00 in Almaty on Monday 7 December 2026, with budget data.
on_both_databases!(sqlite_recertification, postgres_recertification;
    (|db| TestApp::spawn_full(db, KeyKind::P256, 3_000, Some("2026-12-07T05:00:00Z".parse()?), |_| {}));
    a_campaign_blocks_the_one_grant_its_head_did_not_confirm,
    campaigns_on_the_pages,
);

// The same, with campaigns on schedule every month.
on_both_databases!(sqlite_recertification_schedule, postgres_recertification_schedule;
    (|db| TestApp::spawn_full(db, KeyKind::P256, 3_000, Some("2026-12-07T05:00:00Z".parse()?), |c| {
        c.recertification.every_months = 1;
    }));
    the_schedule_opens_a_campaign_a_month_after_the_grants,
);

const READ: &str = "/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=program";

/// Three people of the Almaty maslikhat granted on one application (IINs 71–73), trained, duties
/// accepted, signed in; and their grant ids.
pub(crate) async fn three_granted(
    app: &TestApp,
    w: &World,
) -> Result<(Vec<ApiClient>, Vec<i64>), qoljetim::AnyError> {
    let people = [iin(71), iin(72), iin(73)];
    let until = plus_months(today(app), 6);
    let lines: Vec<FormLine<'_>> = people
        .iter()
        .zip(["Ахметов", "Борисова", "Жумабаев"])
        .map(|(p, surname)| FormLine {
            iin: p,
            surname,
            name: "Тест",
            patronymic: None,
            access_until: Some(&until),
        })
        .collect();
    let f = application_json(
        &w.bin,
        &today(app).to_string(),
        ("Басшы", "Тест", None),
        &["analytical_central"],
        &lines,
    );
    let (s, v) = app.submit(&w.head_sign, &f).await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().ok_or("no application id")?;
    let decisions: Vec<Value> = (1..=3)
        .map(|l| json!({"line": l, "decision": "approve"}))
        .collect();
    let (s, v) = w
        .reviewer
        .post(
            &format!("/api/v1/applications/{id}/review"),
            &json!({"lines": decisions}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = w
        .integrator
        .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
        .await?;
    assert_eq!(s, 201, "{v}");
    let mut clients = vec![];
    let mut grants = vec![];
    for p in &people {
        let c = app.signed_in(p, &w.bin, NcaRole::Employee).await?;
        c.pass_training(&qoljetim::shipped_lessons()).await?;
        let (_, own) = c.get("/api/v1/grants?own=true").await?;
        grants.push(own[0]["id"].as_i64().ok_or("no grant")?);
        clients.push(c);
    }
    Ok((clients, grants))
}

/// The head's answer to `campaign`, signed by `signer` and posted in `poster`'s session.
async fn answer(
    poster: &ApiClient,
    signer: &KeyPair,
    campaign: i64,
    document: &str,
) -> Result<(u16, Value), qoljetim::AnyError> {
    let cms = signer.sign(document.as_bytes())?;
    poster
        .post(
            &format!("/api/v1/recertification/campaigns/{campaign}/answers"),
            &json!({"signed_cms": cms}),
        )
        .await
}

fn line(v: &Value, grant: i64) -> Value {
    v["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["grant"] == grant)
        .cloned()
        .unwrap_or(Value::Null)
}

// Issue 17: opened on Monday 7 December 2026 with 10 working days, the campaign's answers are due by
// the end of Tuesday 22 December (Independence Day, the 16th, is not a working day). The head confirms
// one grant and withdraws another (it ends at once, with its person's session); the heads are
// reminded once from the end of the 7th working day (17 December); the third grant, never answered,
// is still readable through 23:59 on the 22nd and blocked at 00:00:30 on the 23rd. Refused: an
// opening by the authorized body, an answer signed for another BIN or by an employee, a tampered
// answer, a withdrawal without a reason, a line not in the campaign; the campaign is not shown to the
// organization next door.
async fn a_campaign_blocks_the_one_grant_its_head_did_not_confirm(app: &TestApp) -> R {
    let w = world(app).await?;
    let (people, grants) = three_granted(app, &w).await?;
    let (a, b, c) = (grants[0], grants[1], grants[2]);
    for p in &people {
        let (s, v) = p.get(READ).await?;
        assert_eq!(s, 200, "trained and granted: {v}");
    }
    // Opening: the integrator's; a BIN is checked; the authorized body may not.
    let open = |bin: &str| json!({"organization_bin": bin});
    let (s, v) = w
        .reviewer
        .post("/api/v1/recertification/campaigns", &open(&w.bin))
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v) = w
        .integrator
        .post("/api/v1/recertification/campaigns", &open("123456789012"))
        .await?;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (400, Some("/organization_bin")),
        "{v}"
    );
    let (s, v) = w
        .integrator
        .post("/api/v1/recertification/campaigns", &open(&w.bin))
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().ok_or("no campaign id")?;
    assert_eq!(
        (
            v["status"].as_str(),
            v["due"].as_str(),
            v["pending"].as_i64()
        ),
        (Some("open"), Some("2026-12-22"), Some(3)),
        "{v}"
    );
    assert_eq!(line(&v, b)["person_name"], "Борисова Тест", "{v}");
    let (s, v) = w
        .integrator
        .post("/api/v1/recertification/campaigns", &open(&w.bin))
        .await?;
    assert_eq!(
        (s, problem_type(&v)),
        (409, "wrong-state"),
        "one open campaign per organization: {v}"
    );
    // The organization next door neither sees nor answers it.
    let other = demo_bin(ASTANA_MASLIKHAT);
    app.add_org(&other, K::Maslikhat, Some("710000000"), &[])
        .await?;
    let other_head = app.signed_in(&iin(80), &other, NcaRole::FirstHead).await?;
    let (s, v) = other_head
        .get(&format!("/api/v1/recertification/campaigns/{id}"))
        .await?;
    assert_eq!((s, problem_type(&v)), (404, "not-found"), "{v}");
    let (_, v) = other_head.get("/api/v1/recertification/campaigns").await?;
    assert_eq!(v, json!([]), "{v}");
    let poster = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let doc = |decisions: Value| json!({"campaign": id, "decisions": decisions}).to_string();
    let confirm_a_withdraw_b = doc(json!([
        {"grant": a, "decision": "confirm"},
        {"grant": b, "decision": "withdraw", "reason": "переведена в другой орган"}
    ]));
    let other_signer = app.person(
        &iin(80),
        Some(&other),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (s, v) = answer(&poster, &other_signer, id, &confirm_a_withdraw_b).await?;
    assert_eq!((s, problem_type(&v)), (403, "certificate-wrong-bin"), "{v}");
    let employee_signer = app.person(
        &iin(74),
        Some(&w.bin),
        Some(NcaRole::Employee),
        KeyPurpose::Signing,
    )?;
    let (s, v) = answer(&poster, &employee_signer, id, &confirm_a_withdraw_b).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (403, "certificate-no-signing-right"),
        "an employee signs no answer: {v}"
    );
    let mut raw = base64_decode(&w.head_sign.sign(confirm_a_withdraw_b.as_bytes())?);
    if let Some(pos) = raw.windows(7).position(|x| x == b"confirm") {
        raw[pos] = b'k'; // one byte of the signed content
    }
    let (s, v) = poster
        .post(
            &format!("/api/v1/recertification/campaigns/{id}/answers"),
            &json!({"signed_cms": base64_encode(&raw)}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "signature-invalid"), "{v}");
    let (s, v) = answer(
        &poster,
        &w.head_sign,
        id,
        &doc(json!([{"grant": b, "decision": "withdraw"}, {"grant": 999_999, "decision": "confirm"}])),
    )
    .await?;
    let rules: Vec<(&str, &str)> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or(""),
                e["rule"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        (s, rules),
        (
            400,
            vec![
                ("/decisions/0/reason", "reason_length"),
                ("/decisions/1/grant", "campaign_line")
            ]
        ),
        "{v}"
    );
    // The head's answer: a confirmed, b withdrawn — b's session ends at once and b reads no more.
    let answered_at = app.state.clock.now().as_second();
    let (s, v) = answer(&poster, &w.head_sign, id, &confirm_a_withdraw_b).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            line(&v, a)["outcome"].as_str(),
            line(&v, b)["outcome"].as_str(),
            line(&v, b)["grant_status"].as_str(),
            line(&v, c)["outcome"].as_str(),
            v["status"].as_str()
        ),
        (
            Some("confirmed"),
            Some("withdrawn"),
            Some("revoked"),
            Some("pending"),
            Some("open")
        ),
        "{v}"
    );
    let (s, v) = people[1].get(READ).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (401, "session-expired"),
        "sessions end: {v}"
    );
    let again = app.signed_in(&iin(72), &w.bin, NcaRole::Employee).await?;
    let (s, v) = again.get(READ).await?;
    assert_eq!((s, problem_type(&v)), (403, "grant-inactive"), "{v}");
    let (s, v) = people[0].get(READ).await?;
    assert_eq!(s, 200, "the confirmed grant reads on: {v}");
    let (s, v) = answer(&poster, &w.head_sign, id, &confirm_a_withdraw_b).await?;
    assert_eq!(
        (
            s,
            v["answers"].as_array().map(Vec::len),
            v["withdrawn"].as_i64()
        ),
        (200, Some(1), Some(1)),
        "the same answer again is the one accepted before: {v}"
    );
    // The clock: the opening notice at once; the reminder from the end of 17 December, once.
    let wk = worker(app, None);
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let kinds = |v: &Value| -> Vec<String> {
        v["notifications"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["subject"] == format!("campaign:{id}"))
            .filter_map(|n| n["kind"].as_str().map(str::to_owned))
            .collect()
    };
    let s1 = wk.run_once().await?;
    assert_eq!((s1.campaign_notices >= 1, s1.campaign_blocks), (true, 0));
    let (_, notes) = head.get("/api/v1/notifications").await?;
    assert_eq!(kinds(&notes), vec!["campaign_opened"], "{notes}");
    set(app, "2026-12-17T23:00:00")?;
    wk.run_once().await?;
    set(app, "2026-12-18T00:00:30")?;
    let s2 = wk.run_once().await?;
    assert!(s2.campaign_notices >= 1, "{s2:?}");
    assert_eq!(wk.run_once().await?.campaign_notices, 0, "once");
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (_, notes) = head.get("/api/v1/notifications").await?;
    let mut k = kinds(&notes);
    k.sort();
    assert_eq!(k, vec!["campaign_opened", "campaign_reminder"], "{notes}");
    // Through the end of the 22nd the unanswered grant reads; at 00:00:30 on the 23rd it is blocked.
    set(app, "2026-12-22T23:59:00")?;
    assert_eq!(
        wk.run_once().await?.campaign_blocks,
        0,
        "due through the 22nd"
    );
    let c_user = app.signed_in(&iin(73), &w.bin, NcaRole::Employee).await?;
    let (s, v) = c_user.get(READ).await?;
    assert_eq!(s, 200, "{v}");
    set(app, "2026-12-23T00:00:30")?;
    let s3 = wk.run_once().await?;
    assert_eq!((s3.campaigns_closed, s3.campaign_blocks), (1, 1), "{s3:?}");
    let (s, v) = c_user.get(READ).await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"), "{v}");
    let c_user = app.signed_in(&iin(73), &w.bin, NcaRole::Employee).await?;
    let (s, v) = c_user.get(READ).await?;
    assert_eq!((s, problem_type(&v)), (403, "grant-inactive"), "{v}");
    let a_user = app.signed_in(&iin(71), &w.bin, NcaRole::Employee).await?;
    let (s, v) = a_user.get(READ).await?;
    assert_eq!(s, 200, "only the unanswered grant is blocked: {v}");
    // Sessions of 7 December are long gone: the integrator and the head sign in again.
    let integrator = app
        .signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
        .await?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (_, all) = integrator.get("/api/v1/grants?limit=1000").await?;
    let g = all
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["id"] == c)
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        (g["status"].as_str(), g["end_reason"].as_str()),
        (Some("blocked"), Some("recertification_unanswered")),
        "{g}"
    );
    let (_, v) = integrator
        .get(&format!("/api/v1/recertification/campaigns/{id}"))
        .await?;
    assert_eq!(
        (
            v["status"].as_str(),
            v["confirmed"].as_i64(),
            v["withdrawn"].as_i64(),
            v["blocked"].as_i64()
        ),
        (Some("closed"), Some(1), Some(1), Some(1)),
        "{v}"
    );
    let (_, notes) = c_user.get("/api/v1/notifications").await?;
    assert!(
        kinds(&notes).contains(&"campaign_ended_access".to_owned()),
        "{notes}"
    );
    // The report shows who confirmed what: JSON, CSV, PDF (read by pdftotext).
    let (s, r) = head
        .get(&format!("/api/v1/recertification/campaigns/{id}/report"))
        .await?;
    assert_eq!(s, 200, "{r}");
    let signer = format!("{}@{}", iin(10), w.bin);
    let by_grant = |g: i64| {
        r["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["grant"] == g)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        (
            by_grant(a)["outcome"].as_str(),
            by_grant(a)["answered_by"].as_str()
        ),
        (Some("confirmed"), Some(signer.as_str())),
        "{r}"
    );
    assert_eq!(by_grant(b)["reason"], "переведена в другой орган", "{r}");
    assert_eq!(
        (
            by_grant(c)["outcome"].as_str(),
            by_grant(c)["answered_by"].clone()
        ),
        (Some("blocked"), Value::Null),
        "{r}"
    );
    let (s, csv) = head
        .get_bytes(&format!(
            "/api/v1/recertification/campaigns/{id}/report?format=csv"
        ))
        .await?;
    let csv = String::from_utf8_lossy(&csv).into_owned();
    assert!(
        s == 200 && csv.contains("подтверждён") && csv.contains(&signer),
        "{csv}"
    );
    let (s, pdf) = integrator
        .get_bytes(&format!(
            "/api/v1/recertification/campaigns/{id}/report?format=pdf"
        ))
        .await?;
    assert_eq!(s, 200);
    let text = pdf_text(app, &pdf)?;
    assert!(
        text.contains("Отчёт о кампании подтверждения доступа") && text.contains("Борисова"),
        "{text}"
    );
    // The evidence is the signed answer as received; the audit names the answer and the block.
    let answer_id = line(&v, a)["answer"].as_i64().ok_or("no answer id")?;
    let (s, der) = head
        .get_bytes(&format!(
            "/api/v1/recertification/campaigns/{id}/answers/{answer_id}/evidence"
        ))
        .await?;
    assert_eq!(s, 200);
    // Verified as of the signing: the certificates were made at the test's clock.
    assert_eq!(
        openssl_cms_content(app, &der, Some(answered_at))?,
        confirm_a_withdraw_b
    );
    let (_, audit) = integrator.get("/api/v1/audit?limit=1000").await?;
    let actions: Vec<&str> = audit
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["outcome"] == "allowed" || e["outcome"] == "ok")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for must in ["open_campaign", "answer_campaign", "close_campaign"] {
        assert!(actions.contains(&must), "{must}: {actions:?}");
    }
    Ok(())
}

// Issue 17 on the pages: the integrator opens a campaign from `/recertification`; the head chooses per
// line on the campaign's page, which then shows the exact answer to sign (and the NCALayer box);
// signed (as the box does) and posted, the page shows the outcome and the evidence link; an employee
// sees no answer form.
async fn campaigns_on_the_pages(app: &TestApp) -> R {
    let w = world(app).await?;
    let (_, grants) = three_granted(app, &w).await?;
    let pages = Pages::new(app)?;
    assert!(
        pages
            .get(&w.integrator, "/recertification")
            .await?
            .contains(r#"id="campaign-form""#)
    );
    let (s, _, html) = pages
        .post(
            &w.integrator,
            "/recertification",
            vec![("organization_bin", "12345".to_owned())],
        )
        .await?;
    assert!(
        s == 200 && html.contains("organization_bin") && html.contains("12"),
        "the refusal names the field: {html}"
    );
    let (s, location, _) = pages
        .post(
            &w.integrator,
            "/recertification",
            vec![("organization_bin", w.bin.clone())],
        )
        .await?;
    assert_eq!(s, 303);
    let id: i64 = location.trim_start_matches("/recertification/").parse()?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let list = pages.get(&head, "/recertification").await?;
    assert!(
        list.contains(&format!("/recertification/{id}"))
            && list.contains("ждут 3, подтверждено 0, отозвано 0, заблокировано 0"),
        "{list}"
    );
    let html = pages
        .get(
            &head,
            &format!(
                "/recertification/{id}?d{}=confirm&d{}=withdraw&r{}=%D0%BF%D0%B5%D1%80%D0%B5%D0%B2%D0%BE%D0%B4",
                grants[0], grants[1], grants[1]
            ),
        )
        .await?;
    let document = format!(
        r#"{{"campaign":{id},"decisions":[{{"grant":{},"decision":"confirm"}},{{"grant":{},"decision":"withdraw","reason":"перевод"}}]}}"#,
        grants[0], grants[1]
    );
    assert!(
        html.contains(&document.replace('"', "&quot;")) || html.contains(&document),
        "the exact document: {html}"
    );
    assert!(
        html.contains(&format!(
            r#"data-endpoint="/api/v1/recertification/campaigns/{id}/answers""#
        )) && html.contains(r#"value="перевод""#),
        "the choices stay on the page: {html}"
    );
    let employee = app.signed_in(&iin(71), &w.bin, NcaRole::Employee).await?;
    let html_employee = pages
        .get(&employee, &format!("/recertification/{id}"))
        .await?;
    assert!(
        !html_employee.contains(r#"id="answer-form""#),
        "{html_employee}"
    );
    let (s, v) = answer(&head, &w.head_sign, id, &document).await?;
    assert_eq!(s, 200, "{v}");
    let html = pages
        .get(&w.integrator, &format!("/recertification/{id}"))
        .await?;
    assert!(
        html.contains("отозван: перевод") && html.contains("/evidence"),
        "{html}"
    );
    Ok(())
}

// Issue 17, `[recertification] every_months = 1`: grants made on 7 December 2026 are not due on the
// day; on 8 January 2027 the worker opens one campaign for their organization (audited as the
// schedule), not a second while it is open, and none again within a month of it once it is answered.
async fn the_schedule_opens_a_campaign_a_month_after_the_grants(app: &TestApp) -> R {
    let w = world(app).await?;
    let (_, grants) = three_granted(app, &w).await?;
    let wk = worker(app, None);
    assert_eq!(
        wk.run_once().await?.campaigns_opened,
        0,
        "the grants are new"
    );
    set(app, "2027-01-08T10:00:00")?;
    assert_eq!(wk.run_once().await?.campaigns_opened, 1);
    assert_eq!(
        wk.run_once().await?.campaigns_opened,
        0,
        "one open campaign"
    );
    let integrator = app
        .signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
        .await?;
    let (_, list) = integrator.get("/api/v1/recertification/campaigns").await?;
    let c = list[0].clone();
    assert_eq!(
        (
            list.as_array().map(Vec::len),
            c["opened_by"].as_str(),
            c["organization_bin"].as_str(),
            c["pending"].as_i64()
        ),
        (Some(1), Some("schedule"), Some(w.bin.as_str()), Some(3)),
        "{list}"
    );
    let id = c["id"].as_i64().ok_or("no id")?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let all: Vec<Value> = grants
        .iter()
        .map(|g| json!({"grant": g, "decision": "confirm"}))
        .collect();
    // The head's certificate of December has expired: a new one, as the head would renew it.
    let head_sign = app.person(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (s, v) = answer(
        &head,
        &head_sign,
        id,
        &json!({"campaign": id, "decisions": all}).to_string(),
    )
    .await?;
    assert_eq!(
        (s, v["status"].as_str(), v["confirmed"].as_i64()),
        (200, Some("closed"), Some(3)),
        "every line answered closes it: {v}"
    );
    set(app, "2027-02-01T10:00:00")?;
    assert_eq!(
        wk.run_once().await?.campaigns_opened,
        0,
        "the last campaign is less than a month old"
    );
    Ok(())
}
