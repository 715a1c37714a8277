//! Configuration by sections: a TOML file plus `QOLJETIM_` environment variables (qoljetim.example.toml
//! documents every key). The environment maps by one rule: `QOLJETIM_<KEY>` for a top-level key,
//! `QOLJETIM_<SECTION>__<KEY>` inside a section (`QOLJETIM_HR__TOKEN`, `QOLJETIM_SESSION__IDLE_MINUTES`).
//! Command-line flags override both. Secrets are a type that never prints.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A value that must not appear in logs or error messages (a token, a URL with a password).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// How a trust anchor's certificates are checked for revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationConfig {
    /// Full and delta CRLs: files or http(s) URLs, each signed by this anchor.
    Crl { sources: Vec<String> },
    /// An RFC 6960 responder at an http URL (as the NCA's is).
    Ocsp { url: String },
    /// A test or development CA: recorded in every decision, refused in production.
    None,
}

/// The TOML shape of an anchor: `revocation = "crl" | "ocsp" | "none"` with its own key beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustAnchorToml {
    name: String,
    certificate: PathBuf,
    #[serde(default)]
    development: bool,
    #[serde(default = "none")]
    revocation: String,
    #[serde(default)]
    crl_sources: Vec<String>,
    #[serde(default)]
    ocsp_url: String,
}

fn none() -> String {
    "none".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TrustAnchorToml", into = "TrustAnchorToml")]
pub struct TrustAnchorConfig {
    pub name: String,
    /// PEM or DER file of the CA certificate.
    pub certificate: PathBuf,
    /// A development or test CA; refused in production mode.
    pub development: bool,
    pub revocation: RevocationConfig,
}

impl TryFrom<TrustAnchorToml> for TrustAnchorConfig {
    type Error = String;
    fn try_from(t: TrustAnchorToml) -> Result<Self, String> {
        let revocation = match t.revocation.as_str() {
            "none" => RevocationConfig::None,
            "crl" if t.crl_sources.is_empty() => {
                return Err(format!(
                    "trust anchor {}: revocation = \"crl\" needs at least one entry in crl_sources",
                    t.name
                ));
            }
            "crl" => RevocationConfig::Crl {
                sources: t.crl_sources,
            },
            "ocsp" if !t.ocsp_url.starts_with("http://") => {
                return Err(format!(
                    "trust anchor {}: revocation = \"ocsp\" needs ocsp_url = \"http://…\"",
                    t.name
                ));
            }
            "ocsp" => RevocationConfig::Ocsp { url: t.ocsp_url },
            other => {
                return Err(format!(
                    "trust anchor {}: revocation \"{other}\" is not one of \"crl\", \"ocsp\", \"none\"",
                    t.name
                ));
            }
        };
        Ok(TrustAnchorConfig {
            name: t.name,
            certificate: t.certificate,
            development: t.development,
            revocation,
        })
    }
}

impl From<TrustAnchorConfig> for TrustAnchorToml {
    fn from(a: TrustAnchorConfig) -> Self {
        let (revocation, crl_sources, ocsp_url) = match a.revocation {
            RevocationConfig::Crl { sources } => ("crl", sources, String::new()),
            RevocationConfig::Ocsp { url } => ("ocsp", vec![], url),
            RevocationConfig::None => ("none", vec![], String::new()),
        };
        TrustAnchorToml {
            name: a.name,
            certificate: a.certificate,
            development: a.development,
            revocation: revocation.to_owned(),
            crl_sources,
            ocsp_url,
        }
    }
}

/// A time-stamp authority anchor (RFC 3161): TSA certificates must chain to one of these.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsaAnchorConfig {
    pub name: String,
    /// PEM or DER file of the CA certificate that issues the TSA's certificate.
    pub certificate: PathBuf,
}

