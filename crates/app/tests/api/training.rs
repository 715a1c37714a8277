//! Training before first work (Order 270 §12–§13) and the §15 duties: the gate on data reads, the
//! lessons, the sessions and the integrator's report with its clock. The clock is fixed and moved.

use super::*;
use crate::lifecycle::{set, worker};

// 10:00 in Almaty on Monday 7 December 2026, with budget data.
on_both_databases!(sqlite_training, postgres_training;
    (|db| TestApp::spawn_full(db, KeyKind::P256, 3_000, Some("2026-12-07T05:00:00Z".parse()?), |_| {}));
    a_deputy_passes_the_kazakh_lesson_and_accepts_the_duties_before_reading,
    a_user_attends_a_session_and_the_integrator_reports_within_five_working_days,
    a_support_request_travels_from_a_deputy_to_support_and_back,
    manuals_show_what_changed_since_the_version_read_and_are_searchable,
    an_unagreed_change_request_is_flagged_after_five_working_days,
);

const AC_2026: &str = "/api/v1/data/analytical_central/expenditure?fiscal_year=2026";

/// The right answers of a shipped lesson, counted from 1.
fn right_answers(id: &str) -> Result<(u32, Vec<usize>), qoljetim::AnyError> {
    let f = qoljetim::shipped_lessons()
        .into_iter()
        .find(|f| f.name.contains(id))
        .ok_or("no such lesson")?;
    let l = qoljetim_domain::training::Lesson::parse(&f.name, &f.text)?;
    Ok((
        l.version,
        l.questions.iter().map(|q| q.correct + 1).collect(),
    ))
}

