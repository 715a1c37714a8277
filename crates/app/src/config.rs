//! Configuration: a TOML file plus `QOLJETIM_` environment variables (qoljetim.example.toml documents
//! every key). Command-line flags override both.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustAnchorConfig {
    pub name: String,
    /// PEM or DER file of the CA certificate.
    pub certificate: PathBuf,
    /// A development or test CA; refused in production mode.
    #[serde(default)]
    pub development: bool,
    /// Revocation checking: "crl" (the CRLs of `crl_sources`), "ocsp" (the responder at `ocsp_url`)
    /// or "none" (a test or development CA: recorded in every decision and refused in production).
    #[serde(default = "default_revocation")]
    pub revocation: String,
    /// With "crl": files or http(s) URLs of the anchor's full and delta CRLs (DER or PEM), each
    /// signed by this anchor, read at start and every `crl_refresh_minutes`.
    #[serde(default)]
    pub crl_sources: Vec<String>,
    /// With "ocsp": the responder's http URL (RFC 6960), e.g. http://ocsp.pki.gov.kz/.
    #[serde(default)]
    pub ocsp_url: String,
}

/// A time-stamp authority anchor (RFC 3161): TSA certificates must chain to one of these.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsaAnchorConfig {
    pub name: String,
    /// PEM or DER file of the CA certificate that issues the TSA's certificate.
    pub certificate: PathBuf,
}

fn default_revocation() -> String {
    "none".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// Empty: SQLite file `qoljetim.db` in the data folder. `postgres://…`: PostgreSQL.
    pub database_url: String,
    pub production: bool,
    pub session_hours: i64,
    pub session_idle_minutes: i64,
    pub cookie_secure: bool,
    /// Trust the development CA kept in `<data_dir>/dev-ca/` (made by `qoljetim dev-ca init` or `demo`).
    pub trust_dev_ca: bool,
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// Calendar files (docs/calendar.md) that replace the shipped year files of their years.
    pub calendar_files: Vec<PathBuf>,
    pub log: String,
    /// The HR registry (E-Qyzmet) adapter: "file" (imported personnel lists) or "http".
    pub hr_adapter: String,
    /// Base URL of the HTTP adapter (docs/lifecycle.md has the contract).
    pub hr_url: String,
    /// Bearer token for the HTTP adapter, if the registry wants one (keep it in the environment).
    pub hr_token: String,
    pub hr_timeout_seconds: u64,
    /// BINs of the HR systems whose signed events (POST /api/v1/hr/events) are accepted.
    pub hr_event_signer_bins: Vec<String>,
    /// SMTP relay, e.g. smtp://relay.example.kz:25 or smtp://relay:587?tls=required. Empty: e-mails
    /// wait in the outbox (in-app notifications still appear).
    pub smtp_url: String,
    pub smtp_from: String,
    /// Run the background worker inside `serve`.
    pub worker_enabled: bool,
    pub worker_interval_seconds: u64,
    /// How often CRLs are fetched again (each anchor with revocation = "crl", and the development CA).
    pub crl_refresh_minutes: u64,
    /// Accept a signature whose revocation status cannot be known (no CRL reachable, CRL expired).
    /// Off by default (fail closed); every decision taken under it records `fail_open` in its audit.
    pub revocation_fail_open: bool,
    /// Anchors for RFC 3161 time-stamp tokens in CMS (NCA's TSA: the issuing CA of its TSA
    /// certificate). With `trust_dev_ca`, the development CAs are TSA anchors too.
    pub tsa_anchors: Vec<TsaAnchorConfig>,
    /// OCSP answers are reused for at most this long (and never past their nextUpdate).
    pub ocsp_max_age_minutes: u64,
    /// How long an OCSP request may take before the status counts as unknown.
    pub ocsp_timeout_seconds: u64,
    /// Competence → scope rules (docs/scope-rules.md); empty: the shipped `rules/competence.toml`.
    /// A file that names an unknown kind, level or rule stops the server at start-up, naming the line.
    pub competence_rules: PathBuf,
    /// Order 270 §2.6: BINs that may not register or apply (the internal audit services of the
    /// National Bank and of the financial-market regulator). Shipped empty: no public source we could
    /// reach confirms those BINs; docs/decisions.md says how to add them.
    pub excluded_bins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            production: false,
            session_hours: 8,
            session_idle_minutes: 30,
            cookie_secure: false,
            trust_dev_ca: true,
            trust_anchors: vec![],
            calendar_files: vec![],
            log: "info".into(),
            hr_adapter: "file".into(),
            hr_url: String::new(),
            hr_token: String::new(),
            hr_timeout_seconds: 10,
            hr_event_signer_bins: vec![],
            smtp_url: String::new(),
            smtp_from: "Qoljetim <no-reply@qoljetim.local>".into(),
            worker_enabled: true,
            worker_interval_seconds: 60,
            crl_refresh_minutes: 60,
            revocation_fail_open: false,
            tsa_anchors: vec![],
            ocsp_max_age_minutes: 5,
            ocsp_timeout_seconds: 10,
            competence_rules: PathBuf::new(),
            excluded_bins: vec![],
        }
    }
}

const ENV_KEYS: [&str; 27] = [
    "competence_rules",
    "excluded_bins",
    "ocsp_max_age_minutes",
    "ocsp_timeout_seconds",
    "tsa_anchors",
    "crl_refresh_minutes",
    "revocation_fail_open",
    "hr_adapter",
    "hr_url",
    "hr_token",
    "hr_timeout_seconds",
    "hr_event_signer_bins",
    "smtp_url",
    "smtp_from",
    "worker_enabled",
    "worker_interval_seconds",
    "listen",
    "data_dir",
    "database_url",
    "production",
    "session_hours",
    "session_idle_minutes",
    "cookie_secure",
    "trust_dev_ca",
    "calendar_files",
    "log",
    "trust_anchors",
];

impl Config {
    /// Defaults, then the file (if given or `qoljetim.toml` exists), then `QOLJETIM_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    return Err(format!("configuration file {} does not exist", f.display()));
                }
                fig = fig.merge(Toml::file(f));
            }
            None => {
                if Path::new("qoljetim.toml").exists() {
                    fig = fig.merge(Toml::file("qoljetim.toml"));
                }
            }
        }
        fig = fig.merge(Env::prefixed("QOLJETIM_").only(&ENV_KEYS));
        fig.extract().map_err(|e| format!("configuration: {e}"))
    }

    pub fn database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            qoljetim_store::sqlite_url(&self.data_dir.join("qoljetim.db"))
        } else {
            self.database_url.clone()
        }
    }

    pub fn dev_ca_dir(&self) -> PathBuf {
        self.data_dir.join("dev-ca")
    }
}
