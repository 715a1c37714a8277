//! The test kit of the integration tests (DESIGN.md §7): `TestApp` — the real server on port 0 with a
//! fresh database (qoljetim's in-process server), the test HR system allowed to post events, time
//! travel, revocation at the development CA — and an SMTP sink. A dev-dependency only: the shipped
//! `qoljetim` binary never links it.

use std::ops::Deref;

use jiff::Timestamp;
use qoljetim::AnyError;
use qoljetim::config::Config;
use qoljetim::inproc::InProcess;
use qoljetim_devca::KeyKind;

pub use qoljetim::inproc::iin;

/// The BIN of the test HR system (E-Qyzmet's event sender), allowed in every test app.
pub fn hr_system_bin() -> String {
    qoljetim::people::demo_bin(90)
}

/// The real server of one test, on its own database; everything of `InProcess` through `Deref`.
pub struct TestApp(InProcess);

impl Deref for TestApp {
    type Target = InProcess;
    fn deref(&self) -> &InProcess {
        &self.0
    }
}

impl TestApp {
    /// Boots the real server on port 0. `postgres_admin_url`: None for SQLite.
    pub async fn spawn(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_full(postgres_admin_url, key_kind, 0, None, |_| {}).await
    }

    /// As `spawn`, with `budget_rows` rows of seeded synthetic budget data for 2025–2027.
    pub async fn spawn_with_data(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        budget_rows: usize,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_full(postgres_admin_url, key_kind, budget_rows, None, |_| {}).await
    }

    /// As `spawn`, with `configure` changing the configuration before the server starts (its
    /// `data_dir`, with the development CAs in `dev-ca/`, is already made).
    pub async fn spawn_configured(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        configure: impl FnOnce(&mut Config) + Send,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_full(postgres_admin_url, key_kind, 0, None, configure).await
    }

    /// As `spawn`, with the clock fixed at `at` (tests move it with `app.state.clock.set`).
    pub async fn spawn_at(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        at: Timestamp,
    ) -> Result<TestApp, AnyError> {
        Self::spawn_full(postgres_admin_url, key_kind, 0, Some(at), |_| {}).await
    }

    /// The general form: `budget_rows` of synthetic data, a fixed clock when `at` is given, and
    /// `configure`. Every test app lets the test HR system (`hr_system_bin()`) post HR events.
    pub async fn spawn_full(
        postgres_admin_url: Option<&str>,
        key_kind: KeyKind,
        budget_rows: usize,
        at: Option<Timestamp>,
        configure: impl FnOnce(&mut Config) + Send,
    ) -> Result<TestApp, AnyError> {
        let app = InProcess::start(
            postgres_admin_url,
            key_kind,
            budget_rows,
            at,
            Some(Box::new(move |c: &mut Config| {
                c.hr.event_signer_bins = vec![hr_system_bin()];
                configure(c);
            })),
        )
        .await?;
        Ok(TestApp(app))
    }

    /// Revokes `cert` at the development CA (which publishes its CRL again) and has the server read
    /// the CRLs now instead of at the next scheduled refresh.
    pub async fn revoke(&self, cert: &x509_cert::Certificate) -> Result<(), AnyError> {
        qoljetim::devca_files::revoke(&self.config.dev_ca_dir(), cert, self.state.clock.now())?;
        self.refresh_crls().await
    }

    pub async fn refresh_crls(&self) -> Result<(), AnyError> {
        let feeds = qoljetim::pki::feeds_of(&self.config, self.state.verifier.anchors());
        for r in qoljetim::pki::refresh(&feeds).await {
            r.outcome.map_err(|e| format!("{}: {e}", r.source))?;
        }
        Ok(())
    }

    /// Drops the PostgreSQL database and removes the data folder.
    pub async fn cleanup(self) {
        self.0.cleanup().await
    }
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
