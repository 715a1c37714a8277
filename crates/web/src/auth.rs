//! Sign-in (Order 270 §11, DESIGN.md §4): a stateless one-time challenge, sessions as hashed opaque
//! tokens, and the `Caller` extractor (Bearer token for API clients, HttpOnly cookie for browsers with a
//! same-origin check on unsafe methods).

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use qoljetim_domain::{OrganizationKind, Role};
use qoljetim_policy::Actor;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::{ApiError, Problem};

type HmacSha256 = hmac::Hmac<Sha256>;

pub const SESSION_COOKIE: &str = "qoljetim_session";
pub const CHALLENGE_SECONDS: i64 = 300;

/// A challenge is nonce ‖ expiry ‖ HMAC-SHA256(server key, nonce ‖ expiry)[..16], base64url: the server
/// keeps nothing until it is used, and a used one is recorded so that it signs in once.
pub fn issue_challenge(key: &[u8; 32], now: Timestamp) -> Result<(String, Timestamp), ApiError> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(ApiError::internal)?;
    let exp = now.as_second() + CHALLENGE_SECONDS;
    let mut raw = Vec::with_capacity(40);
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&exp.to_be_bytes());
    let mut mac = HmacSha256::new_from_slice(key).map_err(ApiError::internal)?;
    mac.update(&raw);
    raw.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    let expires = Timestamp::from_second(exp).map_err(ApiError::internal)?;
    Ok((URL_SAFE_NO_PAD.encode(raw), expires))
}

/// Checks a returned challenge: issued by this server (else `challenge-invalid`) and not expired.
pub fn check_challenge(key: &[u8; 32], challenge: &str, now: Timestamp) -> Result<i64, ApiError> {
    let invalid = || ApiError::new(Problem::ChallengeInvalid);
    let raw = URL_SAFE_NO_PAD
        .decode(challenge.trim())
        .map_err(|_| invalid())?;
    if raw.len() != 40 {
        return Err(invalid());
    }
    let mut mac = HmacSha256::new_from_slice(key).map_err(ApiError::internal)?;
    mac.update(&raw[..24]);
    mac.verify_truncated_left(&raw[24..])
        .map_err(|_| invalid())?;
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&raw[16..24]);
    let exp = i64::from_be_bytes(exp);
    if now.as_second() > exp {
        return Err(ApiError::new(Problem::ChallengeExpired));
    }
    Ok(exp)
}

pub fn new_token() -> Result<(String, String), ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(ApiError::internal)?;
    let token = URL_SAFE_NO_PAD.encode(b);
    let hash = token_hash(&token);
    Ok((token, hash))
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A signed-in person, as established by their session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub token_hash: String,
    pub person: serde_json::Value,
    pub session_expires_at: i64,
    pub ip: String,
    /// The time of the request by the service's clock (µs).
    pub now: i64,
    /// A request a page makes by itself (polling), marked with the `X-Qoljetim-Background: 1`
    /// header: audited like any other, but it does not count as activity for the idle timeout.
    pub background: bool,
}

/// The header that marks a request a page makes by itself (DESIGN.md §5).
pub const BACKGROUND_HEADER: &str = "x-qoljetim-background";

impl Caller {
    pub fn actor_id(&self) -> String {
        format!("{}@{}", self.actor.iin, self.actor.bin)
    }

    /// The session activity this request records (for the idle timeout): none for background polling.
    pub fn touch(&self) -> Option<(String, i64)> {
        (!self.background).then(|| (self.token_hash.clone(), self.now))
    }
}

/// The client address, for the audit chain.
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cookie_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == SESSION_COOKIE).then(|| v.to_owned())
        })
}

fn bearer_token(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

fn same_origin(parts: &Parts) -> bool {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(h), Some(o)) => {
            o.strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                == Some(h)
        }
        _ => false,
    }
}

