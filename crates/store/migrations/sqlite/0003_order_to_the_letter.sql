-- Order 270 read against the Kazakh text (issue 6 of the order's re-reading). SQLite.

-- Appendix form: no until-date column (absent = one full year); the contact details are a work phone
-- and an e-mail address. SQLite cannot drop NOT NULL, so the two tables are rebuilt (nothing refers to
-- their rows by foreign key).
CREATE TABLE application_lines_new (
    application_id BIGINT NOT NULL REFERENCES applications(id),
    line BIGINT NOT NULL,
    iin TEXT NOT NULL,
    surname TEXT NOT NULL,
    name TEXT NOT NULL,
    patronymic TEXT,
    position TEXT NOT NULL,
    unit TEXT NOT NULL,
    phone TEXT NOT NULL,
    purpose TEXT NOT NULL,
    access_until_requested TEXT,
    access_until_effective TEXT NOT NULL,
    notice TEXT,
    eqyzmet_qr TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    hr_status TEXT NOT NULL DEFAULT 'pending',
    hr_detail TEXT,
    hr_checked_at BIGINT,
    hr_attempts BIGINT NOT NULL DEFAULT 0,
    hr_next_check_at BIGINT NOT NULL DEFAULT 0,
    hr_last_error TEXT,
    hr_event_id BIGINT,
    email TEXT,
    PRIMARY KEY (application_id, line)
);
INSERT INTO application_lines_new (application_id, line, iin, surname, name, patronymic, position, unit, phone, purpose,
    access_until_requested, access_until_effective, notice, eqyzmet_qr, status, reason, hr_status, hr_detail, hr_checked_at,
    hr_attempts, hr_next_check_at, hr_last_error, hr_event_id)
SELECT application_id, line, iin, surname, name, patronymic, position, unit, phone, purpose,
    access_until_requested, access_until_effective, notice, eqyzmet_qr, status, reason, hr_status, hr_detail, hr_checked_at,
    hr_attempts, hr_next_check_at, hr_last_error, hr_event_id FROM application_lines;
DROP TABLE application_lines;
ALTER TABLE application_lines_new RENAME TO application_lines;
CREATE INDEX application_lines_iin ON application_lines(iin);
CREATE INDEX application_lines_hr ON application_lines(hr_status, hr_next_check_at);

CREATE TABLE grants_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BIGINT NOT NULL REFERENCES applications(id),
    line BIGINT NOT NULL,
    person_iin TEXT NOT NULL,
    organization_bin TEXT NOT NULL REFERENCES organizations(bin),
    system TEXT NOT NULL,
    status TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    access_until_requested TEXT,
    notice TEXT,
    scope TEXT NOT NULL,
    extra_years_reason TEXT,
    granted_by TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    ended_at BIGINT,
    end_reason TEXT,
    hr_event_id BIGINT,
    UNIQUE (application_id, line, system)
);
INSERT INTO grants_new (id, application_id, line, person_iin, organization_bin, system, status, valid_from, valid_until,
    access_until_requested, notice, scope, extra_years_reason, granted_by, granted_at, ended_at, end_reason, hr_event_id)
SELECT id, application_id, line, person_iin, organization_bin, system, status, valid_from, valid_until,
    access_until_requested, notice, scope, extra_years_reason, granted_by, granted_at, ended_at, end_reason, hr_event_id FROM grants;
DROP TABLE grants;
ALTER TABLE grants_new RENAME TO grants;
CREATE INDEX grants_person ON grants(person_iin, organization_bin);
CREATE INDEX grants_status ON grants(status, valid_until);

-- §2.6: an organization that is not a state audit body under the order (the internal audit services of
-- the National Bank and of the financial-market regulator, or a BIN on the excluded list) keeps its
-- record but is not eligible: `excluded` holds the clause, NULL = eligible.
ALTER TABLE organizations ADD COLUMN excluded TEXT;

-- §9: the employing body's signed block request; each line becomes a block event beside the HR events.
CREATE TABLE block_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    applicant_bin TEXT NOT NULL REFERENCES organizations(bin),
    form_date TEXT NOT NULL,
    signer_iin TEXT NOT NULL,
    signer_name TEXT NOT NULL,
    signer_certificate BLOB NOT NULL,
    trust_anchor TEXT NOT NULL,
    verification TEXT NOT NULL,
    evidence BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    lines BIGINT NOT NULL
);
CREATE INDEX block_requests_applicant ON block_requests(applicant_bin);

-- An event whose effective date lies ahead blocks at the start of that day (Almaty): scheduled_for is
-- that date, applied_at the instant the block was made (NULL while scheduled).
ALTER TABLE hr_events ADD COLUMN block_request_id BIGINT;
ALTER TABLE hr_events ADD COLUMN scheduled_for TEXT;
ALTER TABLE hr_events ADD COLUMN applied_at BIGINT;
UPDATE hr_events SET applied_at = received_at;
CREATE INDEX hr_events_scheduled ON hr_events(applied_at, scheduled_for);
