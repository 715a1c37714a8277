//! The access registry: who has access to which system with which scope until when, and who lost it
//! and why (expired, dismissal, transfer), as of a day.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use qoljetim_domain::Scope;
use qoljetim_domain::application::GrantStatus;
use qoljetim_store::{GrantRow, Store};
use serde::Serialize;

use crate::render::Table;
use crate::{ReportError, instant, kk_ru};

#[derive(Debug, Clone, Serialize)]
pub struct EndingEvent {
    pub id: i64,
    pub kind: String,
    pub effective_date: String,
    pub order_number: String,
    pub new_position: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegistryEntry {
    pub grant_id: i64,
    pub application_id: i64,
    pub person_iin: String,
    pub person_name: String,
    pub position: String,
    pub organization_bin: String,
    pub organization_name_kk: String,
    pub organization_name_ru: String,
    pub system: String,
    pub scope: Scope,
    pub valid_from: String,
    pub valid_until: String,
    /// active, expired, blocked, as of the report's day.
    pub status: String,
    pub ended_at: Option<String>,
    /// validity_ended, dismissal, transfer.
    pub end_reason: Option<String>,
    pub hr_event: Option<EndingEvent>,
}

/// Issue 18 (Order 270 §3): an organization's own information system's access.
#[derive(Debug, Clone, Serialize)]
pub struct SystemRegistryEntry {
    pub system_grant_id: i64,
    pub application_id: i64,
    pub information_system: i64,
    pub name: String,
    pub certificate_serial: String,
    pub organization_bin: String,
    pub organization_name_kk: String,
    pub organization_name_ru: String,
    pub system: String,
    pub scope: Scope,
    pub valid_from: String,
    pub valid_until: String,
    /// active, expired, blocked, as of the report's day.
    pub status: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessRegistry {
    pub on: String,
    pub generated_at: String,
    pub active: Vec<RegistryEntry>,
    pub ended: Vec<RegistryEntry>,
    /// Issue 18: the organizations' own information systems, live and ended.
    pub information_systems: Vec<SystemRegistryEntry>,
}

/// The status of a grant on `on`: a grant past its last day is expired even before the worker has
/// marked it.
pub fn status_on(g: &GrantRow, on: Date) -> (GrantStatus, Option<String>) {
    let status = g.status.on(g.valid_until, on);
    if status == g.status {
        (status, g.end_reason.clone())
    } else {
        (status, Some("validity_ended".into()))
    }
}

fn scope_text(scope: &Scope) -> String {
    let join = |items: Vec<String>| items.join(",");
    let admins = join(
        scope
            .administrators
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
    );
    format!(
        "{}: {}; {}: {}; KATO {}{}",
        kk_ru("жылдар", "годы"),
        join(scope.fiscal_years.iter().map(i16::to_string).collect()),
        kk_ru("деңгей", "уровни"),
        join(scope.levels.iter().map(|l| l.as_str().to_owned()).collect()),
        scope.territory.as_ref().map_or("—", |t| t.as_str()),
        if admins.is_empty() {
            String::new()
        } else {
            format!("; ӘБП/АБП {admins}")
        }
    )
}

pub async fn access_registry(
    store: &Store,
    on: Date,
    now: Timestamp,
) -> Result<AccessRegistry, ReportError> {
    let on_s = on.to_string();
    let orgs: BTreeMap<qoljetim_domain::Bin, (String, String)> = store
        .organizations()
        .await?
        .into_iter()
        .map(|o| (o.bin, (o.name_kk, o.name_ru)))
        .collect();
    let mut people: BTreeMap<(i64, i64), (String, String)> = BTreeMap::new();
    let mut events: BTreeMap<i64, Option<EndingEvent>> = BTreeMap::new();
    let mut active = vec![];
    let mut ended = vec![];
    for g in store.all_grants().await? {
        if g.valid_from > on {
            continue;
        }
        if !people.contains_key(&(g.application_id, g.line)) {
            for l in store.lines(g.application_id).await? {
                let name = [Some(l.surname), Some(l.name), l.patronymic]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                people.insert((g.application_id, l.line), (name, l.position));
            }
        }
        let hr_event = match g.hr_event_id {
            None => None,
            Some(id) => {
                if let std::collections::btree_map::Entry::Vacant(slot) = events.entry(id) {
                    slot.insert(store.hr_event(id).await?.map(|e| EndingEvent {
                        id: e.id,
                        kind: e.kind,
                        effective_date: e.effective_date.to_string(),
                        order_number: e.order_number,
                        new_position: e.new_position,
                    }));
                }
                events.get(&id).cloned().flatten()
            }
        };
        let (name, position) = people
            .get(&(g.application_id, g.line))
            .cloned()
            .unwrap_or_default();
        let (org_kk, org_ru) = orgs.get(&g.organization_bin).cloned().unwrap_or_default();
        let (status, end_reason) = status_on(&g, on);
        let entry = RegistryEntry {
            grant_id: g.id,
            application_id: g.application_id,
            person_iin: g.person_iin.to_string(),
            person_name: name,
            position,
            organization_bin: g.organization_bin.to_string(),
            organization_name_kk: org_kk,
            organization_name_ru: org_ru,
            system: g.system.as_str().to_owned(),
            scope: g.scope.clone(),
            valid_from: g.valid_from.to_string(),
            valid_until: g.valid_until.to_string(),
            ended_at: g.ended_at.map(instant),
            end_reason,
            hr_event,
            status: status.as_str().to_owned(),
        };
        if status.is_live() {
            active.push(entry);
        } else {
            ended.push(entry);
        }
    }
    let mut information_systems = vec![];
    for g in store.all_system_grants().await? {
        if g.valid_from > on {
            continue;
        }
        let (status, end_reason) = g.status_on(on);
        let (org_kk, org_ru) = qoljetim_domain::Bin::parse(&g.organization_bin)
            .ok()
            .and_then(|b| orgs.get(&b).cloned())
            .unwrap_or_default();
        information_systems.push(SystemRegistryEntry {
            system_grant_id: g.id,
            application_id: g.application_id,
            information_system: g.information_system_id,
            name: g.name,
            certificate_serial: g.certificate_serial,
            organization_bin: g.organization_bin,
            organization_name_kk: org_kk,
            organization_name_ru: org_ru,
            system: g.system.as_str().to_owned(),
            scope: g.scope,
            valid_from: g.valid_from.to_string(),
            valid_until: g.valid_until.to_string(),
            status: status.as_str().to_owned(),
            ended_at: g.ended_at.map(instant),
            end_reason,
        });
    }
    Ok(AccessRegistry {
        on: on_s,
        generated_at: now.to_string(),
        active,
        ended,
        information_systems,
    })
}

fn reason_label(r: Option<&str>) -> String {
    match r {
        Some("validity_ended") => kk_ru("мерзімі бітті", "истёк срок"),
        Some("dismissal") => kk_ru("жұмыстан босатылды", "увольнение"),
        Some("transfer") => kk_ru("басқа лауазымға ауысты", "перевод"),
        Some("organization_deactivated") => kk_ru("ұйым өшірілді", "организация деактивирована"),
        Some(other) => other.to_owned(),
        None => "—".into(),
    }
}

fn system_label(s: &str) -> String {
    match s {
        "analytical_central" => kk_ru("Талдау орталығы", "Аналитический центр"),
        "state_planning" => kk_ru("Мемлекеттік жоспарлау", "Государственное планирование"),
        other => other.to_owned(),
    }
}

impl AccessRegistry {
    pub fn title(&self) -> String {
        kk_ru("Қолжетімділік тізілімі", "Реестр доступа")
    }

