//! Sessions (Order 270 §11, DESIGN.md §4): a stateless one-time challenge, sessions as hashed opaque
//! tokens, and the `Caller` a session token establishes (the web layer reads the token from a Bearer
//! header or the cookie).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use qoljetim_domain::{Bin, Iin, OrganizationKind};
use qoljetim_policy::Actor;
use sha2::{Digest, Sha256};

use crate::Service;
use crate::error::{Problem, ServiceError};

type HmacSha256 = hmac::Hmac<Sha256>;

pub const CHALLENGE_SECONDS: i64 = 300;

/// Session activity is written at most this often per session (issue 20): a request within it of the
/// last recorded activity writes no session row, only its audit record. An idle session therefore
/// ends between `idle_minutes` minus this and `idle_minutes` after its last request — never later.
pub const ACTIVITY_RESOLUTION_MICROS: i64 = 30_000_000;

/// The keys of the sign-in challenges' MAC (issue 21). Every instance on one database has the same
/// ones (configuration, `[sign_in]`), so a challenge issued by one is accepted by another. A rotation
/// adds a new current key and keeps the old one among the previous keys for at least a challenge's
/// lifetime (five minutes): challenges are issued under the current key only and accepted under any.
#[derive(Clone)]
pub struct ChallengeKeys {
    current: [u8; 32],
    previous: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ChallengeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ChallengeKeys(current, {} previous)",
            self.previous.len()
        )
    }
}

impl ChallengeKeys {
    /// A key of this process alone (one instance, development): challenges die with the process.
    pub fn random() -> std::io::Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        Ok(ChallengeKeys {
            current: key,
            previous: vec![],
        })
    }

    /// Keys written as base64 (standard or URL-safe, padded or not) of exactly 32 bytes; the error
    /// names which key is wrong and how, never its value.
    pub fn parse(current: &str, previous: &[&str]) -> Result<Self, String> {
        let one = |what: &str, text: &str| -> Result<[u8; 32], String> {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
            let t = text.trim();
            let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
                .iter()
                .find_map(|e| e.decode(t).ok())
                .ok_or_else(|| format!("{what} is not base64"))?;
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                format!(
                    "{what} must be 32 bytes (44 base64 characters), it is {}",
                    bytes.len()
                )
            })
        };
        Ok(ChallengeKeys {
            current: one("sign_in.challenge_key", current)?,
            previous: previous
                .iter()
                .enumerate()
                .map(|(i, p)| one(&format!("sign_in.previous_challenge_keys[{i}]"), p))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A new key for the configuration (`qoljetim challenge-key`), base64.
    pub fn new_key_text() -> std::io::Result<String> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(key))
    }
}

/// A challenge is nonce ‖ expiry ‖ HMAC-SHA256(server key, nonce ‖ expiry)[..16], base64url: the server
/// keeps nothing until it is used, and a used one is recorded so that it signs in once.
pub fn issue_challenge(
    keys: &ChallengeKeys,
    now: Timestamp,
) -> Result<(String, Timestamp), ServiceError> {
    let key = &keys.current;
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(ServiceError::internal)?;
    let exp = now.as_second() + CHALLENGE_SECONDS;
    let mut raw = Vec::with_capacity(40);
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&exp.to_be_bytes());
    let mut mac = HmacSha256::new_from_slice(key).map_err(ServiceError::internal)?;
    mac.update(&raw);
    raw.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    let expires = Timestamp::from_second(exp).map_err(ServiceError::internal)?;
    Ok((URL_SAFE_NO_PAD.encode(raw), expires))
}

/// Checks a returned challenge: issued by this server (else `challenge-invalid`) and not expired.
pub fn check_challenge(
    keys: &ChallengeKeys,
    challenge: &str,
    now: Timestamp,
) -> Result<i64, ServiceError> {
    let invalid = || ServiceError::new(Problem::ChallengeInvalid);
    let raw = URL_SAFE_NO_PAD
        .decode(challenge.trim())
        .map_err(|_| invalid())?;
    if raw.len() != 40 {
        return Err(invalid());
    }
    let issued_here = std::iter::once(&keys.current)
        .chain(&keys.previous)
        .any(|key| {
            HmacSha256::new_from_slice(key).is_ok_and(|mut mac| {
                mac.update(&raw[..24]);
                mac.verify_truncated_left(&raw[24..]).is_ok()
            })
        });
    if !issued_here {
        return Err(invalid());
    }
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&raw[16..24]);
    let exp = i64::from_be_bytes(exp);
    if now.as_second() > exp {
        return Err(ServiceError::new(Problem::ChallengeExpired));
    }
    Ok(exp)
}

