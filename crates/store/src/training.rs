//! Training before first work (Order 270 §12–§13) and the §15 duties: lessons as loaded, attempts,
//! what trained whom, interactive sessions with their enrolments and the integrator's report.
//!
//! A person is trained for a system at a lesson version (a passed lesson, or an attended session); a
//! training record at the system's current version activates the person's grants waiting for it, and
//! a new grant of a person trained at the current version starts active (renewal asks nothing again).

use jiff::civil::Date;
use qoljetim_domain::System;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::audit::corrupt;
use crate::reads::{from_str, typed, typed_opt};
use crate::tx::{Applied, ChangeOutcome, Failure, b};
use crate::{Conflict, Result, Store};

/// A lesson file as loaded: its parsed facts and its source text (the evidence of what was taught).
#[derive(Debug, Clone)]
pub struct NewLesson {
    pub id: String,
    pub version: i64,
    pub system: System,
    pub source: String,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub lesson_id: String,
    pub lesson_version: i64,
    pub system: System,
    pub person_iin: String,
    pub organization_bin: String,
    /// The chosen choices, counted from 0, as a JSON array.
    pub answers: String,
    pub correct: i64,
    pub total: i64,
    pub passed: bool,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct NewTrainingSession {
    pub systems: Vec<System>,
    /// `kk` or `ru` (§12: training in Kazakh and Russian).
    pub language: String,
    /// `online` or `room`.
    pub mode: String,
    /// The room's address or the meeting link.
    pub place: String,
    pub starts_at: i64,
    pub capacity: i64,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub enum TrainingChange {
    /// New lesson versions; a version loaded before with the same text is left as it is.
    LoadLessons {
        lessons: Vec<NewLesson>,
        at: i64,
        by: String,
    },
    /// An attempt; a pass at the system's current version trains the person and activates their
    /// grants waiting for it.
    Attempt(Box<NewAttempt>),
    ScheduleSession(Box<NewTrainingSession>),
    Enrol {
        session_id: i64,
        person_iin: String,
        organization_bin: String,
        by: String,
        at: i64,
    },
    /// The session was held on `held_on`: who attended (IINs of enrolled people); attendance trains
    /// them for the session's systems; the report's deadline starts (§13).
    RecordAttendance {
        session_id: i64,
        attended: Vec<String>,
        held_on: Date,
        report_due: qoljetim_domain::calendar::Deadline,
        by: String,
        at: i64,
    },
    /// The integrator's signed report on a held session, kept as evidence.
    SendReport {
        session_id: i64,
        evidence: Vec<u8>,
        sha256: String,
        signer: String,
        at: i64,
    },
    /// A reader read `version` of a manual (Order 270 §7): the next visit shows what changed after it.
    ManualRead {
        iin: String,
        bin: String,
        manual: String,
        version: i64,
        at: i64,
    },
    /// Order 270 §15: the person accepts the duties before the grant's first data read.
    AcceptDuties {
        grant_id: i64,
        person_iin: String,
        organization_bin: String,
        version: i64,
        at: i64,
    },
}

/// The current (newest) version of `system`'s lesson, 0 when none is loaded.
async fn current_version(
    conn: &mut AnyConnection,
    system: &str,
) -> std::result::Result<i64, Failure> {
    let r = sqlx::query("SELECT MAX(version) AS v FROM lessons WHERE system = $1")
        .bind(system)
        .fetch_one(&mut *conn)
        .await?;
    Ok(r.try_get::<Option<i64>, _>("v")?.unwrap_or(0))
}

/// Whether the person is trained for `system` at its current lesson version (a grant made now starts
/// active); the record's source when so.
pub(crate) async fn trained_now(
    conn: &mut AnyConnection,
    iin: &str,
    system: &str,
) -> std::result::Result<Option<String>, Failure> {
    let version = current_version(conn, system).await?;
    if version == 0 {
        return Ok(None);
    }
    let r = sqlx::query(
        "SELECT source FROM training_records WHERE person_iin = $1 AND system = $2 AND lesson_version = $3 ORDER BY id LIMIT 1",
    )
    .bind(iin)
    .bind(system)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match r {
        Some(r) => Some(r.try_get("source")?),
        None => None,
    })
}

/// Records the training and activates the person's grants of `system` that wait for it.
async fn train(
    conn: &mut AnyConnection,
    iin: &str,
    system: &str,
    version: i64,
    source: &str,
    at: i64,
    out: &mut ChangeOutcome,
) -> std::result::Result<(), Failure> {
    sqlx::query(
        "INSERT INTO training_records (person_iin, system, lesson_version, source, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(iin)
    .bind(system)
    .bind(version)
    .bind(source)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    let waiting = sqlx::query(
        "SELECT id FROM grants WHERE person_iin = $1 AND system = $2 AND status = 'pending_training' ORDER BY id",
    )
    .bind(iin)
    .bind(system)
    .fetch_all(&mut *conn)
    .await?;
    for r in &waiting {
        out.ids.push(r.try_get("id")?);
    }
    sqlx::query(
        "UPDATE grants SET status = 'active', trained_at = $1, training_source = $2 \
         WHERE person_iin = $3 AND system = $4 AND status = 'pending_training'",
    )
    .bind(at)
    .bind(source)
    .bind(iin)
    .bind(system)
    .execute(&mut *conn)
    .await?;
    *out.counts.entry("grants_activated").or_insert(0) += i64::try_from(waiting.len()).unwrap_or(0);
    Ok(())
}

async fn session_state(
    conn: &mut AnyConnection,
    id: i64,
) -> std::result::Result<(Option<String>, i64, String), Failure> {
    let r = sqlx::query("SELECT held_on, capacity, systems FROM training_sessions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Failure::Conflict(Conflict::NotFound))?;
    Ok((
        r.try_get("held_on")?,
        r.try_get("capacity")?,
        r.try_get("systems")?,
    ))
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &TrainingChange) -> Applied {
    let mut out = ChangeOutcome::default();
    match change {
        TrainingChange::LoadLessons { lessons, at, by } => {
            for l in lessons {
                let known =
                    sqlx::query("SELECT sha256 FROM lessons WHERE id = $1 AND version = $2")
                        .bind(&l.id)
                        .bind(l.version)
                        .fetch_optional(&mut *conn)
                        .await?;
                if let Some(r) = known {
                    let sha: String = r.try_get("sha256")?;
                    if sha != l.sha256 {
                        return Err(Failure::Conflict(Conflict::LessonChangedInPlace {
                            id: l.id.clone(),
                            version: l.version,
                        }));
                    }
                    *out.counts.entry("unchanged").or_insert(0) += 1;
                    continue;
                }
                sqlx::query(
                    "INSERT INTO lessons (id, version, system, source, sha256, loaded_at, loaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&l.id)
                .bind(l.version)
                .bind(l.system.as_str())
                .bind(&l.source)
                .bind(&l.sha256)
                .bind(*at)
                .bind(by)
                .execute(&mut *conn)
                .await?;
                *out.counts.entry("loaded").or_insert(0) += 1;
            }
        }
        TrainingChange::Attempt(a) => {
            let current = current_version(conn, a.system.as_str()).await?;
            if a.lesson_version != current {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: format!("version {current}"),
                    expected: "the lesson's current version",
                }));
            }
            let r = sqlx::query(
                "INSERT INTO lesson_attempts (lesson_id, lesson_version, system, person_iin, organization_bin, answers, correct, total, passed, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(&a.lesson_id)
            .bind(a.lesson_version)
            .bind(a.system.as_str())
            .bind(&a.person_iin)
            .bind(&a.organization_bin)
            .bind(&a.answers)
            .bind(a.correct)
            .bind(a.total)
            .bind(b(a.passed))
            .bind(a.at)
            .fetch_one(&mut *conn)
            .await?;
            out.id = Some(r.try_get("id")?);
            if a.passed {
                let source = format!("lesson:{}@{}", a.lesson_id, a.lesson_version);
                train(
                    conn,
                    &a.person_iin,
                    a.system.as_str(),
                    a.lesson_version,
                    &source,
                    a.at,
                    &mut out,
                )
                .await?;
            }
        }
        TrainingChange::ScheduleSession(s) => {
            let systems: Vec<&str> = s.systems.iter().map(|x| x.as_str()).collect();
            let r = sqlx::query(
                "INSERT INTO training_sessions (systems, language, mode, place, starts_at, capacity, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(serde_json::to_string(&systems).unwrap_or_default())
            .bind(&s.language)
            .bind(&s.mode)
            .bind(&s.place)
            .bind(s.starts_at)
            .bind(s.capacity)
            .bind(&s.created_by)
            .bind(s.created_at)
            .fetch_one(&mut *conn)
            .await?;
            out.id = Some(r.try_get("id")?);
        }
        TrainingChange::Enrol {
            session_id,
            person_iin,
            organization_bin,
            by,
            at,
        } => {
            let (held, capacity, _) = session_state(conn, *session_id).await?;
            if let Some(held) = held {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: format!("held on {held}"),
                    expected: "scheduled",
                }));
            }
            let taken: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM session_enrolments WHERE session_id = $1")
                    .bind(*session_id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("n")?;
            let already = sqlx::query(
                "SELECT 1 AS x FROM session_enrolments WHERE session_id = $1 AND person_iin = $2",
            )
            .bind(*session_id)
            .bind(person_iin)
            .fetch_optional(&mut *conn)
            .await?;
            if already.is_some() {
                return Err(Failure::Conflict(Conflict::AlreadyEnrolled));
            }
            if taken >= capacity {
                return Err(Failure::Conflict(Conflict::SessionFull { capacity }));
            }
            sqlx::query(
                "INSERT INTO session_enrolments (session_id, person_iin, organization_bin, enrolled_by, enrolled_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(*session_id)
            .bind(person_iin)
            .bind(organization_bin)
            .bind(by)
            .bind(*at)
            .execute(&mut *conn)
            .await?;
            out.id = Some(*session_id);
        }
        TrainingChange::RecordAttendance {
            session_id,
            attended,
            held_on,
            report_due,
            by,
            at,
        } => {
            let (held, _, systems) = session_state(conn, *session_id).await?;
            if let Some(held) = held {
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: format!("held on {held}"),
                    expected: "scheduled",
                }));
            }
            let enrolled: Vec<String> = sqlx::query(
                "SELECT person_iin FROM session_enrolments WHERE session_id = $1 ORDER BY person_iin",
            )
            .bind(*session_id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("person_iin"))
            .collect::<std::result::Result<_, _>>()?;
            if let Some(stranger) = attended.iter().find(|a| !enrolled.contains(a)) {
                return Err(Failure::Conflict(Conflict::NotEnrolled {
                    iin: stranger.clone(),
                }));
            }
            for iin in &enrolled {
                sqlx::query(
                    "UPDATE session_enrolments SET attended = $1 WHERE session_id = $2 AND person_iin = $3",
                )
                .bind(b(attended.contains(iin)))
                .bind(*session_id)
                .bind(iin)
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query(
                "UPDATE training_sessions SET held_on = $1, attendance_by = $2, attendance_at = $3, report_due = $4, \
                 report_due_at = $5, report_due_provisional = $6 WHERE id = $7",
            )
            .bind(held_on.to_string())
            .bind(by)
            .bind(*at)
            .bind(report_due.due.to_string())
            .bind(report_due.due_at.as_microsecond())
            .bind(b(report_due.provisional))
            .bind(*session_id)
            .execute(&mut *conn)
            .await?;
            let systems: Vec<String> = serde_json::from_str(&systems).unwrap_or_default();
            let source = format!("session:{session_id}");
            for system in &systems {
                let version = current_version(conn, system).await?;
                for iin in attended {
                    train(conn, iin, system, version, &source, *at, &mut out).await?;
                }
            }
            out.id = Some(*session_id);
            out.counts.insert(
                "attended",
                i64::try_from(attended.len()).unwrap_or(i64::MAX),
            );
        }
        TrainingChange::SendReport {
            session_id,
            evidence,
            sha256,
            signer,
            at,
        } => {
            let res = sqlx::query(
                "UPDATE training_sessions SET report_sent_at = $1, report_signer = $2, report_evidence = $3, report_sha256 = $4 \
                 WHERE id = $5 AND held_on IS NOT NULL AND report_sent_at IS NULL",
            )
            .bind(*at)
            .bind(signer)
            .bind(evidence.clone())
            .bind(sha256)
            .bind(*session_id)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                let r = sqlx::query(
                    "SELECT held_on, report_sent_at FROM training_sessions WHERE id = $1",
                )
                .bind(*session_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(Failure::Conflict(Conflict::NotFound))?;
                let sent: Option<i64> = r.try_get("report_sent_at")?;
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: if sent.is_some() {
                        "report sent".into()
                    } else {
                        "not held yet".into()
                    },
                    expected: "held, report not sent",
                }));
            }
            out.id = Some(*session_id);
        }
        TrainingChange::ManualRead {
            iin,
            bin,
            manual,
            version,
            at,
        } => {
            sqlx::query("DELETE FROM manual_reads WHERE iin = $1 AND bin = $2 AND manual = $3")
                .bind(iin)
                .bind(bin)
                .bind(manual)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO manual_reads (iin, bin, manual, version, read_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(iin)
            .bind(bin)
            .bind(manual)
            .bind(*version)
            .bind(*at)
            .execute(&mut *conn)
            .await?;
        }
        TrainingChange::AcceptDuties {
            grant_id,
            person_iin,
            organization_bin,
            version,
            at,
        } => {
            let res = sqlx::query(
                "UPDATE grants SET duties_accepted_at = $1, duties_version = $2 \
                 WHERE id = $3 AND person_iin = $4 AND organization_bin = $5 AND duties_accepted_at IS NULL \
                 AND status IN ('active', 'pending_training')",
            )
            .bind(*at)
            .bind(*version)
            .bind(*grant_id)
            .bind(person_iin)
            .bind(organization_bin)
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() != 1 {
                let r = sqlx::query(
                    "SELECT status, duties_accepted_at FROM grants WHERE id = $1 AND person_iin = $2 AND organization_bin = $3",
                )
                .bind(*grant_id)
                .bind(person_iin)
                .bind(organization_bin)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(Failure::Conflict(Conflict::NotFound))?;
                let accepted: Option<i64> = r.try_get("duties_accepted_at")?;
                return Err(Failure::Conflict(Conflict::WrongState {
                    current: if accepted.is_some() {
                        "duties accepted".into()
                    } else {
                        r.try_get("status")?
                    },
                    expected: "a live grant whose duties are not accepted yet",
                }));
            }
            out.id = Some(*grant_id);
        }
    }
    Ok(out)
}