/// `[session]`: sign-in sessions (DESIGN.md §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub hours: i64,
    pub idle_minutes: i64,
    /// Mark the session cookie `Secure` (behind TLS).
    pub cookie_secure: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hours: 8,
            idle_minutes: 30,
            cookie_secure: false,
        }
    }
}

/// `[pki]`: trust anchors, revocation, time stamps (docs/pki.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PkiConfig {
    /// Trust the development CA kept in `<data_dir>/dev-ca/`. Off unless `qoljetim demo` (or a test)
    /// turns it on; production mode refuses it.
    pub trust_dev_ca: bool,
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// Anchors for RFC 3161 time-stamp tokens in CMS (with `trust_dev_ca`, the development CAs too).
    pub tsa_anchors: Vec<TsaAnchorConfig>,
    /// Accept a signature whose revocation status cannot be known. Off by default (fail closed);
    /// every decision taken under it records `fail_open` in its audit.
    pub revocation_fail_open: bool,
    /// How often CRLs are fetched again.
    pub crl_refresh_minutes: u64,
    /// OCSP answers are reused for at most this long (and never past their nextUpdate).
    pub ocsp_max_age_minutes: u64,
    /// How long an OCSP request may take before the status counts as unknown.
    pub ocsp_timeout_seconds: u64,
}

impl Default for PkiConfig {
    fn default() -> Self {
        PkiConfig {
            trust_dev_ca: false,
            trust_anchors: vec![],
            tsa_anchors: vec![],
            revocation_fail_open: false,
            crl_refresh_minutes: 60,
            ocsp_max_age_minutes: 5,
            ocsp_timeout_seconds: 10,
        }
    }
}

/// Which HR registry (E-Qyzmet) adapter the worker asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HrAdapter {
    /// Imported personnel lists (`qoljetim hr import-personnel`).
    File,
    /// The HTTP JSON contract of docs/lifecycle.md.
    Http,
}

/// `[hr]`: the HR registry port and the HR systems allowed to post events.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HrConfig {
    pub adapter: HrAdapter,
    /// Base URL of the HTTP adapter.
    pub url: String,
    /// Bearer token for the HTTP adapter (keep it in the environment: QOLJETIM_HR__TOKEN).
    pub token: Secret,
    pub timeout_seconds: u64,
    /// BINs of the HR systems whose signed events (POST /api/v1/hr/events) are accepted.
    pub event_signer_bins: Vec<String>,
}

impl Default for HrConfig {
    fn default() -> Self {
        HrConfig {
            adapter: HrAdapter::File,
            url: String::new(),
            token: Secret::default(),
            timeout_seconds: 10,
            event_signer_bins: vec![],
        }
    }
}

/// `[smtp]`: e-mail notifications.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Relay URL, e.g. smtp://relay.example.kz:25 (it may carry credentials: a secret). Empty: e-mails
    /// wait in the outbox (in-app notifications still appear).
    pub url: Secret,
    pub from: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            url: Secret::default(),
            from: "Qoljetim <no-reply@qoljetim.local>".into(),
        }
    }
}