/// A new opaque token beginning with `prefix` (a person's none, an information system's `sys.`) and
/// its hash, which is all the store keeps.
pub fn new_token(prefix: &str) -> Result<(String, String), ServiceError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(ServiceError::internal)?;
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b));
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
    /// The session's last recorded activity (µs).
    pub last_seen: i64,
    pub ip: String,
    /// The time of the request by the service's clock (µs).
    pub now: i64,
    /// A request a page makes by itself (polling), marked with the `X-Qoljetim-Background: 1`
    /// header: audited like any other, but it does not count as activity for the idle timeout.
    pub background: bool,
}

impl Caller {
    pub fn actor_id(&self) -> String {
        format!("{}@{}", self.actor.iin, self.actor.bin)
    }

    /// The session activity this request records (for the idle timeout): none for background
    /// polling, and none within `ACTIVITY_RESOLUTION_MICROS` of the last one recorded.
    pub fn touch(&self) -> Option<(String, i64)> {
        (!self.background && self.now - self.last_seen >= ACTIVITY_RESOLUTION_MICROS)
            .then(|| (self.token_hash.clone(), self.now))
    }
}

/// When the certificate `serial_hex` of `anchor` was revoked, if its anchor's revocation data (CRL or
/// OCSP) says it is now; None for good, unknown, or an anchor without revocation data.
pub(crate) async fn revoked_at(
    state: &Service,
    anchor: &str,
    serial_hex: &str,
) -> Result<Option<Timestamp>, ServiceError> {
    let Some(anchor) = state.verifier.anchor(anchor) else {
        return Ok(None);
    };
    let Ok(serial) = hex::decode(serial_hex) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let status = match &anchor.revocation {
        qoljetim_signature::Revocation::None => return Ok(None),
        qoljetim_signature::Revocation::Crl(crls) => crls.status_of_serial(&serial, now, now),
        qoljetim_signature::Revocation::Ocsp(client) => {
            // A cached answer, or one round trip to the responder off the async threads.
            let (client, issuer) = (client.clone(), anchor.certificate.clone());
            tokio::task::spawn_blocking(move || client.status_of_serial(&serial, &issuer, now, now))
                .await
                .map_err(ServiceError::internal)?
        }
    };
    // An unknown status does not end a session that was opened with a good one.
    Ok(match status {
        qoljetim_signature::RevocationStatus::Revoked { revoked_at } => Some(revoked_at),
        _ => None,
    })
}

