//! Signing with a phone: the QR signing of the eGov apps (issue 14, docs/egov-mobile.md), a second way
//! to make the same signatures NCALayer makes. The page shows a QR code carrying `mobileSign:<service
//! URL>`; the app fetches the service description and the document from this server, signs the document
//! as an attached CMS and sends it back; the CMS then goes to the very use case an NCALayer signature
//! goes to (`sign_in`, `submit_application`, `submit_block_request`), so Order 270 §11's rules, the
//! audit and every refusal are the same whichever way a signature arrives.
//!
//! A signing request lives a few minutes in this process's memory, bounded in number. Two secrets guard
//! it: the app's bearer token (handed out by the service URL, which the QR shows to anyone who sees the
//! screen) lets a phone fetch and sign the document; the browser's secret (an HttpOnly cookie of the
//! browser that started it) alone may collect the outcome — a photographed QR code never yields the
//! session.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{Problem, ServiceError, ServiceResult};
use crate::sessions::issue_challenge;
use crate::sign_in::SignedIn;
use crate::{Caller, Service};

/// What the app's `documentsToSign` may carry at most: one document, as the flow is used here.
const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// `[mobile_signing]`: where phones reach this server and how long and how many requests wait (read
/// by the configuration as it is: every key has a default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MobileSigningConfig {
    /// The address phones reach this server at (`https://qoljetim.example.kz`); empty: the address
    /// the browser used (development only — a phone cannot reach `127.0.0.1`).
    pub public_url: String,
    /// How long a QR code can be signed, in seconds.
    pub seconds: i64,
    /// The most requests waiting at once; beyond it a new one is refused (`mobile-signing-busy`).
    pub max_pending: usize,
    /// The organization the app shows as asking for the signature (the integrator operating the
    /// service): its BIN and names.
    pub operator_bin: String,
    pub operator_name_kk: String,
    pub operator_name_ru: String,
    pub operator_name_en: String,
    /// This instance's name among several on one database (issue 21): lower-case letters and digits,
    /// at most 16, put before the ids of its signing requests (`a1.…`). The requests wait in this
    /// instance's memory, so the reverse proxy sends `/sign/mobile/a1.…` and
    /// `/api/v1/mobile-signing/a1.…` here (docs/deployment.md). Empty: no prefix (one instance).
    pub instance: String,
}

impl MobileSigningConfig {
    /// The instance name's rule, said with the key that breaks it.
    pub fn check(&self) -> Result<(), String> {
        let ok = self.instance.len() <= 16
            && self
                .instance
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(())
        } else {
            Err(format!(
                "mobile_signing.instance must be up to 16 lower-case letters and digits, not {:?}",
                self.instance
            ))
        }
    }
}

impl Default for MobileSigningConfig {
    fn default() -> Self {
        MobileSigningConfig {
            public_url: String::new(),
            seconds: 300,
            max_pending: 1000,
            operator_bin: String::new(),
            operator_name_kk: "Qoljetim — бюджет процесі ақпараттық жүйелеріне қол жеткізу".into(),
            operator_name_ru: "Qoljetim — доступ к информационным системам бюджетного процесса"
                .into(),
            operator_name_en: "Qoljetim — access to the budget-process information systems".into(),
            instance: String::new(),
        }
    }
}

/// What a phone signs, and which use case its signature goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MobileSigningPurpose {
    /// Order 270 §11: a one-time challenge, signed with the authentication key.
    SignIn,
    /// Order 270 §8: the application, signed with the head's signing key.
    Application,
    /// Order 270 §9: a block request, signed with the head's signing key.
    BlockRequest,
}

impl MobileSigningPurpose {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign_in" => Some(Self::SignIn),
            "application" => Some(Self::Application),
            "block_request" => Some(Self::BlockRequest),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::Application => "application",
            Self::BlockRequest => "block_request",
        }
    }
    /// The document's name as the app shows it: kk, ru, en.
    fn names(self) -> [&'static str; 3] {
        match self {
            Self::SignIn => [
                "Qoljetim жүйесіне кіру",
                "Вход в Qoljetim",
                "Sign-in to Qoljetim",
            ],
            Self::Application => [
                "Қол жеткізуге өтінім (270 бұйрық, 8-тармақ)",
                "Заявка на доступ (приказ 270, п. 8)",
                "Application for access (Order 270 §8)",
            ],
            Self::BlockRequest => [
                "Қол жеткізуді бұғаттау туралы сұрау (270 бұйрық, 9-тармақ)",
                "Запрос на блокировку доступа (приказ 270, п. 9)",
                "Block request (Order 270 §9)",
            ],
        }
    }
}

