//! Signing by phone (issue 14, docs/egov-mobile.md): the eGov apps' QR signing over real HTTP, with the
//! development app (`qoljetim dev-egov-app`'s code) signing with development keys, on SQLite and
//! PostgreSQL. The clock is fixed so that a code can be let expire.

use super::*;
use crate::pages::{document_of, form_fields, set_field, unescape_html};
use qoljetim::dev_egov::sign_scanned;
use qoljetim_devca::egov_app::{EgovApp, FakeEgovApp};
use qoljetim_devca::ncalayer::StoredKey;

on_both_databases!(sqlite_mobile, postgres_mobile;
    (|db| TestApp::spawn_at(db, KeyKind::P256, "2026-12-03T05:00:00Z".parse()?));
    a_phone_signs_in_through_the_published_qr_flow,
    a_phone_signs_documents_composed_on_the_page,
);

fn app_with(which: EgovApp, k: &KeyPair) -> FakeEgovApp {
    FakeEgovApp {
        app: which,
        key: StoredKey {
            cert: k.cert.clone(),
            key: k.key.clone(),
        },
    }
}

/// A browser without redirects or a cookie jar: the test carries the cookies itself.
fn browser() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// A started signing as the browser holds it: its page and the secret cookie scoped to it.
struct Started {
    page: String,
    cookie: String,
}

/// Follows the 303 a start answers with, checking the cookie is HttpOnly and scoped to the request.
fn started(r: &reqwest::Response) -> Result<Started, qoljetim::AnyError> {
    assert_eq!(r.status().as_u16(), 303, "{r:?}");
    let page = header_of(r, "location");
    assert!(page.starts_with("/sign/mobile/"), "{page}");
    let set = header_of(r, "set-cookie");
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.contains(&format!("Path={page}")),
        "{set}"
    );
    let cookie = set.split(';').next().ok_or("no cookie")?.trim().to_owned();
    assert!(cookie.starts_with("qoljetim_mobile_signing="), "{cookie}");
    Ok(Started { page, cookie })
}

/// The QR code's text, as the page shows it under the code.
fn qr_text(html: &str) -> Option<String> {
    let start = html.find(r#"<code id="qr-text">"#)? + r#"<code id="qr-text">"#.len();
    let end = html[start..].find("</code>")?;
    Some(unescape_html(&html[start..start + end]))
}

async fn start_sign_in(app: &TestApp) -> Result<(Started, String), qoljetim::AnyError> {
    let http = browser()?;
    let r = http
        .post(format!("{}/sign/mobile", app.base))
        .header("Accept-Language", "ru")
        .send()
        .await?;
    let s = started(&r)?;
    let html = http
        .get(format!("{}{}", app.base, s.page))
        .header("Cookie", &s.cookie)
        .header("Accept-Language", "ru")
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains("<svg") && html.contains("Подпись в eGov business"),
        "{html}"
    );
    let qr = qr_text(&html).ok_or_else(|| format!("no QR text: {html}"))?;
    assert!(
        qr.starts_with(&format!("mobileSign:{}/api/v1/mobile-signing/", app.base)),
        "{qr}"
    );
    assert!(
        unescape_html(&html).contains(&format!(
            r#"href="https://egovbusiness.page.link/?link={}"#,
            qr.trim_start_matches("mobileSign:")
                .replace(':', "%3A")
                .replace('/', "%2F")
        )),
        "the cross-link for a phone: {html}"
    );
    Ok((s, qr))
}

async fn state_of(app: &TestApp, s: &Started) -> Result<(u16, Value), qoljetim::AnyError> {
    let r = browser()?
        .get(format!("{}{}/status", app.base, s.page))
        .header("Cookie", &s.cookie)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await?))
}

async fn finish(
    app: &TestApp,
    s: &Started,
    cookie: &str,
) -> Result<reqwest::Response, qoljetim::AnyError> {
    Ok(browser()?
        .post(format!("{}{}/finish", app.base, s.page))
        .header("Cookie", cookie)
        .header("Accept-Language", "ru")
        .send()
        .await?)
}

