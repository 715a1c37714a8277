//! The pages (issue 13): server-rendered HTML over real HTTP, and a real browser (Debian's chromium
//! through chromium-driver) signing with the development NCALayer, on SQLite and PostgreSQL.

use super::*;

on_both_databases!(sqlite_pages, postgres_pages; (|db| TestApp::spawn(db, KeyKind::P256));
    pages_sign_in_language_home_and_sign_out,
    development_ncalayer_signs_a_sign_in_over_its_websocket,
    pages_review_and_grant_forms,
    pages_compose_check_and_sign_an_application,
    pages_compose_a_block_request,
    operators_register_an_organization_and_resend_an_email,
);

on_both_databases!(sqlite_pages_data, postgres_pages_data;
    (|db| TestApp::spawn_with_data(db, KeyKind::P256, 3_000));
    explorer_groups_drills_and_refuses_outside_the_scope,
);

on_both_databases!(sqlite_browser, postgres_browser; database;
    browser_whole_path_with_ncalayer,
    browser_enrols_in_a_session_and_asks_support,
    browser_recertifies_with_ncalayer,
);

// Issue 13: the pages — signed out to the sign-in page (NCALayer client vendored, CSP without inline
// scripts), the language chosen and remembered, no open redirect, the reviewer's queue on the home page
// (Order 270 §9), and sign-out: refused cross-site, and after it the session is gone.
async fn pages_sign_in_language_home_and_sign_out(app: &TestApp) -> R {
    let w = world(app).await?;
    let id = submit_two_lines(app, &w).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let header = |r: &reqwest::Response, h: &str| {
        r.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let r = http.get(format!("{}/", app.base)).send().await?;
    assert_eq!(
        (r.status().as_u16(), header(&r, "location")),
        (303, "/sign-in".into())
    );
    // A session cookie that no longer works sends the browser to sign in as well.
    let r = http
        .get(format!("{}/", app.base))
        .header("Cookie", "qoljetim_session=expired-or-forged")
        .send()
        .await?;
    assert_eq!(
        (r.status().as_u16(), header(&r, "location")),
        (303, "/sign-in".into())
    );
    let r = http
        .get(format!("{}/sign-in", app.base))
        .header("Accept-Language", "ru")
        .send()
        .await?;
    let csp = header(&r, "content-security-policy");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' wss://127.0.0.1:13579"),
        "{csp}"
    );
    let html = r.text().await?;
    assert!(
        html.contains("Войти через NCALayer") && html.contains(r#"<html lang="ru">"#),
        "{html}"
    );
    // The language switch remembers the choice and goes back, only to a path of this site.
    let r = http
        .get(format!("{}/language/en?back=/sign-in", app.base))
        .send()
        .await?;
    assert_eq!(header(&r, "location"), "/sign-in");
    assert!(header(&r, "set-cookie").starts_with("qoljetim_lang=en;"));
    let r = http
        .get(format!("{}/language/kk?back=//evil.example/x", app.base))
        .send()
        .await?;
    assert_eq!(header(&r, "location"), "/");
    let r = http
        .get(format!("{}/sign-in", app.base))
        .header("Accept-Language", "ru")
        .header("Cookie", "qoljetim_lang=en")
        .send()
        .await?;
    assert!(r.text().await?.contains("Sign in with NCALayer"));
    // The vendored NCALayer client is served as recorded.
    let r = http
        .get(format!(
            "{}/static/vendor/ncalayer-js-client/ncalayer-client.js",
            app.base
        ))
        .send()
        .await?;
    assert_eq!(header(&r, "content-type"), "text/javascript; charset=utf-8");
    let sum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(r.bytes().await?));
    let recorded = include_str!("../../../web/static/vendor/ncalayer-js-client/SHA256SUMS");
    assert!(recorded.starts_with(&sum), "{sum} vs {recorded}");
    // The reviewer's home page: the queue with the submitted application.
    let cookie = format!(
        "qoljetim_session={}; qoljetim_lang=en",
        w.reviewer.token.clone().unwrap_or_default()
    );
    let r = http
        .get(format!("{}/", app.base))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await?;
    assert!(
        html.contains("Applications to review") && html.contains(&format!("№ {id}")),
        "{html}"
    );
    // Sign-out: a cross-site form is refused and the session stays; from this site it ends.
    let r = http
        .post(format!("{}/sign-out", app.base))
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    let (s, _) = w.reviewer.get("/api/v1/me").await?;
    assert_eq!(s, 200);
    let host = app.base.trim_start_matches("http://").to_owned();
    let r = http
        .post(format!("{}/sign-out", app.base))
        .header("Cookie", &cookie)
        .header("Origin", format!("http://{host}"))
        .send()
        .await?;
    assert_eq!(
        (r.status().as_u16(), header(&r, "location")),
        (303, "/sign-in".into())
    );
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    let (s, v) = w.reviewer.get("/api/v1/me").await?;
    assert_eq!((s, problem_type(&v)), (401, "session-expired"));
    Ok(())
}

// Issue 13: the development NCALayer speaks NCALayer's protocol over a real WebSocket, as the page's
// ncalayer-js-client does: greeting, `basics.sign` with the authentication key over the challenge, the
// CMS accepted by sign-in (Order 270 §11); a cancelled dialog answers without a result; the KAZTOKEN
// probe of another module is an error.
async fn development_ncalayer_signs_a_sign_in_over_its_websocket(app: &TestApp) -> R {
    use futures_util::{SinkExt, StreamExt};
    use qoljetim_devca::ncalayer::{FakeNcaLayer, StoredKey};
    use tokio_tungstenite::tungstenite::Message;
    let w = world(app).await?;
    let auth = w.employee(app)?;
    let start = |cancel: bool| {
        let fake = FakeNcaLayer {
            authentication: Some(StoredKey {
                cert: auth.cert.clone(),
                key: auth.key.clone(),
            }),
            signing: None,
            cancel,
        };
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(qoljetim_devca::ncalayer::serve(
                listener,
                std::sync::Arc::new(fake),
            ));
            let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}")).await?;
            Ok::<_, qoljetim::AnyError>(ws)
        }
    };
    let text = |m: Option<Result<Message, _>>| -> Result<Value, qoljetim::AnyError> {
        match m {
            Some(Ok(Message::Text(t))) => Ok(serde_json::from_str(t.as_str())?),
            other => Err(format!("no text message: {other:?}").into()),
        }
    };
    let mut ws = start(false).await?;
    assert_eq!(
        text(ws.next().await)?,
        json!({"result": {"version": "1.4"}})
    );
    ws.send(Message::text(
        json!({"module": "kz.digiflow.mobile.extensions", "method": "getVersion"}).to_string(),
    ))
    .await?;
    assert_eq!(text(ws.next().await)?["status"], false);
    let (_, ch) = ApiClient::new(&app.base)
        .get("/api/v1/auth/challenge")
        .await?;
    let challenge = ch["challenge"].as_str().unwrap_or_default().to_owned();
    let sign = json!({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {
        "allowedStorages": ["PKCS12"], "format": "cms", "data": base64_encode(challenge.as_bytes()),
        "signingParams": {"decode": true, "encapsulate": true, "digested": false, "tsaProfile": {}},
        "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2"]}, "locale": "kk"}});
    ws.send(Message::text(sign.to_string())).await?;
    let answer = text(ws.next().await)?;
    assert_eq!(answer["status"], true, "{answer}");
    let cms = answer["body"]["result"][0].as_str().unwrap_or_default();
    let (s, v) = ApiClient::new(&app.base)
        .post("/api/v1/auth/login", &json!({"signed_cms": cms}))
        .await?;
    assert_eq!(
        (s, v["organization"]["bin"].as_str()),
        (200, Some(w.bin.as_str())),
        "{v}"
    );
    // The "user" cancels: no result; the page shows the cancelled message.
    let mut ws = start(true).await?;
    let _greeting = ws.next().await;
    ws.send(Message::text(sign.to_string())).await?;
    assert_eq!(text(ws.next().await)?, json!({"status": true, "body": {}}));
    Ok(())
}