/// What a signed request came to, handed once to the browser that started it.
pub enum MobileSigningOutcome {
    SignedIn(Box<SignedIn>),
    Application { id: i64 },
    BlockRequest { id: i64 },
}

/// Where a signing request is. Transitions are the methods below; each refuses a move its state
/// does not allow.
enum SigningState {
    /// Shown as a QR code; the app may fetch and sign it.
    Waiting,
    /// The app's signature is being verified (a second signature meanwhile is refused).
    Verifying,
    /// The use case accepted the signature; the outcome waits for the browser.
    Signed(MobileSigningOutcome),
    /// The use case refused the signature; the browser shows why.
    Refused(ServiceError),
    /// The browser collected the outcome.
    Collected,
}

impl SigningState {
    fn name(&self) -> &'static str {
        match self {
            SigningState::Waiting => "waiting",
            SigningState::Verifying => "verifying",
            SigningState::Signed(_) => "signed",
            SigningState::Refused(_) => "refused",
            SigningState::Collected => "collected",
        }
    }

    fn wrong(&self, expected: &str) -> ServiceError {
        ServiceError::new(Problem::WrongState {
            current: self.name().into(),
            expected: expected.into(),
        })
    }

    /// Waiting → Verifying: one signature at a time.
    fn begin_verifying(&mut self) -> ServiceResult<()> {
        match self {
            SigningState::Waiting => {
                *self = SigningState::Verifying;
                Ok(())
            }
            other => Err(other.wrong("waiting")),
        }
    }

    /// Verifying → Waiting: what came back was not a signature of this document (nothing was
    /// decided; the genuine app can still sign).
    fn back_to_waiting(&mut self) {
        if matches!(self, SigningState::Verifying) {
            *self = SigningState::Waiting;
        }
    }

    /// Verifying → Signed or Refused, by the use case's answer.
    fn settle(&mut self, result: ServiceResult<MobileSigningOutcome>) {
        if matches!(self, SigningState::Verifying) {
            *self = match result {
                Ok(outcome) => SigningState::Signed(outcome),
                Err(e) => SigningState::Refused(e),
            };
        }
    }

    /// Signed → Collected, handing the outcome over once; a refusal is answered as itself.
    fn collect(&mut self) -> ServiceResult<MobileSigningOutcome> {
        match std::mem::replace(self, SigningState::Collected) {
            SigningState::Signed(outcome) => Ok(outcome),
            SigningState::Refused(e) => {
                *self = SigningState::Refused(e.clone());
                Err(e)
            }
            other => {
                let e = other.wrong("signed");
                *self = other;
                Err(e)
            }
        }
    }
}

/// One signing request: the bytes to sign and who may do what with it.
struct SigningRequest {
    purpose: MobileSigningPurpose,
    document: Vec<u8>,
    app_token: [u8; 32],
    browser_secret: [u8; 32],
    /// The session that started a document's signing (the use case needs it); none for sign-in.
    started_by: Option<Caller>,
    expires_at: Timestamp,
    state: SigningState,
}

/// The requests waiting in this process.
#[derive(Default)]
pub struct MobileSignings {
    requests: Mutex<HashMap<String, SigningRequest>>,
}

/// A request started: what the browser keeps and what the page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct MobileSigningStarted {
    pub id: String,
    /// Kept by the browser (an HttpOnly cookie): only it collects the outcome.
    #[serde(skip)]
    pub browser_secret: String,
    /// `mobileSign:<service URL>`: the QR code's text.
    pub qr: String,
    /// The cross-link that opens eGov business on the phone showing the page.
    pub business_link: String,
    pub expires_at: String,
}

/// Where a request is, for the page that polls it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MobileSigningStatus {
    pub id: String,
    /// `waiting`, `verifying`, `signed`, `refused` or `collected`.
    pub state: String,
    pub purpose: MobileSigningPurpose,
    pub expires_at: String,
    /// The same in Almaty (UTC+5), `HH:MM:SS`, as the page shows it.
    pub expires_at_almaty: String,
    /// The exact text being signed (for the page to show it).
    pub document: String,
    pub qr: String,
    pub business_link: String,
}

fn random_32() -> ServiceResult<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(ServiceError::internal)?;
    Ok(b)
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Secrets are compared through their SHA-256 digests, so the comparison's time says nothing about
/// the secret.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    Sha256::digest(a) == Sha256::digest(b)
}