// Order 270 §11 through the eGov apps' QR flow: only the organization's key signs in — a personal key
// (eGov mobile) and a signing key are refused with words the browser shows; a signature of other
// content, a wrong bearer token, another browser and an expired code are refused; the genuine
// signature gives the session to the browser that started the signing, once.
async fn a_phone_signs_in_through_the_published_qr_flow(app: &TestApp) -> R {
    let w = world(app).await?;
    let employee = w.employee(app)?;
    let http = reqwest::Client::new();

    // eGov mobile holds a person's own key: not a legal entity's, refused (§11).
    let (s, qr) = start_sign_in(app).await?;
    let personal = app.person(&iin(30), None, None, KeyPurpose::Authentication)?;
    let a = sign_scanned(&qr, &app_with(EgovApp::Mobile, &personal)).await?;
    assert_eq!(
        (a.status, problem_type(&a.body)),
        (401, "certificate-not-legal-entity"),
        "{:?}",
        a.body
    );
    assert_eq!(state_of(app, &s).await?.1["state"], "refused");
    let r = finish(app, &s, &s.cookie).await?;
    assert_eq!(r.status().as_u16(), 401);
    assert!(header_of(&r, "set-cookie").is_empty(), "no session");
    let html = unescape_html(&r.text().await?);
    assert!(
        html.contains(r#"<a href="/sign-in" id="try-again">Начать заново</a>"#),
        "{html}"
    );
    assert!(html.contains("юридическ"), "the refusal in words: {html}");

    // The organization's signing key is not its authentication key (DESIGN.md §4).
    let (_, qr) = start_sign_in(app).await?;
    let a = sign_scanned(&qr, &app_with(EgovApp::Business, &w.head_sign)).await?;
    assert_eq!(
        (a.status, problem_type(&a.body)),
        (401, "certificate-not-authentication-key"),
        "{:?}",
        a.body
    );

    // The protocol's guards, on a fresh code.
    let (s, qr) = start_sign_in(app).await?;
    let service_url = qr.trim_start_matches("mobileSign:").to_owned();
    let service: Value = http.get(&service_url).send().await?.json().await?;
    assert_eq!(service["document"]["auth_type"], "Bearer");
    assert_eq!(
        service["document"]["uri"],
        format!("{service_url}/document").as_str()
    );
    assert!(
        service["expiry_date"]
            .as_str()
            .is_some_and(|d| d.parse::<Timestamp>().is_ok())
    );
    assert!(
        service["organisation"]["nameRu"]
            .as_str()
            .is_some_and(|n| n.contains("Qoljetim"))
    );
    let uri = service["document"]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = service["document"]["auth_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = http.get(&uri).bearer_auth("forged-token").send().await?;
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await?;
    assert_eq!(problem_type(&v), "mobile-signing-token", "{v}");
    let documents: Value = http
        .get(&uri)
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(documents["signMethod"], "CMS_WITH_DATA");
    let challenge = base64_decode(
        documents["documentsToSign"][0]["document"]["file"]["data"]
            .as_str()
            .unwrap_or_default(),
    );
    // A signature of other content (a challenge of its own) is not this code's: refused, and the
    // request still waits for the genuine one.
    let mut other = documents.clone();
    other["documentsToSign"][0]["document"]["file"]["data"] =
        json!(employee.sign(app.client().challenge().await?.as_bytes())?);
    let r = http
        .put(&uri)
        .bearer_auth(&token)
        .json(&other)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 422);
    let v: Value = r.json().await?;
    assert_eq!(problem_type(&v), "mobile-signing-content-mismatch", "{v}");
    assert_eq!(state_of(app, &s).await?.1["state"], "waiting");
    // Not signed yet: the browser is sent back to the code.
    let r = finish(app, &s, &s.cookie).await?;
    assert_eq!(
        (r.status().as_u16(), header_of(&r, "location")),
        (303, s.page.clone())
    );
    // The employee's authentication key of the registered organization signs in.
    let mut signed = documents.clone();
    signed["documentsToSign"][0]["document"]["file"]["data"] = json!(employee.sign(&challenge)?);
    let r = http
        .put(&uri)
        .bearer_auth(&token)
        .json(&signed)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await?, json!({}));
    let r = http
        .put(&uri)
        .bearer_auth(&token)
        .json(&signed)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 409, "signed once");
    assert_eq!(state_of(app, &s).await?.1["state"], "signed");
    // Another browser (without the secret, or with another request's) gets nothing.
    let (other_start, _) = start_sign_in(app).await?;
    for cookie in ["", other_start.cookie.as_str()] {
        let r = finish(app, &s, cookie).await?;
        assert_eq!(r.status().as_u16(), 401, "{cookie}");
        assert!(!header_of(&r, "set-cookie").contains("qoljetim_session"));
        assert!(r.text().await?.contains("Этот запрос на подпись не ваш"));
    }
    // The browser that started it gets the session, once.
    let r = finish(app, &s, &s.cookie).await?;
    assert_eq!(
        (r.status().as_u16(), header_of(&r, "location")),
        (303, "/".to_owned())
    );
    let set = header_of(&r, "set-cookie");
    let session = set
        .split(';')
        .next()
        .filter(|c| c.starts_with("qoljetim_session="))
        .ok_or_else(|| format!("no session cookie: {set}"))?
        .to_owned();
    let me: Value = http
        .get(format!("{}/api/v1/me", app.base))
        .header("Cookie", &session)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["person"]["iin"], iin(11).as_str(), "{me}");
    assert_eq!(me["organization"]["bin"], w.bin.as_str(), "{me}");
    let r = finish(app, &s, &s.cookie).await?;
    assert_eq!(r.status().as_u16(), 409, "collected once");
    // The sign-in is audited as any other (the signature's evidence included).
    let (_, audit) = w.integrator.get("/api/v1/audit?limit=1000").await?;
    let logins: Vec<&Value> = audit
        .as_array()
        .or(audit["entries"].as_array())
        .map(|a| {
            a.iter()
                .filter(|e| e["action"] == "login" && e["outcome"] == "allowed")
                .collect()
        })
        .unwrap_or_default();
    assert!(
        logins
            .iter()
            .any(|e| e["actor"] == format!("{}@{}", iin(11), w.bin)),
        "{audit}"
    );

    // An expired code is refused to the app and to the browser.
    let (s, qr) = start_sign_in(app).await?;
    app.state.clock.set(app.state.clock.now() + 301.seconds());
    let a = sign_scanned(&qr, &app_with(EgovApp::Business, &employee)).await?;
    assert_eq!(
        (a.status, problem_type(&a.body)),
        (410, "mobile-signing-expired"),
        "{:?}",
        a.body
    );
    assert_eq!(state_of(app, &s).await?.1["state"], "expired");
    let r = finish(app, &s, &s.cookie).await?;
    assert_eq!(r.status().as_u16(), 410);
    assert!(r.text().await?.contains("Срок QR-кода истёк"));
    Ok(())
}

