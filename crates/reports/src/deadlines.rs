//! Deadline compliance for a period (Order 270 §9, DESIGN.md §3): each clock, met vs missed, median
//! and worst time taken in working days.
//!
//! - review: applications received in the period; 2 working days from receipt to the review.
//! - grant: those of them forwarded; 2 working days from the review to the grant.
//! - training_report: sessions held in the period (Order 270 §13); 5 working days from the day held
//!   to the integrator's signed report.
//! - support_first_answer: support requests opened in the period (Order 270 §14); the configured
//!   working days from the day opened to the support staff's first answer.
//! - change_agreement, change_approval: change requests submitted in the period (Order 270 §10), from
//!   submission to the agreement, and from the agreement to the approval (configured working days).
//! - block: HR events whose powers ended in the period and that had access to block; 3 working days
//!   from the last day of the powers to the block (made at receipt of the event).
//!
//! An item is `met` when done by its deadline, `missed` when done late or still open after it, and
//! `open` while its deadline has not passed. Median and worst count the items that are done.

use jiff::Timestamp;
use jiff::civil::Date;
use qoljetim_domain::WorkingDayCalendar;
use qoljetim_store::Store;
use serde::Serialize;

use crate::render::Table;
use crate::{ReportError, instant, kk_ru};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClockItem {
    /// review, grant or block.
    pub clock: &'static str,
    /// `application:<id>` or `hr_event:<id>`.
    pub subject: String,
    pub started: String,
    pub due: String,
    pub due_at: String,
    pub done_at: Option<String>,
    pub working_days_taken: Option<u32>,
    /// met, missed or open.
    pub outcome: &'static str,
    pub provisional: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClockSummary {
    pub clock: &'static str,
    pub working_days_allowed: u32,
    pub total: usize,
    pub met: usize,
    pub missed: usize,
    pub open: usize,
    pub median_working_days: Option<f64>,
    pub worst_working_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadlineReport {
    pub from: String,
    pub to: String,
    pub generated_at: String,
    pub clocks: Vec<ClockSummary>,
    pub items: Vec<ClockItem>,
    /// Order 270 §9: the employing bodies' block requests, met or late, per organization.
    pub block_requests_by_organization: Vec<OrganizationBlockRequests>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrganizationBlockRequests {
    pub organization_bin: String,
    pub lines: usize,
    pub met: usize,
    pub late: usize,
}

fn outcome(done: Option<i64>, due_at: i64, now: i64) -> &'static str {
    match done {
        Some(d) if d <= due_at => "met",
        Some(_) => "missed",
        None if now > due_at => "missed",
        None => "open",
    }
}

fn median(mut v: Vec<u32>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    let mid = n / 2;
    Some(if n % 2 == 1 {
        f64::from(v[mid])
    } else {
        (f64::from(v[mid - 1]) + f64::from(v[mid])) / 2.0
    })
}

fn summarize(clock: &'static str, allowed: u32, items: &[ClockItem]) -> ClockSummary {
    let mine: Vec<&ClockItem> = items.iter().filter(|i| i.clock == clock).collect();
    let taken: Vec<u32> = mine.iter().filter_map(|i| i.working_days_taken).collect();
    ClockSummary {
        clock,
        working_days_allowed: allowed,
        total: mine.len(),
        met: mine.iter().filter(|i| i.outcome == "met").count(),
        missed: mine.iter().filter(|i| i.outcome == "missed").count(),
        open: mine.iter().filter(|i| i.outcome == "open").count(),
        median_working_days: median(taken.clone()),
        worst_working_days: taken.into_iter().max(),
    }
}

/// The start of `from` and the end of `to`, Almaty days, as UTC microseconds.
fn period_bounds(
    cal: &WorkingDayCalendar,
    from: Date,
    to: Date,
) -> Result<(i64, i64), ReportError> {
    if to < from {
        return Err(ReportError::Period(format!("{to} is before {from}")));
    }
    let tz = cal.time_zone().clone();
    let start = from
        .to_zoned(tz.clone())
        .map_err(|e| ReportError::Period(e.to_string()))?
        .timestamp();
    let end = to
        .at(23, 59, 59, 999_999_999)
        .to_zoned(tz)
        .map_err(|e| ReportError::Period(e.to_string()))?
        .timestamp();
    Ok((start.as_microsecond(), end.as_microsecond()))
}

fn date_of(cal: &WorkingDayCalendar, us: i64) -> Date {
    cal.almaty_date(Timestamp::from_microsecond(us).unwrap_or_default())
}

pub async fn deadline_report(
    store: &Store,
    cal: &WorkingDayCalendar,
    from: Date,
    to: Date,
    now: Timestamp,
    support_first_answer_days: u32,
    change_days: (u32, u32),
) -> Result<DeadlineReport, ReportError> {
    let (start, end) = period_bounds(cal, from, to)?;
    let now_us = now.as_microsecond();
    let mut items = vec![];
    for a in store.applications_received_between(start, end).await? {
        let received = date_of(cal, a.received_at);
        items.push(ClockItem {
            clock: "review",
            subject: format!("application:{}", a.id),
            started: received.to_string(),
            due: a.review_due.to_string(),
            due_at: instant(a.review_due_at),
            done_at: a.reviewed_at.map(instant),
            working_days_taken: a
                .reviewed_at
                .map(|r| cal.working_days_between(received, date_of(cal, r))),
            outcome: outcome(a.reviewed_at, a.review_due_at, now_us),
            provisional: a.review_due_provisional,
        });
        if let (Some(reviewed), Some(due), Some(due_at)) =
            (a.reviewed_at, a.grant_due, a.grant_due_at)
        {
            let started = date_of(cal, reviewed);
            items.push(ClockItem {
                clock: "grant",
                subject: format!("application:{}", a.id),
                started: started.to_string(),
                due: due.to_string(),
                due_at: instant(due_at),
                done_at: a.granted_at.map(instant),
                working_days_taken: a
                    .granted_at
                    .map(|g| cal.working_days_between(started, date_of(cal, g))),
                outcome: outcome(a.granted_at, due_at, now_us),
                provisional: a.grant_due_provisional.unwrap_or(false),
            });
        }
    }
    let mut by_org: std::collections::BTreeMap<String, (usize, usize, usize)> =
        std::collections::BTreeMap::new();
    for e in store
        .hr_events_between(&from.to_string(), &to.to_string())
        .await?
    {
        if e.source == "block_request" {
            // Order 270 §9: the employing body's request, due 3 working days after the day the
            // powers ended; done when it was received (the block follows at once or on the date).
            items.push(block_item(
                "block_request",
                format!(
                    "block_request:{} {}/{}",
                    e.block_request_id.unwrap_or_default(),
                    e.bin,
                    e.iin
                ),
                &e,
            ));
            let o = by_org.entry(e.bin.to_string()).or_insert((0, 0, 0));
            o.0 += 1;
            if e.met {
                o.1 += 1;
            } else {
                o.2 += 1;
            }
            continue;
        }
        if e.grants_blocked == 0 {
            // Nothing was live to block: no block clock ran.
            continue;
        }
        items.push(block_item("block", format!("hr_event:{}", e.id), &e));
    }
    for s in store.training_sessions().await? {
        let (Some(held), Some(due), Some(due_at)) = (s.held_on, s.report_due, s.report_due_at)
        else {
            continue;
        };
        if held < from || held > to {
            continue;
        }
        items.push(ClockItem {
            clock: "training_report",
            subject: format!("training_session:{}", s.id),
            started: held.to_string(),
            due: due.to_string(),
            due_at: instant(due_at),
            done_at: s.report_sent_at.map(instant),
            working_days_taken: s
                .report_sent_at
                .map(|r| cal.working_days_between(held, date_of(cal, r))),
            outcome: outcome(s.report_sent_at, due_at, now_us),
            provisional: s.report_due_provisional,
        });
    }
    for r in store.support_requests_opened_between(start, end).await? {
        let opened = date_of(cal, r.opened_at);
        items.push(ClockItem {
            clock: "support_first_answer",
            subject: format!("support_request:{}", r.id),
            started: opened.to_string(),
            due: r.first_answer_due.clone(),
            due_at: instant(r.first_answer_due_at),
            done_at: r.first_answered_at.map(instant),
            working_days_taken: r
                .first_answered_at
                .map(|a| cal.working_days_between(opened, date_of(cal, a))),
            outcome: outcome(r.first_answered_at, r.first_answer_due_at, now_us),
            provisional: r.first_answer_due_provisional,
        });
    }
    for c in store.change_requests().await? {
        if c.submitted_at < start || c.submitted_at > end {
            continue;
        }
        let submitted = date_of(cal, c.submitted_at);
        items.push(ClockItem {
            clock: "change_agreement",
            subject: format!("change_request:{}", c.id),
            started: submitted.to_string(),
            due: c.agreement_due.clone(),
            due_at: instant(c.agreement_due_at),
            done_at: c.agreed_at.map(instant),
            working_days_taken: c
                .agreed_at
                .map(|a| cal.working_days_between(submitted, date_of(cal, a))),
            outcome: outcome(c.agreed_at, c.agreement_due_at, now_us),
            provisional: c.agreement_due_provisional,
        });
        if let (Some(agreed), Some(due), Some(due_at)) =
            (c.agreed_at, c.approval_due.clone(), c.approval_due_at)
        {
            let started = date_of(cal, agreed);
            items.push(ClockItem {
                clock: "change_approval",
                subject: format!("change_request:{}", c.id),
                started: started.to_string(),
                due,
                due_at: instant(due_at),
                done_at: c.approved_at.map(instant),
                working_days_taken: c
                    .approved_at
                    .map(|a| cal.working_days_between(started, date_of(cal, a))),
                outcome: outcome(c.approved_at, due_at, now_us),
                provisional: c.approval_due_provisional,
            });
        }
    }
    let clocks = vec![
        summarize("review", 2, &items),
        summarize("grant", 2, &items),
        summarize(
            "block",
            qoljetim_domain::lifecycle::BLOCK_WORKING_DAYS,
            &items,
        ),
        summarize(
            "block_request",
            qoljetim_domain::lifecycle::BLOCK_WORKING_DAYS,
            &items,
        ),
        summarize(
            "training_report",
            qoljetim_domain::training::REPORT_WORKING_DAYS,
            &items,
        ),
        summarize("support_first_answer", support_first_answer_days, &items),
        summarize("change_agreement", change_days.0, &items),
        summarize("change_approval", change_days.1, &items),
    ];
    let block_requests_by_organization = by_org
        .into_iter()
        .map(|(bin, (lines, met, late))| OrganizationBlockRequests {
            organization_bin: bin,
            lines,
            met,
            late,
        })
        .collect();
    Ok(DeadlineReport {
        from: from.to_string(),
        to: to.to_string(),
        generated_at: now.to_string(),
        clocks,
        items,
        block_requests_by_organization,
    })
}

/// The clock of a block event: from the day the powers ended to the receipt (the block is made then,
/// or at the start of a future effective date).
fn block_item(clock: &'static str, subject: String, e: &qoljetim_store::HrEventRow) -> ClockItem {
    ClockItem {
        clock,
        subject,
        started: e.effective_date.to_string(),
        due: e.block_due.to_string(),
        due_at: instant(e.block_due_at),
        done_at: Some(instant(e.received_at)),
        working_days_taken: Some(u32::try_from(e.working_days_taken).unwrap_or(u32::MAX)),
        outcome: if e.met { "met" } else { "missed" },
        provisional: e.block_due_provisional,
    }
}

fn clock_label(c: &str) -> String {
    match c {
        "review" => kk_ru("Өтінімді қарау", "Рассмотрение заявки"),
        "grant" => kk_ru("Қолжетімділік беру", "Предоставление доступа"),
        "block" => kk_ru("Бұғаттау", "Блокирование"),
        "block_request" => kk_ru("Бұғаттауға өтінім", "Запрос на блокировку"),
        "training_report" => kk_ru("Оқыту туралы есеп", "Отчёт об обучении"),
        "support_first_answer" => kk_ru("Қолдаудың алғашқы жауабы", "Первый ответ поддержки"),
        "change_agreement" => kk_ru("Өзгертуді келісу", "Согласование изменения"),
        "change_approval" => kk_ru("Өзгертуді бекіту", "Утверждение изменения"),
        other => other.to_owned(),
    }
}

fn outcome_label(o: &str) -> String {
    match o {
        "met" => kk_ru("мерзімінде", "в срок"),
        "missed" => kk_ru("мерзімі өтті", "просрочено"),
        "open" => kk_ru("орындалуда", "в работе"),
        other => other.to_owned(),
    }
}

impl DeadlineReport {
    pub fn title(&self) -> String {
        kk_ru("Мерзімдердің сақталуы", "Соблюдение сроков")
    }

    pub fn subtitle(&self) -> String {
        format!(
            "{} {} — {}; {} {}",
            kk_ru("Кезең", "Период"),
            self.from,
            self.to,
            kk_ru("жасалды", "сформирован"),
            crate::local_minute(&self.generated_at)
        ) + "\nж.к. / р.д. — жұмыс күні / рабочие дни; * — болжамды күнтізбе / предварительный календарь"
    }

    /// The summary (one row per clock) and the items, as tables for CSV and PDF.
    pub fn tables(&self) -> Vec<Table> {
        let days = |v: Option<f64>| v.map(|d| format!("{d:.1}")).unwrap_or_else(|| "—".into());
        let summary = Table {
            heading: kk_ru("Жиынтық", "Сводка"),
            columns: vec![
                kk_ru("Мерзім", "Срок"),
                kk_ru("Ж.к.", "Р.д."),
                kk_ru("Барлығы", "Всего"),
                kk_ru("Мерзімінде", "В срок"),
                kk_ru("Өтті", "Просрочено"),
                kk_ru("Орындалуда", "В работе"),
                kk_ru("Медиана", "Медиана"),
                kk_ru("Ең ұзақ", "Максимум"),
            ],
            widths: vec![3.4, 1.6, 1.1, 1.4, 1.6, 1.4, 1.8, 1.8],
            rows: self
                .clocks
                .iter()
                .map(|c| {
                    vec![
                        clock_label(c.clock),
                        c.working_days_allowed.to_string(),
                        c.total.to_string(),
                        c.met.to_string(),
                        c.missed.to_string(),
                        c.open.to_string(),
                        days(c.median_working_days),
                        c.worst_working_days
                            .map(|w| w.to_string())
                            .unwrap_or_else(|| "—".into()),
                    ]
                })
                .collect(),
        };
        let items = Table {
            heading: kk_ru("Тізім", "Перечень"),
            columns: vec![
                kk_ru("Мерзім", "Срок"),
                kk_ru("Нысан", "Объект"),
                kk_ru("Басталды", "Начало"),
                kk_ru("Мерзімі", "Срок до"),
                kk_ru("Орындалды", "Исполнено"),
                kk_ru("Ж.к.", "Р.д."),
                kk_ru("Нәтиже", "Итог"),
            ],
            widths: vec![3.2, 1.6, 1.2, 1.4, 1.6, 0.8, 2.2],
            rows: self
                .items
                .iter()
                .map(|i| {
                    vec![
                        clock_label(i.clock),
                        i.subject.clone(),
                        i.started.clone(),
                        if i.provisional {
                            format!("{}*", i.due)
                        } else {
                            i.due.clone()
                        },
                        i.done_at
                            .as_deref()
                            .map(crate::local_minute)
                            .unwrap_or_else(|| "—".into()),
                        i.working_days_taken
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "—".into()),
                        outcome_label(i.outcome),
                    ]
                })
                .collect(),
        };
        let by_org = Table {
            heading: kk_ru(
                "Бұғаттауға өтінімдер ұйымдар бойынша",
                "Запросы на блокировку по организациям",
            ),
            columns: vec![
                kk_ru("БСН", "БИН"),
                kk_ru("Жолдар", "Строки"),
                kk_ru("Мерзімінде", "В срок"),
                kk_ru("Кешікті", "С опозданием"),
            ],
            widths: vec![3.0, 1.6, 1.6, 1.6],
            rows: self
                .block_requests_by_organization
                .iter()
                .map(|o| {
                    vec![
                        o.organization_bin.clone(),
                        o.lines.to_string(),
                        o.met.to_string(),
                        o.late.to_string(),
                    ]
                })
                .collect(),
        };
        vec![summary, items, by_org]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_median() {
        assert_eq!(outcome(Some(5), 5, 100), "met");
        assert_eq!(outcome(Some(6), 5, 100), "missed");
        assert_eq!(outcome(None, 5, 100), "missed");
        assert_eq!(outcome(None, 500, 100), "open");
        assert_eq!(median(vec![5, 0, 3]), Some(3.0));
        assert_eq!(median(vec![0, 5]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
