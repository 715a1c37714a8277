//! `qoljetim demo`: the operator organizations, one organization of every applicant kind, their heads
//! and employees, operator staff, the development CA with certificates for every demo person, and
//! applications in every state — made through the real API, as users would make them.

use std::path::Path;

use jiff::Timestamp;
use qoljetim_devca::{DevCa, KeyKind, Subject};
use qoljetim_domain::OrganizationKind as K;
use qoljetim_signature::{KeyPurpose, NcaRole};
use qoljetim_store::{Change, Store};
use serde_json::{Value, json};

use crate::AnyError;
use crate::client::{ApiClient, FormLine, KeyPair, application_json};
use crate::devca_files::issue_to_files;
use crate::people::{demo_bin, demo_iin};

pub struct DemoOrg {
    pub key: &'static str,
    pub kind: K,
    pub name_kk: &'static str,
    pub name_ru: &'static str,
    pub territory: Option<&'static str>,
    pub administrators: &'static [&'static str],
}

pub const ORGS: [DemoOrg; 12] = [
    DemoOrg {
        key: "minfin",
        kind: K::AuthorizedBody,
        name_kk: "Қазақстан Республикасы Қаржы министрлігі",
        name_ru: "Министерство финансов Республики Казахстан",
        territory: None,
        administrators: &[],
    },
    DemoOrg {
        key: "integrator",
        kind: K::Integrator,
        name_kk: "Бюджеттік процестің интеграторы",
        name_ru: "Интегратор бюджетного процесса",
        territory: None,
        administrators: &[],
    },
    DemoOrg {
        key: "planning",
        kind: K::BudgetPlanningBody,
        name_kk: "Ұлттық экономика министрлігі",
        name_ru: "Министерство национальной экономики",
        territory: None,
        administrators: &[],
    },
    DemoOrg {
        key: "parliament",
        kind: K::Parliament,
        name_kk: "ҚР Парламенті Мәжілісінің Аппараты",
        name_ru: "Аппарат Мажилиса Парламента РК",
        territory: None,
        administrators: &[],
    },
    DemoOrg {
        key: "audit-chamber",
        kind: K::SupremeAuditChamber,
        name_kk: "Жоғары аудиторлық палата",
        name_ru: "Высшая аудиторская палата",
        territory: None,
        administrators: &[],
    },
    DemoOrg {
        key: "internal-state-audit",
        kind: K::InternalStateAudit,
        name_kk: "Ішкі мемлекеттік аудит комитеті",
        name_ru: "Комитет внутреннего государственного аудита",
        territory: None,
        administrators: &[],
    },
    DemoOrg {
        key: "maslikhat-almaty",
        kind: K::Maslikhat,
        name_kk: "Алматы қаласының мәслихаты",
        name_ru: "Маслихат города Алматы",
        territory: Some("750000000"),
        administrators: &[],
    },
    DemoOrg {
        key: "maslikhat-astana",
        kind: K::Maslikhat,
        name_kk: "Астана қаласының мәслихаты",
        name_ru: "Маслихат города Астаны",
        territory: Some("710000000"),
        administrators: &[],
    },
    DemoOrg {
        key: "revision-almaty",
        kind: K::RevisionCommission,
        name_kk: "Алматы қаласының тексеру комиссиясы",
        name_ru: "Ревизионная комиссия города Алматы",
        territory: Some("750000000"),
        administrators: &[],
    },
    DemoOrg {
        key: "audit-karaganda",
        kind: K::LocalInternalAudit,
        name_kk: "Қарағанды облысы әкімдігінің ішкі аудит қызметі",
        name_ru: "Служба внутреннего аудита акимата Карагандинской области",
        territory: Some("350000000"),
        administrators: &[],
    },
    DemoOrg {
        key: "audit-minfin",
        kind: K::CentralInternalAudit,
        name_kk: "Қаржы министрлігінің ішкі аудит қызметі",
        name_ru: "Служба внутреннего аудита Министерства финансов",
        territory: None,
        administrators: &["217"],
    },
    DemoOrg {
        key: "mvd-audit-almaty",
        kind: K::MvdTerritorialInternalAudit,
        name_kk: "Алматы қаласы Полиция департаментінің ішкі аудит қызметі",
        name_ru: "Служба внутреннего аудита Департамента полиции города Алматы",
        territory: Some("750000000"),
        administrators: &[],
    },
];

const SURNAMES: [&str; 6] = [
    "Әбенова",
    "Нұрланов",
    "Сейітова",
    "Жақыпов",
    "Ахметова",
    "Ким",
];
const NAMES: [&str; 6] = ["Айгүл", "Ерлан", "Динара", "Бауыржан", "Сәуле", "Виктор"];
const PATRONYMICS: [&str; 6] = [
    "Қайратқызы",
    "Серікұлы",
    "Болатқызы",
    "Ержанұлы",
    "Маратқызы",
    "Петрович",
];