/// One valid line for the maslikhat's employee (IIN 11), and the head's name.
fn fill_application(fields: &mut Vec<(String, String)>, until: &str) {
    for (k, v) in [
        ("head-surname", "Әбенова"),
        ("head-name", "Айгүл"),
        ("systems", "state_planning"),
        ("lines-0-surname", "Сейітова"),
        ("lines-0-name", "Динара"),
        ("lines-0-iin", &iin(11)),
        ("lines-0-position", "бас маман"),
        ("lines-0-unit", "бюджет бөлімі"),
        ("lines-0-phone", "+7 7172 000000"),
        ("lines-0-email", "d@maslikhat.example.kz"),
        ("lines-0-purpose", "мемлекеттік аудит"),
        ("lines-0-access_until", until),
        ("lines-0-eqyzmet_qr", "EQYZMET:QR"),
    ] {
        set_field(fields, k, v);
    }
}

// Order 270 §8 and §9 by phone: the application composed and checked on the page is what the phone
// signs; a form that does not pass is not put on a phone; the signed application is the one shown, and
// the browser opens it; then the block request of a dismissed employee, signed the same way, blocks.
async fn a_phone_signs_documents_composed_on_the_page(app: &TestApp) -> R {
    let w = world(app).await?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let http = browser()?;
    let cookie = format!(
        "qoljetim_session={}; qoljetim_lang=ru",
        head.token.clone().unwrap_or_default()
    );
    let post = |fields: Vec<(String, String)>| {
        http.post(format!("{}/applications/new", app.base))
            .header("Cookie", cookie.clone())
            .header("Origin", app.base.clone())
            .form(&fields)
            .send()
    };
    let html = http
        .get(format!("{}/applications/new", app.base))
        .header("Cookie", cookie.clone())
        .send()
        .await?
        .text()
        .await?;
    let mut fields = form_fields(&html);
    // Not passing (no head, no IIN): the rules are shown, no signing starts.
    let mut bad = fields.clone();
    bad.push(("action".into(), "mobile".into()));
    let r = post(bad).await?;
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await?;
    assert!(
        page.contains("aria-invalid") && !page.contains("qr-text"),
        "{page}"
    );
    let until = plus_months(today(app), 6);
    fill_application(&mut fields, &until);
    fields.push(("action".into(), "mobile".into()));
    let s = started(&post(fields).await?)?;
    let html = http
        .get(format!("{}{}", app.base, s.page))
        .header("Cookie", format!("{}; qoljetim_lang=ru", s.cookie))
        .send()
        .await?
        .text()
        .await?;
    let document = document_of(&html).ok_or_else(|| format!("no document: {html}"))?;
    let shown: Value = serde_json::from_str(&document)?;
    assert_eq!(shown["lines"][0]["iin"], iin(11).as_str());
    let qr = qr_text(&html).ok_or("no QR text")?;
    // The head's authentication key is not a signing key: refused, and the browser is told.
    let auth = app.person(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Authentication,
    )?;
    let a = sign_scanned(&qr, &app_with(EgovApp::Business, &auth)).await?;
    assert_eq!(
        (a.status, problem_type(&a.body)),
        (403, "certificate-not-signing-key"),
        "{:?}",
        a.body
    );
    let (_, listed) = head.get("/api/v1/applications").await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "nothing stored");
    // Again, signed with the head's signing key in eGov business: submitted.
    let mut fields = form_fields(
        &http
            .get(format!("{}/applications/new", app.base))
            .header("Cookie", cookie.clone())
            .send()
            .await?
            .text()
            .await?,
    );
    fill_application(&mut fields, &until);
    fields.push(("action".into(), "mobile".into()));
    let s = started(&post(fields).await?)?;
    let html = http
        .get(format!("{}{}", app.base, s.page))
        .header("Cookie", &s.cookie)
        .send()
        .await?
        .text()
        .await?;
    let qr = qr_text(&html).ok_or("no QR text")?;
    let a = sign_scanned(&qr, &app_with(EgovApp::Business, &w.head_sign)).await?;
    assert_eq!((a.status, &a.body), (200, &json!({})));
    let r = finish(app, &s, &s.cookie).await?;
    let at = header_of(&r, "location");
    let id: i64 = at
        .strip_prefix("/applications/")
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| format!("not an application's page: {at}"))?;
    let (st, v) = head.get(&format!("/api/v1/applications/{id}")).await?;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "submitted");
    assert_eq!(v["lines"][0]["iin"], iin(11).as_str());
    assert_eq!(v["lines"][0]["access_until_effective"], until.as_str());
    // Order 270 §9 by phone: granted, the employee is dismissed; the head composes the block request
    // on the page and signs it in eGov business; the grant is blocked at once and the browser opens
    // the organization's block requests.
    approve_and_grant(&w, id).await?;
    let block_page = |cookie: String| {
        http.get(format!("{}/block-requests/new", app.base))
            .header("Cookie", cookie)
            .send()
    };
    let mut fields = form_fields(&block_page(cookie.clone()).await?.text().await?);
    let today = today(app).to_string();
    for (k, v) in [
        ("lines-0-iin", iin(11)),
        ("lines-0-reason", "dismissed".to_owned()),
        ("lines-0-effective_date", today),
    ] {
        set_field(&mut fields, k, &v);
    }
    fields.push(("action".into(), "mobile".into()));
    let r = http
        .post(format!("{}/block-requests/new", app.base))
        .header("Cookie", cookie.clone())
        .header("Origin", app.base.clone())
        .form(&fields)
        .send()
        .await?;
    let s = started(&r)?;
    let html = http
        .get(format!("{}{}", app.base, s.page))
        .header("Cookie", &s.cookie)
        .send()
        .await?
        .text()
        .await?;
    let shown: Value = serde_json::from_str(&document_of(&html).ok_or("no document")?)?;
    assert_eq!(shown["lines"][0]["iin"], iin(11).as_str());
    let qr = qr_text(&html).ok_or("no QR text")?;
    let a = sign_scanned(&qr, &app_with(EgovApp::Business, &w.head_sign)).await?;
    assert_eq!((a.status, &a.body), (200, &json!({})));
    let r = finish(app, &s, &s.cookie).await?;
    assert_eq!(
        (r.status().as_u16(), header_of(&r, "location")),
        (303, "/#block-requests".to_owned())
    );
    let (st, v) = head.get("/api/v1/block-requests").await?;
    assert_eq!(st, 200, "{v}");
    let lines = &v["block_requests"][0]["lines"][0];
    assert_eq!(lines["iin"], iin(11).as_str(), "{v}");
    assert!(
        lines["blocked_grants"].as_i64().is_some_and(|n| n >= 1),
        "{v}"
    );
    Ok(())
}

