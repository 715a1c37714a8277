//! Trust anchors from the configuration and their CRL feeds: each anchor with `revocation = "crl"`
//! (and the development CAs, whose CRL files `dev-ca init` and `dev-ca revoke` publish) has its CRLs
//! read from files or fetched over HTTP at start and every `crl_refresh_minutes`. A source that
//! cannot be read or does not verify keeps the previous CRL; when none is in force the status is
//! unknown and signatures are refused (fail closed) unless `revocation_fail_open` is set.

use std::sync::Arc;
use std::time::Duration;

use qoljetim_signature::ocsp::{OcspClient, OcspTransport};
use qoljetim_signature::{CrlStore, Revocation, TrustAnchor};

use crate::config::{Config, RevocationConfig};
use crate::{devca_files, load_certificate};

/// OCSP over plain HTTP POST (RFC 6960 Appendix A.1) with a blocking client: CMS verification runs
/// on the blocking pool, so a round trip never stalls the async threads.
pub struct HttpOcspTransport {
    agent: ureq::Agent,
}

impl HttpOcspTransport {
    pub fn new(timeout: Duration) -> Self {
        // An https responder is checked against the system's trust store (where the national CA's
        // roots are installed), as the CRL sources and the HR registry are.
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build();
        HttpOcspTransport {
            agent: config.into(),
        }
    }
}

impl OcspTransport for HttpOcspTransport {
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, String> {
        let mut resp = self
            .agent
            .post(url)
            .header("Content-Type", "application/ocsp-request")
            .send(request)
            .map_err(|e| crate::causes(&e))?;
        if resp.status() != 200 {
            return Err(format!("HTTP {}", resp.status()));
        }
        resp.body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| e.to_string())
    }
}

/// The CRL sources of one anchor.
#[derive(Clone)]
pub struct CrlFeed {
    pub anchor: String,
    pub store: Arc<CrlStore>,
    pub sources: Vec<String>,
}

const DEV_ANCHOR: &str = "qoljetim-development-ca";
const DEV_ANCHOR_GOST: &str = "qoljetim-development-ca-gost";

/// The trust anchors of the configuration with their revocation method, and the CRL feeds to load.
/// Production mode refuses development anchors and anchors without revocation checking.
pub fn trust_anchors(cfg: &Config) -> Result<(Vec<TrustAnchor>, Vec<CrlFeed>), String> {
    let mut anchors = vec![];
    let mut feeds = vec![];
    for a in &cfg.pki.trust_anchors {
        if cfg.production && a.development {
            return Err(format!(
                "trust anchor {}: production mode refuses development anchors",
                a.name
            ));
        }
        if cfg.production && a.revocation == RevocationConfig::None {
            return Err(format!(
                "trust anchor {}: production mode refuses an anchor without revocation checking (revocation = \"none\")",
                a.name
            ));
        }
        let certificate = load_certificate(&a.certificate)?;
        let revocation = match &a.revocation {
            RevocationConfig::None => Revocation::None,
            RevocationConfig::Crl { sources } => {
                let store = Arc::new(CrlStore::new(certificate.clone()));
                feeds.push(CrlFeed {
                    anchor: a.name.clone(),
                    store: store.clone(),
                    sources: sources.clone(),
                });
                Revocation::Crl(store)
            }
            RevocationConfig::Ocsp { url } => Revocation::Ocsp(Arc::new(OcspClient::new(
                url,
                Arc::new(HttpOcspTransport::new(Duration::from_secs(
                    cfg.pki.ocsp_timeout_seconds,
                ))),
                (cfg.pki.ocsp_max_age_minutes * 60) as i64,
            ))),
        };
        anchors.push(TrustAnchor {
            name: a.name.clone(),
            certificate,
            development: a.development,
            revocation,
        });
    }
    if cfg.pki.trust_dev_ca {
        if cfg.production {
            return Err(
                "production mode refuses the development CA: set trust_dev_ca = false".into(),
            );
        }
        let gost = devca_files::gost_dir(&cfg.dev_ca_dir());
        for (name, dir) in [(DEV_ANCHOR, cfg.dev_ca_dir()), (DEV_ANCHOR_GOST, gost)] {
            let path = dir.join("ca.pem");
            if !path.exists() {
                continue;
            }
            let certificate = load_certificate(&path)?;
            let store = Arc::new(CrlStore::new(certificate.clone()));
            feeds.push(CrlFeed {
                anchor: name.into(),
                store: store.clone(),
                sources: vec![devca_files::crl_path(&dir).display().to_string()],
            });
            anchors.push(TrustAnchor {
                name: name.into(),
                certificate,
                development: true,
                revocation: Revocation::Crl(store),
            });
        }
    }
    Ok((anchors, feeds))
}