// Order 270 §13: a deputy granted today reads nothing until trained (`training-required`, in the
// caller's language, naming the lesson); a failed attempt changes nothing; the Kazakh lesson passed,
// §15: the duties come next (`duties-not-accepted`), accepted only by the grant's own person; then the
// read succeeds. A renewal for a person trained at the lesson's current version starts active.
async fn a_deputy_passes_the_kazakh_lesson_and_accepts_the_duties_before_reading(
    app: &TestApp,
) -> R {
    let w = world(app).await?;
    let deputy = granted_untrained(
        app,
        &w,
        40,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?
    .with_lang("kk");
    let (_, grants) = deputy.get("/api/v1/grants?own=true").await?;
    assert_eq!(grants[0]["status"], "pending_training", "{grants}");
    assert_eq!(grants[0]["duties_required"], true);
    let grant = grants[0]["id"].as_i64().ok_or("no grant id")?;
    let (s, v) = deputy.get(AC_2026).await?;
    assert_eq!((s, problem_type(&v)), (403, "training-required"), "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("analytical-central") && detail.contains("сабағын"),
        "Kazakh, naming the lesson: {detail}"
    );
    // The lesson, in Kazakh and Russian, without its right answers.
    let (s, lesson) = deputy.get("/api/v1/lessons/analytical-central").await?;
    assert_eq!(s, 200, "{lesson}");
    assert!(
        lesson["title"]["kk"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        lesson["title"]["ru"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(lesson["questions"].as_array().is_some_and(|q| q.len() >= 5));
    assert!(!lesson.to_string().contains("correct"), "{lesson}");
    let (version, right) = right_answers("analytical-central")?;
    // A wrong attempt (every first choice) is scored and changes nothing.
    let wrong: Vec<usize> = right.iter().map(|_| 1).collect();
    let (s, v) = deputy
        .post(
            "/api/v1/lessons/analytical-central/attempts",
            &json!({"version": version, "answers": wrong}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["passed"], false, "{v}");
    assert_eq!(v["activated_grants"], json!([]));
    let (s, v) = deputy.get(AC_2026).await?;
    assert_eq!((s, problem_type(&v)), (403, "training-required"), "{v}");
    // An attempt that answers a choice no question has names it; nothing is recorded as taken.
    let mut bad = right.clone();
    bad[2] = 9;
    let (s, v) = deputy
        .post(
            "/api/v1/lessons/analytical-central/attempts",
            &json!({"version": version, "answers": bad}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (400, Some("/answers/2")),
        "{v}"
    );
    // Passed: the grant waiting for it is active.
    let (s, v) = deputy
        .post(
            "/api/v1/lessons/analytical-central/attempts",
            &json!({"version": version, "answers": right}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["passed"].clone(), v["activated_grants"].clone()),
        (json!(true), json!([grant])),
        "{v}"
    );
    // Order 270 §15: the duties before the first read.
    let (s, v) = deputy.get(AC_2026).await?;
    assert_eq!((s, problem_type(&v)), (403, "duties-not-accepted"), "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("/grants/{grant}/duties")),
        "{v}"
    );
    let (_, duties) = deputy.get("/api/v1/duties").await?;
    assert_eq!(duties["kk"].as_array().map(Vec::len), Some(4), "{duties}");
    // Nobody else accepts them: another person's grant is not found.
    let other = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let (s, v) = other
        .post(
            &format!("/api/v1/grants/{grant}/duties"),
            &json!({"version": duties["version"], "accept": true}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (404, "not-found"), "{v}");
    let (s, v) = deputy
        .post(
            &format!("/api/v1/grants/{grant}/duties"),
            &json!({"version": duties["version"], "accept": false}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("must_accept")),
        "{v}"
    );
    let (s, v) = deputy
        .post(
            &format!("/api/v1/grants/{grant}/duties"),
            &json!({"version": duties["version"], "accept": true}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(v["duties_accepted_at"].is_string(), "{v}");
    assert_eq!(v["training_source"], "lesson:analytical-central@1");
    let (s, v) = deputy
        .post(
            &format!("/api/v1/grants/{grant}/duties"),
            &json!({"version": duties["version"], "accept": true}),
        )
        .await?;
    assert_eq!(
        (s, problem_type(&v)),
        (409, "wrong-state"),
        "accepted once: {v}"
    );
    let (s, v) = deputy.get(&format!("{AC_2026}&group_by=program")).await?;
    assert_eq!(s, 200, "{v}");
    assert!(!rows(&v).is_empty(), "{v}");
    // Audited: the refusal by training-required, the attempts with their scores, the acceptance.
    let (_, audit) = w.integrator.get("/api/v1/audit?limit=1000").await?;
    let mine: Vec<&Value> = audit
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| {
                    e["actor"]
                        .as_str()
                        .is_some_and(|x| x.starts_with(&iin(381)))
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        mine.iter().any(|e| e["action"] == "query_data"
            && e["outcome"] == "denied"
            && e["policies"].to_string().contains("training-required")),
        "{mine:?}"
    );
    assert_eq!(
        mine.iter()
            .filter(|e| e["action"] == "take_lesson" && e["outcome"] == "allowed")
            .count(),
        2
    );
    assert!(
        mine.iter()
            .any(|e| e["action"] == "accept_duties" && e["outcome"] == "allowed")
    );
    // A renewal: the person passed the current version, so the new grant starts active (its duties
    // are asked again: each new grant).
    let head = app.person(
        &iin(380),
        Some(&demo_bin(240)),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let t = today(app);
    let until = plus_months(t, 6);
    let f = application_json(
        &demo_bin(240),
        &t.to_string(),
        ("Басшы", "Тест", None),
        &["analytical_central"],
        &[FormLine {
            iin: &iin(381),
            surname: "Депутат",
            name: "Тест",
            patronymic: Some("Екінші"),
            access_until: Some(&until),
        }],
    );
    let (s, v) = app.submit(&head, &f).await?;
    assert_eq!(s, 201, "{v}");
    let v = approve_and_grant(&w, v["id"].as_i64().unwrap_or(0)).await?;
    assert_eq!(v["grants"][0]["status"], "active", "{v}");
    assert_eq!(
        v["grants"][0]["training_source"],
        "lesson:analytical-central@1"
    );
    assert_eq!(v["grants"][0]["duties_accepted_at"], Value::Null);
    Ok(())
}

// Order 270 §12–§13: a user trains by attending a session instead; the integrator's report is due by
// the end of the 5th working day after the session (across Independence Day, 16 December), is
// flagged overdue after it, renders in PDF with Kazakh text, and is sent signed by the integrator.
async fn a_user_attends_a_session_and_the_integrator_reports_within_five_working_days(
    app: &TestApp,
) -> R {
    let w = world(app).await?;
    let user = granted_untrained(
        app,
        &w,
        41,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let other = granted_untrained(
        app,
        &w,
        42,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let session = json!({"systems": ["analytical_central"], "language": "ru", "mode": "room",
        "place": "Астана, Мәңгілік Ел 8, зал 3", "starts_at": "2026-12-11T10:00:00+05:00", "capacity": 1});
    // The integrator schedules; the authorized body does not.
    let (s, v) = w
        .reviewer
        .post("/api/v1/training/sessions", &session)
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "forbidden"), "{v}");
    let (s, v) = w
        .integrator
        .post(
            "/api/v1/training/sessions",
            &json!({"systems": ["x"], "language": "en", "mode": "room",
            "place": "", "starts_at": "tomorrow", "capacity": 0}),
        )
        .await?;
    assert_eq!(s, 400, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        [
            "/systems/0",
            "/language",
            "/place",
            "/starts_at",
            "/capacity"
        ],
        "{v}"
    );
    let (s, v) = w
        .integrator
        .post("/api/v1/training/sessions", &session)
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().ok_or("no session id")?;
    // Enrolment: the user enrols; the session is then full; their head cannot enrol them twice.
    let (s, v) = user
        .post(
            &format!("/api/v1/training/sessions/{id}/enrolments"),
            &json!({}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let (s, v) = other
        .post(
            &format!("/api/v1/training/sessions/{id}/enrolments"),
            &json!({}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "session-full"), "{v}");
    let head = app
        .signed_in(&iin(382), &demo_bin(241), NcaRole::FirstHead)
        .await?;
    let (s, v) = head
        .post(
            &format!("/api/v1/training/sessions/{id}/enrolments"),
            &json!({"iin": iin(383)}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "already-enrolled"), "{v}");
    // A head enrols only people of their own organization who hold a grant there.
    let (s, v) = head
        .post(
            &format!("/api/v1/training/sessions/{id}/enrolments"),
            &json!({"iin": iin(385)}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("granted_user")),
        "{v}"
    );
    // One trainee's IIN is not shown to another organization.
    let (_, seen) = other
        .get(&format!("/api/v1/training/sessions/{id}/enrolments"))
        .await?;
    assert_eq!(seen, json!([]), "{seen}");
    let (_, seen) = w
        .integrator
        .get(&format!("/api/v1/training/sessions/{id}/enrolments"))
        .await?;
    assert_eq!(seen[0]["person_iin"], iin(383).as_str(), "{seen}");
    // Attendance waits for the session to begin.
    let (s, v) = w
        .integrator
        .post(
            &format!("/api/v1/training/sessions/{id}/attendance"),
            &json!({"attended": [iin(383)]}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"), "{v}");
    // Friday 11 December, after the session.
    set(app, "2026-12-11T13:00:00")?;
    let integrator = app
        .signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
        .await?;
    let (s, v) = integrator
        .post(
            &format!("/api/v1/training/sessions/{id}/attendance"),
            &json!({"attended": [iin(385)]}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "not-enrolled"), "{v}");
    let (s, v) = integrator
        .post(
            &format!("/api/v1/training/sessions/{id}/attendance"),
            &json!({"attended": [iin(383)]}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    // Mon 14, Tue 15, (Wed 16 Independence Day), Thu 17, Fri 18, Mon 21: the 5th working day.
    assert_eq!(
        (v["held_on"].as_str(), v["report_due"].as_str()),
        (Some("2026-12-11"), Some("2026-12-21")),
        "{v}"
    );
    assert_eq!(v["report_overdue"], false);
    // Attendance trained the user: their grant is active, the training named.
    let user = app
        .signed_in(&iin(383), &demo_bin(241), NcaRole::Employee)
        .await?;
    let (_, grants) = user.get("/api/v1/grants?own=true").await?;
    assert_eq!(
        (
            grants[0]["status"].as_str(),
            grants[0]["training_source"].as_str()
        ),
        (Some("active"), Some(format!("session:{id}").as_str())),
        "{grants}"
    );
    // The report: trainees, attendance, lesson results; PDF with Kazakh text; CSV.
    let (s, report) = integrator
        .get(&format!("/api/v1/training/sessions/{id}/report"))
        .await?;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        (report["enrolled"].clone(), report["attended"].clone()),
        (json!(1), json!(1)),
        "{report}"
    );
    assert_eq!(report["trainees"][0]["iin"], iin(383).as_str());
    assert_eq!(report["trainees"][0]["lessons"][0]["attempts"], 0);
    let reviewer = app
        .signed_in(&iin(1), &demo_bin(MINFIN), NcaRole::Employee)
        .await?;
    let (s, pdf) = reviewer
        .get_bytes(&format!("/api/v1/training/sessions/{id}/report?format=pdf"))
        .await?;
    assert_eq!(s, 200);
    let path = app.dir.join("training-report.pdf");
    std::fs::write(&path, &pdf)?;
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .map_err(|e| format!("pdftotext (Debian poppler-utils) is needed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Оқыту туралы есеп") && text.contains(&iin(383)),
        "{text}"
    );
    let (s, csv) = integrator
        .get_bytes(&format!("/api/v1/training/sessions/{id}/report?format=csv"))
        .await?;
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&csv).contains("ЖСН / ИИН"));
    // On time through the 21st; overdue after it, flagged once to the integrator.
    set(app, "2026-12-21T23:59:00")?;
    let integrator = app
        .signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
        .await?;
    let (_, v) = integrator
        .get(&format!("/api/v1/training/sessions/{id}"))
        .await?;
    assert_eq!(v["report_overdue"], false, "{v}");
    set(app, "2026-12-22T00:00:30")?;
    let (_, v) = integrator
        .get(&format!("/api/v1/training/sessions/{id}"))
        .await?;
    assert_eq!(v["report_overdue"], true, "{v}");
    let worker = worker(app, None);
    let first = worker.run_once().await?;
    let again = worker.run_once().await?;
    assert!(
        first.overdue_flags >= 1 && again.overdue_flags == 0,
        "{first:?} {again:?}"
    );
    let (_, notes) = integrator.get("/api/v1/notifications").await?;
    assert!(
        notes
            .to_string()
            .contains(&format!("training_session:{id}")),
        "{notes}"
    );
    let reviewer = app
        .signed_in(&iin(1), &demo_bin(MINFIN), NcaRole::Employee)
        .await?;
    let (_, deadlines) = reviewer
        .get("/api/v1/reports/deadlines?from=2026-12-01&to=2026-12-31")
        .await?;
    let item = deadlines["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["clock"] == "training_report")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        (item["due"].as_str(), item["outcome"].as_str()),
        (Some("2026-12-21"), Some("missed")),
        "{deadlines}"
    );
    // Sent signed by the integrator's head: other content or another organization's key is refused.
    let report_text = serde_json::to_string(&report)?;
    let signer = app.person(
        &iin(3),
        Some(&demo_bin(INTEGRATOR)),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let tampered = report_text.replace("\"attended\":1", "\"attended\":5");
    assert_ne!(tampered, report_text);
    let (s, v) = integrator
        .post(
            &format!("/api/v1/training/sessions/{id}/report"),
            &json!({"signed_cms": signer.sign(tampered.as_bytes())?}),
        )
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("report_content")),
        "{v}"
    );
    let outsider = app.person(
        &iin(382),
        Some(&demo_bin(241)),
        Some(NcaRole::FirstHead),
        KeyPurpose::Signing,
    )?;
    let (s, v) = integrator
        .post(
            &format!("/api/v1/training/sessions/{id}/report"),
            &json!({"signed_cms": outsider.sign(report_text.as_bytes())?}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (403, "certificate-wrong-bin"), "{v}");
    let cms = signer.sign(report_text.as_bytes())?;
    let (s, v) = integrator
        .post(
            &format!("/api/v1/training/sessions/{id}/report"),
            &json!({"signed_cms": cms}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["report_sent_at"].is_string() && v["report_overdue"] == false,
        "{v}"
    );
    let (s, evidence) = reviewer
        .get_bytes(&format!("/api/v1/training/sessions/{id}/report/evidence"))
        .await?;
    assert_eq!(s, 200);
    assert_eq!(base64_encode(&evidence), cms, "the signed bytes, unchanged");
    Ok(())
}

// Order 270 §14: a deputy turns to the support service about their grant; a support agent assigns
// and answers (the deputy is told in the app and by e-mail through the outbox), the deputy replies,
// the agent resolves. Another requester sees nothing of it; attachments are PDF/PNG/JPEG by content,
// at most 10 MiB. The first answer's clock (1 working day) is reported: met for this request, missed
// and flagged for one nobody answered.
async fn a_support_request_travels_from_a_deputy_to_support_and_back(app: &TestApp) -> R {
    let w = world(app).await?;
    let integ = demo_bin(INTEGRATOR);
    app.add_staff(&iin(5), &integ, "support_agent").await?;
    let agent = app.signed_in(&iin(5), &integ, NcaRole::Employee).await?;
    let deputy = granted_user(
        app,
        &w,
        43,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?
    .with_lang("kk");
    let stranger = granted_user(
        app,
        &w,
        44,
        K::Parliament,
        None,
        &[],
        &["analytical_central"],
    )
    .await?;
    let (s, v) = deputy
        .put(
            "/api/v1/me/profile",
            &json!({"email": "deputy@parlam.kz", "language": "kk"}),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (_, grants) = deputy.get("/api/v1/grants?own=true").await?;
    let grant = grants[0]["id"].as_i64().ok_or("no grant")?;
    let (_, theirs) = stranger.get("/api/v1/grants?own=true").await?;
    let their_grant = theirs[0]["id"].as_i64().ok_or("no grant")?;
    // Bad input names every field; a record that is not the caller's cannot be linked.
    let (s, v) = deputy
        .post(
            "/api/v1/support/requests",
            &json!({"category": "billing", "language": "en", "subject": " ", "message": "x"}),
        )
        .await?;
    assert_eq!(s, 400, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["/category", "/language", "/subject"], "{v}");
    let ask = |linked: i64| {
        json!({"category": "technical", "language": "kk", "subject": "Деректер ашылмайды",
        "message": "Шолушы бетінде 2026 жылдың деректері көрінбейді.", "linked": {"kind": "grant", "id": linked}})
    };
    let (s, v) = deputy
        .post("/api/v1/support/requests", &ask(their_grant))
        .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("linked_record")),
        "{v}"
    );
    let (s, v) = deputy.post("/api/v1/support/requests", &ask(grant)).await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().ok_or("no id")?;
    // Opened on Monday 7 December: the first answer is due by the end of Tuesday 8 December.
    assert_eq!(
        (v["status"].as_str(), v["first_answer_due"].as_str()),
        (Some("open"), Some("2026-12-08")),
        "{v}"
    );
    assert_eq!(v["linked"], json!({"kind": "grant", "id": grant}));
    // One requester's request is not another's, nor an integrator administrator's.
    for other in [&stranger, &w.integrator] {
        let (s, v) = other.get(&format!("/api/v1/support/requests/{id}")).await?;
        assert_eq!((s, problem_type(&v)), (404, "not-found"), "{v}");
        let (s, v) = other
            .post(
                &format!("/api/v1/support/requests/{id}/messages"),
                &json!({"message": "мен де"}),
            )
            .await?;
        assert_eq!((s, problem_type(&v)), (404, "not-found"), "{v}");
    }
    let (_, list) = stranger.get("/api/v1/support/requests").await?;
    assert_eq!(list, json!([]), "{list}");
    // Attachments: a PNG by its content; an HTML page named .pdf is refused; over 10 MiB is refused.
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(&[0u8; 64]);
    let upload = |path: String, bytes: Vec<u8>| {
        let url = format!("{}{path}", app.base);
        let token = deputy.token.clone();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token.unwrap_or_default())
                .header("content-type", "application/octet-stream")
                .body(bytes)
                .send()
                .await?;
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            Ok::<_, qoljetim::AnyError>((status, v))
        }
    };
    let (s, v) = upload(
        format!("/api/v1/support/requests/{id}/attachments?filename=screen.png"),
        png.clone(),
    )
    .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["content_type"].as_str(), v["filename"].as_str()),
        (Some("image/png"), Some("screen.png")),
        "{v}"
    );
    let attachment = v["id"].as_i64().ok_or("no attachment id")?;
    let (s, v) = upload(
        format!("/api/v1/support/requests/{id}/attachments?filename=report.pdf"),
        b"<html>hi</html>".to_vec(),
    )
    .await?;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (400, Some("attachment_type")),
        "{v}"
    );
    // Over 10 MiB declared: refused from the header, before a byte of the body is read (the client
    // writing a body the server no longer reads would see a broken pipe, so none is sent).
    let addr = app.base.trim_start_matches("http://").to_owned();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
    tcp.write_all(
        format!(
            "POST /api/v1/support/requests/{id}/attachments?filename=big.pdf HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            deputy.token.clone().unwrap_or_default(),
            10 * 1024 * 1024 + 1
        )
        .as_bytes(),
    )
    .await?;
    let mut answer = vec![];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await??;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413")
            && answer.contains("payload-too-large")
            && answer.contains("10485760"),
        "{answer}"
    );
    // The agent sees every request, assigns it, reads the attachment, answers.
    let (_, all) = agent.get("/api/v1/support/requests").await?;
    assert!(
        all.as_array()
            .is_some_and(|a| a.iter().any(|r| r["id"] == id)),
        "{all}"
    );
    let (s, v) = agent
        .post(&format!("/api/v1/support/requests/{id}/assign"), &json!({}))
        .await?;
    assert_eq!(
        (s, v["assignee"].as_str()),
        (200, Some(format!("{}@{integ}", iin(5)).as_str())),
        "{v}"
    );
    let (s, bytes) = agent
        .get_bytes(&format!(
            "/api/v1/support/requests/{id}/attachments/{attachment}"
        ))
        .await?;
    assert_eq!((s, bytes), (200, png));
    let (s, v) = agent
        .post(
            &format!("/api/v1/support/requests/{id}/messages"),
            &json!({"message": "Сүзгіде 2026 жылды таңдаңыз."}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "answered");
    assert!(
        v["first_answered_at"].is_string() && v["first_answer_overdue"] == false,
        "{v}"
    );
    // The deputy is told in the app and by e-mail (the outbox), in Kazakh.
    let (_, notes) = deputy.get("/api/v1/notifications").await?;
    assert!(
        notes.to_string().contains(&format!("support_request:{id}")),
        "{notes}"
    );
    let outbox = app.state.store.outbox(None).await?;
    let mail = outbox
        .iter()
        .find(|m| m.to_address == "deputy@parlam.kz")
        .ok_or("no e-mail to the deputy")?;
    assert!(
        mail.subject.contains("Қолдау қызметі") && mail.body.contains("Сүзгіде"),
        "{mail:?}"
    );
    // The deputy replies (open again), the agent resolves; a resolved request takes nothing more.
    let (s, v) = deputy
        .post(
            &format!("/api/v1/support/requests/{id}/messages"),
            &json!({"message": "Рахмет, шықты."}),
        )
        .await?;
    assert_eq!((s, v["status"].as_str()), (201, Some("open")), "{v}");
    let (s, v) = agent
        .post(
            &format!("/api/v1/support/requests/{id}/resolve"),
            &json!({}),
        )
        .await?;
    assert_eq!((s, v["status"].as_str()), (200, Some("resolved")), "{v}");
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(3), "{v}");
    let (s, v) = deputy
        .post(
            &format!("/api/v1/support/requests/{id}/messages"),
            &json!({"message": "тағы"}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (409, "wrong-state"), "{v}");
    // A second request nobody answers: past Tuesday it is missed and flagged to the support staff.
    let (s, v) = stranger
        .post("/api/v1/support/requests", &json!({"category": "training", "language": "ru", "subject": "Урок", "message": "Где урок?"}))
        .await?;
    assert_eq!(s, 201, "{v}");
    let unanswered = v["id"].as_i64().ok_or("no id")?;
    set(app, "2026-12-09T00:00:30")?;
    let worker = worker(app, None);
    assert!(worker.run_once().await?.overdue_flags >= 1);
    let agent = app.signed_in(&iin(5), &integ, NcaRole::Employee).await?;
    let (_, notes) = agent.get("/api/v1/notifications").await?;
    assert!(
        notes
            .to_string()
            .contains(&format!("support_request:{unanswered}")),
        "{notes}"
    );
    let reviewer = app
        .signed_in(&iin(1), &demo_bin(MINFIN), NcaRole::Employee)
        .await?;
    let (_, report) = reviewer
        .get("/api/v1/reports/deadlines?from=2026-12-01&to=2026-12-31")
        .await?;
    let clock = report["clocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["clock"] == "support_first_answer")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        (
            clock["working_days_allowed"].clone(),
            clock["met"].clone(),
            clock["missed"].clone()
        ),
        (json!(1), json!(1), json!(1)),
        "{report}"
    );
    // Audited: the opening and each message.
    let (_, audit) = reviewer.get("/api/v1/audit?limit=1000").await?;
    let actions: Vec<&str> = audit
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["resource"] == format!("support_request/{id}").as_str())
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"answer_support_request") && actions.contains(&"manage_support_request"),
        "{actions:?}"
    );
    Ok(())
}

// Order 270 §7, §12: every role's manual, in Kazakh and Russian, has a section for every page of its
// role, the same version and pages in both languages, and pictures the browser tests take.
#[test]
fn manuals_cover_every_page_of_their_role_in_both_languages() -> R {
    use qoljetim_web::pages::manuals::{MANUALS, ROLE_PAGES, manuals};
    let (kk, ru) = (manuals("kk"), manuals("ru"));
    assert_eq!(
        (kk.len(), ru.len()),
        (MANUALS.len(), MANUALS.len()),
        "every manual parses"
    );
    let images = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images");
    for (role, name, pages) in ROLE_PAGES {
        for list in [&kk, &ru] {
            let m = list
                .iter()
                .find(|m| m.name == name)
                .ok_or(format!("no manual {name}"))?;
            for page in pages {
                assert!(
                    m.pages.iter().any(|p| p == page),
                    "{name} ({}) for {role}: no section for {page}",
                    m.language
                );
            }
            for (_, file) in m
                .body
                .match_indices("../../images/")
                .map(|(i, _)| ((), &m.body[i + 13..]))
            {
                let f = file.split(')').next().unwrap_or_default();
                assert!(
                    images.join(f).exists(),
                    "{name}: picture {f} is not in docs/images"
                );
            }
        }
        let (a, b) = (
            kk.iter().find(|m| m.name == name).ok_or("kk")?,
            ru.iter().find(|m| m.name == name).ok_or("ru")?,
        );
        assert_eq!(
            (a.version, &a.pages),
            (b.version, &b.pages),
            "{name}: the languages differ"
        );
    }
    // Every manual serves a role, and every lesson file's pictures exist too.
    for (name, _, _) in MANUALS {
        assert!(
            ROLE_PAGES.iter().any(|(_, m, _)| *m == name),
            "{name} serves no role"
        );
    }
    for f in qoljetim::shipped_lessons() {
        let l = qoljetim_domain::training::Lesson::parse(&f.name, &f.text)?;
        assert!(l.questions.len() >= 5, "{}", f.name);
        for s in l.steps.iter().filter_map(|s| s.image.as_deref()) {
            assert!(
                images.join(s.trim_start_matches("docs/images/")).exists(),
                "{}: {s}",
                f.name
            );
        }
    }
    Ok(())
}

// Order 270 §7: a manual's page shows what changed since the version its reader last read (once),
// the manuals are searched in the page's language, and a new grant's notice links its system's manual.
async fn manuals_show_what_changed_since_the_version_read_and_are_searchable(app: &TestApp) -> R {
    let w = world(app).await?;
    let head = app
        .signed_in(&iin(10), &w.bin, NcaRole::FirstHead)
        .await?
        .with_lang("ru");
    // The head read version 1 before this version came out.
    app.state
        .store
        .commit(
            qoljetim_store::Change::Training(Box::new(
                qoljetim_store::TrainingChange::ManualRead {
                    iin: iin(10),
                    bin: w.bin.clone(),
                    manual: "head".into(),
                    version: 1,
                    at: 0,
                },
            )),
            qoljetim::cli_audit("cli:test", "read_manual", "manual/head".into(), json!({})),
        )
        .await?;
    let page = |c: &ApiClient, path: &str| {
        let url = format!("{}{path}", app.base);
        let (token, lang) = (c.token.clone().unwrap_or_default(), c.lang.clone());
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .header("accept-language", lang)
                .send()
                .await?;
            Ok::<_, qoljetim::AnyError>((r.status().as_u16(), r.text().await?))
        }
    };
    let (s, html) = page(&head, "/manuals/head").await?;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.contains("Изменилось после прочитанной вами версии 1"),
        "{html}"
    );
    assert!(
        html.contains("Запись сотрудников на интерактивные занятия"),
        "the v2 change: {html}"
    );
    assert!(
        html.contains(r#"src="/docs/images/01-sign-in.png""#),
        "pictures are served: {html}"
    );
    assert!(
        !html.contains("<!-- page:"),
        "markers and raw HTML are not rendered"
    );
    let (_, again) = page(&head, "/manuals/head").await?;
    assert!(
        !again.contains("Изменилось после прочитанной"),
        "shown once"
    );
    let (s, png) = head.get_bytes("/docs/images/01-sign-in.png").await?;
    assert_eq!((s, &png[..4]), (200, &[0x89, b'P', b'N', b'G'][..]));
    // Search in Kazakh finds the Kazakh sections.
    let (s, html) = page(&head.with_lang("kk"), "/manuals?q=%D2%9B%D0%BE%D0%BB%D0%B4%D0%B0%D1%83+%D2%9B%D1%8B%D0%B7%D0%BC%D0%B5%D1%82%D1%96").await?;
    assert_eq!(s, 200);
    assert!(
        html.contains("/manuals/support#") && html.contains("Табылды"),
        "{html}"
    );
    // A new grant's notice links the system's manual (the worker sends it once).
    let deputy =
        granted_untrained(app, &w, 46, K::Parliament, None, &[], &["state_planning"]).await?;
    let worker = worker(app, None);
    assert!(worker.run_once().await?.grant_notices >= 1);
    assert_eq!(worker.run_once().await?.grant_notices, 0, "once");
    let (_, notes) = deputy.get("/api/v1/notifications").await?;
    assert!(
        notes.to_string().contains("/manuals/user-state-planning"),
        "{notes}"
    );
    Ok(())
}

// Order 270 §10 (issue 17): submitted on Monday 7 December 2026, a change request's agreement is due by
// the end of Monday 14 December (5 working days); on time through then, flagged once to the integrator
// after it, and `missed` in the deadline report.
async fn an_unagreed_change_request_is_flagged_after_five_working_days(app: &TestApp) -> R {
    let w = world(app).await?;
    let (s, v) = w
        .integrator
        .post(
            "/api/v1/change-requests",
            &json!({"title": "T", "what": "W", "why": "Y", "component": "access",
            "risk": "R", "rollback": "B"}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().ok_or("no id")?;
    assert_eq!(v["agreement_due"], "2026-12-14", "{v}");
    let worker = worker(app, None);
    set(app, "2026-12-14T23:59:00")?;
    assert_eq!(
        worker.run_once().await?.overdue_flags,
        0,
        "due through the 14th"
    );
    set(app, "2026-12-15T00:00:30")?;
    assert!(worker.run_once().await?.overdue_flags >= 1);
    assert_eq!(worker.run_once().await?.overdue_flags, 0, "once");
    let integrator = app
        .signed_in(&iin(2), &demo_bin(INTEGRATOR), NcaRole::Employee)
        .await?;
    let (_, notes) = integrator.get("/api/v1/notifications").await?;
    assert!(
        notes.to_string().contains(&format!("change_request:{id}")),
        "{notes}"
    );
    let (_, v) = integrator
        .get(&format!("/api/v1/change-requests/{id}"))
        .await?;
    assert_eq!(v["agreement_overdue"], true, "{v}");
    let (_, report) = integrator
        .get("/api/v1/reports/deadlines?from=2026-12-01&to=2026-12-31")
        .await?;
    let item = report["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["clock"] == "change_agreement")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(item["outcome"], "missed", "{report}");
    Ok(())
}