/// A demo person: who they are and the keys they hold.
#[derive(Clone)]
pub struct DemoPerson {
    pub org: &'static str,
    pub bin: String,
    pub role: &'static str,
    pub iin: String,
    pub surname: String,
    pub name: String,
    pub patronymic: String,
    pub sign: Option<KeyPair>,
    pub auth: KeyPair,
    /// Where the files are, relative to the demo folder, without `-auth.pem` / `-sign.pem`.
    pub stem: String,
    /// RSA, ECDSA P-256, GOST 34.310-2004 or GOST 34.10-2015 512.
    pub key_family: &'static str,
}

pub fn org_bin(index: usize) -> String {
    demo_bin(index as u32 + 1)
}

pub fn org_index(key: &str) -> usize {
    ORGS.iter().position(|o| o.key == key).unwrap_or(0)
}

/// Registers the demo organizations and operator staff directly (as `qoljetim org add`/`staff add` do).
pub async fn seed_registry(store: &Store, people: &[DemoPerson]) -> Result<(), AnyError> {
    let now = Timestamp::now().as_microsecond();
    for (i, o) in ORGS.iter().enumerate() {
        let bin = org_bin(i);
        let change = crate::organization_change(
            &bin,
            (o.name_kk, o.name_ru),
            o.kind,
            o.territory,
            o.administrators,
            now,
        )?;
        match store
            .commit(
                change,
                crate::cli_audit(
                    "cli:demo",
                    "manage_organizations",
                    format!("organization/{bin}"),
                    json!({"kind": o.kind}),
                ),
            )
            .await
        {
            Ok(_) | Err(qoljetim_store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for p in people
        .iter()
        .filter(|p| p.role == "reviewer" || p.role == "integrator_admin")
    {
        let change = crate::staff_change(&p.iin, &p.bin, p.role, now)?;
        store
            .commit(
                change,
                crate::cli_audit(
                    "cli:demo",
                    "add_staff",
                    format!("staff/{}@{}", p.iin, p.bin),
                    json!({"role": p.role}),
                ),
            )
            .await?;
    }
    Ok(())
}

/// Organizations whose people hold GOST keys in the demo (issued by the GOST development CA), so that
/// both families the NCA issues are shown; the others hold `kind` keys.
pub const GOST_ORGS: [(&str, KeyKind); 2] = [
    ("maslikhat-astana", KeyKind::Gost2015_512),
    ("revision-almaty", KeyKind::Gost2004),
];

/// Makes the demo people and writes their certificates and keys (PEM) under `dir`.
pub fn make_people(
    ca: &DevCa,
    gost_ca: &DevCa,
    dir: &Path,
    kind: KeyKind,
) -> Result<Vec<DemoPerson>, AnyError> {
    let mut people = vec![];
    let mut n = 0u32;
    for (i, o) in ORGS.iter().enumerate() {
        let bin = org_bin(i);
        let roles: &[&'static str] = match o.kind {
            K::AuthorizedBody => &["reviewer", "reviewer2"],
            K::Integrator => &["integrator_admin"],
            K::BudgetPlanningBody => &[],
            _ => &["head", "employee1", "employee2"],
        };
        let (ca, kind) = match GOST_ORGS.iter().find(|(k, _)| *k == o.key) {
            Some((_, gost)) => (gost_ca, *gost),
            None => (ca, kind),
        };
        for role in roles {
            n += 1;
            let k = (n as usize) % SURNAMES.len();
            let iin = demo_iin(n);
            let role_name: &'static str = if *role == "reviewer2" {
                "reviewer"
            } else {
                role
            };
            let nca_role = if *role == "head" {
                NcaRole::FirstHead
            } else {
                NcaRole::Employee
            };
            let subject = |purpose| Subject {
                surname: SURNAMES[k].to_uppercase(),
                name: NAMES[k].to_uppercase(),
                patronymic: Some(PATRONYMICS[k].to_uppercase()),
                iin: iin.clone(),
                organization: Some((bin.clone(), o.name_ru.to_owned())),
                role: Some(nca_role),
                purpose,
            };
            let pdir = dir.join(o.key);
            let stem = format!("{role}-{iin}");
            let (ac, ak, _) = issue_to_files(
                ca,
                &subject(KeyPurpose::Authentication),
                kind,
                &pdir,
                &format!("{stem}-auth"),
            )?;
            let sign = if *role == "head" {
                let (sc, sk, _) = issue_to_files(
                    ca,
                    &subject(KeyPurpose::Signing),
                    kind,
                    &pdir,
                    &format!("{stem}-sign"),
                )?;
                Some(KeyPair { cert: sc, key: sk })
            } else {
                None
            };
            people.push(DemoPerson {
                org: o.key,
                bin: bin.clone(),
                role: role_name,
                iin,
                surname: SURNAMES[k].to_owned(),
                name: NAMES[k].to_owned(),
                patronymic: PATRONYMICS[k].to_owned(),
                sign,
                auth: KeyPair { cert: ac, key: ak },
                stem: format!("{}/{stem}", o.key),
                key_family: kind.label(),
            });
        }
    }
    let index: Vec<Value> = people
        .iter()
        .map(|p| {
            let stem = &p.stem;
            json!({"organization": p.org, "bin": p.bin, "role": p.role, "iin": p.iin, "key_family": p.key_family,
                   "name": format!("{} {} {}", p.surname, p.name, p.patronymic),
                   "auth_certificate": format!("{stem}-auth.pem"), "auth_key": format!("{stem}-auth.key.pem"),
                   "sign_certificate": p.sign.as_ref().map(|_| format!("{stem}-sign.pem")),
                   "sign_key": p.sign.as_ref().map(|_| format!("{stem}-sign.key.pem")),
                   "auth_pkcs12": format!("{stem}-auth.p12"), "sign_pkcs12": p.sign.as_ref().map(|_| format!("{stem}-sign.p12")),
                   "pkcs12_password": crate::devca_files::DEMO_PKCS12_PASSWORD})
        })
        .collect();
    std::fs::write(
        dir.join("people.json"),
        serde_json::to_string_pretty(&index)?,
    )?;
    Ok(people)
}

fn person<'a>(people: &'a [DemoPerson], org: &str, role: &str) -> Result<&'a DemoPerson, AnyError> {
    people
        .iter()
        .find(|p| p.org == org && p.role == role)
        .ok_or_else(|| format!("no demo {role} in {org}").into())
}

