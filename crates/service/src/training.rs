//! Training before first work (Order 270 §12–§13) and the §15 duties: lessons loaded by the
//! integrator and taken by users, interactive sessions with enrolment and attendance, the
//! integrator's signed report on each held session, and the acceptance of the duties of each grant.

use std::collections::BTreeSet;

use jiff::Timestamp;
use qoljetim_domain::application::FieldError;
use qoljetim_domain::training::{DUTIES, DUTIES_VERSION, Lesson};
use qoljetim_domain::{Bin, Iin, System};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{
    AttemptRow, Change, EnrolmentRow, LessonRow, NewAttempt, NewLesson, NewTrainingSession,
    TrainingChange, TrainingSessionRow,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::grants::grant_resource;
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

pub use qoljetim_domain::training::REPORT_WORKING_DAYS as TRAINING_REPORT_WORKING_DAYS;

/// A lesson file as the integrator hands it over: its name (for messages) and its text.
pub struct LessonFile {
    pub name: String,
    pub text: String,
}

fn bilingual(b: &qoljetim_domain::training::Bilingual) -> BilingualView {
    BilingualView {
        kk: b.kk.clone(),
        ru: b.ru.clone(),
    }
}

/// A stored lesson's text parsed again (it was checked at load: a failure is corruption).
fn parsed(row: &LessonRow) -> ServiceResult<Lesson> {
    Lesson::parse(&format!("{}@{}", row.id, row.version), &row.source)
        .map_err(|e| ServiceError::internal(format!("stored lesson: {e}")))
}

/// The caller's standing in `lesson`: trained for its system at its version, best score, attempts.
fn standing(lesson: &LessonRow, attempts: &[AttemptRow], trained: bool) -> LessonStandingView {
    let mine: Vec<&AttemptRow> = attempts
        .iter()
        .filter(|a| a.lesson_id == lesson.id && a.lesson_version == lesson.version)
        .collect();
    LessonStandingView {
        passed: trained,
        best_percent: mine.iter().map(|a| a.correct * 100 / a.total.max(1)).max(),
        attempts: mine.len(),
    }
}

impl Service {
    /// `qoljetim lessons load`: checks every file (both languages, a right answer for every question,
    /// at least 5 questions) and loads the new versions in one change; nothing is loaded if any file
    /// breaks a rule, if a loaded version's text changed, or if two lessons claim one system.
    pub async fn load_lessons(
        &self,
        operator: &str,
        files: Vec<LessonFile>,
    ) -> ServiceResult<Vec<(String, i64, &'static str)>> {
        let attempt = Attempt::default();
        attempt.begin(
            entry(
                operator.to_owned(),
                None,
                "load_lessons",
                "lessons".into(),
                "ok".into(),
                "local",
            ),
            None,
        );
        let r = self.load_lessons_in(&attempt, operator, files).await;
        self.settle(attempt, r).await
    }

    async fn load_lessons_in(
        &self,
        attempt: &Attempt,
        operator: &str,
        files: Vec<LessonFile>,
    ) -> ServiceResult<Vec<(String, i64, &'static str)>> {
        let mut errors = vec![];
        let mut lessons = vec![];
        for f in &files {
            match Lesson::parse(&f.name, &f.text) {
                Ok(l) => lessons.push((l, f)),
                Err(e) => errors.push(FieldError::new(
                    format!("/{}", f.name),
                    "lesson",
                    format!("{}:{}: {}", e.file, e.line, e.message),
                )),
            }
        }
        // One lesson per system: the system's current lesson is the newest version of that id.
        let known = self
            .store
            .lesson_versions()
            .await
            .map_err(ServiceError::store)?;
        let mut owner: std::collections::BTreeMap<System, String> =
            known.iter().map(|l| (l.system, l.id.clone())).collect();
        for (l, f) in &lessons {
            match owner.get(&l.system) {
                Some(id) if *id != l.id => errors.push(FieldError::new(
                    format!("/{}", f.name),
                    "one_lesson_per_system",
                    format!("{} already has the lesson {id}", l.system.as_str()),
                )),
                _ => {
                    owner.insert(l.system, l.id.clone());
                }
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        let new: Vec<NewLesson> = lessons
            .iter()
            .map(|(l, f)| NewLesson {
                id: l.id.clone(),
                version: i64::from(l.version),
                system: l.system,
                source: f.text.clone(),
                sha256: hex::encode(Sha256::digest(f.text.as_bytes())),
            })
            .collect();
        let summary: Vec<(String, i64, &'static str)> = new
            .iter()
            .map(|l| {
                let state = if known.iter().any(|k| k.id == l.id && k.version == l.version) {
                    "unchanged"
                } else {
                    "loaded"
                };
                (l.id.clone(), l.version, state)
            })
            .collect();
        attempt.update(|e| {
            e.details = json!({"lessons": new.iter().map(|l| json!({"id": l.id, "version": l.version,
                "system": l.system.as_str(), "sha256": l.sha256})).collect::<Vec<_>>()});
        });
        self.commit(
            attempt,
            Change::Training(Box::new(TrainingChange::LoadLessons {
                lessons: new,
                at: self.clock.now().as_microsecond(),
                by: operator.to_owned(),
            })),
        )
        .await?;
        Ok(summary)
    }

    /// The (system, lesson version) pairs the person is trained at (a passed lesson or an attended
    /// session at that version).
    async fn trained_versions(&self, iin: &str) -> ServiceResult<Vec<(System, i64)>> {
        Ok(self
            .store
            .training_records_of(iin)
            .await
            .map_err(ServiceError::store)?
            .iter()
            .map(|r| (r.system, r.lesson_version))
            .collect())
    }

    /// Order 270 §12: the current lessons, with the caller's standing in each.
    pub async fn lessons(&self, caller: &Caller) -> ServiceResult<Vec<LessonSummaryView>> {
        let attempt = Attempt::default();
        let r = self.lessons_in(&attempt, caller).await;
        self.settle(attempt, r).await
    }

    async fn lessons_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
    ) -> ServiceResult<Vec<LessonSummaryView>> {
        self.authorize(
            attempt,
            caller,
            Action::ReadTraining,
            &Resource::Registry,
            "lessons",
        )?;
        let iin = caller.actor.iin.as_str();
        let attempts = self
            .store
            .attempts_of(iin)
            .await
            .map_err(ServiceError::store)?;
        let trained_at = self.trained_versions(iin).await?;
        let mut out = vec![];
        for row in self
            .store
            .current_lessons()
            .await
            .map_err(ServiceError::store)?
        {
            let l = parsed(&row)?;
            let trained = trained_at.contains(&(row.system, row.version));
            out.push(LessonSummaryView {
                id: row.id.clone(),
                version: row.version,
                system: row.system.as_str().to_owned(),
                pass_percent: i64::from(l.pass_percent),
                title: bilingual(&l.title),
                questions: l.questions.len(),
                standing: standing(&row, &attempts, trained),
            });
        }
        self.record(attempt).await?;
        Ok(out)
    }

    async fn current_lesson(&self, id: &str) -> ServiceResult<LessonRow> {
        self.store
            .current_lessons()
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .find(|l| l.id == id)
            .ok_or_else(|| ServiceError::not_found(format!("lesson {id}")))
    }

    /// A lesson's current version to take: its steps and questions, never its right answers.
    pub async fn lesson(&self, caller: &Caller, id: &str) -> ServiceResult<LessonView> {
        let attempt = Attempt::default();
        let r = self.lesson_in(&attempt, caller, id).await;
        self.settle(attempt, r).await
    }

    async fn lesson_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<LessonView> {
        self.authorize(
            attempt,
            caller,
            Action::ReadTraining,
            &Resource::Registry,
            &format!("lesson/{id}"),
        )?;
        let row = self.current_lesson(id).await?;
        let l = parsed(&row)?;
        let iin = caller.actor.iin.as_str();
        let attempts = self
            .store
            .attempts_of(iin)
            .await
            .map_err(ServiceError::store)?;
        let trained = self
            .trained_versions(iin)
            .await?
            .contains(&(row.system, row.version));
        self.record(attempt).await?;
        Ok(LessonView {
            id: row.id.clone(),
            version: row.version,
            system: row.system.as_str().to_owned(),
            pass_percent: i64::from(l.pass_percent),
            title: bilingual(&l.title),
            steps: l
                .steps
                .iter()
                .map(|s| LessonStepView {
                    text: bilingual(&s.text),
                    image: s.image.as_ref().map(|i| format!("/{i}")),
                })
                .collect(),
            questions: l
                .questions
                .iter()
                .map(|q| LessonQuestionView {
                    text: bilingual(&q.text),
                    choices: q.choices.iter().map(bilingual).collect(),
                })
                .collect(),
            standing: standing(&row, &attempts, trained),
        })
    }

    /// Order 270 §13: an attempt at a lesson's current version, scored at its pass mark; a pass
    /// trains the caller for the lesson's system and activates their grants waiting for it. Audited
    /// with the score.
    pub async fn attempt_lesson(
        &self,
        caller: &Caller,
        id: &str,
        body: crate::Input<AttemptBody>,
    ) -> ServiceResult<AttemptView> {
        let attempt = Attempt::default();
        let r = self.attempt_lesson_in(&attempt, caller, id, body).await;
        self.settle(attempt, r).await
    }

    async fn attempt_lesson_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: &str,
        body: crate::Input<AttemptBody>,
    ) -> ServiceResult<AttemptView> {
        self.authorize(
            attempt,
            caller,
            Action::TakeLesson,
            &Resource::Registry,
            &format!("lesson/{id}"),
        )?;
        let body = body?;
        let row = self.current_lesson(id).await?;
        let l = parsed(&row)?;
        let mut errors = vec![];
        if body.version != row.version {
            errors.push(FieldError::new(
                "/version",
                "current_version",
                format!("the lesson's current version is {}", row.version),
            ));
        }
        if body.answers.len() != l.questions.len() {
            errors.push(FieldError::new(
                "/answers",
                "one_per_question",
                format!(
                    "{} answers for {} questions",
                    body.answers.len(),
                    l.questions.len()
                ),
            ));
        }
        let mut answers = vec![];
        for (i, (a, q)) in body.answers.iter().zip(&l.questions).enumerate() {
            match usize::try_from(*a) {
                Ok(n) if (1..=q.choices.len()).contains(&n) => answers.push(n - 1),
                _ => errors.push(FieldError::new(
                    format!("/answers/{i}"),
                    "choice",
                    format!("a choice from 1 to {}", q.choices.len()),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        let score = l.score(&answers).map_err(ServiceError::internal)?;
        let right: Vec<bool> = l
            .questions
            .iter()
            .zip(&answers)
            .map(|(q, a)| q.correct == *a)
            .collect();
        attempt.update(|e| {
            e.details = json!({"lesson": row.id, "version": row.version, "system": row.system.as_str(),
                "correct": score.correct, "total": score.total, "passed": score.passed});
        });
        let outcome = self
            .commit(
                attempt,
                Change::Training(Box::new(TrainingChange::Attempt(Box::new(NewAttempt {
                    lesson_id: row.id.clone(),
                    lesson_version: row.version,
                    system: row.system,
                    person_iin: caller.actor.iin.to_string(),
                    organization_bin: caller.actor.bin.to_string(),
                    answers: serde_json::to_string(&body.answers).unwrap_or_default(),
                    correct: i64::try_from(score.correct).unwrap_or(0),
                    total: i64::try_from(score.total).unwrap_or(0),
                    passed: score.passed,
                    at: caller.now,
                })))),
            )
            .await?;
        Ok(AttemptView {
            id: outcome.id.unwrap_or_default(),
            lesson: row.id,
            version: row.version,
            correct: score.correct,
            total: score.total,
            percent: score.percent,
            pass_percent: l.pass_percent,
            passed: score.passed,
            right,
            activated_grants: outcome.ids,
        })
    }

    /// Order 270 §15: the duties' text in every language, with its version.
    pub fn duties(&self) -> DutiesView {
        DutiesView {
            version: DUTIES_VERSION,
            kk: DUTIES.iter().map(|d| d.0.to_owned()).collect(),
            ru: DUTIES.iter().map(|d| d.1.to_owned()).collect(),
            en: DUTIES.iter().map(|d| d.2.to_owned()).collect(),
        }
    }

    /// Order 270 §15: the person of a grant accepts its duties before its first data read. Recorded on
    /// the grant with the text's version, audited.
    pub async fn accept_duties(
        &self,
        caller: &Caller,
        grant_id: i64,
        body: crate::Input<AcceptDutiesBody>,
    ) -> ServiceResult<GrantView> {
        let attempt = Attempt::default();
        let r = self
            .accept_duties_in(&attempt, caller, grant_id, body)
            .await;
        self.settle(attempt, r).await
    }

    async fn accept_duties_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        grant_id: i64,
        body: crate::Input<AcceptDutiesBody>,
    ) -> ServiceResult<GrantView> {
        let g = self
            .store
            .grant(grant_id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("grant {grant_id}")))?;
        let d = self.authorize(
            attempt,
            caller,
            Action::AcceptDuties,
            &grant_resource(&g),
            &format!("grant/{grant_id}"),
        );
        // Somebody else's grant is not told apart from a missing one.
        if d.is_err() {
            return Err(ServiceError::not_found(format!("grant {grant_id}")));
        }
        let body = body?;
        let mut errors = vec![];
        if body.version != DUTIES_VERSION {
            errors.push(FieldError::new(
                "/version",
                "current_version",
                format!("the duties' current version is {DUTIES_VERSION}"),
            ));
        }
        if !body.accept {
            errors.push(FieldError::new(
                "/accept",
                "must_accept",
                "the duties of Order 270 §15 are accepted as a whole",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        attempt.update(|e| e.details = json!({"grant": grant_id, "version": DUTIES_VERSION}));
        self.commit(
            attempt,
            Change::Training(Box::new(TrainingChange::AcceptDuties {
                grant_id,
                person_iin: caller.actor.iin.to_string(),
                organization_bin: caller.actor.bin.to_string(),
                version: i64::from(DUTIES_VERSION),
                at: caller.now,
            })),
        )
        .await?;
        let g = self
            .store
            .grant(grant_id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("grant {grant_id}")))?;
        Ok(self.grant_view(&g))
    }

    fn session_view(&self, s: &TrainingSessionRow, enrolled_me: bool) -> TrainingSessionView {
        let now = self.clock.now().as_microsecond();
        TrainingSessionView {
            id: s.id,
            systems: s.systems.iter().map(|x| x.as_str().to_owned()).collect(),
            language: s.language.clone(),
            mode: s.mode.clone(),
            place: s.place.clone(),
            starts_at: rfc3339_micros(s.starts_at),
            capacity: s.capacity,
            enrolled: s.enrolled,
            places_left: (s.capacity - s.enrolled).max(0),
            held_on: s.held_on.map(|d| d.to_string()),
            report_due: s.report_due.map(|d| d.to_string()),
            report_due_at: s.report_due_at.map(rfc3339_micros),
            report_due_provisional: s.report_due_provisional,
            report_overdue: s.report_sent_at.is_none() && s.report_due_at.is_some_and(|d| now > d),
            report_sent_at: s.report_sent_at.map(rfc3339_micros),
            report_signer: s.report_signer.clone(),
            begun: s.starts_at <= now,
            enrolled_me,
        }
    }

    async fn session_row(&self, id: i64) -> ServiceResult<TrainingSessionRow> {
        self.store
            .training_session(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("training session {id}")))
    }

    /// Order 270 §12: the integrator schedules an interactive session (online or in a room, in Kazakh
    /// or Russian, with a capacity).
    pub async fn schedule_session(
        &self,
        caller: &Caller,
        body: crate::Input<TrainingSessionBody>,
    ) -> ServiceResult<TrainingSessionView> {
        let attempt = Attempt::default();
        let r = self.schedule_session_in(&attempt, caller, body).await;
        self.settle(attempt, r).await
    }

    async fn schedule_session_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        body: crate::Input<TrainingSessionBody>,
    ) -> ServiceResult<TrainingSessionView> {
        self.authorize(
            attempt,
            caller,
            Action::ManageTraining,
            &Resource::Registry,
            "training_sessions",
        )?;
        let b = body?;
        let mut errors = vec![];
        let mut systems = vec![];
        for (i, s) in b.systems.iter().enumerate() {
            match s.parse::<System>() {
                Ok(s) if !systems.contains(&s) => systems.push(s),
                Ok(_) => {}
                Err(()) => errors.push(FieldError::new(
                    format!("/systems/{i}"),
                    "unknown_system",
                    "analytical_central or state_planning",
                )),
            }
        }
        if b.systems.is_empty() {
            errors.push(FieldError::new(
                "/systems",
                "required",
                "at least one system",
            ));
        }
        if !["kk", "ru"].contains(&b.language.as_str()) {
            errors.push(FieldError::new(
                "/language",
                "training_language",
                "kk or ru (Order 270 §12)",
            ));
        }
        if !["online", "room"].contains(&b.mode.as_str()) {
            errors.push(FieldError::new("/mode", "mode", "online or room"));
        }
        let place = b.place.trim();
        if place.is_empty() || place.chars().count() > 300 {
            errors.push(FieldError::new(
                "/place",
                "place",
                "the room's address or the meeting link, 1 to 300 characters",
            ));
        }
        let starts_at = match b.starts_at.parse::<Timestamp>().or_else(|_| {
            // A local time without an offset (a page's datetime field) is Almaty time.
            b.starts_at
                .parse::<jiff::civil::DateTime>()
                .and_then(|dt| dt.to_zoned(self.calendar.time_zone().clone()))
                .map(|z| z.timestamp())
        }) {
            Ok(t) if t > self.clock.now() => Some(t),
            Ok(_) => {
                errors.push(FieldError::new(
                    "/starts_at",
                    "future",
                    "a session is scheduled ahead",
                ));
                None
            }
            Err(_) => {
                errors.push(FieldError::new(
                    "/starts_at",
                    "timestamp",
                    "RFC 3339 with an offset, e.g. 2026-12-08T10:00:00+05:00",
                ));
                None
            }
        };
        if !(1..=500).contains(&b.capacity) {
            errors.push(FieldError::new("/capacity", "capacity", "1 to 500"));
        }
        let Some(starts_at) = starts_at.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::validation(errors));
        };
        let change = NewTrainingSession {
            systems,
            language: b.language.clone(),
            mode: b.mode.clone(),
            place: place.to_owned(),
            starts_at: starts_at.as_microsecond(),
            capacity: b.capacity,
            created_by: caller.actor_id(),
            created_at: caller.now,
        };
        attempt.update(|e| {
            e.creates = Some("training_session");
            e.details = json!({"systems": b.systems, "language": b.language, "mode": b.mode,
                "starts_at": starts_at.to_string(), "capacity": b.capacity});
        });
        let out = self
            .commit(
                attempt,
                Change::Training(Box::new(TrainingChange::ScheduleSession(Box::new(change)))),
            )
            .await?;
        let s = self.session_row(out.id.unwrap_or_default()).await?;
        Ok(self.session_view(&s, false))
    }

    /// The sessions, soonest first, each with whether the caller is enrolled.
    pub async fn training_sessions(
        &self,
        caller: &Caller,
    ) -> ServiceResult<Vec<TrainingSessionView>> {
        let attempt = Attempt::default();
        let r = self.training_sessions_in(&attempt, caller).await;
        self.settle(attempt, r).await
    }

    async fn training_sessions_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
    ) -> ServiceResult<Vec<TrainingSessionView>> {
        self.authorize(
            attempt,
            caller,
            Action::ReadTraining,
            &Resource::Registry,
            "training_sessions",
        )?;
        let mine = self
            .store
            .sessions_enrolled(caller.actor.iin.as_str())
            .await
            .map_err(ServiceError::store)?;
        let out = self
            .store
            .training_sessions()
            .await
            .map_err(ServiceError::store)?
            .iter()
            .map(|s| self.session_view(s, mine.contains(&s.id)))
            .collect();
        self.record(attempt).await?;
        Ok(out)
    }

    /// One session, with whether the caller is enrolled.
    pub async fn training_session(
        &self,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<TrainingSessionView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadTraining,
                &Resource::Registry,
                &format!("training_session/{id}"),
            )?;
            let s = self.session_row(id).await?;
            let me = self
                .store
                .sessions_enrolled(caller.actor.iin.as_str())
                .await
                .map_err(ServiceError::store)?
                .contains(&id);
            self.record(&attempt).await?;
            Ok(self.session_view(&s, me))
        }
        .await;
        self.settle(attempt, r).await
    }

    /// Order 270 §12: a user of a granted organization enrols, or their head enrols them. The trainee
    /// holds a live grant in the organization.
    pub async fn enrol(
        &self,
        caller: &Caller,
        session_id: i64,
        body: crate::Input<EnrolBody>,
    ) -> ServiceResult<EnrolmentView> {
        let attempt = Attempt::default();
        let r = self.enrol_in(&attempt, caller, session_id, body).await;
        self.settle(attempt, r).await
    }

    async fn enrol_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        session_id: i64,
        body: crate::Input<EnrolBody>,
    ) -> ServiceResult<EnrolmentView> {
        let body = body?;
        let iin = match body.iin.as_deref() {
            None => caller.actor.iin.clone(),
            Some(s) => Iin::parse(s.trim())
                .map_err(|e| ServiceError::field("/iin", e.rule(), e.to_string()))?,
        };
        let bin: Bin = caller.actor.bin.clone();
        self.authorize(
            attempt,
            caller,
            Action::EnrolInTraining,
            &Resource::Trainee {
                person_iin: iin.clone(),
                organization_bin: bin.clone(),
            },
            &format!("training_session/{session_id}"),
        )?;
        let grants = self
            .store
            .grants_of_person(iin.as_str(), bin.as_str())
            .await
            .map_err(ServiceError::store)?;
        if !grants.iter().any(|g| g.status.is_live()) {
            return Err(ServiceError::field(
                "/iin",
                "granted_user",
                format!("{iin} holds no live access granted to {bin}"),
            ));
        }
        attempt.update(|e| e.details = json!({"session": session_id, "iin": iin.as_str()}));
        self.commit(
            attempt,
            Change::Training(Box::new(TrainingChange::Enrol {
                session_id,
                person_iin: iin.to_string(),
                organization_bin: bin.to_string(),
                by: caller.actor_id(),
                at: caller.now,
            })),
        )
        .await
        .map_err(|e| match e.problem {
            crate::Problem::NotFound { .. } => {
                ServiceError::not_found(format!("training session {session_id}"))
            }
            _ => e,
        })?;
        Ok(EnrolmentView {
            session_id,
            person_iin: iin.to_string(),
            organization_bin: bin.to_string(),
            enrolled_by: caller.actor_id(),
            enrolled_at: rfc3339_micros(caller.now),
            attended: None,
        })
    }

    /// The enrolments of a session the caller may see: all of them for the integrator, otherwise the
    /// caller's own and (a head) their organization's. One trainee's IIN is never shown to another
    /// organization.
    pub async fn enrolments(
        &self,
        caller: &Caller,
        session_id: i64,
    ) -> ServiceResult<Vec<EnrolmentView>> {
        let attempt = Attempt::default();
        let r = self.enrolments_in(&attempt, caller, session_id).await;
        self.settle(attempt, r).await
    }

    async fn enrolments_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        session_id: i64,
    ) -> ServiceResult<Vec<EnrolmentView>> {
        let manage = self
            .decide(&caller.actor, Action::ManageTraining, &Resource::Registry)?
            .allowed;
        let d = self.authorize(
            attempt,
            caller,
            Action::ReadTraining,
            &Resource::Registry,
            &format!("training_session/{session_id}/enrolments"),
        )?;
        self.session_row(session_id).await?;
        let mut out = vec![];
        let mut policies: BTreeSet<String> = d.policies.into_iter().collect();
        for e in self
            .store
            .enrolments(session_id)
            .await
            .map_err(ServiceError::store)?
        {
            let visible = manage || {
                let r = Resource::Trainee {
                    person_iin: Iin::parse(&e.person_iin).map_err(ServiceError::internal)?,
                    organization_bin: Bin::parse(&e.organization_bin)
                        .map_err(ServiceError::internal)?,
                };
                let d = self.decide(&caller.actor, Action::EnrolInTraining, &r)?;
                policies.extend(d.policies);
                d.allowed
            };
            if visible {
                out.push(enrolment_view(&e));
            }
        }
        attempt.update(|e| {
            e.policies = policies.into_iter().collect();
            e.details = json!({"returned": out.len()});
        });
        self.record(attempt).await?;
        Ok(out)
    }

    /// Order 270 §12–§13: the integrator records who attended a session that has begun; attendance
    /// trains each attendee for the session's systems (activating their grants waiting for it), and
    /// the report's 5-working-day clock starts from the day it was held (Almaty).
    pub async fn record_attendance(
        &self,
        caller: &Caller,
        session_id: i64,
        body: crate::Input<AttendanceBody>,
    ) -> ServiceResult<TrainingSessionView> {
        let attempt = Attempt::default();
        let r = self
            .record_attendance_in(&attempt, caller, session_id, body)
            .await;
        self.settle(attempt, r).await
    }

    async fn record_attendance_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        session_id: i64,
        body: crate::Input<AttendanceBody>,
    ) -> ServiceResult<TrainingSessionView> {
        self.authorize(
            attempt,
            caller,
            Action::ManageTraining,
            &Resource::Registry,
            &format!("training_session/{session_id}"),
        )?;
        let body = body?;
        let s = self.session_row(session_id).await?;
        let starts = Timestamp::from_microsecond(s.starts_at).map_err(ServiceError::internal)?;
        if self.clock.now() < starts {
            return Err(ServiceError::new(crate::Problem::WrongState {
                current: format!("scheduled for {starts}"),
                expected: "begun (attendance is recorded once the session has begun)".into(),
            }));
        }
        let mut attended = vec![];
        let mut errors = vec![];
        for (i, a) in body.attended.iter().enumerate() {
            match Iin::parse(a.trim()) {
                Ok(iin) if !attended.contains(&iin.to_string()) => attended.push(iin.to_string()),
                Ok(_) => {}
                Err(e) => errors.push(FieldError::new(
                    format!("/attended/{i}"),
                    e.rule(),
                    e.to_string(),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        let held_on = self.calendar.almaty_date(starts);
        let due = self
            .calendar
            .deadline_from_date(held_on, TRAINING_REPORT_WORKING_DAYS)
            .map_err(ServiceError::internal)?;
        attempt.update(|e| {
            e.details = json!({"session": session_id, "held_on": held_on.to_string(),
                "attended": attended, "report_due": due.due.to_string()});
        });
        let out = self
            .commit(
                attempt,
                Change::Training(Box::new(TrainingChange::RecordAttendance {
                    session_id,
                    attended: attended.clone(),
                    held_on,
                    report_due: due,
                    by: caller.actor_id(),
                    at: caller.now,
                })),
            )
            .await?;
        tracing::info!(session = session_id, activated = ?out.ids, "attendance recorded");
        let s = self.session_row(session_id).await?;
        Ok(self.session_view(&s, false))
    }
}

impl Service {
    /// Order 270 §13: the report on a held session (trainees, attendance, lesson results) as JSON,
    /// CSV or PDF, for the integrator who sends it and the authorized body who receives it. The JSON
    /// is the content the integrator signs.
    pub async fn training_report(
        &self,
        caller: &Caller,
        session_id: i64,
        format: Option<String>,
    ) -> ServiceResult<crate::Report> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadReports,
                &Resource::Reports,
                &format!("training_session/{session_id}/report"),
            )?;
            let mut errors = vec![];
            let format = crate::reports::report_format(format.as_deref(), &mut errors);
            if !errors.is_empty() {
                return Err(ServiceError::validation(errors));
            }
            let report = self.held_session_report(session_id).await?;
            attempt.update(|e| {
                e.details = json!({"session": session_id, "format": format.as_str(),
                    "trainees": report.trainees.len()})
            });
            self.record(&attempt).await?;
            Ok(crate::Report {
                format,
                stem: format!("training-report-{session_id}"),
                title: report.title(),
                subtitle: report.subtitle(),
                tables: report.tables(),
                body: crate::ReportBody::Training(report),
            })
        }
        .await;
        self.settle(attempt, r).await
    }

    async fn held_session_report(
        &self,
        session_id: i64,
    ) -> ServiceResult<qoljetim_reports::TrainingReport> {
        let s = self.session_row(session_id).await?;
        if s.held_on.is_none() {
            return Err(ServiceError::new(crate::Problem::WrongState {
                current: "scheduled".into(),
                expected: "held (attendance recorded)".into(),
            }));
        }
        qoljetim_reports::training_report(&self.store, session_id)
            .await
            .map_err(ServiceError::internal)?
            .ok_or_else(|| ServiceError::not_found(format!("training session {session_id}")))
    }

    /// Order 270 §13: the integrator sends the report, signed (CMS with the report's JSON, by the
    /// integrator's first head or signing right, like an application); kept as evidence. The signed
    /// content must be the session's report as it stands.
    pub async fn send_training_report(
        &self,
        caller: &Caller,
        session_id: i64,
        body: &[u8],
    ) -> ServiceResult<TrainingSessionView> {
        let attempt = Attempt::default();
        let r = self
            .send_training_report_in(&attempt, caller, session_id, body)
            .await;
        self.settle(attempt, r).await
    }

    async fn send_training_report_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        session_id: i64,
        body: &[u8],
    ) -> ServiceResult<TrainingSessionView> {
        let at = self.clock.now();
        let resource = format!("training_session/{session_id}/report");
        let (cms, verified) = self
            .verified_body(
                attempt,
                body,
                at,
                anonymous("send_training_report", &resource, &caller.ip),
                false,
            )
            .await?;
        let d = self.authorize(
            attempt,
            caller,
            Action::ManageTraining,
            &Resource::Registry,
            &resource,
        )?;
        let mut e = caller_entry(caller, "send_training_report", resource, &d);
        e.details = signature_evidence(&verified);
        attempt.begin_for(caller, e);
        if self.config.production && verified.development_anchor {
            return Err(ServiceError::signature(
                &qoljetim_signature::SignatureError::DevelopmentCaRefused,
                false,
            ));
        }
        qoljetim_signature::require_application_signer(&verified.signer, &caller.actor.bin)
            .map_err(|e| ServiceError::signature(&e, false))?;
        let report = self.held_session_report(session_id).await?;
        let signed: serde_json::Value = serde_json::from_slice(&verified.content)
            .map_err(|e| ServiceError::field("/signed_cms", "report_json", e.to_string()))?;
        let expected = serde_json::to_value(&report).map_err(ServiceError::internal)?;
        if signed != expected {
            return Err(ServiceError::field(
                "/signed_cms",
                "report_content",
                "the signed content is not the session's report as it stands: sign GET …/report?format=json",
            ));
        }
        let sha256 = hex::encode(Sha256::digest(&verified.content));
        attempt.update(|e| {
            e.details["report_sha256"] = json!(sha256);
        });
        self.commit(
            attempt,
            Change::Training(Box::new(TrainingChange::SendReport {
                session_id,
                evidence: cms,
                sha256,
                signer: signer_id(&verified.signer),
                at: at.as_microsecond(),
            })),
        )
        .await?;
        let s = self.session_row(session_id).await?;
        Ok(self.session_view(&s, false))
    }

    /// The signed report of a session as received (CMS, DER): the evidence `openssl cms -verify` reads.
    pub async fn training_report_evidence(
        &self,
        caller: &Caller,
        session_id: i64,
    ) -> ServiceResult<Vec<u8>> {
        let attempt = Attempt::default();
        let r = async {
            self.authorize(
                &attempt,
                caller,
                Action::ReadReports,
                &Resource::Reports,
                &format!("training_session/{session_id}/report/evidence"),
            )?;
            let cms = self
                .store
                .training_report_evidence(session_id)
                .await
                .map_err(ServiceError::store)?
                .ok_or_else(|| {
                    ServiceError::not_found(format!("signed report of session {session_id}"))
                })?;
            self.record(&attempt).await?;
            Ok(cms)
        }
        .await;
        self.settle(attempt, r).await
    }
}

fn enrolment_view(e: &EnrolmentRow) -> EnrolmentView {
    EnrolmentView {
        session_id: e.session_id,
        person_iin: e.person_iin.clone(),
        organization_bin: e.organization_bin.clone(),
        enrolled_by: e.enrolled_by.clone(),
        enrolled_at: rfc3339_micros(e.enrolled_at),
        attended: e.attended,
    }
}
