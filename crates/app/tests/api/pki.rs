//! National PKI conformance over real HTTP (DESIGN.md §4): GOST keys from the development CA end to end,
//! key/role refusals, revocation by CRL (refused, sessions ended, fail closed, audited fail-open).

use super::*;

// The GOST 34.10-2015 (512) family end to end; GOST 34.310-2004 runs in gost2004 below.
on_both_databases!(sqlite_pki, postgres_pki; (|db| TestApp::spawn(db, KeyKind::Gost2015_512));
    gost_application_and_sign_in_end_to_end,
    revoked_certificate_is_refused_and_ends_its_sessions,
    sign_in_name_is_matched_with_the_application_line,
    time_stamped_application_counts_from_the_token_time,
);

mod gost2004 {
    use super::*;
    on_both_databases!(sqlite_pki, postgres_pki;
        (|db| TestApp::spawn(db, KeyKind::Gost2004));
        gost_application_and_sign_in_end_to_end);
}

mod crl_status {
    use super::*;

    // DESIGN.md §4: fail closed by default. The anchor is configured with a CRL source that cannot be
    // read, so the status cannot be known: sign-in and submission are refused with their own type.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_revocation_status_fails_closed() -> R {
        let app =
            TestApp::spawn_configured(None, KeyKind::P256, |cfg| strict_anchor(cfg, false)).await?;
        let r = unknown_status(&app, false).await;
        app.cleanup().await;
        r
    }

    // DESIGN.md §4: fail-open is a setting; every decision taken under it says so in the audit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fail_open_accepts_and_audits_it() -> R {
        let app =
            TestApp::spawn_configured(None, KeyKind::P256, |cfg| strict_anchor(cfg, true)).await?;
        let r = unknown_status(&app, true).await;
        app.cleanup().await;
        r
    }
}

/// The Almaty city maslikhat registered, and its employee's authentication key (IIN 11).
async fn almaty_employee(app: &TestApp) -> Result<(String, KeyPair), qoljetim::AnyError> {
    let bin = demo_bin(ALMATY_MASLIKHAT);
    app.add_org(&bin, K::Maslikhat, Some("750000000"), &[])
        .await?;
    let emp = app.person(
        &iin(11),
        Some(&bin),
        Some(NcaRole::Employee),
        KeyPurpose::Authentication,
    )?;
    Ok((bin, emp))
}

/// Trusts the development CA only through a configured anchor whose CRL source does not exist.
fn strict_anchor(cfg: &mut qoljetim::config::Config, fail_open: bool) {
    let dir = cfg.dev_ca_dir();
    cfg.pki.trust_dev_ca = false;
    cfg.pki.revocation_fail_open = fail_open;
    cfg.pki.trust_anchors = vec![qoljetim::config::TrustAnchorConfig {
        name: "strict".into(),
        certificate: dir.join("ca.pem"),
        development: true,
        revocation: qoljetim::config::RevocationConfig::Crl {
            sources: vec![dir.join("unpublished.crl").display().to_string()],
        },
    }];
}

async fn unknown_status(app: &TestApp, fail_open: bool) -> R {
    let (bin, auth) = almaty_employee(app).await?;
    let mut c = app.client();
    let (s, v) = c.login(&auth).await?;
    if !fail_open {
        assert_eq!((s, problem_type(&v)), (401, "revocation-unknown"), "{v}");
        assert!(
            v["detail"].as_str().unwrap_or("").contains("no CRL"),
            "the reason is named: {v}"
        );
        let head = app.person(
            &iin(10),
            Some(&bin),
            Some(NcaRole::FirstHead),
            KeyPurpose::Signing,
        )?;
        // Nobody signs in, so nobody posts a document either (issue 15: a submission needs a
        // session); the document's own verification fails closed the same way (same verifier).
        let f = form(app, &bin, &[(&iin(11), plus_months(today(app), 6))]);
        assert_eq!(
            submit_status(app, &head, &f).await?,
            (401, "not-signed-in".into())
        );
        assert!(
            app.state
                .store
                .applications(None, None, 10)
                .await?
                .is_empty(),
            "nothing half-written"
        );
        return Ok(());
    }
    assert_eq!(s, 200, "{v}");
    let login = app
        .state
        .store
        .audit_records(0, 1000)
        .await?
        .into_iter()
        .find(|r| r.action == "login" && r.outcome == "allowed")
        .ok_or("no login audit record")?;
    let details: Value = serde_json::from_str(&login.details)?;
    assert_eq!(details["revocation"]["fail_open"], true, "{details}");
    assert_eq!(details["revocation"]["status"], "unknown");
    assert_eq!(details["revocation"]["method"], "crl");
    Ok(())
}

