//! Sign-in with the organization's digital signature (Order 270 §11) and `GET /me`.

use std::collections::BTreeSet;

use qoljetim_domain::Role;
use qoljetim_policy::Action;
use qoljetim_signature::{SignatureError, require_sign_in};
use qoljetim_store::{Change, NewSession};
use serde_json::{Value, json};

use crate::audit::Attempt;
use crate::error::{Problem, ServiceError, ServiceResult};
use crate::grants::*;
use crate::sessions::{check_challenge, issue_challenge, new_token};
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

/// A session opened: what the person sees, and how long the session cookie lives.
pub struct SignedIn {
    pub view: LoginView,
    pub max_age_seconds: i64,
}

/// A sign-in's signed challenge, verified: the signature, the certificate's profile, the challenge.
pub(crate) struct SignedChallenge {
    pub verified: qoljetim_signature::VerifiedCms,
    pub challenge: String,
    /// The challenge's expiry (Unix seconds).
    pub expires: i64,
}

impl Service {
    /// The steps every sign-in takes — a person's (Order 270 §11) or an information system's (issue
    /// 18): the signature verified, the attempt audited under `actor` of the certificate, the
    /// certificate's sign-ins rate-limited, the challenge ours and unexpired, the certificate's
    /// `profile` required, a development anchor refused in production.
    pub(crate) async fn signed_challenge(
        &self,
        attempt: &Attempt,
        ip: &str,
        body: &[u8],
        action: &str,
        actor: impl Fn(&qoljetim_signature::CertificateIdentity) -> String,
        profile: impl Fn(&qoljetim_signature::CertificateIdentity) -> Result<(), SignatureError>,
    ) -> ServiceResult<SignedChallenge> {
        let at = self.clock.now();
        let (_, verified) = self
            .verified_body(attempt, body, at, anonymous(action, "session", ip), true)
            .await?;
        let id = &verified.signer;
        let mut e = entry(
            actor(id),
            id.bin.as_ref().map(|b| b.to_string()),
            action,
            "session".into(),
            String::new(),
            ip,
        );
        e.details = signature_evidence(&verified);
        attempt.begin(e, None);
        self.sign_in_allowed(&format!("{}/{}", verified.anchor, id.serial_hex))?;
        let challenge = String::from_utf8(verified.content.clone()).unwrap_or_default();
        let expires = check_challenge(&self.challenge_keys, &challenge, at)?;
        profile(id).map_err(|e| ServiceError::signature(&e, true))?;
        if self.config.production && verified.development_anchor {
            return Err(ServiceError::signature(
                &SignatureError::DevelopmentCaRefused,
                true,
            ));
        }
        Ok(SignedChallenge {
            verified,
            challenge,
            expires,
        })
    }

    /// A one-time sign-in challenge (Order 270 §11), valid for five minutes.
    pub fn challenge(&self) -> ServiceResult<ChallengeView> {
        let (challenge, expires) = issue_challenge(&self.challenge_keys, self.clock.now())?;
        Ok(ChallengeView {
            challenge,
            expires_at: expires.to_string(),
        })
    }

    /// Order 270 §11: a challenge signed with the person's authentication key opens a session in the
    /// organization the certificate names, if it is registered.
    pub async fn sign_in(&self, ip: &str, body: &[u8]) -> ServiceResult<SignedIn> {
        let attempt = Attempt::default();
        let r = self.sign_in_in(&attempt, ip, body).await;
        self.settle(attempt, r).await
    }

    async fn sign_in_in(
        &self,
        attempt: &Attempt,
        ip: &str,
        body: &[u8],
    ) -> ServiceResult<SignedIn> {
        let at = self.clock.now();
        let SignedChallenge {
            verified,
            challenge,
            expires: exp,
        } = self
            .signed_challenge(attempt, ip, body, "login", signer_id, require_sign_in)
            .await?;
        let id = &verified.signer;
        let (Some(iin), Some(bin)) = (id.iin.clone(), id.bin.clone()) else {
            return Err(ServiceError::signature(
                &SignatureError::NotLegalEntity,
                true,
            ));
        };
        // Issue 20: what the sign-in reads, in one go.
        let facts = self
            .store
            .sign_in_facts(iin.as_str(), bin.as_str())
            .await
            .map_err(ServiceError::store)?;
        let Some((org, staff_roles, line)) = facts else {
            return Err(ServiceError::new(Problem::OrganizationUnknown {
                bin: bin.to_string(),
            })
            .at_sign_in());
        };
        let mut roles: BTreeSet<String> = staff_roles.into_iter().collect();
        let head = id.roles.contains(&qoljetim_signature::NcaRole::FirstHead)
            || id
                .roles
                .contains(&qoljetim_signature::NcaRole::SigningRight);
        roles.insert(
            if head { Role::Head } else { Role::Employee }
                .as_str()
                .to_owned(),
        );
        let roles: Vec<String> = roles.into_iter().collect();
        let person = json!({
            "iin": iin, "surname": id.surname, "name": id.given_name(), "patronymic": id.patronymic,
            "common_name": id.common_name, "org_kind": org.kind, "nca_roles": id.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            // Kept so that a revocation after sign-in ends the session at its next request.
            "certificate_serial": id.serial_hex, "trust_anchor": verified.anchor,
        });
        let (token, token_hash) = new_token("")?;
        let expires_at = at.as_microsecond() + self.config.session_hours * 3_600_000_000;
        let session = NewSession {
            token_hash,
            iin: iin.clone(),
            bin: bin.clone(),
            roles: roles.iter().filter_map(|r| Role::parse(r)).collect(),
            person: person.clone(),
            certificate_serial: id.serial_hex.clone(),
            created_at: at.as_microsecond(),
            expires_at,
        };
        attempt.update(|e| {
            e.outcome = "allowed".into();
            e.details["roles"] = json!(roles);
        });
        let change = Change::Login {
            challenge,
            challenge_expires_at: exp * 1_000_000,
            session,
        };
        self.commit(attempt, change).await?;
        let name_check =
            check_name_at_sign_in(self, id, line, iin.as_str(), bin.as_str(), ip, at).await?;
        Ok(SignedIn {
            view: LoginView {
                token,
                expires_at: rfc3339_micros(expires_at),
                person,
                organization: OrganizationView::from(&org),
                roles,
                name_check,
            },
            max_age_seconds: self.config.session_hours * 3600,
        })
    }