/// The file adapter's registry for the demo (as `qoljetim hr import-personnel` would load it): the
/// people of the state bodies hold the post their lines name, except one who moved to another post;
/// elected deputies (maslikhats, Parliament) are not civil servants and are not listed.
pub async fn seed_personnel(store: &Store, people: &[DemoPerson]) -> Result<(), AnyError> {
    let mut posts = vec![];
    for p in people {
        let Some(o) = ORGS.iter().find(|o| o.key == p.org) else {
            continue;
        };
        let elected = matches!(o.kind.as_str(), "maslikhat" | "parliament");
        if elected || !o.kind.is_applicant() {
            continue;
        }
        let position = if p.org == "internal-state-audit" && p.role == "employee2" {
            "Жетекші маман / ведущий специалист"
        } else {
            "Бас маман / главный специалист"
        };
        posts.push(qoljetim_store::PersonnelPost {
            bin: p.bin.clone(),
            iin: p.iin.clone(),
            position: position.into(),
            unit: None,
        });
    }
    let mut bins: Vec<String> = posts.iter().map(|p| p.bin.clone()).collect();
    bins.sort();
    bins.dedup();
    let n = posts.len();
    store
        .commit(
            Change::Lifecycle(Box::new(qoljetim_store::LifecycleChange::ImportPersonnel {
                posts,
                bins,
                at: Timestamp::now().as_microsecond(),
            })),
            crate::cli_audit(
                "cli:demo",
                "import_personnel",
                "hr_personnel".into(),
                json!({"posts": n}),
            ),
        )
        .await?;
    Ok(())
}