// Order 270 §8 and §11 with GOST keys: the head signs an application with a GOST signing key, an
// employee signs in with a GOST authentication key; a one-byte change, a key used for the other
// purpose, and an RSA/ECDSA key on a GOST signature algorithm are each refused with their own type.
async fn gost_application_and_sign_in_end_to_end(app: &TestApp) -> R {
    assert!(app.key_kind.is_gost());
    let w = world(app).await?;
    let t = today(app);
    let f = form(app, &w.bin, &[(&iin(11), plus_months(t, 6))]);
    let signed = w.head_sign.sign(f.to_string().as_bytes())?;
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post("/api/v1/applications", &json!({"signed_cms": signed}))
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap_or(0);
    // The evidence is the GOST CMS, unchanged, and names its anchor and revocation check.
    let (s, bytes) = w
        .reviewer
        .get_bytes(&format!("/api/v1/applications/{id}/evidence"))
        .await?;
    assert_eq!(s, 200);
    assert_eq!(base64_encode(&bytes), signed);
    let (_, v) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    assert_eq!(v["trust_anchor"], "qoljetim-development-ca-gost", "{v}");
    assert_eq!(v["verification"]["revocation"]["method"], "crl", "{v}");
    assert_eq!(v["verification"]["revocation"]["status"], "good", "{v}");
    assert_eq!(
        v["verification"]["signing_time"]["source"], "receipt",
        "no time stamp: the time of receipt is the signing time"
    );

    // One byte of the content changed.
    let mut cms = base64_decode(&signed);
    let needle = w.bin.as_bytes();
    let pos = cms
        .windows(needle.len())
        .position(|x| x == needle)
        .ok_or("BIN not in the CMS")?;
    cms[pos + 3] = if cms[pos + 3] == b'1' { b'2' } else { b'1' };
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": base64_encode(&cms)}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "signature-invalid"), "{v}");

    // Key/role mismatch: the authentication key cannot sign an application…
    let head_auth = app.person(
        &iin(10),
        Some(&w.bin),
        Some(NcaRole::FirstHead),
        KeyPurpose::Authentication,
    )?;
    let (s, v) = app.submit(&head_auth, &f).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (403, "certificate-not-signing-key"),
        "{v}"
    );
    // …and the signing key cannot sign in.
    let mut c = app.client();
    let (s, v) = c.login(&w.head_sign).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (401, "certificate-not-authentication-key"),
        "{v}"
    );
    // Issue 18: an information system's certificate of the organization does not sign in as a person.
    let system_auth = app.person(
        &iin(19),
        Some(&w.bin),
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
    )?;
    let mut c = app.client();
    let (s, v) = c.login(&system_auth).await?;
    assert_eq!(
        (s, problem_type(&v)),
        (401, "certificate-of-information-system"),
        "{v}"
    );
    // A GOST sign-in works and the session reads.
    let mut c = app.client();
    let emp = w.employee(app)?;
    let (s, v) = c.login(&emp).await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c.get("/api/v1/me").await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["person"]["iin"], iin(11), "{v}");
    Ok(())
}