    /// The signed-in person, their organization and roles, and the grants they may read.
    pub async fn me(&self, caller: &Caller) -> ServiceResult<MeView> {
        let attempt = Attempt::default();
        let org = self
            .store
            .organization(caller.actor.bin.as_str())
            .await
            .map_err(ServiceError::store)?;
        let mut grants = vec![];
        let mut policies = BTreeSet::new();
        for g in self
            .store
            .grants_of_person(caller.actor.iin.as_str(), caller.actor.bin.as_str())
            .await
            .map_err(ServiceError::store)?
        {
            let d = self.decide(&caller.actor, Action::ReadGrant, &grant_resource(&g))?;
            if d.allowed {
                policies.extend(d.policies);
                grants.push(self.grant_view(&g));
            }
        }
        let mut e = caller_entry(
            caller,
            "read_me",
            "me".into(),
            &allowed(policies.into_iter().collect()),
        );
        e.details = json!({"grants": grants.len()});
        attempt.begin_for(caller, e);
        self.record(&attempt).await?;
        Ok(MeView {
            person: caller.person.clone(),
            organization: org.as_ref().map(OrganizationView::from),
            roles: caller
                .actor
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            session_expires_at: rfc3339_micros(caller.session_expires_at),
            grants,
        })
    }
}

/// DESIGN.md §4: at sign-in the certificate's name (SURNAME, the given name of CN, GIVENNAME as the
/// patronymic) is matched with the person's latest application line of this organization. A mismatch
/// does not refuse the sign-in (the IIN decides who the person is) but is shown to the integrator: an
/// audit entry and a notification to every integrator administrator, once per certificate and line.
pub(crate) async fn check_name_at_sign_in(
    st: &Service,
    id: &qoljetim_signature::CertificateIdentity,
    line: Option<qoljetim_store::LineRow>,
    iin: &str,
    bin: &str,
    ip: &str,
    at: jiff::Timestamp,
) -> ServiceResult<Value> {
    use qoljetim_domain::person_name::{NameCheck, PersonName};
    let Some(line) = line else {
        return Ok(json!({"status": "no_application_line"}));
    };
    let certificate = PersonName {
        surname: id.surname.clone().unwrap_or_default(),
        name: id.given_name().unwrap_or_default(),
        patronymic: id.patronymic.clone(),
    };
    let application = PersonName {
        surname: line.surname.clone(),
        name: line.name.clone(),
        patronymic: line.patronymic.clone(),
    };
    let fields = match certificate.check_against(&application) {
        NameCheck::Match => {
            return Ok(
                json!({"status": "match", "application_id": line.application_id, "line": line.line}),
            );
        }
        NameCheck::Mismatch { fields } => fields,
    };
    let view = json!({"status": "mismatch", "application_id": line.application_id, "line": line.line,
        "fields": fields, "certificate_name": certificate.display(), "application_name": application.display(),
        "certificate_serial": id.serial_hex});
    let integrators = st
        .store
        .staff_with_role("integrator_admin")
        .await
        .map_err(ServiceError::store)?;
    let subject = format!("application:{}:line:{}", line.application_id, line.line);
    let body_kk = format!(
        "{iin} ({bin}) кірді: сертификаттағы аты «{}», {} өтінімінің {}-жолында «{}».",
        certificate.display(),
        line.application_id,
        line.line,
        application.display()
    );
    let body_ru = format!(
        "{iin} ({bin}) вошёл: в сертификате «{}», в строке {} заявки {} — «{}».",
        certificate.display(),
        line.line,
        line.application_id,
        application.display()
    );
    let list = integrators
        .iter()
        .map(|(r_iin, r_bin)| qoljetim_store::NewNotification {
            recipient_iin: r_iin.clone(),
            recipient_bin: r_bin.clone(),
            kind: "name_mismatch".into(),
            subject_ref: subject.clone(),
            dedupe_key: format!("name-mismatch:{}:{subject}:{r_iin}@{r_bin}", id.serial_hex),
            title_kk: "Сертификаттағы аты өтінімдегіден өзгеше".into(),
            title_ru: "Имя в сертификате не совпадает с заявкой".into(),
            body_kk: body_kk.clone(),
            body_ru: body_ru.clone(),
            created_at: at.as_microsecond(),
            email: None,
        })
        .collect();
    let mut audit = entry(
        format!("{iin}@{bin}"),
        Some(bin.to_owned()),
        "name_check",
        subject,
        "mismatch".into(),
        ip,
    );
    audit.details = view.clone();
    st.store
        .commit(
            Change::Lifecycle(Box::new(qoljetim_store::LifecycleChange::Notify(list))),
            audit,
        )
        .await
        .map_err(ServiceError::store)?;
    Ok(view)
}