    pub fn subtitle(&self) -> String {
        format!(
            "{} {}; {} {}",
            kk_ru("Күні", "На дату"),
            self.on,
            kk_ru("жасалды", "сформирован"),
            crate::local_minute(&self.generated_at)
        )
    }

    pub fn tables(&self) -> Vec<Table> {
        let person =
            |e: &RegistryEntry| format!("{} ({}), {}", e.person_name, e.person_iin, e.position);
        let org =
            |e: &RegistryEntry| format!("{} ({})", e.organization_name_kk, e.organization_bin);
        let active = Table {
            heading: kk_ru("Қолжетімділігі бар", "Имеют доступ"),
            columns: vec![
                kk_ru("Тұлға", "Лицо"),
                kk_ru("Ұйым", "Организация"),
                kk_ru("Жүйе", "Система"),
                kk_ru("Қамту", "Охват"),
                kk_ru("Бастап", "С"),
                kk_ru("Дейін", "По"),
            ],
            widths: vec![3.2, 3.0, 1.8, 3.2, 1.0, 1.0],
            rows: self
                .active
                .iter()
                .map(|e| {
                    vec![
                        person(e),
                        org(e),
                        system_label(&e.system),
                        scope_text(&e.scope),
                        e.valid_from.clone(),
                        e.valid_until.clone(),
                    ]
                })
                .collect(),
        };
        let ended = Table {
            heading: kk_ru("Қолжетімділігін жоғалтқандар", "Утратили доступ"),
            columns: vec![
                kk_ru("Тұлға", "Лицо"),
                kk_ru("Ұйым", "Организация"),
                kk_ru("Жүйе", "Система"),
                kk_ru("Дейін", "По"),
                kk_ru("Себебі", "Причина"),
                kk_ru("Бұйрық", "Приказ"),
                kk_ru("Аяқталды", "Прекращён"),
            ],
            widths: vec![3.0, 2.8, 1.8, 1.0, 2.0, 1.6, 2.0],
            rows: self
                .ended
                .iter()
                .map(|e| {
                    vec![
                        person(e),
                        org(e),
                        system_label(&e.system),
                        e.valid_until.clone(),
                        reason_label(e.end_reason.as_deref()),
                        e.hr_event
                            .as_ref()
                            .map(|h| format!("№{} ({})", h.order_number, h.effective_date))
                            .unwrap_or_else(|| "—".into()),
                        e.ended_at
                            .as_deref()
                            .map(crate::local_minute)
                            .unwrap_or_else(|| "—".into()),
                    ]
                })
                .collect(),
        };
        let systems = Table {
            heading: kk_ru(
                "Ұйымдардың ақпараттық жүйелері (270 бұйрық 3-т.)",
                "Информационные системы организаций (Приказ 270 п.3)",
            ),
            columns: vec![
                kk_ru("Ақпараттық жүйе", "Информационная система"),
                kk_ru("Ұйым", "Организация"),
                kk_ru("Жүйе", "Система"),
                kk_ru("Қамту", "Охват"),
                kk_ru("Дейін", "По"),
                kk_ru("Күйі", "Состояние"),
            ],
            widths: vec![3.0, 3.0, 1.8, 3.0, 1.0, 2.0],
            rows: self
                .information_systems
                .iter()
                .map(|e| {
                    vec![
                        format!("{} ({})", e.name, e.certificate_serial),
                        format!("{} ({})", e.organization_name_kk, e.organization_bin),
                        system_label(&e.system),
                        scope_text(&e.scope),
                        e.valid_until.clone(),
                        match e.status.as_str() {
                            "active" => kk_ru("белсенді", "действует"),
                            _ => reason_label(e.end_reason.as_deref()),
                        },
                    ]
                })
                .collect(),
        };
        vec![active, ended, systems]
    }
}