on_both_databases!(sqlite_browser_mobile, postgres_browser_mobile; database;
    browser_signs_in_and_applies_with_egov_business,
);

/// The QR code's text the page shows (under "The code's text").
async fn scanned(b: &fantoccini::Client) -> Result<String, qoljetim::AnyError> {
    let v = b
        .execute(
            "return document.getElementById('qr-text').textContent;",
            vec![],
        )
        .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// Issue 14 item 4 in Chromium: the head of the Almaty maslikhat signs in by phone — eGov mobile's
/// personal key is refused in words (Order 270 §11), eGov business's key of the organization signs in
/// — then composes an application and signs it by phone with the signing key (§8); the page follows
/// the phone by itself (its script polls) and opens the submitted application. axe finds no serious
/// or critical violation on the QR pages.
async fn browser_signs_in_and_applies_with_egov_business(db: Option<&str>) -> R {
    use crate::pages::{Chromedriver, axe_violations, shot, wait_for, wait_for_text, wait_for_url};
    use fantoccini::Locator;
    let app = TestApp::spawn(db, KeyKind::P256).await?;
    let base = app.base.clone();
    let r = async {
        let w = world(&app).await?;
        let head_auth = app.person(
            &iin(10),
            Some(&w.bin),
            Some(NcaRole::FirstHead),
            KeyPurpose::Authentication,
        )?;
        let personal = app.person(&iin(30), None, None, KeyPurpose::Authentication)?;
        let driver = Chromedriver::start().await?;
        let b = driver.browser().await?;
        let result = async {
            b.goto(&format!("{base}/language/ru?back=/sign-in")).await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            b.find(Locator::Id("sign-in-phone")).await?.click().await?;
            wait_for(&b, |u| u.contains("/sign/mobile/")).await?;
            wait_for_text(&b, "mobile-status", "Ждём подпись с телефона").await?;
            shot(&b, "10-sign-in-with-egov-business").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the QR page: {violations:#?}");
            // eGov mobile signs with a personal key: the page shows the refusal by itself.
            let a =
                sign_scanned(&scanned(&b).await?, &app_with(EgovApp::Mobile, &personal)).await?;
            assert_eq!(a.status, 401, "{:?}", a.body);
            wait_for_text(&b, "main", "Требуется сертификат юридического лица").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the refusal: {violations:#?}");
            b.find(Locator::Id("try-again")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            // eGov business holds the organization's key: signed in.
            b.find(Locator::Id("sign-in-phone")).await?.click().await?;
            wait_for(&b, |u| u.contains("/sign/mobile/")).await?;
            let a = sign_scanned(
                &scanned(&b).await?,
                &app_with(EgovApp::Business, &head_auth),
            )
            .await?;
            assert_eq!(a.status, 200, "{:?}", a.body);
            wait_for_url(&b, &format!("{base}/")).await?;
            wait_for_text(&b, "main", "Заявки вашей организации").await?;
            // An application composed on the page, signed by phone.
            b.goto(&format!("{base}/applications/new")).await?;
            let until = plus_months(today(&app), 6);
            let mut filled = vec![];
            fill_application(&mut filled, &until);
            for (id, value) in filled.iter().filter(|(k, _)| k != "systems") {
                b.execute(
                    "document.getElementById(arguments[0]).value = arguments[1];",
                    vec![json!(id), json!(value)],
                )
                .await?;
            }
            b.find(Locator::Css(
                r#"input[name="systems"][value="state_planning"]"#,
            ))
            .await?
            .click()
            .await?;
            b.find(Locator::Css(r#"button[value="check"]"#))
                .await?
                .click()
                .await?;
            wait_for_text(&b, "ready", "Готово к подписи").await?;
            b.find(Locator::Id("sign-phone-button"))
                .await?
                .click()
                .await?;
            wait_for(&b, |u| u.contains("/sign/mobile/")).await?;
            wait_for_text(&b, "document", iin(11).as_str()).await?;
            shot(&b, "11-application-signed-by-phone").await?;
            let violations = axe_violations(&b).await?;
            assert!(
                violations.is_empty(),
                "axe on the document's QR page: {violations:#?}"
            );
            let a = sign_scanned(
                &scanned(&b).await?,
                &app_with(EgovApp::Business, &w.head_sign),
            )
            .await?;
            assert_eq!(a.status, 200, "{:?}", a.body);
            let at = wait_for(&b, |u| u.contains("/applications/") && !u.ends_with("/new")).await?;
            wait_for_text(&b, "main", "на рассмотрении").await?;
            let id: i64 = at.rsplit('/').next().unwrap_or_default().parse()?;
            let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
            let (s, v) = head.get(&format!("/api/v1/applications/{id}")).await?;
            assert_eq!((s, &v["lines"][0]["iin"]), (200, &json!(iin(11))), "{v}");
            Ok::<(), qoljetim::AnyError>(())
        }
        .await;
        let _ = b.close().await;
        result
    }
    .await;
    app.cleanup().await;
    r
}

// Issue 21: with several instances, a signing request waits in the memory of the instance that made it;
// a named instance puts its name before the request's id, so the proxy sends the page's and the phone's
// calls to it. The flow is unchanged; a name that breaks the rule stops the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_instance_names_its_signing_requests() -> R {
    let bad = TestApp::spawn_configured(None, KeyKind::P256, |c| {
        c.mobile_signing.instance = "A-1".into();
    })
    .await;
    let e = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.contains("mobile_signing.instance must be up to 16 lower-case letters"),
        "{e}"
    );

    let app = TestApp::spawn_configured(None, KeyKind::P256, |c| {
        c.mobile_signing.instance = "a1".into();
    })
    .await?;
    let w = world(&app).await?;
    let (s, qr) = start_sign_in(&app).await?;
    assert!(s.page.starts_with("/sign/mobile/a1."), "{}", s.page);
    assert!(qr.contains("/api/v1/mobile-signing/a1."), "{qr}");
    let a = sign_scanned(&qr, &app_with(EgovApp::Business, &w.employee(&app)?)).await?;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(state_of(&app, &s).await?.1["state"], "signed");
    let r = finish(&app, &s, &s.cookie).await?;
    assert!(
        header_of(&r, "set-cookie").contains("qoljetim_session="),
        "a session"
    );
    app.cleanup().await;
    Ok(())
}