/// `[limits]`: how much work a request may make the server do before it knows who is asking
/// (issue 15): request bodies by route, and the parts of a signed document, measured before it is
/// decoded. docs/limits.md says each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    pub login_body_bytes: usize,
    pub document_body_bytes: usize,
    pub form_body_bytes: usize,
    pub attachment_body_bytes: usize,
    pub other_body_bytes: usize,
    pub cms_bytes: usize,
    pub cms_certificates: usize,
    pub cms_certificate_bytes: usize,
    pub cms_crls: usize,
    pub cms_crl_bytes: usize,
    pub cms_signer_infos: usize,
    pub cms_digest_algorithms: usize,
    pub cms_attributes: usize,
    pub cms_depth: usize,
    pub sign_ins_per_address_per_minute: u32,
    pub sign_ins_per_certificate_per_minute: u32,
    pub refusal_window_seconds: i64,
    pub header_read_seconds: u64,
    pub body_read_seconds: u64,
    pub request_seconds: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        let b = qoljetim_web::BodyLimits::default();
        let c = qoljetim_signature::limits::CmsLimits::default();
        LimitsSection {
            login_body_bytes: b.login,
            document_body_bytes: b.document,
            form_body_bytes: b.form,
            attachment_body_bytes: b.attachment,
            other_body_bytes: b.other,
            cms_bytes: c.max_bytes,
            cms_certificates: c.max_certificates,
            cms_certificate_bytes: c.max_certificate_bytes,
            cms_crls: c.max_crls,
            cms_crl_bytes: c.max_crl_bytes,
            cms_signer_infos: c.max_signer_infos,
            cms_digest_algorithms: c.max_digest_algorithms,
            cms_attributes: c.max_attributes,
            cms_depth: c.max_depth,
            sign_ins_per_address_per_minute: 30,
            sign_ins_per_certificate_per_minute: qoljetim_service::AbuseConfig::default()
                .sign_ins_per_certificate_per_minute,
            refusal_window_seconds: qoljetim_service::AbuseConfig::default().refusal_window_seconds,
            header_read_seconds: qoljetim_web::Timeouts::default().header_read.as_secs(),
            body_read_seconds: qoljetim_web::Timeouts::default().body_read.as_secs(),
            request_seconds: qoljetim_web::Timeouts::default().request.as_secs(),
        }
    }
}

impl LimitsSection {
    pub fn body_limits(&self) -> qoljetim_web::BodyLimits {
        qoljetim_web::BodyLimits {
            login: self.login_body_bytes,
            document: self.document_body_bytes,
            form: self.form_body_bytes,
            attachment: self.attachment_body_bytes,
            other: self.other_body_bytes,
        }
    }

    pub fn timeouts(&self) -> qoljetim_web::Timeouts {
        let s = |n: u64| std::time::Duration::from_secs(n.max(1));
        qoljetim_web::Timeouts {
            header_read: s(self.header_read_seconds),
            body_read: s(self.body_read_seconds),
            request: s(self.request_seconds),
        }
    }

    pub fn abuse(&self) -> qoljetim_service::AbuseConfig {
        qoljetim_service::AbuseConfig {
            sign_ins_per_certificate_per_minute: self.sign_ins_per_certificate_per_minute,
            refusal_window_seconds: self.refusal_window_seconds,
        }
    }

    pub fn cms_limits(&self) -> qoljetim_signature::limits::CmsLimits {
        qoljetim_signature::limits::CmsLimits {
            max_bytes: self.cms_bytes,
            max_certificates: self.cms_certificates,
            max_certificate_bytes: self.cms_certificate_bytes,
            max_crls: self.cms_crls,
            max_crl_bytes: self.cms_crl_bytes,
            max_signer_infos: self.cms_signer_infos,
            max_digest_algorithms: self.cms_digest_algorithms,
            max_attributes: self.cms_attributes,
            max_depth: self.cms_depth,
        }
    }
}

/// `[intake]`: how signed documents are received (issue 15).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeSection {
    /// How many calendar days before the day of receipt (Almaty) a signed application's or block
    /// request's `date` may lie; none after it. A signed document is a one-time act: an old one is
    /// refused (`/date` `date_too_old`) and must be signed again.
    pub date_days_back: i64,
}

impl Default for IntakeSection {
    fn default() -> Self {
        IntakeSection {
            date_days_back: qoljetim_domain::application::DEFAULT_DATE_DAYS_BACK,
        }
    }
}

/// `[support]`: the support service (Order 270 §14, issue 16).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportSection {
    /// The support staff's first answer to a request is due by the end of this many working days
    /// after the day it was opened (Almaty); tracked, flagged and in the deadline report.
    pub first_answer_working_days: u32,
}

impl Default for SupportSection {
    fn default() -> Self {
        SupportSection {
            first_answer_working_days: qoljetim_service::DEFAULT_FIRST_ANSWER_WORKING_DAYS,
        }
    }
}