/// DESIGN.md §4: a certificate revoked after sign-in ends its sessions at the next check, which is the
/// session's next request once the anchor's CRL lists it.
async fn end_if_revoked(
    state: &Service,
    person: &serde_json::Value,
    token_hash: &str,
    iin: &Iin,
    bin: &Bin,
    ip: &str,
) -> Result<(), ServiceError> {
    let text = |k: &str| person.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let Some(revoked_at) =
        revoked_at(state, text("trust_anchor"), text("certificate_serial")).await?
    else {
        return Ok(());
    };
    let change =
        qoljetim_store::Change::Lifecycle(Box::new(qoljetim_store::LifecycleChange::EndSession {
            token_hash: token_hash.to_owned(),
        }));
    let mut audit = qoljetim_store::AuditEntry {
        actor: format!("{iin}@{bin}"),
        actor_bin: Some(bin.to_string()),
        action: "end_session".into(),
        resource: "session".into(),
        outcome: "certificate_revoked".into(),
        ip: ip.to_owned(),
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
        .map_err(ServiceError::store)?;
    Err(ServiceError::signature(
        &qoljetim_signature::SignatureError::Revoked {
            serial: text("certificate_serial").to_owned(),
            revoked_at: revoked_at.to_string(),
        },
        true,
    ))
}

/// A session token as a request presents it, with what the request says about itself.
#[derive(Debug, Clone)]
pub struct SessionToken {
    pub token: String,
    /// The client address, for the audit chain.
    pub ip: String,
    /// A request a page makes by itself (polling): not activity for the idle timeout.
    pub background: bool,
}

impl Service {
    /// Sign-out: the caller's session ends at once (its token stops working in every tab), audited.
    pub async fn sign_out(&self, caller: &Caller) -> Result<(), ServiceError> {
        let e = crate::toolbox::entry(
            caller.actor_id(),
            Some(caller.actor.bin.to_string()),
            "sign_out",
            "session".into(),
            "ok".into(),
            &caller.ip,
        );
        let change = qoljetim_store::Change::Lifecycle(Box::new(
            qoljetim_store::LifecycleChange::EndSession {
                token_hash: caller.token_hash.clone(),
            },
        ));
        self.store
            .commit(change, e)
            .await
            .map_err(ServiceError::store)?;
        Ok(())
    }

    /// The caller a session token establishes: the session exists, has not expired or idled out, and
    /// its certificate has not been revoked since sign-in.
    pub async fn authenticate(&self, t: SessionToken) -> Result<Caller, ServiceError> {
        let hash = token_hash(&t.token);
        let session = self
            .store
            .session(&hash)
            .await
            .map_err(ServiceError::store)?;
        let Some(s) = session else {
            return Err(ServiceError::new(Problem::SessionExpired));
        };
        let now = self.clock.now().as_microsecond();
        if now > s.expires_at || now > s.last_seen + self.config.session_idle_minutes * 60_000_000 {
            return Err(ServiceError::new(Problem::SessionExpired));
        }
        end_if_revoked(self, &s.person, &s.token_hash, &s.iin, &s.bin, &t.ip).await?;
        let org_kind = s
            .person
            .get("org_kind")
            .and_then(|v| v.as_str())
            .and_then(|k| k.parse::<OrganizationKind>().ok());
        Ok(Caller {
            actor: Actor {
                iin: s.iin,
                bin: s.bin,
                org_kind,
                roles: s.roles,
            },
            token_hash: s.token_hash,
            person: s.person,
            session_expires_at: s.expires_at,
            last_seen: s.last_seen,
            ip: t.ip,
            now,
            background: t.background,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;

    // Order 270 §11: a challenge is one-time (checked in the store), five minutes, and ours.
    #[test]
    fn challenge_expiry_and_forgery() {
        let key = ChallengeKeys::random().expect("key");
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
            check_challenge(&ChallengeKeys::random().expect("key"), &c, now)
                .err()
                .map(|e| e.slug()),
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

    // Order 270 §11 with several instances (issue 21): instances sharing a key accept each other's
    // challenges; a rotation keeps the old key accepted (previous keys) while new challenges are made
    // under the new one only.
    #[test]
    fn shared_keys_and_rotation_with_overlap() {
        let old = ChallengeKeys::new_key_text().expect("key");
        let new = ChallengeKeys::new_key_text().expect("key");
        let now = Timestamp::now();
        let a = ChallengeKeys::parse(&old, &[]).expect("a");
        let b = ChallengeKeys::parse(&old, &[]).expect("b");
        let (c, _) = issue_challenge(&a, now).expect("issue");
        assert!(check_challenge(&b, &c, now).is_ok());
        // Rotated: new current, old previous — the old challenge still passes, a new one is new-keyed.
        let rotated = ChallengeKeys::parse(&new, &[&old]).expect("rotated");
        assert!(check_challenge(&rotated, &c, now).is_ok());
        let (c2, _) = issue_challenge(&rotated, now).expect("issue");
        assert_eq!(
            check_challenge(&a, &c2, now).err().map(|e| e.slug()),
            Some("challenge-invalid")
        );
        // The overlap over: the old key gone, its challenges are refused.
        let after = ChallengeKeys::parse(&new, &[]).expect("after");
        assert_eq!(
            check_challenge(&after, &c, now).err().map(|e| e.slug()),
            Some("challenge-invalid")
        );
        // Wrong keys are named, never shown.
        let short = ChallengeKeys::parse("c2hvcnQ=", &[])
            .err()
            .unwrap_or_default();
        assert!(
            short.contains("challenge_key must be 32 bytes") && !short.contains("c2hvcnQ"),
            "{short}"
        );
        let bad = ChallengeKeys::parse(&new, &["%%%"])
            .err()
            .unwrap_or_default();
        assert!(
            bad.contains("previous_challenge_keys[0] is not base64"),
            "{bad}"
        );
    }
}