/// The cross-link of eGov business for a service URL (the form the published clients use).
pub fn business_link(service_url: &str) -> String {
    let encoded: String = url_encode(service_url);
    format!(
        "https://egovbusiness.page.link/?link={encoded}&isi=1597880144&ibi=kz.mobile.mgov.business&apn=kz.mobile.mgov.business"
    )
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unknown() -> ServiceError {
    ServiceError::new(Problem::NotFound {
        what: "signing request".into(),
    })
}

impl Service {
    fn service_url(&self, base: &str, id: &str) -> String {
        let base = match self.config.mobile_signing.public_url.trim() {
            "" => base,
            configured => configured,
        };
        format!("{}/api/v1/mobile-signing/{id}", base.trim_end_matches('/'))
    }

    /// Starts a signing by phone. For sign-in the document is a fresh challenge; an application or a
    /// block request must pass its submission's own check first (a document that would be refused is
    /// not put on a phone) and needs the session of the person composing it. `base` is the address
    /// the browser used, for when no public URL is configured.
    pub fn start_mobile_signing(
        &self,
        purpose: MobileSigningPurpose,
        caller: Option<&Caller>,
        document: Option<&str>,
        base: &str,
    ) -> ServiceResult<MobileSigningStarted> {
        let now = self.clock.now();
        let document = match purpose {
            MobileSigningPurpose::SignIn => issue_challenge(&self.challenge_keys, now)?.0,
            MobileSigningPurpose::Application | MobileSigningPurpose::BlockRequest => {
                if caller.is_none() {
                    return Err(ServiceError::new(Problem::NotSignedIn));
                }
                let text = document.unwrap_or_default();
                if text.len() > MAX_DOCUMENT_BYTES {
                    return Err(ServiceError::new(Problem::PayloadTooLarge {
                        limit: MAX_DOCUMENT_BYTES,
                    }));
                }
                match purpose {
                    MobileSigningPurpose::Application => {
                        self.check_application_form(text.as_bytes())?
                    }
                    _ => self.check_block_request(text.as_bytes())?,
                }
                text.to_owned()
            }
        };
        // The instance's name first (issue 21): `.` is not in the base64url alphabet, so a proxy can
        // tell the owner from the id alone.
        let id = match self.config.mobile_signing.instance.as_str() {
            "" => URL_SAFE_NO_PAD.encode(&random_32()?[..16]),
            name => format!("{name}.{}", URL_SAFE_NO_PAD.encode(&random_32()?[..16])),
        };
        let browser_secret = URL_SAFE_NO_PAD.encode(random_32()?);
        let expires_at = now
            .checked_add(jiff::SignedDuration::from_secs(
                self.config.mobile_signing.seconds.max(30),
            ))
            .map_err(ServiceError::internal)?;
        let request = SigningRequest {
            purpose,
            document: document.into_bytes(),
            app_token: random_32()?,
            browser_secret: digest(&browser_secret),
            started_by: caller.cloned(),
            expires_at,
            state: SigningState::Waiting,
        };
        {
            let mut requests = self.lock_signings()?;
            // Expired requests leave when a new one comes: the map never holds more than the limit.
            requests.retain(|_, r| r.expires_at > now);
            let limit = self.config.mobile_signing.max_pending;
            if requests.len() >= limit {
                return Err(ServiceError::new(Problem::MobileSigningBusy { limit }));
            }
            requests.insert(id.clone(), request);
        }
        let url = self.service_url(base, &id);
        Ok(MobileSigningStarted {
            qr: format!("mobileSign:{url}"),
            business_link: business_link(&url),
            id,
            browser_secret,
            expires_at: expires_at.to_string(),
        })
    }

    fn lock_signings(
        &self,
    ) -> ServiceResult<std::sync::MutexGuard<'_, HashMap<String, SigningRequest>>> {
        self.mobile_signings
            .requests
            .lock()
            .map_err(|_| ServiceError::internal("the signing requests' lock is poisoned"))
    }

    /// Runs `f` on the live request `id`; an unknown id is `not-found`, an expired one
    /// `mobile-signing-expired`.
    fn with_request<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut SigningRequest) -> ServiceResult<T>,
    ) -> ServiceResult<T> {
        let now = self.clock.now();
        let mut requests = self.lock_signings()?;
        let r = requests.get_mut(id).ok_or_else(unknown)?;
        if r.expires_at <= now && matches!(r.state, SigningState::Waiting) {
            return Err(ServiceError::new(Problem::MobileSigningExpired {
                expired_at: r.expires_at.to_string(),
            }));
        }
        f(r)
    }

    fn check_app_token(r: &SigningRequest, bearer: Option<&str>) -> ServiceResult<()> {
        let given = bearer
            .and_then(|b| URL_SAFE_NO_PAD.decode(b.trim()).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        match given {
            Some(t) if same(&t, &r.app_token) => Ok(()),
            _ => Err(ServiceError::new(Problem::MobileSigningToken)),
        }
    }

    fn check_browser(r: &SigningRequest, secret: &str) -> ServiceResult<()> {
        match same(&digest(secret), &r.browser_secret) {
            true => Ok(()),
            false => Err(ServiceError::new(Problem::MobileSigningToken)),
        }
    }

    /// The app's first call (`GET <service URL>`): what is asked, by whom, until when, and where the
    /// document is, with the bearer token to fetch it.
    pub fn mobile_signing_service(&self, id: &str, base: &str) -> ServiceResult<Value> {
        let url = self.service_url(base, id);
        let ms = &self.config.mobile_signing;
        self.with_request(id, |r| {
            let [_, ru, _] = r.purpose.names();
            Ok(json!({
                "description": ru,
                "expiry_date": r.expires_at.to_string(),
                "organisation": {"nameRu": ms.operator_name_ru, "nameKz": ms.operator_name_kk,
                    "nameEn": ms.operator_name_en, "bin": ms.operator_bin},
                "document": {"uri": format!("{url}/document"), "auth_type": "Bearer",
                    "auth_token": URL_SAFE_NO_PAD.encode(r.app_token)},
            }))
        })
    }

    /// The app's second call (`GET <document URL>`): the document, to be signed as an attached CMS.
    pub fn mobile_signing_document(&self, id: &str, bearer: Option<&str>) -> ServiceResult<Value> {
        self.with_request(id, |r| {
            Self::check_app_token(r, bearer)?;
            if !matches!(r.state, SigningState::Waiting) {
                return Err(r.state.wrong("waiting"));
            }
            let [kk, ru, en] = r.purpose.names();
            Ok(json!({
                "signMethod": "CMS_WITH_DATA",
                "documentsToSign": [{
                    "id": 1, "nameRu": ru, "nameKz": kk, "nameEn": en,
                    "meta": [{"name": "purpose", "value": r.purpose.as_str()}],
                    "document": {"file": {"mime": match r.purpose {
                        MobileSigningPurpose::SignIn => "text/plain",
                        _ => "application/json",
                    }, "data": STANDARD.encode(&r.document)}},
                }],
            }))
        })
    }

    /// The app's last call (`PUT <document URL>`): the signed document comes back. It must sign these
    /// exact bytes; then it goes to the purpose's use case, whose answer — the session, the new
    /// application, or the refusal — waits for the browser. The answer to the app is the use case's.
    pub async fn complete_mobile_signing(
        &self,
        id: &str,
        bearer: Option<&str>,
        ip: &str,
        body: &[u8],
    ) -> ServiceResult<()> {
        let (purpose, document, started_by) = self.with_request(id, |r| {
            Self::check_app_token(r, bearer)?;
            r.state.begin_verifying()?;
            Ok((r.purpose, r.document.clone(), r.started_by.clone()))
        })?;
        let cms = match signed_document(body, &document, self.verifier.limits()) {
            Ok(cms) => cms,
            Err(e) => {
                self.with_request(id, |r| {
                    r.state.back_to_waiting();
                    Ok(())
                })?;
                return Err(e);
            }
        };
        let signed = serde_json::to_vec(&json!({"signed_cms": STANDARD.encode(&cms)}))
            .map_err(ServiceError::internal)?;
        let result = match (purpose, started_by.as_ref()) {
            (MobileSigningPurpose::SignIn, _) => self
                .sign_in(ip, &signed)
                .await
                .map(|s| MobileSigningOutcome::SignedIn(Box::new(s))),
            (MobileSigningPurpose::Application, Some(caller)) => self
                .submit_application(caller, &signed)
                .await
                .map(|a| MobileSigningOutcome::Application { id: a.view.id }),
            (MobileSigningPurpose::BlockRequest, Some(caller)) => self
                .submit_block_request(caller, &signed)
                .await
                .map(|b| MobileSigningOutcome::BlockRequest { id: b.view.id }),
            (_, None) => Err(ServiceError::new(Problem::NotSignedIn)),
        };
        let answer = result.as_ref().map(|_| ()).map_err(Clone::clone);
        // The request may have been swept meanwhile; the use case's answer still goes to the app.
        let mut requests = self.lock_signings()?;
        if let Some(r) = requests.get_mut(id) {
            r.state.settle(result);
        }
        answer
    }

    /// Where the request is, for the browser that started it.
    pub fn mobile_signing_status(
        &self,
        id: &str,
        browser_secret: &str,
        base: &str,
    ) -> ServiceResult<MobileSigningStatus> {
        let url = self.service_url(base, id);
        let now = self.clock.now();
        let mut requests = self.lock_signings()?;
        let r = requests.get_mut(id).ok_or_else(unknown)?;
        Self::check_browser(r, browser_secret)?;
        let state = match (&r.state, r.expires_at <= now) {
            (SigningState::Waiting, true) => "expired",
            (s, _) => s.name(),
        };
        Ok(MobileSigningStatus {
            id: id.to_owned(),
            state: state.into(),
            purpose: r.purpose,
            expires_at: r.expires_at.to_string(),
            expires_at_almaty: r
                .expires_at
                .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(5)))
                .strftime("%H:%M:%S")
                .to_string(),
            document: String::from_utf8_lossy(&r.document).into_owned(),
            qr: format!("mobileSign:{url}"),
            business_link: business_link(&url),
        })
    }

    /// The outcome, once, to the browser that started the request: the session, or the document's
    /// id; a refusal as its problem; still waiting (or expired) as such.
    pub fn collect_mobile_signing(
        &self,
        id: &str,
        browser_secret: &str,
    ) -> ServiceResult<MobileSigningOutcome> {
        self.with_request(id, |r| {
            Self::check_browser(r, browser_secret)?;
            r.state.collect()
        })
    }
}

