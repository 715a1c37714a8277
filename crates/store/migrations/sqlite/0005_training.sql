-- Issue 16: training before first work (Order 270 §12–§13), the §15 duties, the support service (§14).

-- A grant made from now on starts pending_training unless its person already passed the current
-- version of the system's lesson; training_source says what trained them (lesson:<id>@<version>,
-- session:<id>). duties_required marks the grants made from now on: their first data read waits for
-- the person's acceptance of the §15 duties. Grants made before this migration keep their status
-- and need neither (the issue: grants active before this change stay active).
ALTER TABLE grants ADD COLUMN trained_at BIGINT;
ALTER TABLE grants ADD COLUMN training_source TEXT;
ALTER TABLE grants ADD COLUMN duties_required BIGINT NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN duties_accepted_at BIGINT;
ALTER TABLE grants ADD COLUMN duties_version BIGINT;

-- Lessons as the integrator loaded them (qoljetim lessons load): every version kept, the newest
-- version of a system's lesson is the current one.
CREATE TABLE lessons (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    system TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    loaded_at BIGINT NOT NULL,
    loaded_by TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

-- Each attempt at a lesson: the answers given and the score.
CREATE TABLE lesson_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson_id TEXT NOT NULL,
    lesson_version BIGINT NOT NULL,
    system TEXT NOT NULL,
    person_iin TEXT NOT NULL,
    organization_bin TEXT NOT NULL,
    answers TEXT NOT NULL,
    correct BIGINT NOT NULL,
    total BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX lesson_attempts_person ON lesson_attempts(person_iin, system);

-- What trained a person for a system at a lesson version: a passed lesson or an attended session.
CREATE TABLE training_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_iin TEXT NOT NULL,
    system TEXT NOT NULL,
    lesson_version BIGINT NOT NULL,
    source TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX training_records_person ON training_records(person_iin, system);

-- Interactive training sessions (§12) and the integrator's report on each (§13).
CREATE TABLE training_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    systems TEXT NOT NULL,
    language TEXT NOT NULL,
    mode TEXT NOT NULL,
    place TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    held_on TEXT,
    attendance_by TEXT,
    attendance_at BIGINT,
    report_due TEXT,
    report_due_at BIGINT,
    report_due_provisional BIGINT NOT NULL DEFAULT 0,
    report_sent_at BIGINT,
    report_signer TEXT,
    report_evidence BLOB,
    report_sha256 TEXT
);
CREATE INDEX training_sessions_report ON training_sessions(report_sent_at, report_due_at);

CREATE TABLE session_enrolments (
    session_id BIGINT NOT NULL REFERENCES training_sessions(id),
    person_iin TEXT NOT NULL,
    organization_bin TEXT NOT NULL,
    enrolled_by TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    attended BIGINT,
    PRIMARY KEY (session_id, person_iin)
);
