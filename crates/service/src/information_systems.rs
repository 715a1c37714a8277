//! Issue 18 (Order 270 §3): an organization's own information system signs in without a person — a
//! challenge signed with the system's authentication key, matched with the certificate its granted
//! application line named — and gets a bearer token of minutes that opens only the read-only data
//! routes (and `/systems/me`). Every request re-checks the grants the token was issued under and the
//! certificate's revocation; a grant no longer live, or a revoked certificate, ends the token there.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use qoljetim_domain::application::{certificate_serial, same_issuer};
use qoljetim_policy::{Action, Resource, SystemActor};
use qoljetim_signature::{SignatureError, require_system_sign_in};
use qoljetim_store::{Change, NewSystemToken, SystemGrantRow, SystemsChange};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Service;
use crate::audit::Attempt;
use crate::error::{Problem, ServiceError, ServiceResult};
use crate::sessions::{SessionToken, revoked_at, token_hash};
use crate::toolbox::*;
use crate::views::{OrganizationView, SystemGrantView};

/// Every information system's token begins so; a person's never does (the web layer tells them apart
/// before looking either up).
pub const SYSTEM_TOKEN_PREFIX: &str = "sys.";

/// `[systems]`: the tokens of organizations' information systems (issue 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemsConfig {
    /// How long a system's token lasts, in minutes (1 to 60).
    pub token_minutes: u32,
    /// Requests one system may make a minute with its tokens (0: unlimited); more are `429` with
    /// `Retry-After`.
    pub reads_per_minute: u32,
}

impl Default for SystemsConfig {
    fn default() -> Self {
        SystemsConfig {
            token_minutes: 10,
            reads_per_minute: 600,
        }
    }
}

impl SystemsConfig {
    pub fn check(&self) -> Result<(), String> {
        if !(1..=60).contains(&self.token_minutes) {
            return Err("[systems] token_minutes is 1 to 60".into());
        }
        Ok(())
    }
}

type Keyed = RateLimiter<i64, governor::state::keyed::DefaultKeyedStateStore<i64>, DefaultClock>;

/// The per-system rate limiter (in this process's memory, like the sign-in limits).
pub struct SystemReadLimits(Option<Keyed>);

impl SystemReadLimits {
    pub fn new(config: &SystemsConfig) -> Self {
        SystemReadLimits(
            NonZeroU32::new(config.reads_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        )
    }

    fn check(&self, system: i64) -> ServiceResult<()> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&system).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ServiceError::new(Problem::TooManyRequests {
                retry_after: wait.as_secs() + 1,
            })
        })
    }
}

/// An information system, as its token establishes it on a request.
#[derive(Debug, Clone)]
pub struct SystemCaller {
    pub actor: SystemActor,
    pub name: String,
    /// The system's grants, as read on this request.
    pub grants: Vec<SystemGrantRow>,
    pub ip: String,
    /// The time of the request by the service's clock (µs).
    pub now: i64,
}

impl SystemCaller {
    /// The audit chain's name of the system: `system:<id>@<BIN>`.
    pub fn actor_id(&self) -> String {
        system_actor_id(self.actor.id, self.actor.bin.as_str())
    }
}

fn system_actor_id(id: i64, bin: &str) -> String {
    format!("system:{id}@{bin}")
}

/// A system signed in: its bearer token and what it may read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SystemSignedIn {
    pub token: String,
    /// `Bearer`.
    pub token_type: String,
    pub expires_at: String,
    pub expires_in_seconds: i64,
    pub information_system: InformationSystemView,
}

/// An information system with its organization and its grants live today.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InformationSystemView {
    pub id: i64,
    pub name: String,
    pub organization: Option<OrganizationView>,
    pub grants: Vec<SystemGrantView>,
}

impl Service {
    /// Issue 18: a challenge (from `GET /auth/challenge`) signed with the information system's
    /// authentication key opens a token of `[systems] token_minutes` for the system its organization's
    /// granted application line named (the certificate's serial and issuer, the organization's BIN).
    pub async fn system_sign_in(&self, ip: &str, body: &[u8]) -> ServiceResult<SystemSignedIn> {
        let attempt = Attempt::default();
        let r = self.system_sign_in_in(&attempt, ip, body).await;
        self.settle(attempt, r).await
    }

