//! The report of a recertification campaign (issue 17): every grant the campaign reviewed, what became
//! of it (confirmed, withdrawn, blocked unanswered, ended otherwise), who answered by which signed
//! answer, and when.

use qoljetim_store::Store;
use serde::Serialize;

use crate::render::Table;
use crate::{ReportError, instant, kk_ru, local_minute};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CampaignReport {
    pub report: &'static str,
    pub campaign: i64,
    pub organization_bin: String,
    pub organization_name_kk: String,
    pub organization_name_ru: String,
    pub status: String,
    pub opened_by: String,
    pub opened_at: String,
    /// The last working day to answer (Almaty).
    pub due: String,
    pub closed_at: Option<String>,
    pub confirmed: usize,
    pub withdrawn: usize,
    pub blocked: usize,
    pub pending: usize,
    pub lines: Vec<CampaignReportLine>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CampaignReportLine {
    pub grant: i64,
    pub person_iin: String,
    pub person_name: String,
    pub system: String,
    pub valid_until: String,
    pub outcome: String,
    pub reason: Option<String>,
    /// The signed answer that decided the line, its signer (`IIN@BIN`) and name.
    pub answer: Option<i64>,
    pub answered_by: Option<String>,
    pub answered_by_name: Option<String>,
    pub decided_at: Option<String>,
}

/// The report of campaign `id`; None when there is no such campaign.
pub async fn campaign_report(
    store: &Store,
    id: i64,
) -> Result<Option<CampaignReport>, ReportError> {
    let Some(c) = store.campaign(id).await? else {
        return Ok(None);
    };
    let org = store.organization(&c.organization_bin).await?;
    let answers = store.campaign_answers(id).await?;
    let lines: Vec<CampaignReportLine> = store
        .campaign_lines(id)
        .await?
        .into_iter()
        .map(|l| {
            let a = l.answer_id.and_then(|a| answers.iter().find(|x| x.id == a));
            CampaignReportLine {
                grant: l.grant_id,
                person_iin: l.person_iin,
                person_name: l.person_name,
                system: l.system,
                valid_until: l.valid_until,
                outcome: l.outcome,
                reason: l.reason,
                answer: l.answer_id,
                answered_by: a.map(|a| a.signer.clone()),
                answered_by_name: a.map(|a| a.signer_name.clone()),
                decided_at: l.decided_at.map(instant),
            }
        })
        .collect();
    let n = |o: &str| lines.iter().filter(|l| l.outcome == o).count();
    Ok(Some(CampaignReport {
        report: "recertification",
        campaign: c.id,
        organization_bin: c.organization_bin.clone(),
        organization_name_kk: org.as_ref().map(|o| o.name_kk.clone()).unwrap_or_default(),
        organization_name_ru: org.as_ref().map(|o| o.name_ru.clone()).unwrap_or_default(),
        status: c.status.clone(),
        opened_by: c.opened_by.clone(),
        opened_at: instant(c.opened_at),
        due: c.due.clone(),
        closed_at: c.closed_at.map(instant),
        confirmed: n("confirmed"),
        withdrawn: n("withdrawn"),
        blocked: n("blocked"),
        pending: n("pending"),
        lines,
    }))
}

fn outcome_label(o: &str) -> String {
    match o {
        "pending" => kk_ru("жауап күтілуде", "ждёт ответа"),
        "confirmed" => kk_ru("расталды", "подтверждён"),
        "withdrawn" => kk_ru("қайтарып алынды", "отозван"),
        "blocked" => kk_ru("жауапсыз, бұғатталды", "без ответа, заблокирован"),
        "ended" => kk_ru("бұрын тоқтатылған", "прекращён ранее"),
        other => other.to_owned(),
    }
}

impl CampaignReport {
    pub fn title(&self) -> String {
        kk_ru(
            "Қолжетімділікті растау науқаны туралы есеп",
            "Отчёт о кампании подтверждения доступа",
        )
    }

    pub fn subtitle(&self) -> String {
        format!(
            "{} {}: {} {} ({}); {} {}; {} {}, {} {}, {} {}, {} {}",
            kk_ru("Науқан", "Кампания"),
            self.campaign,
            self.organization_bin,
            self.organization_name_kk,
            self.organization_name_ru,
            kk_ru("мерзімі", "срок"),
            self.due,
            kk_ru("расталды", "подтверждено"),
            self.confirmed,
            kk_ru("қайтарылды", "отозвано"),
            self.withdrawn,
            kk_ru("бұғатталды", "заблокировано"),
            self.blocked,
            kk_ru("күтілуде", "ждут"),
            self.pending
        )
    }

    /// One row per reviewed grant: the person, the system, what became of it and who decided.
    pub fn tables(&self) -> Vec<Table> {
        let rows = self
            .lines
            .iter()
            .map(|l| {
                vec![
                    l.grant.to_string(),
                    l.person_iin.clone(),
                    l.person_name.clone(),
                    l.system.clone(),
                    l.valid_until.clone(),
                    outcome_label(&l.outcome),
                    l.reason.clone().unwrap_or_default(),
                    match (&l.answered_by_name, &l.answered_by) {
                        (Some(n), Some(s)) => format!("{n} ({s})"),
                        _ => "—".into(),
                    },
                    l.decided_at
                        .as_deref()
                        .map(local_minute)
                        .unwrap_or_default(),
                ]
            })
            .collect();
        vec![Table {
            heading: kk_ru("Тексерілген қолжетімділіктер", "Проверенные доступы"),
            columns: vec![
                kk_ru("Рұқсат", "Допуск"),
                kk_ru("ЖСН", "ИИН"),
                kk_ru("Аты-жөні", "ФИО"),
                kk_ru("Жүйе", "Система"),
                kk_ru("Мерзімі", "Действует по"),
                kk_ru("Нәтиже", "Итог"),
                kk_ru("Себебі", "Причина"),
                kk_ru("Кім шешті", "Кто решил"),
                kk_ru("Қашан", "Когда"),
            ],
            widths: vec![1.0, 2.0, 3.0, 2.2, 1.6, 2.4, 2.6, 3.4, 1.8],
            rows,
        }]
    }
}
