//! The integrator's report to the authorized body on a held training session (Order 270 §13): the
//! session, its trainees, their attendance and their lesson results. The JSON is what the integrator
//! signs (it holds no time of making, so the same session gives the same report until it changes).

use qoljetim_store::Store;
use serde::Serialize;

use crate::render::Table;
use crate::{ReportError, instant, kk_ru};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrainingReport {
    pub report: &'static str,
    pub session: u64,
    pub systems: Vec<String>,
    pub language: String,
    pub mode: String,
    pub place: String,
    pub starts_at: String,
    pub held_on: String,
    /// The end of the 5th working day after `held_on` (Almaty).
    pub report_due: String,
    pub enrolled: usize,
    pub attended: usize,
    pub trainees: Vec<Trainee>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trainee {
    pub iin: String,
    pub organization_bin: String,
    pub attended: bool,
    pub lessons: Vec<LessonResult>,
}

/// A trainee's results in the lesson of one of the session's systems, all versions counted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LessonResult {
    pub system: String,
    pub attempts: usize,
    pub best_percent: Option<i64>,
    pub passed: bool,
}

/// The report of a held session; None when the session does not exist or was not held yet.
pub async fn training_report(
    store: &Store,
    session_id: i64,
) -> Result<Option<TrainingReport>, ReportError> {
    let Some(s) = store.training_session(session_id).await? else {
        return Ok(None);
    };
    let (Some(held_on), Some(due)) = (s.held_on, s.report_due) else {
        return Ok(None);
    };
    let mut trainees = vec![];
    for e in store.enrolments(session_id).await? {
        let attempts = store.attempts_of(&e.person_iin).await?;
        let lessons = s
            .systems
            .iter()
            .map(|system| {
                let mine: Vec<_> = attempts.iter().filter(|a| a.system == *system).collect();
                LessonResult {
                    system: system.as_str().to_owned(),
                    attempts: mine.len(),
                    best_percent: mine.iter().map(|a| a.correct * 100 / a.total.max(1)).max(),
                    passed: mine.iter().any(|a| a.passed),
                }
            })
            .collect();
        trainees.push(Trainee {
            iin: e.person_iin,
            organization_bin: e.organization_bin,
            attended: e.attended.unwrap_or(false),
            lessons,
        });
    }
    Ok(Some(TrainingReport {
        report: "training",
        session: u64::try_from(s.id).unwrap_or_default(),
        systems: s.systems.iter().map(|x| x.as_str().to_owned()).collect(),
        language: s.language,
        mode: s.mode,
        place: s.place,
        starts_at: instant(s.starts_at),
        held_on: held_on.to_string(),
        report_due: due.to_string(),
        enrolled: trainees.len(),
        attended: trainees.iter().filter(|t| t.attended).count(),
        trainees,
    }))
}

fn system_label(s: &str) -> String {
    match s {
        "analytical_central" => kk_ru("Талдамалық орталық", "Аналитический центральный"),
        "state_planning" => kk_ru("Мемлекеттік жоспарлау", "Государственное планирование"),
        other => other.to_owned(),
    }
}

impl TrainingReport {
    pub fn title(&self) -> String {
        kk_ru(
            "Оқыту туралы есеп (270 бұйрық 13-т.)",
            "Отчёт об обучении (Приказ 270 п.13)",
        )
    }

    pub fn subtitle(&self) -> String {
        format!(
            "{} {}: {} ({}, {}), {}; {} {}; {} {}",
            kk_ru("Сабақ", "Занятие"),
            self.session,
            self.held_on,
            self.language,
            self.mode,
            self.place,
            kk_ru("есеп мерзімі", "срок отчёта"),
            self.report_due,
            kk_ru("қатысты", "присутствовали"),
            self.attended
        ) + "\n"
            + &self
                .systems
                .iter()
                .map(|s| system_label(s))
                .collect::<Vec<_>>()
                .join("; ")
    }

    /// One row per trainee and system: attendance and the lesson's results.
    pub fn tables(&self) -> Vec<Table> {
        let yes_no = |b: bool| {
            if b {
                kk_ru("иә", "да")
            } else {
                kk_ru("жоқ", "нет")
            }
        };
        let mut rows = vec![];
        for t in &self.trainees {
            for l in &t.lessons {
                rows.push(vec![
                    t.iin.clone(),
                    t.organization_bin.clone(),
                    yes_no(t.attended),
                    system_label(&l.system),
                    l.attempts.to_string(),
                    l.best_percent
                        .map(|p| format!("{p}%"))
                        .unwrap_or_else(|| "—".into()),
                    yes_no(l.passed),
                ]);
            }
        }
        vec![Table {
            heading: kk_ru("Оқушылар", "Обучающиеся"),
            columns: vec![
                kk_ru("ЖСН", "ИИН"),
                kk_ru("БСН", "БИН"),
                kk_ru("Қатысты", "Присутствовал"),
                kk_ru("Жүйе", "Система"),
                kk_ru("Талпыныс", "Попытки"),
                kk_ru("Үздік нәтиже", "Лучший результат"),
                kk_ru("Сабақтан өтті", "Урок пройден"),
            ],
            widths: vec![2.2, 2.2, 1.6, 3.4, 1.4, 1.8, 1.8],
            rows,
        }]
    }
}