// DESIGN.md §4: a certificate the CA revokes is refused at sign-in and submission, and the sessions
// it opened end at their next request, with the end in the audit chain.
async fn revoked_certificate_is_refused_and_ends_its_sessions(app: &TestApp) -> R {
    let w = world(app).await?;
    let emp = w.employee(app)?;
    let mut session = app.client();
    let (s, v) = session.login(&emp).await?;
    assert_eq!(s, 200, "{v}");
    let (s, _) = session.get("/api/v1/me").await?;
    assert_eq!(s, 200);

    app.revoke(&emp.cert).await?;
    app.revoke(&w.head_sign.cert).await?;

    let (s, v) = session.get("/api/v1/me").await?;
    assert_eq!((s, problem_type(&v)), (401, "certificate-revoked"), "{v}");
    let (s, v) = session.get("/api/v1/me").await?;
    assert_eq!(
        (s, problem_type(&v)),
        (401, "session-expired"),
        "the session is gone: {v}"
    );
    let mut again = app.client();
    let (s, v) = again.login(&emp).await?;
    assert_eq!((s, problem_type(&v)), (401, "certificate-revoked"), "{v}");
    let f = form(app, &w.bin, &[(&iin(11), plus_months(today(app), 6))]);
    assert_eq!(
        submit_status(app, &w.head_sign, &f).await?,
        (400, "certificate-revoked".into())
    );
    // Other people's sessions go on.
    let (s, _) = w.reviewer.get("/api/v1/me").await?;
    assert_eq!(s, 200);
    let ended = app
        .state
        .store
        .audit_records(0, 1000)
        .await?
        .into_iter()
        .filter(|r| r.action == "end_session" && r.outcome == "certificate_revoked")
        .count();
    assert_eq!(ended, 1);
    Ok(())
}

// DESIGN.md §4 (the NCA profile): at sign-in the certificate's SURNAME, given name and GIVENNAME
// (patronymic) are matched with the person's application line; a mismatch is answered, audited and
// shown to the integrator, a match (in any letter case) is not flagged.
async fn sign_in_name_is_matched_with_the_application_line(app: &TestApp) -> R {
    let w = world(app).await?;
    let t = today(app);
    let f = form(app, &w.bin, &[(&iin(11), plus_months(t, 6))]);
    let (s, v) = app.submit(&w.head_sign, &f).await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap_or(0);
    let now = app.state.clock.now();
    let subject = |surname: &str| qoljetim_devca::Subject {
        surname: surname.into(),
        name: "ДИНАРА".into(),
        patronymic: Some("БОЛАТҚЫЗЫ".into()),
        iin: iin(11),
        organization: Some((w.bin.clone(), "Мәслихат".into())),
        role: Some(NcaRole::Employee),
        purpose: KeyPurpose::Authentication,
    };
    // The line says "Сейітова Динара Болатқызы".
    let (cert, key) = app.ca.issue(
        &subject("СЕЙІТОВА"),
        app.key_kind,
        now - 1.hours(),
        now + 24.hours(),
    )?;
    let (s, v) = app.client().login(&KeyPair { cert, key }).await?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name_check"]["status"], "match", "{v}");
    assert_eq!(v["name_check"]["application_id"], id);
    let (s, v) = w.integrator.get("/api/v1/notifications").await?;
    assert_eq!(s, 200);
    assert!(
        !v.to_string().contains("name_mismatch"),
        "a match is not flagged: {v}"
    );
    // "СЕЙИТОВА" with И for І is another name.
    let (cert, key) = app.ca.issue(
        &subject("СЕЙИТОВА"),
        app.key_kind,
        now - 1.hours(),
        now + 24.hours(),
    )?;
    let (s, v) = app.client().login(&KeyPair { cert, key }).await?;
    assert_eq!(s, 200, "the IIN decides who signs in: {v}");
    assert_eq!(v["name_check"]["status"], "mismatch", "{v}");
    assert_eq!(v["name_check"]["fields"], json!(["surname"]));
    assert_eq!(
        v["name_check"]["application_name"],
        "Сейітова Динара Болатқызы"
    );
    let (s, v) = w.integrator.get("/api/v1/notifications").await?;
    assert_eq!(s, 200);
    let text = v.to_string();
    assert!(text.contains("name_mismatch"), "{v}");
    assert!(text.contains("СЕЙИТОВА ДИНАРА БОЛАТҚЫЗЫ"), "{v}");
    let audited = app
        .state
        .store
        .audit_records(0, 1000)
        .await?
        .into_iter()
        .any(|r| r.action == "name_check" && r.outcome == "mismatch");
    assert!(audited);
    Ok(())
}

