//! The test kit: a real server on port 0 with a fresh database (a temporary SQLite file, or a fresh
//! PostgreSQL database that is dropped afterwards), the development CA, and helpers to make people.
//! The integration tests and `qoljetim bench` both use it.

use std::path::PathBuf;

use jiff::{Timestamp, ToSpan};
use qoljetim_domain::OrganizationKind;
use qoljetim_signature::devca::{DevCa, KeyKind, Subject};
use qoljetim_signature::{KeyPurpose, NcaRole};
use qoljetim_store::Change;
use qoljetim_web::AppState;
use serde_json::json;
use sqlx::Executor;

use crate::AnyError;
use crate::client::{ApiClient, KeyPair};
use crate::config::Config;
use crate::people::demo_iin;

/// The BIN of the test HR system (E-Qyzmet's event sender), allowed in every test app.
pub fn hr_system_bin() -> String {
    crate::people::demo_bin(90)
}

/// A change to the configuration before the server starts.
type Configure<'a> = Box<dyn FnOnce(&mut Config) + Send + 'a>;

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub ca: DevCa,
    pub key_kind: KeyKind,
    pub dir: PathBuf,
    pub database_url: String,
    pub config: Config,
    pg: Option<(String, String)>,
}

/// Creates a fresh PostgreSQL database next to `admin_url`'s and returns its URL and name.
pub async fn pg_fresh_db(admin_url: &str) -> Result<(String, String), AnyError> {
    sqlx::any::install_default_drivers();
    let mut b = [0u8; 6];
    getrandom::fill(&mut b)?;
    let name = format!("qoljetim_test_{}", hex::encode(b));
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    Ok((format!("{base}/{name}"), name))
}

pub async fn pg_drop_db(admin_url: &str, name: &str) -> Result<(), AnyError> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url).await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    Ok(())
}