/// `[worker]`: the background jobs inside `serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    pub enabled: bool,
    pub interval_seconds: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            enabled: true,
            interval_seconds: 60,
        }
    }
}

/// `[sign_in]` (issue 21): the sign-in challenges' keys, shared by every instance on one database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInSection {
    /// Base64 of 32 random bytes (`qoljetim challenge-key`). Empty: a key of this process alone —
    /// right for one instance, wrong for several (a challenge from one would be refused by another).
    pub challenge_key: Secret,
    /// Keys still accepted after a rotation: keep the old key here for at least five minutes (a
    /// challenge's lifetime) after making a new one current.
    pub previous_challenge_keys: Vec<Secret>,
}

/// `[audit]` (issue 21): signed checkpoints of the audit chain, kept outside the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSection {
    /// How often the instance holding the worker lease signs the chain head (0: never).
    pub checkpoint_minutes: u64,
    /// Where `checkpoints.jsonl` is appended. Empty: `<data_dir>/audit-checkpoints`.
    pub checkpoint_dir: PathBuf,
    /// The private key (PKCS#8 PEM, P-256) that signs checkpoints. Empty:
    /// `<data_dir>/audit-checkpoint-key.pem`, made at the first start with its public half beside it.
    pub checkpoint_key: PathBuf,
    /// The public key (SPKI PEM) `qoljetim audit verify` checks checkpoints with. Empty: the public half
    /// of `checkpoint_key`. Keep a copy where the database's administrators cannot change it.
    pub checkpoint_public_key: PathBuf,
    /// An RFC 3161 time-stamp authority (http or https URL) that time-stamps each checkpoint's
    /// signature; its certificate must chain to a `[pki] tsa_anchors` entry. Empty: none.
    pub tsa_url: String,
    pub tsa_timeout_seconds: u64,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            checkpoint_minutes: 10,
            checkpoint_dir: PathBuf::new(),
            checkpoint_key: PathBuf::new(),
            checkpoint_public_key: PathBuf::new(),
            tsa_url: String::new(),
            tsa_timeout_seconds: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    /// The address people and phones reach the service at (`https://qoljetim.example.kz`): an
    /// `https://` address makes the session cookie `Secure` and the same-origin check expect https;
    /// phones are sent there unless `[mobile_signing] public_url` says otherwise.
    pub public_url: String,
    /// Reverse proxies (addresses or ranges, `["10.0.0.5", "10.1.0.0/16"]`) whose `Forwarded` /
    /// `X-Forwarded-For` headers name the client for the audit record and the rate limits; empty: none
    /// are believed and the connection's peer is the client.
    pub trusted_proxies: Vec<String>,
    pub data_dir: PathBuf,
    /// Empty: SQLite file `qoljetim.db` in the data folder. `postgres://…`: PostgreSQL (it may carry a
    /// password: a secret).
    pub database_url: Secret,
    pub production: bool,
    pub log: String,
    /// Calendar files (docs/calendar.md) that replace the shipped year files of their years.
    pub calendar_files: Vec<PathBuf>,
    /// Competence → scope rules (docs/scope-rules.md); empty: the shipped `rules/competence.toml`.
    /// A file that names an unknown kind, level or rule stops the server at start-up, naming the line.
    pub competence_rules: PathBuf,
    /// Order 270 §2.6: BINs that may not register or apply (the internal audit services of the
    /// National Bank and of the financial-market regulator). Shipped empty: no public source we could
    /// reach confirms those BINs; docs/decisions.md says how to add them.
    pub excluded_bins: Vec<String>,
    pub session: SessionConfig,
    pub pki: PkiConfig,
    pub hr: HrConfig,
    pub smtp: SmtpConfig,
    pub worker: WorkerConfig,
    pub pages: PagesSection,
    /// `[mobile_signing]`: signing by phone with the eGov apps' QR codes (docs/egov-mobile.md).
    pub mobile_signing: qoljetim_service::MobileSigningConfig,
    pub intake: IntakeSection,
    pub support: SupportSection,
    /// `[change_requests]`: Order 270 §10's rule of competence and clocks.
    pub change_requests: qoljetim_domain::change_request::ChangeRules,
    /// `[recertification]`: the campaigns' deadline, reminder and schedule (issue 17).
    pub recertification: qoljetim_domain::recertification::RecertificationRules,
    /// `[systems]`: organizations' own information systems' tokens (issue 18).
    pub systems: qoljetim_service::SystemsConfig,
    pub limits: LimitsSection,
    /// `[sign_in]`: the challenges' shared key (issue 21).
    pub sign_in: SignInSection,
    /// `[audit]`: signed checkpoints of the audit chain (issue 21).
    pub audit: AuditSection,
}

