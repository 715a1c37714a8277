//! Operating the server (issue 15): the `qoljetim serve` process itself, stopped with SIGTERM while
//! requests are in flight, on SQLite and PostgreSQL.

use super::*;
use qoljetim::client::KeyPair;
use qoljetim_devca::Subject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_databases!(sqlite_operable, postgres_operable; database;
    sigterm_answers_the_requests_in_flight_and_exits,
);

/// Issue 15: SIGTERM while ten sign-ins are in flight (each has sent its headers and half its body):
/// no new connection is accepted, every sign-in in flight is answered in full (200 and a session),
/// the worker finishes, the process exits 0, and what it wrote is whole — one session per answered
/// sign-in, and the audit chain verifies.
async fn sigterm_answers_the_requests_in_flight_and_exits(db: Option<&str>) -> R {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b)?;
    let dir = std::env::temp_dir().join(format!("qoljetim-sigterm-{}", hex::encode(b)));
    std::fs::create_dir_all(&dir)?;
    let (database_url, pg) = match db {
        Some(admin) => {
            let (url, name) = qoljetim::inproc::pg_fresh_db(admin).await?;
            (url, Some((admin.to_owned(), name)))
        }
        None => (qoljetim_store::sqlite_url(&dir.join("qoljetim.db")), None),
    };
    let r = sigterm_case(&dir, &database_url).await;
    if let Some((admin, name)) = pg {
        let _ = qoljetim::inproc::pg_drop_db(&admin, &name).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    r
}

async fn sigterm_case(dir: &std::path::Path, database_url: &str) -> R {
    // The organization and a person's key, made before the server starts.
    let (ca, _) = qoljetim::devca_files::init_both(&dir.join("dev-ca"), KeyKind::P256)?;
    let bin = demo_bin(ALMATY_MASLIKHAT);
    {
        let store = qoljetim_store::Store::open(database_url).await?;
        store
            .commit(
                qoljetim::organization_change(
                    &bin,
                    ("Алматы қалалық мәслихаты", "Алматинский городской маслихат"),
                    K::Maslikhat,
                    Some("750000000"),
                    &[],
                    Timestamp::now().as_microsecond(),
                )?,
                qoljetim::cli_audit("cli:test", "manage_organizations", bin.clone(), json!({})),
            )
            .await?;
    }
    let now = Timestamp::now();
    let person = |n: u32| -> Result<KeyPair, qoljetim::AnyError> {
        let subject = Subject {
            surname: "ТЕСТОВА".into(),
            name: "АЙГҮЛ".into(),
            patronymic: None,
            iin: iin(n),
            organization: Some((bin.clone(), "Тест ұйымы".into())),
            role: Some(NcaRole::Employee),
            purpose: KeyPurpose::Authentication,
        };
        let (cert, key) = ca.issue(&subject, KeyKind::P256, now - 1.hour(), now + 24.hours())?;
        Ok(KeyPair { cert, key })
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_qoljetim"))
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(dir)
        .env("QOLJETIM_DATABASE_URL", database_url)
        .env("QOLJETIM_PKI__TRUST_DEV_CA", "true")
        .env("QOLJETIM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let base = format!("http://{addr}");
    let client = ApiClient::new(&base);
    let mut up = false;
    for _ in 0..300 {
        if client.get("/healthz").await.is_ok_and(|(s, _)| s == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "qoljetim serve did not start");
    // Ten sign-ins in flight: headers and half of each body sent.
    let mut in_flight = vec![];
    for n in 0..10 {
        let challenge = client.challenge().await?;
        let body = json!({"signed_cms": person(20 + n)?.sign(challenge.as_bytes())?}).to_string();
        let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
        let head = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let half = body.len() / 2;
        tcp.write_all(head.as_bytes()).await?;
        tcp.write_all(&body.as_bytes()[..half]).await?;
        in_flight.push((tcp, body, half));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = child.id().ok_or("no pid")?;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(status.success());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // No new connection is served once stopping.
    let late = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        reqwest::Client::new().get(format!("{base}/healthz")).send(),
    )
    .await;
    assert!(
        !matches!(late, Ok(Ok(ref r)) if r.status().is_success()),
        "a new request after SIGTERM is not served"
    );
    // The rest of each body: every sign-in in flight is answered in full.
    let mut answered = 0;
    for (mut tcp, body, half) in in_flight {
        tcp.write_all(&body.as_bytes()[half..]).await?;
        let mut answer = vec![];
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tcp.read_to_end(&mut answer),
        )
        .await??;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("\"token\""), "{answer}");
        answered += 1;
    }
    assert_eq!(answered, 10);
    let exit = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait()).await??;
    assert_eq!(exit.code(), Some(0), "exits cleanly");
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out).await?;
    }
    assert!(out.contains("qoljetim stopped"), "{out}");
    // Nothing half-written: ten sessions, and the audit chain whole.
    let store = qoljetim_store::Store::open(database_url).await?;
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(sessions, 10);
    let report = store.verify_audit_chain().await?;
    assert!(report.first_broken.is_none(), "{report:?}");
    assert!(
        report.records >= 11,
        "the organization and ten sign-ins: {report:?}"
    );
    Ok(())
}