/// A lesson version as loaded.
#[derive(Debug, Clone)]
pub struct LessonRow {
    pub id: String,
    pub version: i64,
    pub system: System,
    pub source: String,
    pub sha256: String,
    pub loaded_at: i64,
    pub loaded_by: String,
}

#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub id: i64,
    pub lesson_id: String,
    pub lesson_version: i64,
    pub system: System,
    pub person_iin: String,
    pub organization_bin: String,
    pub correct: i64,
    pub total: i64,
    pub passed: bool,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct TrainingRecordRow {
    pub person_iin: String,
    pub system: System,
    pub lesson_version: i64,
    pub source: String,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct TrainingSessionRow {
    pub id: i64,
    pub systems: Vec<System>,
    pub language: String,
    pub mode: String,
    pub place: String,
    pub starts_at: i64,
    pub capacity: i64,
    pub created_by: String,
    pub created_at: i64,
    pub held_on: Option<Date>,
    pub attendance_by: Option<String>,
    pub attendance_at: Option<i64>,
    pub report_due: Option<Date>,
    pub report_due_at: Option<i64>,
    pub report_due_provisional: bool,
    pub report_sent_at: Option<i64>,
    pub report_signer: Option<String>,
    pub report_sha256: Option<String>,
    pub enrolled: i64,
}

#[derive(Debug, Clone)]
pub struct EnrolmentRow {
    pub session_id: i64,
    pub person_iin: String,
    pub organization_bin: String,
    pub enrolled_by: String,
    pub enrolled_at: i64,
    /// None until attendance is recorded.
    pub attended: Option<bool>,
}

fn lesson(r: &AnyRow) -> Result<LessonRow> {
    Ok(LessonRow {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        system: typed(r, "system", from_str)?,
        source: r.try_get("source")?,
        sha256: r.try_get("sha256")?,
        loaded_at: r.try_get("loaded_at")?,
        loaded_by: r.try_get("loaded_by")?,
    })
}

fn attempt(r: &AnyRow) -> Result<AttemptRow> {
    Ok(AttemptRow {
        id: r.try_get("id")?,
        lesson_id: r.try_get("lesson_id")?,
        lesson_version: r.try_get("lesson_version")?,
        system: typed(r, "system", from_str)?,
        person_iin: r.try_get("person_iin")?,
        organization_bin: r.try_get("organization_bin")?,
        correct: r.try_get("correct")?,
        total: r.try_get("total")?,
        passed: r.try_get::<i64, _>("passed")? != 0,
        at: r.try_get("at")?,
    })
}

const SESSION_COLUMNS: &str = "s.id, s.systems, s.language, s.mode, s.place, s.starts_at, s.capacity, s.created_by, s.created_at, \
    s.held_on, s.attendance_by, s.attendance_at, s.report_due, s.report_due_at, s.report_due_provisional, s.report_sent_at, \
    s.report_signer, s.report_sha256, (SELECT COUNT(*) FROM session_enrolments e WHERE e.session_id = s.id) AS enrolled";

fn session(r: &AnyRow) -> Result<TrainingSessionRow> {
    let systems: Vec<String> =
        serde_json::from_str(&r.try_get::<String, _>("systems")?).map_err(corrupt)?;
    Ok(TrainingSessionRow {
        id: r.try_get("id")?,
        systems: systems
            .iter()
            .map(|s| s.parse().map_err(|()| corrupt(format!("systems: {s}"))))
            .collect::<Result<_>>()?,
        language: r.try_get("language")?,
        mode: r.try_get("mode")?,
        place: r.try_get("place")?,
        starts_at: r.try_get("starts_at")?,
        capacity: r.try_get("capacity")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        held_on: typed_opt(r, "held_on", from_str)?,
        attendance_by: r.try_get("attendance_by")?,
        attendance_at: r.try_get("attendance_at")?,
        report_due: typed_opt(r, "report_due", from_str)?,
        report_due_at: r.try_get("report_due_at")?,
        report_due_provisional: r.try_get::<i64, _>("report_due_provisional")? != 0,
        report_sent_at: r.try_get("report_sent_at")?,
        report_signer: r.try_get("report_signer")?,
        report_sha256: r.try_get("report_sha256")?,
        enrolled: r.try_get("enrolled")?,
    })
}

impl Store {
    /// The current (newest) version of every lesson.
    pub async fn current_lessons(&self) -> Result<Vec<LessonRow>> {
        let rows = sqlx::query(
            "SELECT l.id, l.version, l.system, l.source, l.sha256, l.loaded_at, l.loaded_by FROM lessons l \
             WHERE l.version = (SELECT MAX(m.version) FROM lessons m WHERE m.id = l.id) ORDER BY l.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lesson).collect()
    }

    /// Every lesson version loaded, newest first.
    pub async fn lesson_versions(&self) -> Result<Vec<LessonRow>> {
        let rows = sqlx::query(
            "SELECT id, version, system, source, sha256, loaded_at, loaded_by FROM lessons ORDER BY id, version DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lesson).collect()
    }

    pub async fn attempts_of(&self, iin: &str) -> Result<Vec<AttemptRow>> {
        let rows = sqlx::query(
            "SELECT id, lesson_id, lesson_version, system, person_iin, organization_bin, correct, total, passed, at \
             FROM lesson_attempts WHERE person_iin = $1 ORDER BY id DESC",
        )
        .bind(iin)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attempt).collect()
    }

    pub async fn training_records_of(&self, iin: &str) -> Result<Vec<TrainingRecordRow>> {
        let rows = sqlx::query(
            "SELECT person_iin, system, lesson_version, source, at FROM training_records WHERE person_iin = $1 ORDER BY id",
        )
        .bind(iin)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TrainingRecordRow {
                    person_iin: r.try_get("person_iin")?,
                    system: typed(r, "system", from_str)?,
                    lesson_version: r.try_get("lesson_version")?,
                    source: r.try_get("source")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Sessions, soonest first.
    pub async fn training_sessions(&self) -> Result<Vec<TrainingSessionRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM training_sessions s ORDER BY s.starts_at, s.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(session).collect()
    }

    pub async fn training_session(&self, id: i64) -> Result<Option<TrainingSessionRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM training_sessions s WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(session).transpose()
    }

    pub async fn enrolments(&self, session_id: i64) -> Result<Vec<EnrolmentRow>> {
        let rows = sqlx::query(
            "SELECT session_id, person_iin, organization_bin, enrolled_by, enrolled_at, attended \
             FROM session_enrolments WHERE session_id = $1 ORDER BY organization_bin, person_iin",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EnrolmentRow {
                    session_id: r.try_get("session_id")?,
                    person_iin: r.try_get("person_iin")?,
                    organization_bin: r.try_get("organization_bin")?,
                    enrolled_by: r.try_get("enrolled_by")?,
                    enrolled_at: r.try_get("enrolled_at")?,
                    attended: r.try_get::<Option<i64>, _>("attended")?.map(|a| a != 0),
                })
            })
            .collect()
    }

    /// The sessions a person is enrolled in.
    pub async fn sessions_enrolled(&self, iin: &str) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT session_id FROM session_enrolments WHERE person_iin = $1")
            .bind(iin)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("session_id")?)).collect()
    }

    /// The signed report of a session, as received.
    pub async fn training_report_evidence(&self, session_id: i64) -> Result<Option<Vec<u8>>> {
        let r = sqlx::query("SELECT report_evidence FROM training_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => r.try_get("report_evidence")?,
            None => None,
        })
    }
}