/// The anchors of RFC 3161 time-stamp authorities: the configured ones, and the development CAs when
/// they are trusted (their TSA certificates are made by `devca::issue_tsa`).
pub fn tsa_anchors(cfg: &Config) -> Result<Vec<TrustAnchor>, String> {
    let mut out = vec![];
    for a in &cfg.pki.tsa_anchors {
        out.push(TrustAnchor {
            name: a.name.clone(),
            certificate: load_certificate(&a.certificate)?,
            development: false,
            revocation: Revocation::None,
        });
    }
    if cfg.pki.trust_dev_ca && !cfg.production {
        let gost = devca_files::gost_dir(&cfg.dev_ca_dir());
        for (name, dir) in [(DEV_ANCHOR, cfg.dev_ca_dir()), (DEV_ANCHOR_GOST, gost)] {
            let path = dir.join("ca.pem");
            if path.exists() {
                out.push(TrustAnchor {
                    name: format!("{name}-tsa"),
                    certificate: load_certificate(&path)?,
                    development: true,
                    revocation: Revocation::None,
                });
            }
        }
    }
    Ok(out)
}

/// The CRL feeds of anchors already built (tests use it to refresh after revoking).
pub fn feeds_of(cfg: &Config, anchors: &[TrustAnchor]) -> Vec<CrlFeed> {
    let mut out = vec![];
    for a in anchors {
        let Revocation::Crl(store) = &a.revocation else {
            continue;
        };
        let sources = match a.name.as_str() {
            DEV_ANCHOR => vec![
                devca_files::crl_path(&cfg.dev_ca_dir())
                    .display()
                    .to_string(),
            ],
            DEV_ANCHOR_GOST => vec![
                devca_files::crl_path(&devca_files::gost_dir(&cfg.dev_ca_dir()))
                    .display()
                    .to_string(),
            ],
            name => cfg
                .pki
                .trust_anchors
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| match &c.revocation {
                    RevocationConfig::Crl { sources } => Some(sources.clone()),
                    _ => None,
                })
                .unwrap_or_default(),
        };
        out.push(CrlFeed {
            anchor: a.name.clone(),
            store: store.clone(),
            sources,
        });
    }
    out
}

async fn fetch(http: &reqwest::Client, source: &str) -> Result<Vec<u8>, String> {
    if is_url(source) {
        let resp = http
            .get(source)
            .send()
            .await
            .map_err(|e| crate::causes(&e))?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        Ok(resp.bytes().await.map_err(|e| crate::causes(&e))?.to_vec())
    } else {
        tokio::fs::read(source).await.map_err(|e| e.to_string())
    }
}

/// What one refresh did with one source.
#[derive(Debug, Clone)]
pub struct RefreshResult {
    pub anchor: String,
    pub source: String,
    pub outcome: Result<String, String>,
}

/// Reads every source of every feed once; a failure keeps the previous CRL of that source.
pub async fn refresh(feeds: &[CrlFeed]) -> Vec<RefreshResult> {
    refresh_where(feeds, |_| true).await
}

fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

async fn refresh_where(feeds: &[CrlFeed], wanted: impl Fn(&str) -> bool) -> Vec<RefreshResult> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap_or_default();
    let mut out = vec![];
    for feed in feeds {
        for source in feed.sources.iter().filter(|s| wanted(s)) {
            let outcome = match fetch(&http, source).await {
                Ok(bytes) => feed
                    .store
                    .load(source, &bytes)
                    .map(|s| {
                        format!(
                            "{} CRL {} with {} entries, next update {}",
                            if s.delta { "delta" } else { "full" },
                            s.number.unwrap_or_default(),
                            s.entries,
                            s.next_update.map(|t| t.to_string()).unwrap_or_default()
                        )
                    })
                    .map_err(|e| e.to_string()),
                Err(e) => Err(format!("cannot read: {e}")),
            };
            match &outcome {
                Ok(what) => tracing::info!(anchor = %feed.anchor, %source, "{what}"),
                Err(why) => tracing::warn!(anchor = %feed.anchor, %source, "CRL not loaded: {why}"),
            }
            out.push(RefreshResult {
                anchor: feed.anchor.clone(),
                source: source.clone(),
                outcome,
            });
        }
    }
    out
}

/// Refreshes the feeds in the background: URLs every `every`; files (local and cheap: the development
/// CA's CRL, or CRLs an operator drops in place) as soon as they change, looked at every 5 seconds,
/// so that a revocation shows at once.
pub fn spawn_refresher(feeds: Vec<CrlFeed>, every: Duration) {
    if feeds.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let step = Duration::from_secs(5);
        let mut tick = tokio::time::interval(step);
        tick.tick().await;
        let mut since_urls = Duration::ZERO;
        let modified = |s: &str| std::fs::metadata(s).and_then(|m| m.modified()).ok();
        let mut seen: std::collections::HashMap<String, Option<std::time::SystemTime>> = feeds
            .iter()
            .flat_map(|f| f.sources.iter())
            .filter(|s| !is_url(s))
            .map(|s| (s.clone(), modified(s)))
            .collect();
        loop {
            tick.tick().await;
            since_urls += step;
            let urls_due = since_urls >= every;
            if urls_due {
                since_urls = Duration::ZERO;
            }
            let mut changed = std::collections::HashSet::new();
            for (source, last) in seen.iter_mut() {
                let now = modified(source);
                if now != *last {
                    *last = now;
                    changed.insert(source.clone());
                }
            }
            if urls_due || !changed.is_empty() {
                refresh_where(&feeds, |s| {
                    if is_url(s) {
                        urls_due
                    } else {
                        changed.contains(s)
                    }
                })
                .await;
            }
        }
    });
}