/// Walks applications through the workflow over HTTP: one left submitted, one forwarded, one rejected,
/// and a granted one for every applicant organization.
pub async fn seed_applications(
    base: &str,
    people: &[DemoPerson],
) -> Result<Vec<(String, i64, String)>, AnyError> {
    let today = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Almaty")?)
        .date();
    let mut reviewer = ApiClient::new(base);
    let (s, v) = reviewer
        .login_patiently(&person(people, "minfin", "reviewer")?.auth)
        .await?;
    if s != 200 {
        return Err(format!("reviewer sign-in: {s} {v}").into());
    }
    let mut integrator = ApiClient::new(base);
    let (s, v) = integrator
        .login_patiently(&person(people, "integrator", "integrator_admin")?.auth)
        .await?;
    if s != 200 {
        return Err(format!("integrator sign-in: {s} {v}").into());
    }
    let mut made = vec![];
    let plan: Vec<(&str, &str)> = ORGS
        .iter()
        .filter(|o| o.kind.is_applicant())
        .map(|o| (o.key, "granted"))
        .chain([
            ("internal-state-audit", "submitted"),
            ("audit-chamber", "forwarded"),
            ("parliament", "rejected"),
        ])
        .collect();
    for (org, target) in plan {
        let head = person(people, org, "head")?;
        let staff: Vec<&DemoPerson> = people.iter().filter(|p| p.org == org).collect();
        let lines: Vec<FormLine<'_>> = staff
            .iter()
            .map(|p| FormLine {
                iin: &p.iin,
                surname: &p.surname,
                name: &p.name,
                patronymic: Some(&p.patronymic),
                access_until: None,
            })
            .collect();
        // The second application of an organization asks for one system: another signed document
        // (the same content is accepted once).
        let systems: &[&str] = match target {
            "granted" => &["analytical_central", "state_planning"],
            _ => &["state_planning"],
        };
        let form = application_json(
            &head.bin,
            &today.to_string(),
            (&head.surname, &head.name, Some(&head.patronymic)),
            systems,
            &lines,
        );
        let sign = head.sign.as_ref().ok_or("head without signing key")?;
        // A submission is posted in a session of the applicant organization (issue 15).
        let mut session = ApiClient::new(base);
        let (s, v) = session.login_patiently(&head.auth).await?;
        if s != 200 {
            return Err(format!("{org} head sign-in: {s} {v}").into());
        }
        let (s, v) = session.submit(sign, &form).await?;
        if s != 201 {
            return Err(format!("submit for {org}: {s} {v}").into());
        }
        let id = v["id"].as_i64().ok_or("no id")?;
        if target != "submitted" {
            let decision = if target == "rejected" {
                "reject"
            } else {
                "approve"
            };
            let decisions: Vec<Value> = (1..=lines.len())
                .map(|n| json!({"line": n, "decision": decision, "reason": (decision == "reject").then_some("Өкілеттіктері расталмады / полномочия не подтверждены")}))
                .collect();
            let (s, v) = reviewer
                .post(
                    &format!("/api/v1/applications/{id}/review"),
                    &json!({"lines": decisions}),
                )
                .await?;
            if s != 200 {
                return Err(format!("review of {id}: {s} {v}").into());
            }
        }
        if target == "granted" {
            let (s, v) = integrator
                .post(&format!("/api/v1/applications/{id}/grant"), &json!({}))
                .await?;
            if s != 201 {
                return Err(format!("grant of {id}: {s} {v}").into());
            }
        }
        made.push((org.to_owned(), id, target.to_owned()));
    }
    // Order 270 §13, §15: the demo's granted people have passed the lessons and accepted the duties,
    // so the README's walkthrough reads data (a new grant made in the walkthrough shows the gate).
    let lessons = crate::shipped_lessons();
    for (org, _, target) in &made {
        if target != "granted" {
            continue;
        }
        for p in people.iter().filter(|p| p.org == *org) {
            let mut user = ApiClient::new(base);
            let (s, v) = user.login_patiently(&p.auth).await?;
            if s != 200 {
                return Err(format!("{} sign-in: {s} {v}", p.iin).into());
            }
            user.pass_training(&lessons).await?;
        }
    }
    Ok(made)
}

/// The development NCALayer for one demo person: their authentication key and, for a head, their
/// signing key, read from the files `people.json` names (`<demo_dir>/people.json`).
pub fn dev_ncalayer(
    demo_dir: &Path,
    iin: &str,
    cancel: bool,
) -> Result<qoljetim_devca::ncalayer::FakeNcaLayer, AnyError> {
    use der::DecodePem;
    use qoljetim_devca::ncalayer::{FakeNcaLayer, StoredKey};
    let people: Vec<Value> = serde_json::from_slice(
        &std::fs::read(demo_dir.join("people.json"))
            .map_err(|e| format!("{}: {e} (run qoljetim demo first)", demo_dir.display()))?,
    )?;
    let person = people
        .iter()
        .find(|p| p["iin"] == iin)
        .ok_or_else(|| format!("no demo person with IIN {iin} in people.json"))?;
    let load = |cert: &Value, key: &Value| -> Result<Option<StoredKey>, AnyError> {
        let (Some(cert), Some(key)) = (cert.as_str(), key.as_str()) else {
            return Ok(None);
        };
        Ok(Some(StoredKey {
            cert: x509_cert::Certificate::from_pem(std::fs::read(demo_dir.join(cert))?)?,
            key: qoljetim_devca::PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(
                demo_dir.join(key),
            )?)?,
        }))
    };
    Ok(FakeNcaLayer {
        authentication: load(&person["auth_certificate"], &person["auth_key"])?,
        signing: load(&person["sign_certificate"], &person["sign_key"])?,
        cancel,
    })
}