    async fn system_sign_in_in(
        &self,
        attempt: &Attempt,
        ip: &str,
        body: &[u8],
    ) -> ServiceResult<SystemSignedIn> {
        let at = self.clock.now();
        let crate::sign_in::SignedChallenge {
            verified,
            challenge,
            expires: exp,
        } = self
            .signed_challenge(
                attempt,
                ip,
                body,
                "system_login",
                |id| {
                    let bin = id.bin.as_ref().map_or("?", |b| b.as_str());
                    format!("certificate:{}@{bin}", id.serial_hex)
                },
                |id| require_system_sign_in(id, None),
            )
            .await?;
        let id = &verified.signer;
        let Some(bin) = id.bin.clone() else {
            return Err(ServiceError::signature(
                &SignatureError::NotLegalEntity,
                true,
            ));
        };
        let serial = certificate_serial(&id.serial_hex).unwrap_or_default();
        let system = self
            .store
            .information_systems_with_serial(&serial)
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .filter(|s| s.organization_bin == bin.as_str())
            .rfind(|s| same_issuer(&s.certificate_issuer, &id.issuer))
            .ok_or_else(|| {
                ServiceError::new(Problem::SystemNotRegistered {
                    serial: serial.clone(),
                })
                .at_sign_in()
            })?;
        attempt.update(|e| e.actor = system_actor_id(system.id, bin.as_str()));
        let today = self.calendar.almaty_date(at);
        let grants = self
            .store
            .system_grants_of_system(system.id)
            .await
            .map_err(ServiceError::store)?;
        let live: Vec<&SystemGrantRow> = grants.iter().filter(|g| g.live_on(today)).collect();
        let live_ids: Vec<i64> = live.iter().map(|g| g.id).collect();
        if live.is_empty() {
            let last = grants.last();
            return Err(ServiceError::new(Problem::SystemAccessEnded {
                grant: last.map_or(0, |g| g.id),
                status: last.map_or_else(
                    || "none".into(),
                    |g| g.status_on(today).0.as_str().to_owned(),
                ),
            })
            .at_sign_in());
        }
        let org = self
            .store
            .organization(bin.as_str())
            .await
            .map_err(ServiceError::store)?;
        let (token, hash) = crate::sessions::new_token(SYSTEM_TOKEN_PREFIX)?;
        let seconds = i64::from(self.config.systems.token_minutes) * 60;
        let expires_at = at.as_microsecond() + seconds * 1_000_000;
        let org_kind = org.as_ref().and_then(|o| o.kind.current());
        attempt.update(|e| {
            e.outcome = "allowed".into();
            e.details["information_system"] = json!(system.id);
            e.details["grants"] = json!(live_ids);
        });
        let change = Change::Systems(Box::new(SystemsChange::SignIn {
            challenge,
            challenge_expires_at: exp * 1_000_000,
            now: at.as_microsecond(),
            token: NewSystemToken {
                token_hash: hash,
                information_system_id: system.id,
                organization_bin: bin.to_string(),
                org_kind: org_kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
                certificate_serial: id.serial_hex.clone(),
                trust_anchor: verified.anchor.clone(),
                grant_ids: live_ids.clone(),
                created_at: at.as_microsecond(),
                expires_at,
            },
        }));
        self.commit(attempt, change).await?;
        Ok(SystemSignedIn {
            token,
            token_type: "Bearer".into(),
            expires_at: rfc3339_micros(expires_at),
            expires_in_seconds: seconds,
            information_system: InformationSystemView {
                id: system.id,
                name: system.name,
                organization: org.as_ref().map(OrganizationView::from),
                grants: live.into_iter().map(SystemGrantView::from).collect(),
            },
        })
    }