// Issue 13, Order 270 §9 in the pages (forms, no JavaScript): the reviewer approves one line and rejects
// the other with a reason; a review without decisions is refused on the page in words; the integrator
// grants; the head of another organization gets the refusal page.
async fn pages_review_and_grant_forms(app: &TestApp) -> R {
    let w = world(app).await?;
    let id = submit_two_lines(app, &w).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let origin = app.base.clone();
    let page = |who: &ApiClient| {
        format!(
            "qoljetim_session={}; qoljetim_lang=en",
            who.token.clone().unwrap_or_default()
        )
    };
    let post = |cookie: String, path: String, form: Vec<(&'static str, &'static str)>| {
        http.post(format!("{}{path}", app.base))
            .header("Cookie", cookie)
            .header("Origin", origin.clone())
            .form(&form)
            .send()
    };
    let html = http
        .get(format!("{}/applications/{id}", app.base))
        .header("Cookie", page(&w.reviewer))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains(r#"name="decision-1""#) && html.contains(r#"name="decision-2""#),
        "{html}"
    );
    // No decision at all: the page says what is wrong, nothing is decided.
    let r = post(
        page(&w.reviewer),
        format!("/applications/{id}/review"),
        vec![],
    )
    .await?;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await?;
    assert!(html.contains(r#"role="alert""#), "{html}");
    let (_, v) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    assert_eq!(v["status"], "submitted");
    let r = post(
        page(&w.reviewer),
        format!("/applications/{id}/review"),
        vec![
            ("decision-1", "approve"),
            ("decision-2", "reject"),
            ("reason-2", "not a member of the audit team"),
        ],
    )
    .await?;
    assert_eq!(r.status().as_u16(), 303);
    let (_, v) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    assert_eq!(
        (
            v["status"].as_str(),
            v["lines"][0]["status"].as_str(),
            v["lines"][1]["reason"].as_str()
        ),
        (
            Some("forwarded"),
            Some("approved"),
            Some("not a member of the audit team")
        )
    );
    let html = http
        .get(format!("{}/applications/{id}", app.base))
        .header("Cookie", page(&w.integrator))
        .send()
        .await?
        .text()
        .await?;
    assert!(html.contains(r#"action="/applications/"#) && html.contains("Grant access"));
    // Before granting, the integrator reads what the grant will give, in words (Order 270 §6): the
    // approved line only, for each system.
    let preview = html
        .split("What the grant will give")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .ok_or_else(|| format!("no preview: {html}"))?;
    assert_eq!(
        preview
            .matches(
                "regional, district, rural budgets of Almaty city (KATO 750000000) and inside it"
            )
            .count(),
        2,
        "{preview}"
    );
    assert!(
        !preview.contains(&iin(12)),
        "the rejected line gets nothing: {preview}"
    );
    let r = post(
        page(&w.integrator),
        format!("/applications/{id}/grant"),
        vec![],
    )
    .await?;
    assert_eq!(r.status().as_u16(), 303);
    let (_, v) = w
        .integrator
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    assert_eq!(v["status"], "granted");
    // The approved employee (line 1) sees the grants with the scope in words and the days left
    // (Order 270 §6, §9): six months asked, so about 180 days.
    let employee = app.signed_in(&iin(11), &w.bin, NcaRole::Employee).await?;
    let html = http
        .get(format!("{}/", app.base))
        .header("Cookie", page(&employee))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains(
            "regional, district, rural budgets of Almaty city (KATO 750000000) and inside it"
        ),
        "{html}"
    );
    let days: Vec<i64> = html
        .split(" days</td>")
        .filter_map(|part| part.rsplit('>').next()?.trim().parse().ok())
        .collect();
    assert!(
        days.len() == 2 && days.iter().all(|d| (170..=190).contains(d)),
        "{days:?}"
    );
    // Issue 14: notifications — the employee's certificate names another person than the line, so the
    // integrator is told (DESIGN.md §4) — read and marked read; the employee's profile.
    let html = http
        .get(format!("{}/notifications", app.base))
        .header("Cookie", page(&w.integrator))
        .send()
        .await?
        .text()
        .await?;
    let id: i64 = html
        .split(r#"action="/notifications/"#)
        .nth(1)
        .and_then(|t| t.split('/').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no unread notification: {html}"))?;
    assert!(html.contains(r#"class="unread""#), "{html}");
    let r = post(
        page(&w.integrator),
        format!("/notifications/{id}/read"),
        vec![],
    )
    .await?;
    assert_eq!(r.status().as_u16(), 303);
    let (_, v) = w.integrator.get("/api/v1/notifications").await?;
    let read = v["notifications"]
        .as_array()
        .and_then(|l| l.iter().find(|n| n["id"] == id))
        .map(|n| n["read"].clone());
    assert_eq!(read, Some(json!(true)), "{v}");
    let r = post(
        page(&employee),
        "/profile".into(),
        vec![("email", "not an address"), ("language", "ru")],
    )
    .await?;
    let html = r.text().await?;
    assert!(
        html.contains(r#"role="alert""#) && html.contains("e-mail address"),
        "{html}"
    );
    let (_, v) = employee.get("/api/v1/me/profile").await?;
    assert_ne!(v["email"], "not an address", "nothing half-written: {v}");
    let r = post(
        page(&employee),
        "/profile".into(),
        vec![("email", "deputy@maslikhat.example.kz"), ("language", "ru")],
    )
    .await?;
    assert!(r.text().await?.contains(r#"role="status""#));
    let (_, v) = employee.get("/api/v1/me/profile").await?;
    assert_eq!(
        (v["email"].as_str(), v["language"].as_str()),
        (Some("deputy@maslikhat.example.kz"), Some("ru")),
        "{v}"
    );
    // The operators' page: the registry, the reports, the audit chain checked (DESIGN.md §4); an
    // employee is refused.
    let r = http
        .get(format!("{}/operations?check=chain", app.base))
        .header("Cookie", page(&w.integrator))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await?;
    assert!(html.contains(&format!("<td>{}</td>", w.bin)), "{html}");
    assert!(html.contains("records is intact"), "{html}");
    assert!(
        html.contains(r#"href="/api/v1/reports/access-registry?format=pdf""#),
        "{html}"
    );
    let r = http
        .get(format!("{}/operations", app.base))
        .header("Cookie", page(&employee))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await?.contains(r#"role="alert""#));
    // The integrator's list of every grant, page by page: both of line 1's, none of the rejected line's.
    let html = http
        .get(format!("{}/grants", app.base))
        .header("Cookie", page(&w.integrator))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(
        html.matches(&format!("<td>{}</td>", iin(11))).count(),
        2,
        "{html}"
    );
    assert!(
        !html.contains(&iin(12)) && !html.contains(r#"rel="next""#),
        "{html}"
    );
    // Another organization's head: the refusal, as a page.
    let other = demo_bin(ALMATY_MASLIKHAT + 40);
    app.add_org(&other, K::Maslikhat, Some("710000000"), &[])
        .await?;
    let outsider = app.signed_in(&iin(40), &other, NcaRole::FirstHead).await?;
    let r = http
        .get(format!("{}/applications/{id}", app.base))
        .header("Cookie", page(&outsider))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await?.contains(r#"role="alert""#));
    Ok(())
}

/// Debian's chromium-driver on a free port, stopped when dropped.
pub(crate) struct Chromedriver {
    port: u16,
    _process: tokio::process::Child,
}

impl Chromedriver {
    pub(crate) async fn start() -> Result<Chromedriver, qoljetim::AnyError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let process = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("chromedriver: {e} (scripts/test installs chromium-driver)"))?;
        let status = format!("http://127.0.0.1:{port}/status");
        for _ in 0..100 {
            if reqwest::get(&status)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(Chromedriver {
                    port,
                    _process: process,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err("chromedriver did not start".into())
    }

    pub(crate) async fn browser(&self) -> Result<fantoccini::Client, qoljetim::AnyError> {
        let caps = json!({"browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--lang=kk", "--window-size=1280,1300"]}});
        let caps = caps.as_object().cloned().unwrap_or_default();
        let http = hyper_util::client::legacy::connect::HttpConnector::new();
        Ok(fantoccini::ClientBuilder::new(http)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await?)
    }
}

/// Waits (up to 15 s) until the element `id` says `text`.
pub(crate) async fn wait_for_text(b: &fantoccini::Client, id: &str, text: &str) -> R {
    let mut said = String::new();
    for _ in 0..150 {
        // The page may be replaced between finding the element and reading it: then read again.
        if let Ok(e) = b.find(fantoccini::Locator::Id(id)).await
            && let Ok(t) = e.text().await
        {
            said = t;
            if said.contains(text) {
                return Ok(());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let page = b.source().await.unwrap_or_default();
    Err(format!("#{id} said {said:?}, not {text:?}; the page: {page}").into())
}

/// Waits (up to 15 s) until the page's URL satisfies `test`; answers the URL.
pub(crate) async fn wait_for(
    b: &fantoccini::Client,
    test: impl Fn(&str) -> bool,
) -> Result<String, qoljetim::AnyError> {
    for _ in 0..150 {
        let url = b.current_url().await?.to_string();
        if test(&url) {
            return Ok(url);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("the page stayed at {}", b.current_url().await?).into())
}

pub(crate) async fn wait_for_url(b: &fantoccini::Client, url: &str) -> R {
    wait_for(b, |u| u == url).await.map(|_| ())
}

/// axe-core (vendored by `scripts/vendor axe-core`, used by the tests only).
const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

/// axe run on the open page: its serious and critical WCAG 2.1 A/AA violations, each with the
/// elements it found.
pub(crate) async fn axe_violations(
    b: &fantoccini::Client,
) -> Result<Vec<String>, qoljetim::AnyError> {
    b.execute(&format!("{AXE}\nreturn typeof window.axe;"), vec![])
        .await?;
    let found = b
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            window.axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
              .then((r) => done(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)))
              .catch((e) => done([`axe failed: ${e}`]));"#,
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(found)?)
}

/// Checks the open page with axe and every page of this site it links to (the crawl of one role;
/// language links, the API's downloads and anchors are left out), each once per role; comes back to
/// the page.
async fn crawl_with_axe(
    b: &fantoccini::Client,
    base: &str,
    role: &str,
    seen: &mut std::collections::BTreeSet<String>,
) -> R {
    let start = b.current_url().await?.to_string();
    let mut queue = vec![start.clone()];
    while let Some(url) = queue.pop() {
        let path = url.trim_start_matches(base).to_owned();
        // A path is one page whatever its query (the explorer's drill-downs are many URLs of one page).
        let page = path.split('?').next().unwrap_or_default().to_owned();
        if !seen.insert(format!("{role} {page}")) {
            continue;
        }
        if b.current_url().await?.as_str() != url {
            b.goto(&url).await?;
        }
        let violations = axe_violations(b).await?;
        assert!(violations.is_empty(), "axe on {path}: {violations:#?}");
        let links = b
            .execute(
                r#"return [...document.querySelectorAll('a[href^="/"]')].map((a) => a.getAttribute('href'))
                   .filter((h) => !h.startsWith('/language/') && !h.startsWith('/api/') && !h.startsWith('/static/') && !h.includes('#'));"#,
                vec![],
            )
            .await?;
        let links: Vec<String> = serde_json::from_value(links)?;
        for l in links {
            if !seen.contains(&format!(
                "{role} {}",
                l.split('?').next().unwrap_or_default()
            )) {
                queue.push(format!("{base}{l}"));
            }
        }
    }
    b.goto(&start).await?;
    Ok(())
}

/// A screenshot of the open page as `<dir>/<name>.png` when `QOLJETIM_SCREENSHOTS` names a folder
/// (`scripts/screenshots` sets it to `docs/images`); otherwise nothing.
pub(crate) async fn shot(b: &fantoccini::Client, name: &str) -> R {
    if let Ok(dir) = std::env::var("QOLJETIM_SCREENSHOTS") {
        let png = b.screenshot().await?;
        std::fs::create_dir_all(&dir)?;
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png)?;
    }
    Ok(())
}

/// The development NCALayer on `port` holding one person's keys.
async fn start_ncalayer(
    port: u16,
    fake: qoljetim_devca::ncalayer::FakeNcaLayer,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, qoljetim::AnyError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    Ok(tokio::spawn(qoljetim_devca::ncalayer::serve(
        listener,
        std::sync::Arc::new(fake),
    )))
}

async fn stop(task: Option<tokio::task::JoinHandle<std::io::Result<()>>>) {
    if let Some(t) = task {
        t.abort();
        let _ = t.await;
    }
}

/// Issue 13 end to end in Chromium, with the development NCALayer on its WebSocket: NCALayer not
/// running and a cancelled dialog show their messages; the head of the Almaty maslikhat signs in,
/// composes an application (errors beside the fields, rows pasted from a spreadsheet), signs it with
/// the signing key and submits it (Order 270 §8); the reviewer approves one line and rejects the
/// other (§9); the integrator reads the derived scope in words and grants (§6, §9); the employee
/// signs in and reads the grant in words; the language chosen is remembered. axe finds no serious or
/// critical violation on any page of any role (a crawl of each role's links), and the first page
/// load's JavaScript is measured from Resource Timing.
async fn browser_whole_path_with_ncalayer(db: Option<&str>) -> R {
    use fantoccini::Locator;
    use qoljetim_devca::ncalayer::{FakeNcaLayer, StoredKey};
    // NCALayer's port, closed until the development NCALayer is started on it below.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let app = TestApp::spawn_full(db, KeyKind::P256, 3_000, None, move |c| {
        c.pages.ncalayer_url = url
    })
    .await?;
    let base = app.base.clone();
    let r = async {
        let w = world(&app).await?;
        let key = |k: &KeyPair| StoredKey {
            cert: k.cert.clone(),
            key: k.key.clone(),
        };
        let person = |n: u32, bin: &str, role: NcaRole| {
            app.person(&iin(n), Some(bin), Some(role), KeyPurpose::Authentication)
        };
        let head = person(10, &w.bin, NcaRole::FirstHead)?;
        let reviewer = person(1, &demo_bin(MINFIN), NcaRole::Employee)?;
        let integrator = person(2, &demo_bin(INTEGRATOR), NcaRole::Employee)?;
        let employee = w.employee(&app)?;
        let signs_in = |auth: &KeyPair| FakeNcaLayer {
            authentication: Some(key(auth)),
            signing: None,
            cancel: false,
        };
        let driver = Chromedriver::start().await?;
        let b = driver.browser().await?;
        let mut seen = std::collections::BTreeSet::new();
        let mut running = None;
        let result = async {
            // The first load: the sign-in page in Kazakh, and the JavaScript it transfers.
            b.goto(&format!("{base}/language/kk?back=/sign-in")).await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            let js = b
                .execute(
                    r#"return performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'script')
                       .map((e) => ({name: e.name, transfer: e.transferSize, body: e.encodedBodySize}));"#,
                    vec![],
                )
                .await?;
            let scripts: Vec<Value> = serde_json::from_value(js)?;
            let sum = |k: &str| -> u64 { scripts.iter().map(|s| s[k].as_u64().unwrap_or(0)).sum() };
            let (body, transfer) = (sum("body"), sum("transfer"));
            println!(
                "first load (sign-in page): {} scripts, {body} B of JavaScript, {transfer} B transferred with headers",
                scripts.len()
            );
            assert!(scripts.len() == 2 && body > 40_000, "both scripts measured: {scripts:?}");
            assert!(transfer <= 100_000, "at most 100 KB of JavaScript on the first load: {scripts:?}");
            shot(&b, "01-sign-in").await?;
            crawl_with_axe(&b, &base, "signed-out", &mut seen).await?;
            // axe can fail: an input without a label on this page is a critical violation.
            b.execute("document.getElementById('main').insertAdjacentHTML('beforeend', '<input type=text>');", vec![])
                .await?;
            let planted = axe_violations(&b).await?;
            assert!(planted.iter().any(|v| v.starts_with("critical label")), "{planted:?}");
            b.refresh().await?;
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_text(&b, "sign-in-status", "NCALayer іске қосылмаған").await?;
            running = Some(start_ncalayer(port, FakeNcaLayer { cancel: true, ..signs_in(&head) }).await?);
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_text(&b, "sign-in-status", "қол қою тоқтатылды").await?;
            stop(running.take()).await;
            // The head signs in and composes (in Russian from here, chosen on the page).
            let head_keys = FakeNcaLayer { signing: Some(key(&w.head_sign)), ..signs_in(&head) };
            running = Some(start_ncalayer(port, head_keys).await?);
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            b.find(Locator::Css(r#"a[hreflang="ru"]"#)).await?.click().await?;
            wait_for_text(&b, "main", "Заявки вашей организации").await?;
            shot(&b, "02-head-home").await?;
            crawl_with_axe(&b, &base, "head", &mut seen).await?;
            b.find(Locator::Css(r#"a[href="/applications/new"]"#)).await?.click().await?;
            wait_for_url(&b, &format!("{base}/applications/new")).await?;
            // Checked empty: the rules beside the fields, and the page still passes axe.
            b.find(Locator::Css(r#"button[value="check"]"#)).await?.click().await?;
            wait_for_text(&b, "problems", "Строка 1: ИИН").await?;
            shot(&b, "03-head-application-checked-with-errors").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the checked form: {violations:#?}");
            b.find(Locator::Id("head-surname")).await?.send_keys("Әбенова").await?;
            b.find(Locator::Id("head-name")).await?.send_keys("Айгүл").await?;
            b.find(Locator::Css(r#"input[name="systems"][value="analytical_central"]"#))
                .await?
                .click()
                .await?;
            let row = |n: u32, surname: &str| {
                [surname, "Динара", "", &iin(n), "бас маман", "бюджет бөлімі", "+7 7172 000000",
                    &format!("p{n}@maslikhat.example.kz"), "мемлекеттік аудит", "", &format!("EQYZMET:{n}")]
                .join("\t")
            };
            // A paste from a spreadsheet: tab-separated rows, as the clipboard holds them.
            b.find(Locator::Css("details summary")).await?.click().await?;
            b.execute(
                "document.getElementById('paste').value = arguments[0];",
                vec![json!(format!("{}\n{}\n", row(11, "Сейітова"), row(12, "Омарова")))],
            )
            .await?;
            b.find(Locator::Css(r#"button[value="paste"]"#)).await?.click().await?;
            wait_for_text(&b, "main", "Строка 2").await?;
            b.find(Locator::Css(r#"button[value="check"]"#)).await?.click().await?;
            wait_for_text(&b, "ready", "Готово к подписи").await?;
            shot(&b, "04-head-application-ready-to-sign").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the document to sign: {violations:#?}");
            b.find(Locator::Id("sign-document-button")).await?.click().await?;
            let at = wait_for(&b, |u| u.contains("/applications/") && !u.ends_with("/new")).await?;
            let id = at.rsplit('/').next().unwrap_or("").to_owned();
            wait_for_text(&b, "main", "на рассмотрении").await?;
            crawl_with_axe(&b, &base, "head", &mut seen).await?;
            b.find(Locator::Css("header .who button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            stop(running.take()).await;
            // The reviewer approves line 1 and rejects line 2 with a reason.
            running = Some(start_ncalayer(port, signs_in(&reviewer)).await?);
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            crawl_with_axe(&b, &base, "reviewer", &mut seen).await?;
            b.find(Locator::Css(&format!(r#"a[href="/applications/{id}"]"#))).await?.click().await?;
            wait_for_url(&b, &format!("{base}/applications/{id}")).await?;
            b.find(Locator::Css(r#"input[name="decision-1"][value="approve"]"#)).await?.click().await?;
            b.find(Locator::Css(r#"input[name="decision-2"][value="reject"]"#)).await?.click().await?;
            b.find(Locator::Css(r#"input[name="reason-2"]"#)).await?.send_keys("не входит в состав").await?;
            b.find(Locator::Css(r#"form[action$="/review"] button[type="submit"]"#)).await?.click().await?;
            wait_for_text(&b, "main", "не входит в состав").await?;
            shot(&b, "05-reviewer-application-decided").await?;
            b.find(Locator::Css("header .who button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            stop(running.take()).await;
            // The integrator reads the scope in words, then grants.
            running = Some(start_ncalayer(port, signs_in(&integrator)).await?);
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            crawl_with_axe(&b, &base, "integrator", &mut seen).await?;
            b.goto(&format!("{base}/applications/{id}")).await?;
            wait_for_text(&b, "main", "город Алматы (KATO 750000000)").await?;
            shot(&b, "06-integrator-grant-preview").await?;
            b.find(Locator::Css(r#"form.grant button[type="submit"]"#)).await?.click().await?;
            wait_for_text(&b, "main", "доступ предоставлен").await?;
            b.find(Locator::Css("header .who button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            stop(running.take()).await;
            // The employee reads the grant; the language chosen earlier is still the page's.
            running = Some(start_ncalayer(port, signs_in(&employee)).await?);
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            wait_for_text(&b, "grants", "город Алматы (KATO 750000000) и всё, что в её пределах").await?;
            // Order 270 §13: training before the first read. The home page says what comes first;
            // the employee takes the lesson: two wrong answers of six first (under the 80% mark), then
            // all right.
            wait_for_text(&b, "before-first-read", "сначала обучение").await?;
            shot(&b, "07-employee-home").await?;
            let lesson = qoljetim::shipped_lessons()
                .into_iter()
                .find(|f| f.name.contains("analytical-central"))
                .ok_or("no analytical-central lesson")?;
            let lesson = qoljetim_domain::training::Lesson::parse(&lesson.name, &lesson.text)?;
            b.find(Locator::Css(r#"a[href="/training"].button"#)).await?.click().await?;
            wait_for_url(&b, &format!("{base}/training")).await?;
            b.find(Locator::Css(&format!(r#"a[href="/training/lessons/{}"]"#, lesson.id))).await?.click().await?;
            wait_for_text(&b, "main", "Проверить ответы").await?;
            for (round, wrong_first) in [(0, true), (1, false)] {
                for (n, q) in lesson.questions.iter().enumerate() {
                    let choice = if wrong_first && n < 2 { (q.correct + 1) % q.choices.len() } else { q.correct };
                    b.find(Locator::Css(&format!(r#"input[name="q-{n}"][value="{}"]"#, choice + 1))).await?.click().await?;
                }
                b.find(Locator::Id("lesson-submit")).await?.click().await?;
                let expected = if round == 0 { "Пока не пройден" } else { "Урок пройден" };
                wait_for_text(&b, "lesson-result", expected).await?;
            }
            shot(&b, "12-employee-lesson-passed").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the lesson: {violations:#?}");
            // Order 270 §15: the duties, accepted before the first read of the grant.
            b.goto(&format!("{base}/")).await?;
            b.find(Locator::Css(r#"a[id^="duties-"]"#)).await?.click().await?;
            wait_for_text(&b, "main", "третьим лицам").await?;
            shot(&b, "13-employee-duties").await?;
            b.find(Locator::Id("duties-accept")).await?.click().await?;
            b.find(Locator::Id("duties-submit")).await?.click().await?;
            wait_for(&b, |u| u.ends_with("/#grants")).await?;
            // The explorer: a chart drawn by ECharts, then a bar's drill-down into months, as a line.
            b.find(Locator::Css(r#"a[href="/explore"]"#)).await?.click().await?;
            wait_for_text(&b, "main", "Обозреватель бюджета").await?;
            b.find(Locator::Css(r#"select#group_by option[value="program"]"#)).await?.click().await?;
            b.find(Locator::Css("form.explore button[type=submit]")).await?.click().await?;
            wait_for(&b, |u| u.contains("group_by=program")).await?;
            let drawn = async {
                for _ in 0..100 {
                    if let Ok(Value::Bool(true)) = b
                        .execute("return !!document.querySelector('#chart canvas');", vec![])
                        .await
                    {
                        return Ok(());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err::<(), qoljetim::AnyError>("the chart was not drawn".into())
            };
            drawn.await?;
            shot(&b, "08-employee-explorer-by-program").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the explorer: {violations:#?}");
            b.find(Locator::Css("table tbody tr td a")).await?.click().await?;
            wait_for(&b, |u| u.contains("group_by=month") && u.contains("program=")).await?;
            wait_for_text(&b, "main", "Месяц").await?;
            shot(&b, "09-employee-explorer-program-by-month").await?;
            crawl_with_axe(&b, &base, "employee", &mut seen).await?;
            // The employee reads their own line of the application, not the colleague's.
            b.goto(&format!("{base}/applications/{id}")).await?;
            wait_for_text(&b, "main", &iin(11)).await?;
            let text = b.find(Locator::Id("main")).await?.text().await?;
            assert!(!text.contains(&iin(12)), "{text}");
            // A refusal is a page too.
            b.goto(&format!("{base}/applications/999999")).await?;
            wait_for_text(&b, "main", "Не найдено").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on a refusal: {violations:#?}");
            b.goto(&format!("{base}/")).await?;
            b.find(Locator::Css(r#"a[hreflang="en"]"#)).await?.click().await?;
            wait_for_text(&b, "grants", "budgets of Almaty city (KATO 750000000) and inside it").await?;
            println!("pages checked with axe: {seen:?}");
            let application = format!("/applications/{id}");
            for page in ["signed-out /sign-in", "head /", "head /applications/new", "head /block-requests/new",
                &format!("head {application}"), "reviewer /", &format!("reviewer {application}"),
                "integrator /", "integrator /grants", "integrator /operations", "reviewer /operations",
                "employee /", "employee /explore", "employee /training"] {
                assert!(seen.contains(page), "{page} not crawled: {seen:?}");
            }
            Ok::<_, qoljetim::AnyError>(())
        }
        .await;
        stop(running).await;
        b.close().await?;
        result
    }
    .await;
    app.cleanup().await;
    r
}

/// The text of an HTML-escaped element content, as the browser reads it (minijinja's escapes).
pub(crate) fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The document a checked form shows for signing: the content of `<pre id="document" …>`.
pub(crate) fn document_of(html: &str) -> Option<String> {
    let start = html.find(r#"<pre id="document""#)?;
    let body = &html[start..];
    let open = body.find('>')? + 1;
    let close = body.find("</pre>")?;
    Some(unescape_html(&body[open..close]))
}

/// The inputs of the page's composing form as a browser would post them (text inputs, checked boxes,
/// selected options), without the buttons.
pub(crate) fn form_fields(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        let end = tag[at..].find('"')?;
        Some(unescape_html(&tag[at..at + end]))
    };
    let mut fields = vec![];
    for part in html.split('<').skip(1) {
        let tag = part.split('>').next().unwrap_or("");
        if let Some(rest) = tag.strip_prefix("input ") {
            let tag = format!(" {rest}");
            let Some(name) = attr(&tag, "name") else {
                continue;
            };
            let checkbox = tag.contains(r#"type="checkbox""#);
            if checkbox && !tag.contains(" checked") {
                continue;
            }
            fields.push((name, attr(&tag, "value").unwrap_or_default()));
        } else if let Some(rest) = tag.strip_prefix("select ") {
            let Some(name) = attr(&format!(" {rest}"), "name") else {
                continue;
            };
            let options = part_until(html, part, "</select>");
            let chosen = options
                .split("<option ")
                .find(|o| o.contains(" selected"))
                .and_then(|o| attr(&format!(" {o}"), "value"))
                .unwrap_or_default();
            fields.push((name, chosen));
        } else if let Some(rest) = tag.strip_prefix("textarea ") {
            let Some(name) = attr(&format!(" {rest}"), "name") else {
                continue;
            };
            let body = part.split_once('>').map_or("", |(_, b)| b);
            fields.push((name, unescape_html(body)));
        }
    }
    fields
}

/// The text of `html` from `part` (a slice of it) up to `end`.
fn part_until<'a>(html: &'a str, part: &str, end: &str) -> &'a str {
    let start = part.as_ptr() as usize - html.as_ptr() as usize;
    let rest = &html[start..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

pub(crate) fn set_field(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    fields.retain(|(k, _)| k != name);
    fields.push((name.to_owned(), value.to_owned()));
}

// Issue 13, Order 270 §8: a head composes an application on the page — rows pasted from a spreadsheet,
// the API's own rules shown beside each field when checked, nothing stored by a check — and signs
// exactly the document the page shows; the submission is the application that was shown.
async fn pages_compose_check_and_sign_an_application(app: &TestApp) -> R {
    let w = world(app).await?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let http = reqwest::Client::new();
    let cookie = format!(
        "qoljetim_session={}; qoljetim_lang=en",
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
        .get(format!("{}/", app.base))
        .header("Cookie", cookie.clone())
        .send()
        .await?
        .text()
        .await?;
    assert!(html.contains(r#"href="/applications/new""#), "{html}");
    let html = http
        .get(format!("{}/applications/new", app.base))
        .header("Cookie", cookie.clone())
        .send()
        .await?
        .text()
        .await?;
    let today = today(app).to_string();
    assert!(html.contains(&format!(r#"value="{today}""#)), "{html}");
    assert!(html.contains(r#"name="lines-0-iin""#) && !html.contains("lines-1-iin"));
    // Two rows pasted from a spreadsheet (tabs); the second person's IIN has 11 digits.
    let until = plus_months(today.parse()?, 6);
    let row = |iin: &str, surname: &str| {
        [
            surname,
            "Динара",
            "",
            iin,
            "бас маман",
            "бюджет бөлімі",
            "+7 7172 000000",
            "d@maslikhat.example.kz",
            "мемлекеттік аудит",
            &until,
            "EQYZMET:QR",
        ]
        .join("\t")
    };
    let mut fields = form_fields(&html);
    for (k, v) in [
        ("head-surname", "Әбенова"),
        ("head-name", "Айгүл"),
        ("systems", "state_planning"),
    ] {
        set_field(&mut fields, k, v);
    }
    let good = iin(11);
    let short = &iin(12)[..11];
    set_field(
        &mut fields,
        "paste",
        &format!("{}\r\n{}\n", row(&good, "Сейітова"), row(short, "Омарова")),
    );
    fields.push(("action".into(), "paste".into()));
    let html = post(fields).await?.text().await?;
    assert!(
        html.contains(&format!(r#"value="{good}""#))
            && html.contains(&format!(r#"value="{short}""#)),
        "both pasted rows: {html}"
    );
    assert!(!html.contains("aria-invalid"), "not checked yet: {html}");
    // Checked: the IIN's rule beside its field and in the list, in English; nothing to sign.
    let mut fields = form_fields(&html);
    fields.push(("action".into(), "check".into()));
    let html = post(fields).await?.text().await?;
    assert!(
        html.contains(r#"id="lines-1-iin" name="lines-1-iin""#)
            && html.contains(r#"aria-describedby="lines-1-iin-error""#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<span class="field-error" id="lines-1-iin-error">must be exactly 12 digits</span>"#
        ),
        "the API's words for the rule: {html}"
    );
    assert!(
        html.contains(r##"<a href="#lines-1-iin">Row 2: IIN</a>"##),
        "{html}"
    );
    assert!(document_of(&html).is_none());
    let (_, listed) = head.get("/api/v1/applications").await?;
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(0),
        "a check stores nothing"
    );
    // Row 2 removed: the form passes, and the page shows the document to sign.
    let mut fields = form_fields(&html);
    fields.push(("action".into(), "remove-1".into()));
    let html = post(fields).await?.text().await?;
    let mut fields = form_fields(&html);
    fields.push(("action".into(), "check".into()));
    let html = post(fields).await?.text().await?;
    assert!(!html.contains("aria-invalid"), "{html}");
    let document = document_of(&html).ok_or("no document to sign")?;
    let shown: Value = serde_json::from_str(&document)?;
    assert_eq!(shown["applicant_bin"], w.bin.as_str());
    assert_eq!(shown["systems"], json!(["state_planning"]));
    assert_eq!(shown["lines"][0]["iin"], good.as_str());
    assert_eq!(shown["lines"].as_array().map(Vec::len), Some(1));
    // Signed with the head's signing key as NCALayer would, and posted as the page's script does.
    let (s, v) = head
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": w.head_sign.sign(document.as_bytes())?}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["lines"][0]["iin"], good.as_str());
    assert_eq!(v["lines"][0]["access_until_effective"], until.as_str());

    // Issue 18 (Order 270 §3): an application for the maslikhat's own information system alone, on
    // the same page: a personal certificate is named beside the system's certificate field; the
    // organization's information-system certificate passes and the document carries the system's line.
    let html = http
        .get(format!("{}/applications/new", app.base))
        .header("Cookie", cookie.clone())
        .send()
        .await?
        .text()
        .await?;
    let mut fields = form_fields(&html);
    fields.push(("action".into(), "add-system".into()));
    let html = post(fields).await?.text().await?;
    assert!(html.contains(r#"name="is-0-certificate_pem""#), "{html}");
    let personal = app.person(
        &iin(40),
        Some(&w.bin),
        Some(NcaRole::Employee),
        KeyPurpose::Authentication,
    )?;
    let system = app.person(
        &iin(41),
        Some(&w.bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
    )?;
    let mut fields = form_fields(&html);
    for (k, v) in [
        ("head-surname", "Әбенова"),
        ("head-name", "Айгүл"),
        ("systems", "analytical_central"),
        ("is-0-name", "АЖ «Мәслихат-Талдау»"),
        ("is-0-purpose", "бюджетті талдау"),
    ] {
        set_field(&mut fields, k, v);
    }
    set_field(
        &mut fields,
        "is-0-certificate_pem",
        &qoljetim_devca::certificate_pem(&personal.cert)?,
    );
    fields.push(("action".into(), "check".into()));
    let html = post(fields).await?.text().await?;
    assert!(
        html.contains(r#"aria-describedby="is-0-certificate_pem-error""#)
            && html.contains(
                r##"<a href="#is-0-certificate_pem">Information system 1: Certificate (PEM)</a>"##
            ),
        "{html}"
    );
    assert!(document_of(&html).is_none());
    let mut fields = form_fields(&html);
    set_field(
        &mut fields,
        "is-0-certificate_pem",
        &qoljetim_devca::certificate_pem(&system.cert)?,
    );
    fields.push(("action".into(), "check".into()));
    let html = post(fields).await?.text().await?;
    assert!(!html.contains("aria-invalid"), "{html}");
    let document = document_of(&html).ok_or("no document to sign")?;
    let shown: Value = serde_json::from_str(&document)?;
    assert_eq!(
        (
            shown["lines"].as_array().map(Vec::len),
            shown["lines"][0]["kind"].as_str(),
            shown["lines"][0]["name"].as_str()
        ),
        (
            Some(1),
            Some("information_system"),
            Some("АЖ «Мәслихат-Талдау»")
        ),
        "{document}"
    );
    let (s, v) = head
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": w.head_sign.sign(document.as_bytes())?}),
        )
        .await?;
    assert_eq!(
        (s, v["information_systems"][0]["status"].as_str()),
        (201, Some("submitted")),
        "{v}"
    );
    Ok(())
}

// Issue 13, Order 270 §9: the block request composed on the page: its rules checked beside the
// fields; the signed request reaches the same use case as the API (a person without a grant of the
// organization is named).
async fn pages_compose_a_block_request(app: &TestApp) -> R {
    let w = world(app).await?;
    let head = app.signed_in(&iin(10), &w.bin, NcaRole::FirstHead).await?;
    let http = reqwest::Client::new();
    let cookie = format!(
        "qoljetim_session={}; qoljetim_lang=ru",
        head.token.clone().unwrap_or_default()
    );
    let post = |fields: Vec<(String, String)>| {
        http.post(format!("{}/block-requests/new", app.base))
            .header("Cookie", cookie.clone())
            .header("Origin", app.base.clone())
            .form(&fields)
            .send()
    };
    let html = http
        .get(format!("{}/block-requests/new", app.base))
        .header("Cookie", cookie.clone())
        .send()
        .await?
        .text()
        .await?;
    assert!(html.contains("Заявка на блокировку"), "{html}");
    let mut fields = form_fields(&html);
    set_field(&mut fields, "lines-0-iin", &iin(11));
    set_field(&mut fields, "lines-0-effective_date", "1 декабря");
    fields.push(("action".into(), "check".into()));
    let html = post(fields).await?.text().await?;
    assert!(
        html.contains(r#"id="lines-0-reason-error""#)
            && html.contains(r#"id="lines-0-effective_date-error""#),
        "the reason and the date are named: {html}"
    );
    assert!(html.contains("Строка 1: Причина"), "{html}");
    let mut fields = form_fields(&html);
    set_field(&mut fields, "lines-0-reason", "dismissed");
    set_field(
        &mut fields,
        "lines-0-effective_date",
        &today(app).to_string(),
    );
    fields.push(("action".into(), "check".into()));
    let html = post(fields).await?.text().await?;
    let document = document_of(&html).ok_or_else(|| format!("no document: {html}"))?;
    let (s, v) = head
        .post(
            "/api/v1/block-requests",
            &json!({"signed_cms": w.head_sign.sign(document.as_bytes())?}),
        )
        .await?;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errors"][0]["field"], "/lines/0/iin", "{v}");
    Ok(())
}

// Issue 14, Order 270 §6 and §15: the explorer of the Almaty city maslikhat's deputy offers only the
// grant's years and Almaty; 2026 spending by program with tenge grouped in thousands; a row drills into
// the program by month, the same figure as the API's; the CSV link is the API's with the §15 marking;
// Astana's budget typed into the URL is refused with the scope in words.
async fn explorer_groups_drills_and_refuses_outside_the_scope(app: &TestApp) -> R {
    let w = world(app).await?;
    let deputy = granted_user(
        app,
        &w,
        1,
        K::Maslikhat,
        Some("750000000"),
        &[],
        &["analytical_central"],
    )
    .await?;
    let http = reqwest::Client::new();
    let cookie = format!(
        "qoljetim_session={}; qoljetim_lang=ru",
        deputy.token.clone().unwrap_or_default()
    );
    let page = |path: String| {
        let (http, cookie) = (http.clone(), cookie.clone());
        let url = format!("{}{path}", app.base);
        async move {
            Ok::<_, qoljetim::AnyError>(
                http.get(url)
                    .header("Cookie", cookie)
                    .send()
                    .await?
                    .text()
                    .await?,
            )
        }
    };
    let home = page("/".into()).await?;
    assert!(home.contains(r#"href="/explore""#), "{home}");
    let html = page("/explore?system=analytical_central&dataset=expenditure&fiscal_year=2026&group_by=program&measures=paid".into()).await?;
    // Only the scope's values are offered: one region, Almaty; no Astana.
    let region_select = html
        .split(r#"<select id="region""#)
        .nth(1)
        .and_then(|s| s.split("</select>").next())
        .unwrap_or("");
    assert!(
        region_select.contains(r#"value="750000000""#) && !region_select.contains("710000000"),
        "{region_select}"
    );
    assert!(
        html.contains("город Алматы (KATO 750000000)"),
        "the scope in words: {html}"
    );
    assert!(
        html.contains(r#"data-chart=""#) && html.contains("echarts.simple.min.js"),
        "{html}"
    );
    // The API's answer for the same query: the page shows its rows in tenge with grouped digits.
    let (s, v) = deputy.get("/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=program&measures=paid&sort=-paid&limit=50").await?;
    assert_eq!(s, 200, "{v}");
    let first = &v["rows"][0];
    let program = first["group"]["program"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let paid = first["values"]["paid"].as_i64().unwrap_or(0);
    let tenge = (paid + 50) / 100;
    let grouped = {
        let d = tenge.to_string();
        let mut out = String::new();
        for (i, c) in d.chars().enumerate() {
            if i > 0 && (d.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(c);
        }
        out
    };
    assert!(
        html.contains(&format!(r#"<td class="num">{grouped}</td>"#)),
        "{grouped} in {html}"
    );
    // The row drills into the program by month.
    let drill = format!(
        "&#x2f;explore?dataset=expenditure&amp;fiscal_year=2026&amp;group_by=month&amp;measures=paid&amp;program={program}&amp;system=analytical_central"
    );
    assert!(html.contains(&drill), "{drill} in {html}");
    let by_month = page(drill.replace("&amp;", "&").replace("&#x2f;", "/")).await?;
    let (_, v) = deputy.get(&format!("/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=month&measures=paid&program={program}")).await?;
    let months = v["rows"].as_array().map(Vec::len).unwrap_or(0);
    assert!(months > 1, "{v}");
    assert_eq!(
        by_month.matches(r#"<td class="num">"#).count(),
        months,
        "one row per month: {by_month}"
    );
    assert!(
        by_month.contains(&format!("Программа = {program}")),
        "the drill's filter is shown: {by_month}"
    );
    // The CSV link is the API's, marked (Order 270 §15).
    let csv_link = html
        .split(r#"<a href=""#)
        .find(|s| s.starts_with("&#x2f;api&#x2f;v1&#x2f;data&#x2f;"))
        .and_then(|s| s.split('"').next())
        .ok_or("no CSV link")?;
    assert!(csv_link.contains("format=csv"), "{csv_link}");
    let csv = http
        .get(format!(
            "{}{}",
            app.base,
            csv_link.replace("&amp;", "&").replace("&#x2f;", "/")
        ))
        .header("Cookie", cookie.clone())
        .send()
        .await?
        .text()
        .await?;
    // In the page's language (the cookie), not the browser's default.
    assert!(
        csv.trim_start_matches('\u{feff}')
            .starts_with("# Приказ 270 п.15"),
        "{csv}"
    );
    // Astana typed into the URL: refused, the scope in words, no figures.
    let astana = page("/explore?system=analytical_central&dataset=expenditure&fiscal_year=2026&group_by=program&region=710000000".into()).await?;
    assert!(
        astana.contains(r#"id="refusal""#)
            && astana.contains("territory=750000000")
            && astana.contains("region=710000000"),
        "{astana}"
    );
    assert!(!astana.contains(r#"<td class="num">"#), "{astana}");
    Ok(())
}

// Issue 14: the operators' page — registering an organization (Order 270 §2.6) and the outbox: an e-mail the relay refused for good is
// shown and put back in the queue by a button (audited); a second press is a conflict and changes
// nothing; the reviewer's page has no outbox.
async fn operators_register_an_organization_and_resend_an_email(app: &TestApp) -> R {
    use qoljetim_store::{Change, LifecycleChange, NewEmail, NewNotification, SendResult};
    let w = world(app).await?;
    let at = app.state.clock.now().as_microsecond();
    let audit = || qoljetim::cli_audit("cli:test", "notify", "test".into(), json!({}));
    app.state
        .store
        .commit(
            Change::Lifecycle(Box::new(LifecycleChange::Notify(vec![NewNotification {
                recipient_iin: iin(11),
                recipient_bin: w.bin.clone(),
                kind: "test".into(),
                subject_ref: "grant/1".into(),
                dedupe_key: "page-outbox-test".into(),
                title_kk: "Тест".into(),
                title_ru: "Тест".into(),
                body_kk: "…".into(),
                body_ru: "…".into(),
                created_at: at,
                email: Some(NewEmail {
                    to: "deputy@maslikhat.example.kz".into(),
                    subject: "Доступ предоставлен".into(),
                    body: "…".into(),
                }),
            }]))),
            audit(),
        )
        .await?;
    let id = app.state.store.outbox(Some("pending")).await?[0].id;
    for change in [
        LifecycleChange::OutboxClaim { id, at },
        LifecycleChange::OutboxResult {
            id,
            at,
            result: SendResult::Failed {
                error: "550 mailbox unavailable".into(),
            },
        },
    ] {
        app.state
            .store
            .commit(Change::Lifecycle(Box::new(change)), audit())
            .await?;
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = |c: &ApiClient| {
        format!(
            "qoljetim_session={}; qoljetim_lang=en",
            c.token.clone().unwrap_or_default()
        )
    };
    let html = http
        .get(format!("{}/operations", app.base))
        .header("Cookie", cookie(&w.integrator))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains("deputy@maslikhat.example.kz")
            && html.contains("failed: 550 mailbox unavailable"),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"action="/operations/outbox/{id}/resend""#)),
        "{html}"
    );
    // The staff roles, with the IINs the operators may see (Cedar: operators-read-staff).
    assert!(
        html.contains(&format!(
            "<td>{}</td><td>{}</td><td>integrator administrator</td>",
            iin(2),
            demo_bin(INTEGRATOR)
        )),
        "{html}"
    );
    let reviewer = http
        .get(format!("{}/operations", app.base))
        .header("Cookie", cookie(&w.reviewer))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        !reviewer.contains(r#"id="outbox""#) && !reviewer.contains("deputy@maslikhat"),
        "{reviewer}"
    );
    let resend = || {
        http.post(format!("{}/operations/outbox/{id}/resend", app.base))
            .header("Cookie", cookie(&w.integrator))
            .header("Origin", app.base.clone())
            .send()
    };
    let r = resend().await?;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        app.state.store.outbox(Some("pending")).await?.len(),
        1,
        "back in the queue"
    );
    // Pressed again (the page was open twice): a conflict, shown; nothing changes.
    let r = resend().await?;
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await?.contains(r#"role="alert""#));
    assert_eq!(app.state.store.outbox(Some("pending")).await?.len(), 1);
    // The reviewer may not resend (Cedar: integrator-manages-outbox).
    let r = http
        .post(format!("{}/operations/outbox/{id}/resend", app.base))
        .header("Cookie", cookie(&w.reviewer))
        .header("Origin", app.base.clone())
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    // Order 270 §2.6: the integrator registers an organization from the page; a wrong BIN is named
    // and nothing is registered; the reviewer has no such form.
    assert!(!reviewer.contains(r#"action="/operations/organizations""#));
    let register = |bin: &str| {
        http.post(format!("{}/operations/organizations", app.base))
            .header("Cookie", cookie(&w.integrator))
            .header("Origin", app.base.clone())
            .form(&[
                ("bin", bin),
                ("name_kk", "Шымкент қалалық мәслихаты"),
                ("name_ru", "Маслихат города Шымкент"),
                ("kind", "maslikhat"),
                ("territory", "790000000"),
                ("administrators", ""),
            ])
            .send()
    };
    let r = register("123").await?;
    assert_eq!(r.status().as_u16(), 400);
    let html = r.text().await?;
    assert!(
        html.contains(r#"role="alert""#)
            && html.contains("BIN: ")
            && html.contains(r#"value="123""#),
        "{html}"
    );
    let shymkent = demo_bin(77);
    let r = register(&shymkent).await?;
    assert_eq!(r.status().as_u16(), 303);
    let (_, v) = w.integrator.get("/api/v1/organizations").await?;
    let found = v
        .as_array()
        .and_then(|l| l.iter().find(|o| o["bin"] == shymkent.as_str()))
        .cloned();
    assert_eq!(
        found.map(|o| o["territory"].clone()),
        Some(json!("790000000")),
        "{v}"
    );
    let (_, v) = w.integrator.get("/api/v1/audit?limit=20").await?;
    let resends = v
        .as_array()
        .map(|l| l.iter().filter(|e| e["action"] == "resend_email").count())
        .unwrap_or(0);
    assert!(resends >= 1, "the resend is audited: {v}");
    Ok(())
}

/// Issue 16 in Chromium: a granted deputy enrols in an interactive training session (Order 270 §12)
/// and turns to the support service (§14); a support agent takes the request and answers; the deputy
/// reads the answer and has its notice. Each page is checked with axe; screenshots for the manuals.
async fn browser_enrols_in_a_session_and_asks_support(db: Option<&str>) -> R {
    use fantoccini::Locator;
    use qoljetim_devca::ncalayer::{FakeNcaLayer, StoredKey};
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let app = TestApp::spawn_full(db, KeyKind::P256, 0, None, move |c| {
        c.pages.ncalayer_url = url
    })
    .await?;
    let base = app.base.clone();
    let r = async {
        let w = world(&app).await?;
        let integ = demo_bin(INTEGRATOR);
        app.add_staff(&iin(5), &integ, "support_agent").await?;
        granted_untrained(&app, &w, 45, K::Parliament, None, &[], &["analytical_central"]).await?;
        let signs_in = |n: u32, bin: &str, role: NcaRole| -> Result<FakeNcaLayer, qoljetim::AnyError> {
            let k = app.person(&iin(n), Some(bin), Some(role), KeyPurpose::Authentication)?;
            Ok(FakeNcaLayer {
                authentication: Some(StoredKey { cert: k.cert, key: k.key }),
                signing: None,
                cancel: false,
            })
        };
        let deputy = signs_in(391, &demo_bin(245), NcaRole::Employee)?;
        let agent = signs_in(5, &integ, NcaRole::Employee)?;
        // The integrator schedules a session for tomorrow, in Russian, in a room.
        let starts = app.state.clock.now().checked_add(jiff::SignedDuration::from_hours(24))?;
        let (s, v) = w
            .integrator
            .post("/api/v1/training/sessions", &json!({"systems": ["analytical_central"], "language": "ru",
                "mode": "room", "place": "Астана, Мәңгілік Ел 8, зал 3", "starts_at": starts.to_string(), "capacity": 12}))
            .await?;
        assert_eq!(s, 201, "{v}");
        let session = v["id"].as_i64().ok_or("no session")?;
        let driver = Chromedriver::start().await?;
        let b = driver.browser().await?;
        let mut running = Some(start_ncalayer(port, deputy).await?);
        let result = async {
            b.goto(&format!("{base}/language/ru?back=/sign-in")).await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            // Order 270 §12: enrolment in a session instead of the lesson.
            b.find(Locator::Css(r#"a[href="/training"].button"#)).await?.click().await?;
            wait_for_text(&b, "sessions", "Мәңгілік Ел").await?;
            b.find(Locator::Css(&format!(r#"form[action="/training/sessions/{session}/enrol"] button"#))).await?.click().await?;
            wait_for_url(&b, &format!("{base}/training/sessions/{session}")).await?;
            wait_for_text(&b, "main", &iin(391)).await?;
            shot(&b, "14-employee-enrolled-in-session").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the session: {violations:#?}");
            // Order 270 §14: a training question to the support service.
            b.goto(&format!("{base}/support")).await?;
            b.find(Locator::Css(r#"select#category option[value="training"]"#)).await?.click().await?;
            b.find(Locator::Id("subject")).await?.send_keys("Где проходит занятие?").await?;
            b.find(Locator::Id("message")).await?.send_keys("Подскажите, в каком зале занятие завтра.").await?;
            shot(&b, "15-employee-support-request").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the support page: {violations:#?}");
            b.find(Locator::Id("support-submit")).await?.click().await?;
            let at = wait_for(&b, |u| u.contains("/support/") && !u.ends_with("/support")).await?;
            let id = at.rsplit('/').next().unwrap_or("").to_owned();
            wait_for_text(&b, "support-status", "открыто").await?;
            b.find(Locator::Css("header .who button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            stop(running.take()).await;
            // The support agent takes the request and answers.
            running = Some(start_ncalayer(port, agent).await?);
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            b.goto(&format!("{base}/support")).await?;
            b.find(Locator::Css(&format!(r#"a[href="/support/{id}"]"#))).await?.click().await?;
            wait_for_text(&b, "thread", "в каком зале").await?;
            b.find(Locator::Id("assign-me")).await?.click().await?;
            wait_for_text(&b, "main", &iin(5)).await?;
            b.find(Locator::Id("reply")).await?.send_keys("Зал 3, второй этаж; возьмите удостоверение.").await?;
            b.find(Locator::Id("reply-submit")).await?.click().await?;
            wait_for_text(&b, "support-status", "дан ответ").await?;
            shot(&b, "16-support-agent-answer").await?;
            let violations = axe_violations(&b).await?;
            assert!(violations.is_empty(), "axe on the request: {violations:#?}");
            b.find(Locator::Css("header .who button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            stop(running.take()).await;
            // The deputy reads the answer and its notice.
            running = Some(start_ncalayer(port, signs_in(391, &demo_bin(245), NcaRole::Employee)?).await?);
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            b.goto(&format!("{base}/notifications")).await?;
            wait_for_text(&b, "main", "Служба поддержки ответила").await?;
            b.goto(&format!("{base}/support/{id}")).await?;
            wait_for_text(&b, "thread", "Зал 3, второй этаж").await?;
            Ok::<_, qoljetim::AnyError>(())
        }
        .await;
        stop(running).await;
        b.close().await?;
        result
    }
    .await;
    app.cleanup().await;
    r
}

/// Issue 17 in Chromium with the development NCALayer: the integrator has opened a campaign; the head of
/// the Almaty maslikhat signs in with the authentication key, confirms one grant and withdraws another
/// with a reason on the campaign's page, checks the exact answer and signs it with the signing key; the
/// page shows both outcomes and the third line still waiting. axe finds no serious or critical
/// violation on the campaign's page.
async fn browser_recertifies_with_ncalayer(db: Option<&str>) -> R {
    use fantoccini::Locator;
    use qoljetim_devca::ncalayer::{FakeNcaLayer, StoredKey};
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let app = TestApp::spawn_full(db, KeyKind::P256, 0, None, move |c| {
        c.pages.ncalayer_url = url
    })
    .await?;
    let base = app.base.clone();
    let r = async {
        let w = world(&app).await?;
        let (_, grants) = crate::recertification::three_granted(&app, &w).await?;
        let (s, v) = w
            .integrator
            .post(
                "/api/v1/recertification/campaigns",
                &json!({"organization_bin": w.bin}),
            )
            .await?;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_i64().ok_or("no campaign")?;
        let auth = app.person(
            &iin(10),
            Some(&w.bin),
            Some(NcaRole::FirstHead),
            KeyPurpose::Authentication,
        )?;
        let head = FakeNcaLayer {
            authentication: Some(StoredKey {
                cert: auth.cert,
                key: auth.key,
            }),
            signing: Some(StoredKey {
                cert: w.head_sign.cert.clone(),
                key: w.head_sign.key.clone(),
            }),
            cancel: false,
        };
        let driver = Chromedriver::start().await?;
        let b = driver.browser().await?;
        let running = Some(start_ncalayer(port, head).await?);
        let result = async {
            b.goto(&format!("{base}/language/ru?back=/sign-in")).await?;
            wait_for_url(&b, &format!("{base}/sign-in")).await?;
            b.find(Locator::Id("sign-in-button")).await?.click().await?;
            wait_for_url(&b, &format!("{base}/")).await?;
            b.find(Locator::Css(r#"header a[href="/recertification"]"#))
                .await?
                .click()
                .await?;
            b.find(Locator::Css(&format!(r#"a[href="/recertification/{id}"]"#)))
                .await?
                .click()
                .await?;
            wait_for_text(&b, "campaign-lines", "Борисова").await?;
            b.find(Locator::Css(&format!(
                r#"input[name="d{}"][value="confirm"]"#,
                grants[0]
            )))
            .await?
            .click()
            .await?;
            b.find(Locator::Css(&format!(
                r#"input[name="d{}"][value="withdraw"]"#,
                grants[1]
            )))
            .await?
            .click()
            .await?;
            b.find(Locator::Id(&format!("r{}", grants[1])))
                .await?
                .send_keys("переведена в другой орган")
                .await?;
            b.find(Locator::Id("prepare-answer")).await?.click().await?;
            wait_for_text(&b, "answer-document", "переведена в другой орган").await?;
            shot(&b, "17-head-recertification").await?;
            let violations = axe_violations(&b).await?;
            assert!(
                violations.is_empty(),
                "axe on the campaign: {violations:#?}"
            );
            b.find(Locator::Id("sign-answer-button"))
                .await?
                .click()
                .await?;
            wait_for_url(&b, &format!("{base}/recertification/{id}")).await?;
            wait_for_text(
                &b,
                &format!("line-{}", grants[1]),
                "отозван: переведена в другой орган",
            )
            .await?;
            wait_for_text(&b, &format!("line-{}", grants[0]), "подтверждён").await?;
            wait_for_text(&b, "campaign-status", "открыта").await?;
            Ok::<_, qoljetim::AnyError>(())
        }
        .await;
        stop(running).await;
        b.close().await?;
        result
    }
    .await;
    app.cleanup().await;
    r
}