/// `[pages]`: the browser pages (issue 13).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagesSection {
    /// Where a page reaches NCALayer on the user's machine: `wss://127.0.0.1:13579`, or the
    /// development fake's address (`qoljetim dev-ncalayer`). Allowed by the pages' CSP.
    pub ncalayer_url: String,
}

impl Default for PagesSection {
    fn default() -> Self {
        PagesSection {
            ncalayer_url: "wss://127.0.0.1:13579".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            trusted_proxies: vec![],
            data_dir: PathBuf::from("data"),
            database_url: Secret::default(),
            production: false,
            log: "info".into(),
            calendar_files: vec![],
            competence_rules: PathBuf::new(),
            excluded_bins: vec![],
            session: SessionConfig::default(),
            pki: PkiConfig::default(),
            hr: HrConfig::default(),
            smtp: SmtpConfig::default(),
            worker: WorkerConfig::default(),
            pages: PagesSection::default(),
            mobile_signing: qoljetim_service::MobileSigningConfig::default(),
            intake: IntakeSection::default(),
            support: SupportSection::default(),
            change_requests: qoljetim_domain::change_request::ChangeRules::default(),
            recertification: qoljetim_domain::recertification::RecertificationRules::default(),
            systems: qoljetim_service::SystemsConfig::default(),
            limits: LimitsSection::default(),
            sign_in: SignInSection::default(),
            audit: AuditSection::default(),
        }
    }
}

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
        // QOLJETIM_<KEY> and QOLJETIM_<SECTION>__<KEY>, for the keys this type has (other QOLJETIM_
        // variables, such as the tests' QOLJETIM_TEST_POSTGRES_URL, are not configuration).
        let known: Vec<String> = match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => vec![],
        };
        fig = fig.merge(Env::prefixed("QOLJETIM_").split("__").filter(move |k| {
            // The key as the environment spells it (upper case), the separator already a dot.
            let k = k.as_str().to_ascii_lowercase();
            let k = k.as_str();
            known.iter().any(|t| {
                k == t
                    || k.strip_prefix(t.as_str())
                        .is_some_and(|r| r.starts_with("__") || r.starts_with('.'))
            })
        }));
        fig.extract().map_err(|e| format!("configuration: {e}"))
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            qoljetim_store::sqlite_url(&self.data_dir.join("qoljetim.db"))
        } else {
            self.database_url.expose().to_owned()
        }
    }

    pub fn dev_ca_dir(&self) -> PathBuf {
        self.data_dir.join("dev-ca")
    }

    /// The SQLite database file, when the backend is SQLite.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        qoljetim_store::sqlite_file(&self.database_url())
    }

    /// The sign-in challenges' keys: the configured ones, or (none configured) this process's own.
    pub fn challenge_keys(&self) -> Result<qoljetim_service::ChallengeKeys, String> {
        if self.sign_in.challenge_key.is_empty() {
            if !self.sign_in.previous_challenge_keys.is_empty() {
                return Err(
                    "sign_in.previous_challenge_keys is set but sign_in.challenge_key is not"
                        .into(),
                );
            }
            return qoljetim_service::ChallengeKeys::random().map_err(|e| e.to_string());
        }
        let previous: Vec<&str> = self
            .sign_in
            .previous_challenge_keys
            .iter()
            .map(Secret::expose)
            .collect();
        qoljetim_service::ChallengeKeys::parse(self.sign_in.challenge_key.expose(), &previous)
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        if self.audit.checkpoint_dir.as_os_str().is_empty() {
            self.data_dir.join("audit-checkpoints")
        } else {
            self.audit.checkpoint_dir.clone()
        }
    }

    pub fn checkpoint_key_path(&self) -> PathBuf {
        if self.audit.checkpoint_key.as_os_str().is_empty() {
            self.data_dir.join("audit-checkpoint-key.pem")
        } else {
            self.audit.checkpoint_key.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let mut c = Config::default();
        c.hr.token = Secret::new("s3cret-token");
        c.smtp.url = Secret::new("smtp://user:pass@relay:587");
        c.database_url = Secret::new("postgres://app:pw@db/qoljetim");
        c.sign_in.challenge_key = Secret::new("Y2hhbGxlbmdlLWtleS0zMi1ieXRlcy1sb25nLTEyMzQ=");
        c.sign_in.previous_challenge_keys = vec![Secret::new("b2xkLWNoYWxsZW5nZS1rZXk=")];
        let shown = format!("{c:?}");
        for secret in [
            "s3cret-token",
            "user:pass",
            "app:pw",
            "Y2hhbGxlbmdl",
            "b2xkLWNoYWxs",
        ] {
            assert!(!shown.contains(secret), "{secret} printed: {shown}");
        }
        assert_eq!(c.database_url(), "postgres://app:pw@db/qoljetim");
    }

    // One rule maps the environment: QOLJETIM_<KEY>, QOLJETIM_<SECTION>__<KEY>; other QOLJETIM_
    // variables (the tests' own) are not configuration.
    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail takes a closure returning its own error type
    fn environment_maps_by_rule() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("QOLJETIM_DATA_DIR", "/srv/qoljetim");
            jail.set_env("QOLJETIM_SESSION__IDLE_MINUTES", "15");
            jail.set_env("QOLJETIM_HR__TOKEN", "tok");
            jail.set_env("QOLJETIM_PKI__TRUST_DEV_CA", "true");
            jail.set_env("QOLJETIM_TEST_POSTGRES_URL", "postgres://x");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.data_dir, PathBuf::from("/srv/qoljetim"));
            assert_eq!(c.session.idle_minutes, 15);
            assert_eq!(c.hr.token.expose(), "tok");
            assert!(c.pki.trust_dev_ca);
            jail.set_env("QOLJETIM_WORKER__ENABLED", "maybe");
            let e = Config::load(None).err().unwrap_or_default();
            assert!(e.contains("WORKER.ENABLED"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn anchors_parse_into_a_revocation_enum_or_say_what_is_missing() {
        let ok: Result<TrustAnchorConfig, _> = toml::from_str(
            "name = \"a\"\ncertificate = \"/a.pem\"\nrevocation = \"crl\"\ncrl_sources = [\"/a.crl\"]",
        );
        assert_eq!(
            ok.map(|a| a.revocation).ok(),
            Some(RevocationConfig::Crl {
                sources: vec!["/a.crl".into()]
            })
        );
        let bad: Result<TrustAnchorConfig, _> =
            toml::from_str("name = \"b\"\ncertificate = \"/b.pem\"\nrevocation = \"ocsp\"");
        let msg = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("needs ocsp_url"), "{msg}");
        let none: Result<TrustAnchorConfig, _> =
            toml::from_str("name = \"c\"\ncertificate = \"/c.pem\"");
        assert_eq!(
            none.map(|a| a.revocation).ok(),
            Some(RevocationConfig::None)
        );
    }
}