/// The CMS the app sent back, if it signs exactly `document`: the published structure, one document,
/// `document.file.data` in base64.
fn signed_document(
    body: &[u8],
    document: &[u8],
    limits: &qoljetim_signature::limits::CmsLimits,
) -> ServiceResult<Vec<u8>> {
    let v: Value = crate::toolbox::parse_json(body)?;
    let docs = v["documentsToSign"]
        .as_array()
        .filter(|d| d.len() == 1)
        .ok_or_else(|| {
            ServiceError::field(
                "/documentsToSign",
                "one-document",
                "exactly one signed document",
            )
        })?;
    let data = docs[0]["document"]["file"]["data"]
        .as_str()
        .ok_or_else(|| {
            ServiceError::field(
                "/documentsToSign/0/document/file/data",
                "required",
                "the signed document in base64",
            )
        })?;
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let cms = STANDARD.decode(compact).map_err(|e| {
        ServiceError::field(
            "/documentsToSign/0/document/file/data",
            "base64",
            e.to_string(),
        )
    })?;
    let content = qoljetim_signature::verify::encapsulated_content(&cms, limits)
        .map_err(|e| ServiceError::signature(&e, false))?;
    if content != document {
        return Err(ServiceError::new(Problem::MobileSigningContentMismatch));
    }
    Ok(cms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_signed_once_and_collected_once() {
        let mut s = SigningState::Waiting;
        assert!(s.collect().is_err(), "nothing to collect while waiting");
        assert!(matches!(s, SigningState::Waiting));
        s.begin_verifying().unwrap();
        assert!(
            s.begin_verifying().is_err(),
            "a second signature meanwhile is refused"
        );
        s.settle(Ok(MobileSigningOutcome::Application { id: 7 }));
        assert!(s.begin_verifying().is_err(), "signed is final");
        assert!(matches!(
            s.collect(),
            Ok(MobileSigningOutcome::Application { id: 7 })
        ));
        let again = s.collect().err().map(|e| e.problem);
        assert_eq!(
            again,
            Some(Problem::WrongState {
                current: "collected".into(),
                expected: "signed".into()
            })
        );
    }

    #[test]
    fn a_refusal_is_kept_and_a_mismatch_goes_back_to_waiting() {
        let mut s = SigningState::Waiting;
        s.begin_verifying().unwrap();
        s.back_to_waiting();
        assert!(matches!(s, SigningState::Waiting));
        s.begin_verifying().unwrap();
        s.settle(Err(ServiceError::new(Problem::CertificateNotLegalEntity)));
        for _ in 0..2 {
            assert_eq!(
                s.collect().err().map(|e| e.problem),
                Some(Problem::CertificateNotLegalEntity)
            );
        }
    }

    #[test]
    fn the_cross_link_carries_the_service_url_encoded() {
        let l = business_link("https://q.example.kz/api/v1/mobile-signing/a_b?x=1");
        assert!(l.starts_with("https://egovbusiness.page.link/?link=https%3A%2F%2Fq.example.kz%2Fapi%2Fv1%2Fmobile-signing%2Fa_b%3Fx%3D1&"), "{l}");
        assert!(l.ends_with("&apn=kz.mobile.mgov.business"));
    }
}