// DESIGN.md §4 (time stamps): an application whose CMS carries an RFC 3161 token from a trusted TSA
// counts from the token's time, and its verification record says so; a token for another signature
// is refused with its own type and nothing is stored.
async fn time_stamped_application_counts_from_the_token_time(app: &TestApp) -> R {
    use qoljetim_devca::{add_time_stamp, issue_tsa};
    let w = world(app).await?;
    let now = app.state.clock.now();
    let (tsa_cert, tsa_key) = issue_tsa(&app.ca, app.key_kind, now - 48.hours(), now + 48.hours())?;
    let f = form(app, &w.bin, &[(&iin(11), plus_months(today(app), 6))]);
    let cms = base64_decode(&w.head_sign.sign(f.to_string().as_bytes())?);
    // Whole seconds: GeneralizedTime in the token carries no fraction.
    let at = Timestamp::from_second((now - 15.minutes()).as_second())?;
    let stamped = add_time_stamp(&cms, &tsa_cert, &tsa_key, at)?;
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": base64_encode(&stamped)}),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap_or(0);
    let (_, v) = w
        .reviewer
        .get(&format!("/api/v1/applications/{id}"))
        .await?;
    let st = &v["verification"]["signing_time"];
    assert_eq!(st["source"], "timestamp", "{v}");
    assert_eq!(st["at"], at.to_string());
    assert!(
        st["time_stamp"]["tsa"]
            .as_str()
            .unwrap_or("")
            .contains("TSA"),
        "{v}"
    );
    // The token of one signature on another: refused, nothing stored.
    let other = base64_decode(&w.head_sign.sign(b"{}")?);
    let other = add_time_stamp(&other, &tsa_cert, &tsa_key, at)?;
    let token_of_other = {
        use der::Decode;
        let ci = cms::content_info::ContentInfo::from_der(&other)?;
        let sd: cms::signed_data::SignedData = ci.content.decode_as()?;
        sd.signer_infos
            .0
            .iter()
            .next()
            .and_then(|si| si.unsigned_attrs.clone())
            .ok_or("no token")?
    };
    let swapped = {
        use der::{Decode, Encode};
        let mut ci = cms::content_info::ContentInfo::from_der(&cms)?;
        let mut sd: cms::signed_data::SignedData = ci.content.decode_as()?;
        let mut si = sd
            .signer_infos
            .0
            .iter()
            .next()
            .cloned()
            .ok_or("no signer")?;
        si.unsigned_attrs = Some(token_of_other);
        let mut set = der::asn1::SetOfVec::new();
        set.insert(si)?;
        sd.signer_infos = cms::signed_data::SignerInfos(set);
        ci.content = der::Any::encode_from(&sd)?;
        ci.to_der()?
    };
    let before = app.state.store.applications(None, None, 100).await?.len();
    let (s, v) = app
        .session_of(&w.bin)
        .await?
        .post(
            "/api/v1/applications",
            &json!({"signed_cms": base64_encode(&swapped)}),
        )
        .await?;
    assert_eq!((s, problem_type(&v)), (400, "timestamp-invalid"), "{v}");
    assert_eq!(
        app.state.store.applications(None, None, 100).await?.len(),
        before
    );
    Ok(())
}