/// DESIGN.md §4: a certificate revoked after sign-in ends its sessions at the next check, which is the
/// session's next request once the anchor's CRL lists it.
async fn end_if_revoked(
    state: &AppState,
    person: &serde_json::Value,
    token_hash: &str,
    iin: &str,
    bin: &str,
    parts: &Parts,
) -> Result<(), ApiError> {
    let text = |k: &str| person.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let Some(anchor) = state.verifier.anchor(text("trust_anchor")) else {
        return Ok(());
    };
    let Ok(serial) = hex::decode(text("certificate_serial")) else {
        return Ok(());
    };
    let now = state.clock.now();
    let status = match &anchor.revocation {
        qoljetim_signature::Revocation::None => return Ok(()),
        qoljetim_signature::Revocation::Crl(crls) => crls.status_of_serial(&serial, now, now),
        qoljetim_signature::Revocation::Ocsp(client) => {
            // A cached answer, or one round trip to the responder off the async threads.
            let (client, issuer) = (client.clone(), anchor.certificate.clone());
            tokio::task::spawn_blocking(move || client.status_of_serial(&serial, &issuer, now, now))
                .await
                .map_err(ApiError::internal)?
        }
    };
    // An unknown status does not end a session that was opened with a good one.
    let qoljetim_signature::RevocationStatus::Revoked { revoked_at } = status else {
        return Ok(());
    };
    let change =
        qoljetim_store::Change::Lifecycle(Box::new(qoljetim_store::LifecycleChange::EndSession {
            token_hash: token_hash.to_owned(),
        }));
    let mut audit = qoljetim_store::AuditEntry {
        actor: format!("{iin}@{bin}"),
        actor_bin: Some(bin.to_owned()),
        action: "end_session".into(),
        resource: "session".into(),
        outcome: "certificate_revoked".into(),
        ip: client_ip(parts),
        policies: vec![],
        details: serde_json::Value::Null,
        creates: None,
    };
    audit.details = serde_json::json!({"certificate_serial": text("certificate_serial"),
        "trust_anchor": text("trust_anchor"), "revoked_at": revoked_at.to_string()});
    state
        .store
        .commit(change, audit)
        .await
        .map_err(ApiError::store)?;
    Err(ApiError::signature(
        &qoljetim_signature::SignatureError::Revoked {
            serial: text("certificate_serial").to_owned(),
            revoked_at: revoked_at.to_string(),
        },
        true,
    ))
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let (token, from_cookie) = match (bearer_token(parts), cookie_token(parts)) {
        (Some(t), _) => (t, false),
        (None, Some(t)) => (t, true),
        (None, None) => return Ok(None),
    };
    if from_cookie
        && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !same_origin(parts)
    {
        return Err(ApiError::new(Problem::OriginMismatch));
    }
    let hash = token_hash(&token);
    let session = state.store.session(&hash).await.map_err(ApiError::store)?;
    let Some(s) = session else {
        return Err(ApiError::new(Problem::SessionExpired));
    };
    let now = state.clock.now().as_microsecond();
    if now > s.expires_at || now > s.last_seen + state.config.session_idle_minutes * 60_000_000 {
        return Err(ApiError::new(Problem::SessionExpired));
    }
    end_if_revoked(state, &s.person, &s.token_hash, &s.iin, &s.bin, parts).await?;
    let org_kind = s
        .person
        .get("org_kind")
        .and_then(|v| v.as_str())
        .and_then(|k| k.parse::<OrganizationKind>().ok());
    let roles = s.roles.iter().filter_map(|r| Role::parse(r)).collect();
    Ok(Some(Caller {
        actor: Actor {
            iin: s.iin,
            bin: s.bin,
            org_kind,
            roles,
        },
        token_hash: s.token_hash,
        person: s.person,
        session_expires_at: s.expires_at,
        ip: client_ip(parts),
        now,
        background: parts
            .headers
            .get(BACKGROUND_HEADER)
            .is_some_and(|v| v.as_bytes() == b"1"),
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        resolve(parts, state)
            .await?
            .ok_or_else(|| ApiError::new(Problem::NotSignedIn))
    }
}

/// A caller who may or may not be signed in (submission: the signature authenticates).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeCaller(resolve(parts, state).await?))
    }
}

/// The client's address without a session.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;

    // Order 270 §11: a challenge is one-time (checked in the store), five minutes, and ours.
    #[test]
    fn challenge_expiry_and_forgery() {
        let key = [7u8; 32];
        let now = Timestamp::now();
        let (c, exp) = issue_challenge(&key, now).unwrap_or_else(|_| (String::new(), now));
        assert_eq!(exp.as_second() - now.as_second(), 300);
        assert!(check_challenge(&key, &c, now + 299.seconds()).is_ok());
        assert_eq!(
            check_challenge(&key, &c, now + 301.seconds())
                .err()
                .map(|e| e.slug()),
            Some("challenge-expired")
        );
        assert_eq!(
            check_challenge(&[8u8; 32], &c, now).err().map(|e| e.slug()),
            Some("challenge-invalid")
        );
        let mut forged = URL_SAFE_NO_PAD.decode(&c).unwrap_or_default();
        forged[20] ^= 1; // extend the expiry without the key
        assert_eq!(
            check_challenge(&key, &URL_SAFE_NO_PAD.encode(forged), now)
                .err()
                .map(|e| e.slug()),
            Some("challenge-invalid")
        );
        assert_eq!(
            check_challenge(&key, "garbage", now)
                .err()
                .map(|e| e.slug()),
            Some("challenge-invalid")
        );
    }
}