    /// The information system a token establishes: the token exists and has not run out, the system
    /// is within its rate, its certificate is not revoked, and every grant the token was issued under
    /// is still live today. A revoked certificate or a grant no longer live ends the token here
    /// (audited) and answers why.
    pub async fn authenticate_system(&self, t: SessionToken) -> ServiceResult<SystemCaller> {
        let hash = token_hash(&t.token);
        let Some(row) = self
            .store
            .system_token(&hash)
            .await
            .map_err(ServiceError::store)?
        else {
            return Err(ServiceError::new(Problem::SessionExpired));
        };
        let at = self.clock.now();
        let now = at.as_microsecond();
        if now > row.expires_at {
            return Err(ServiceError::new(Problem::SessionExpired));
        }
        self.system_reads.check(row.information_system_id)?;
        let bin = row
            .organization_bin
            .parse::<qoljetim_domain::Bin>()
            .map_err(ServiceError::internal)?;
        let actor_id = system_actor_id(row.information_system_id, bin.as_str());
        let end = |outcome: &str, details: serde_json::Value| {
            let mut e = entry(
                actor_id.clone(),
                Some(bin.to_string()),
                "end_system_token",
                "session".into(),
                outcome.into(),
                &t.ip,
            );
            e.details = details;
            let change = Change::Systems(Box::new(SystemsChange::EndToken {
                token_hash: hash.clone(),
            }));
            (change, e)
        };
        if let Some(revoked) = revoked_at(self, &row.trust_anchor, &row.certificate_serial).await? {
            let (change, e) = end(
                "certificate_revoked",
                json!({"certificate_serial": row.certificate_serial, "trust_anchor": row.trust_anchor,
                    "revoked_at": revoked.to_string()}),
            );
            self.store
                .commit(change, e)
                .await
                .map_err(ServiceError::store)?;
            return Err(ServiceError::signature(
                &SignatureError::Revoked {
                    serial: row.certificate_serial.clone(),
                    revoked_at: revoked.to_string(),
                },
                true,
            ));
        }
        let today = self.calendar.almaty_date(at);
        let grants = self
            .store
            .system_grants_of_system(row.information_system_id)
            .await
            .map_err(ServiceError::store)?;
        for id in &row.grant_ids {
            let grant = grants.iter().find(|g| g.id == *id);
            if grant.is_some_and(|g| g.live_on(today)) {
                continue;
            }
            let status = grant.map_or_else(
                || "none".into(),
                |g| g.status_on(today).0.as_str().to_owned(),
            );
            let (change, e) = end(
                "grant_ended",
                json!({"grant": id, "status": status,
                    "end_reason": grant.and_then(|g| g.end_reason.clone())}),
            );
            self.store
                .commit(change, e)
                .await
                .map_err(ServiceError::store)?;
            return Err(ServiceError::new(Problem::SystemAccessEnded {
                grant: *id,
                status,
            }));
        }
        let name = grants.first().map(|g| g.name.clone()).unwrap_or_default();
        Ok(SystemCaller {
            actor: SystemActor {
                id: row.information_system_id,
                bin,
                org_kind: row.org_kind.parse().ok(),
            },
            name,
            grants,
            ip: t.ip,
            now,
        })
    }

    /// `GET /systems/me`: the signed-in system, its organization and its grants live today (Cedar
    /// `system-reads-itself`; audited).
    pub async fn system_me(&self, caller: &SystemCaller) -> ServiceResult<InformationSystemView> {
        let attempt = Attempt::default();
        let r = async {
            let mut e = entry(
                caller.actor_id(),
                Some(caller.actor.bin.to_string()),
                "read_own_system",
                format!("information_system:{}", caller.actor.id),
                String::new(),
                &caller.ip,
            );
            let d = self
                .policy
                .decide_system(
                    &caller.actor,
                    Action::ReadOwnSystem,
                    &Resource::InformationSystem {
                        id: caller.actor.id,
                        bin: caller.actor.bin.clone(),
                        org_kind: caller.actor.org_kind,
                    },
                )
                .map_err(ServiceError::internal)?;
            e.outcome = if d.allowed { "allowed" } else { "denied" }.into();
            e.policies = d.policies.clone();
            attempt.begin(e, None);
            if !d.allowed {
                return Err(ServiceError::new(Problem::Forbidden {
                    action: "read_own_system".into(),
                }));
            }
            let today = self.calendar.almaty_date(self.clock.now());
            let org = self
                .store
                .organization(caller.actor.bin.as_str())
                .await
                .map_err(ServiceError::store)?;
            self.record(&attempt).await?;
            Ok(InformationSystemView {
                id: caller.actor.id,
                name: caller.name.clone(),
                organization: org.as_ref().map(OrganizationView::from),
                grants: caller
                    .grants
                    .iter()
                    .filter(|g| g.live_on(today))
                    .map(SystemGrantView::from)
                    .collect(),
            })
        }
        .await;
        self.settle(attempt, r).await
    }
}