mod over_http {
    //! Revocation sources over real HTTP: `openssl ocsp` as the OCSP responder (RFC 6960 over HTTP
    //! POST) and CRLs fetched from a URL, on both databases.
    use super::*;

    on_both_databases!(sqlite_http, postgres_http; database;
        ocsp_responder_over_http,
        crl_from_a_url,
    );

    fn free_port() -> Result<u16, qoljetim::AnyError> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    }

    fn openssl_time(t: Timestamp) -> String {
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%y%m%d%H%M%SZ")
            .to_string()
    }

    /// True when something listens on `port` (Linux /proc/net/tcp{,6}, state 0A).
    fn listening(port: u16) -> bool {
        let needle = format!(":{port:04X} ");
        ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| {
                t.lines().any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && format!("{} ", cols[1]).ends_with(&needle) && cols[3] == "0A"
                })
            })
        })
    }

    struct Responder(std::process::Child);
    impl Drop for Responder {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn anchor(
        cfg: &qoljetim::config::Config,
        name: &str,
        revocation: qoljetim::config::RevocationConfig,
    ) -> qoljetim::config::TrustAnchorConfig {
        qoljetim::config::TrustAnchorConfig {
            name: format!("{name}-anchor"),
            certificate: cfg.dev_ca_dir().join("ca.pem"),
            development: true,
            revocation,
        }
    }

    async fn login_revocation(app: &TestApp) -> Result<Value, qoljetim::AnyError> {
        let rec = app
            .state
            .store
            .audit_records(0, 10_000)
            .await?
            .into_iter()
            .rev()
            .find(|r| r.action == "login" && r.outcome == "allowed")
            .ok_or("no login")?;
        let d: Value = serde_json::from_str(&rec.details)?;
        Ok(d["revocation"].clone())
    }

    // DESIGN.md §4 (OCSP): the anchor's responder answers over HTTP; good signs in, the certificate
    // revoked at the responder ends the session at its next request, and a responder that is down
    // makes the status unknown, which refuses (fail closed).
    async fn ocsp_responder_over_http(pg: Option<&str>) -> R {
        let port = free_port()?;
        let app = TestApp::spawn_configured(pg, KeyKind::P256, move |cfg| {
            let a = anchor(
                cfg,
                "ocsp",
                qoljetim::config::RevocationConfig::Ocsp {
                    url: format!("http://127.0.0.1:{port}/"),
                },
            );
            cfg.pki.trust_dev_ca = false;
            cfg.pki.trust_anchors = vec![a];
            cfg.pki.ocsp_max_age_minutes = 0;
        })
        .await?;
        let r = async {
            let (bin, emp) = almaty_employee(&app).await?;
            let serial = hex::encode_upper(emp.cert.tbs_certificate().serial_number().as_bytes());
            let now = app.state.clock.now();
            let exp = openssl_time(now + 24.hours());
            let ca_dir = app.config.dev_ca_dir();
            let index = app.dir.join("index.txt");
            std::fs::write(&index, format!("V\t{exp}\t\t{serial}\tunknown\t/CN=emp\n"))?;
            let start = || -> Result<Responder, qoljetim::AnyError> {
                let d = |p: &std::path::Path| p.display().to_string();
                Ok(Responder(
                    std::process::Command::new("openssl")
                        .args(["ocsp", "-port", &port.to_string(), "-index", &d(&index)])
                        .args(["-CA", &d(&ca_dir.join("ca.pem"))])
                        .args(["-rsigner", &d(&ca_dir.join("ca.pem"))])
                        .args(["-rkey", &d(&ca_dir.join("ca.key.pem")), "-nmin", "5"])
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()?,
                ))
            };
            // Wait for the port to listen without connecting: `openssl ocsp` serves one connection
            // at a time and stalls on one that closes without a request.
            let wait = || async {
                for _ in 0..100 {
                    if listening(port) {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            };
            let responder = start()?;
            wait().await;
            let mut c = app.client();
            let (s, v) = c.login(&emp).await?;
            assert_eq!(s, 200, "{v}");
            let rev = login_revocation(&app).await?;
            assert_eq!(
                (rev["method"].as_str(), rev["status"].as_str()),
                (Some("ocsp"), Some("good")),
                "{rev}"
            );
            // Revoked at the responder (restarted with its new index: `openssl ocsp` reads it once).
            drop(responder);
            std::fs::write(
                &index,
                format!(
                    "R\t{exp}\t{}\t{serial}\tunknown\t/CN=emp\n",
                    openssl_time(now - 1.minutes())
                ),
            )?;
            while listening(port) {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let responder = start()?;
            wait().await;
            // Past the cached answer's second (ocsp_max_age_minutes = 0).
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            let (s, v) = c.get("/api/v1/me").await?;
            assert_eq!((s, problem_type(&v)), (401, "certificate-revoked"), "{v}");
            // The responder is down: unknown, refused.
            drop(responder);
            let other = app.person(
                &iin(12),
                Some(&bin),
                Some(NcaRole::Employee),
                KeyPurpose::Authentication,
            )?;
            let (s, v) = app.client().login(&other).await?;
            assert_eq!((s, problem_type(&v)), (401, "revocation-unknown"), "{v}");
            assert!(v["detail"].as_str().unwrap_or("").contains("OCSP"), "{v}");
            Ok::<(), qoljetim::AnyError>(())
        }
        .await;
        app.cleanup().await;
        r
    }

    // DESIGN.md §4 (CRL from a URL): the anchor's CRL is fetched over HTTP at start and on refresh;
    // a revocation published there ends the session at its next request.
    async fn crl_from_a_url(pg: Option<&str>) -> R {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let crl_file = std::sync::Arc::new(std::sync::Mutex::new(std::path::PathBuf::new()));
        let served = crl_file.clone();
        let router = axum::Router::new().route(
            "/ca.crl",
            axum::routing::get(move || {
                let path = served.lock().map(|p| p.clone()).unwrap_or_default();
                async move { std::fs::read(path).unwrap_or_default() }
            }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let app_crl = crl_file.clone();
        let app = TestApp::spawn_configured(pg, KeyKind::Gost2015_512, move |cfg| {
            // The GOST development CA, its CRL served over HTTP.
            let gost = qoljetim::devca_files::gost_dir(&cfg.dev_ca_dir());
            if let Ok(mut p) = app_crl.lock() {
                *p = qoljetim::devca_files::crl_path(&gost);
            }
            let mut a = anchor(
                cfg,
                "crl",
                qoljetim::config::RevocationConfig::Crl {
                    sources: vec![format!("http://127.0.0.1:{port}/ca.crl")],
                },
            );
            a.certificate = gost.join("ca.pem");
            cfg.pki.trust_dev_ca = false;
            cfg.pki.trust_anchors = vec![a];
        })
        .await?;
        let r = async {
            let (_, emp) = almaty_employee(&app).await?;
            let mut c = app.client();
            let (s, v) = c.login(&emp).await?;
            assert_eq!(s, 200, "{v}");
            let rev = login_revocation(&app).await?;
            assert_eq!(
                (rev["method"].as_str(), rev["status"].as_str()),
                (Some("crl"), Some("good")),
                "{rev}"
            );
            app.revoke(&emp.cert).await?;
            let (s, v) = c.get("/api/v1/me").await?;
            assert_eq!((s, problem_type(&v)), (401, "certificate-revoked"), "{v}");
            Ok::<(), qoljetim::AnyError>(())
        }
        .await;
        server.abort();
        app.cleanup().await;
        r
    }
}