fn temp_dir() -> Result<PathBuf, AnyError> {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b)?;
    let dir = std::env::temp_dir().join(format!("qoljetim-test-{}", hex::encode(b)));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl TestApp {
    /// Boots the real server on port 0. `postgres_admin_url`: None for SQLite.
    pub async fn spawn(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_with_data(postgres_admin_url, key_kind, 0).await
    }

    /// As `spawn`, with `budget_rows` rows of seeded synthetic budget data for 2025–2027.
    pub async fn spawn_with_data(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        budget_rows: usize,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_full(postgres_admin_url, key_kind, budget_rows, None, None).await
    }

    /// As `spawn`, with `configure` changing the configuration before the server starts (its
    /// `data_dir`, with the development CAs in `dev-ca/`, is already made).
    pub async fn spawn_configured(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        configure: impl FnOnce(&mut Config) + Send,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_full(
            postgres_admin_url,
            key_kind,
            0,
            None,
            Some(Box::new(configure)),
        )
        .await
    }

    /// As `spawn`, with the clock fixed at `at` (tests move it with `app.state.clock.set`) and the
    /// test HR system (`hr_system_bin()`) allowed to post HR events.
    pub async fn spawn_at(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        at: Timestamp,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_full(postgres_admin_url, key_kind, 0, Some(at), None).await
    }

    async fn spawn_full(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        budget_rows: usize,
        at: Option<Timestamp>,
        configure: Option<Configure<'_>>,
    ) -> Result<TestApp, AnyError> {
        let dir = temp_dir()?;
        if budget_rows > 0 {
            qoljetim_budget::generate::generate(
                &dir.join("budget"),
                budget_rows,
                2026,
                &[2025, 2026, 2027],
            )?;
        }
        // The app's own CA issues `key_kind` keys; the other family's CA exists too, as in the demo.
        let ca = if key_kind.is_gost() {
            crate::devca_files::init_both(&dir.join("dev-ca"), KeyKind::P256)?.1
        } else {
            crate::devca_files::init_both(&dir.join("dev-ca"), key_kind)?.0
        };
        let pg = match postgres_admin_url {
            Some(admin) => Some((admin.to_owned(), pg_fresh_db(admin).await?.1)),
            None => None,
        };
        let database_url = match &pg {
            Some((admin, name)) => {
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
                format!("{base}/{name}")
            }
            None => String::new(),
        };
        let mut cfg = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.clone(),
            database_url: crate::config::Secret::new(database_url.clone()),
            hr: crate::config::HrConfig {
                event_signer_bins: vec![hr_system_bin()],
                ..Default::default()
            },
            pki: crate::config::PkiConfig {
                trust_dev_ca: true,
                ..Default::default()
            },
            ..Config::default()
        };
        if let Some(f) = configure {
            f(&mut cfg);
        }
        let clock = match at {
            Some(t) => qoljetim_domain::Clock::fixed(t),
            None => qoljetim_domain::Clock::system(),
        };
        let (addr, state) = crate::spawn_server_with_clock(&cfg, clock).await?;
        Ok(TestApp {
            base: format!("http://{addr}"),
            state,
            ca,
            key_kind,
            dir,
            database_url: cfg.database_url(),
            config: cfg,
            pg,
        })
    }

    /// Revokes `cert` at the development CA (which publishes its CRL again) and has the server read
    /// the CRLs now instead of at the next scheduled refresh.
    pub async fn revoke(&self, cert: &x509_cert::Certificate) -> Result<(), AnyError> {
        crate::devca_files::revoke(&self.config.dev_ca_dir(), cert, self.state.clock.now())?;
        self.refresh_crls().await
    }

    pub async fn refresh_crls(&self) -> Result<(), AnyError> {
        let feeds = crate::pki::feeds_of(&self.config, self.state.verifier.anchors());
        for r in crate::pki::refresh(&feeds).await {
            r.outcome.map_err(|e| format!("{}: {e}", r.source))?;
        }
        Ok(())
    }

    pub fn client(&self) -> ApiClient {
        ApiClient::new(&self.base)
    }

    pub async fn add_org(
        &self,
        bin: &str,
        kind: OrganizationKind,
        territory: Option<&str>,
        admins: &[&str],
    ) -> Result<(), AnyError> {
        let change = Change::CreateOrganization {
            bin: bin.into(),
            name_kk: format!("Ұйым {bin}"),
            name_ru: format!("Организация {bin}"),
            kind: kind.as_str().into(),
            territory: territory.map(str::to_owned),
            administrators: serde_json::to_string(admins)?,
            created_at: Timestamp::now().as_microsecond(),
        };
        self.state
            .store
            .commit(
                change,
                crate::cli_audit(
                    "cli:test",
                    "manage_organizations",
                    bin.to_owned(),
                    json!({}),
                ),
            )
            .await?;
        Ok(())
    }

    pub async fn add_staff(&self, iin: &str, bin: &str, role: &str) -> Result<(), AnyError> {
        let change = Change::AddStaff {
            iin: iin.into(),
            bin: bin.into(),
            role: role.into(),
            created_at: Timestamp::now().as_microsecond(),
        };
        self.state
            .store
            .commit(
                change,
                crate::cli_audit("cli:test", "add_staff", iin.to_owned(), json!({})),
            )
            .await?;
        Ok(())
    }

    /// A key pair in the NCA profile, issued by the development CA.
    pub fn person(
        &self,
        iin: &str,
        bin: Option<&str>,
        role: Option<NcaRole>,
        purpose: KeyPurpose,
    ) -> Result<KeyPair, AnyError> {
        let now = self.state.clock.now();
        self.person_valid(iin, bin, role, purpose, now - 1.hour(), now + 24.hours())
    }

    pub fn person_valid(
        &self,
        iin: &str,
        bin: Option<&str>,
        role: Option<NcaRole>,
        purpose: KeyPurpose,
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> Result<KeyPair, AnyError> {
        let subject = Subject {
            surname: "ТЕСТОВА".into(),
            name: "АЙГҮЛ".into(),
            patronymic: Some("ҚАЙРАТҚЫЗЫ".into()),
            iin: iin.into(),
            organization: bin.map(|b| (b.to_owned(), "Тест ұйымы".to_owned())),
            role,
            purpose,
        };
        let (cert, key) = self
            .ca
            .issue(&subject, self.key_kind, not_before, not_after)?;
        Ok(KeyPair { cert, key })
    }

    /// Signs in a person of `bin` with a fresh authentication key.
    pub async fn signed_in(
        &self,
        iin: &str,
        bin: &str,
        role: NcaRole,
    ) -> Result<ApiClient, AnyError> {
        let mut c = self.client();
        let (s, v) = c
            .login(&self.person(iin, Some(bin), Some(role), KeyPurpose::Authentication)?)
            .await?;
        if s != 200 {
            return Err(format!("sign-in of {iin}@{bin}: {s} {v}").into());
        }
        Ok(c)
    }

    pub async fn cleanup(self) {
        if let Some((admin, name)) = &self.pg
            && let Err(e) = pg_drop_db(admin, name).await
        {
            eprintln!("could not drop {name}: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The n-th test IIN (valid check digit).
pub fn iin(n: u32) -> String {
    demo_iin(n)
}

/// A local SMTP sink standing in for the relay (tests only): records every message it accepts, can
/// refuse the next N with 451, and can hold the answer to a message forever (a relay that received
/// it but whose reply never came back — what a crash in the middle of a send looks like).
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub url: String,
    /// Messages whose DATA arrived, accepted or not.
    pub received: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Messages answered 250.
    pub accepted: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub refuse_next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub hold_next: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SmtpSink {
    pub async fn start() -> Result<SmtpSink, AnyError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sink = SmtpSink {
            url: format!("smtp://{}", listener.local_addr()?),
            ..SmtpSink::default()
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        Ok(sink)
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 sink ESMTP\r\n").await?;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_ascii_uppercase();
            if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
            } else if cmd == "DATA" {
                w.write_all(b"354 go ahead\r\n").await?;
                let mut msg = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    msg.push_str(&line);
                }
                if let Ok(mut g) = self.received.lock() {
                    g.push(msg.clone());
                }
                if self.hold_next.swap(false, Ordering::SeqCst) {
                    // Never answer: the client cannot know whether the relay took the message.
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return Ok(());
                }
                let refuse = self
                    .refuse_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if refuse {
                    w.write_all(b"451 4.3.0 try again later\r\n").await?;
                } else {
                    if let Ok(mut g) = self.accepted.lock() {
                        g.push(msg);
                    }
                    w.write_all(b"250 2.0.0 queued\r\n").await?;
                }
            } else if cmd == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                w.write_all(b"250 ok\r\n").await?;
            }
        }
    }

    /// The Message-IDs of the accepted messages, in order.
    pub fn accepted_ids(&self) -> Vec<String> {
        Self::ids(&self.accepted)
    }

    pub fn received_ids(&self) -> Vec<String> {
        Self::ids(&self.received)
    }

    fn ids(list: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
        list.lock()
            .map(|g| {
                g.iter()
                    .filter_map(|m| {
                        m.lines()
                            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                            .map(|l| l[11..].trim().to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
