//! An in-process server on a scratch database — a temporary SQLite file, or a fresh PostgreSQL database
//! dropped afterwards — with its own development CA and helpers to register organizations and make
//! people: what `qoljetim bench` runs against. The test kit (crates/testkit, never in the binary) builds
//! the integration tests' `TestApp` on it.

use std::path::PathBuf;

use jiff::{Timestamp, ToSpan};
use qoljetim_devca::{DevCa, KeyKind, Subject};
use qoljetim_domain::OrganizationKind;
use qoljetim_service::Service as AppState;
use qoljetim_signature::{KeyPurpose, NcaRole};
use serde_json::json;
use sqlx::Executor;

use crate::AnyError;
use crate::client::{ApiClient, KeyPair};
use crate::config::Config;
use crate::people::demo_iin;

/// A change to the configuration before the server starts.
pub type Configure<'a> = Box<dyn FnOnce(&mut Config) + Send + 'a>;

pub struct InProcess {
    pub base: String,
    pub state: AppState,
    pub ca: DevCa,
    pub key_kind: KeyKind,
    pub dir: PathBuf,
    pub database_url: String,
    pub config: Config,
    /// The PostgreSQL admin URL and the scratch database's name, dropped by `cleanup`.
    pub pg: Option<(String, String)>,
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

impl InProcess {
    /// Boots the real server on port 0. `postgres_admin_url`: None for SQLite.
    pub async fn spawn(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
    ) -> Result<InProcess, AnyError> {
        Self::start(postgres_admin_url, key_kind, 0, None, None).await
    }

    /// Boots the server: `budget_rows` of seeded synthetic data for 2025–2027 (0: none), the clock
    /// fixed at `at` (None: the system clock), and `configure` changing the configuration before start.
    pub async fn start(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        budget_rows: usize,
        at: Option<Timestamp>,
        configure: Option<Configure<'_>>,
    ) -> Result<InProcess, AnyError> {
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
            pki: crate::config::PkiConfig {
                trust_dev_ca: true,
                ..Default::default()
            },
            // Every test signs in from 127.0.0.1, many times: the per-address rate is off unless a
            // test sets it (the abuse test does); the per-certificate one keeps its default.
            limits: crate::config::LimitsSection {
                sign_ins_per_address_per_minute: 0,
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
        // Order 270 §12: the shipped lessons, loaded as `qoljetim lessons load` loads them.
        state
            .load_lessons("test", crate::shipped_lessons())
            .await
            .map_err(|e| format!("loading the lessons: {e:?}"))?;
        Ok(InProcess {
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

    pub fn client(&self) -> ApiClient {
        ApiClient::new(&self.base)
    }

    /// A session of the organization `bin` (a fresh employee's, IIN 97): where signed documents of
    /// that organization are posted (issue 15).
    pub async fn session_of(&self, bin: &str) -> Result<ApiClient, AnyError> {
        self.signed_in(&iin(97), bin, qoljetim_signature::NcaRole::Employee)
            .await
    }

    /// Posts a signed application as a submission must be posted (issue 15): in a session of its
    /// applicant organization (a fresh employee's, IIN 97). Where that organization cannot sign in
    /// (not registered), the post goes without a session and gets its refusal.
    pub async fn submit(
        &self,
        signer: &KeyPair,
        form: &serde_json::Value,
    ) -> Result<(u16, serde_json::Value), AnyError> {
        let bin = form["applicant_bin"].as_str().unwrap_or_default();
        let session = match self
            .signed_in(&iin(97), bin, qoljetim_signature::NcaRole::Employee)
            .await
        {
            Ok(c) => c,
            Err(_) => self.client(),
        };
        session.submit(signer, form).await
    }

    pub async fn add_org(
        &self,
        bin: &str,
        kind: OrganizationKind,
        territory: Option<&str>,
        admins: &[&str],
    ) -> Result<(), AnyError> {
        let change = crate::organization_change(
            bin,
            (&format!("Ұйым {bin}"), &format!("Организация {bin}")),
            kind,
            territory,
            admins,
            Timestamp::now().as_microsecond(),
        )?;
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
        let change = crate::staff_change(iin, bin, role, Timestamp::now().as_microsecond())?;
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
