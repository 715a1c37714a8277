-- Qoljetim schema, SQLite. Lifecycle (Order 270 §8–§9): HR registry checks on lines, HR events that block grants, expiry,
-- profiles, notifications and the e-mail outbox, worker runs.

-- What the HR registry (E-Qyzmet) said about each line; the worker asks, the reviewer reads.
ALTER TABLE application_lines ADD COLUMN hr_status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE application_lines ADD COLUMN hr_detail TEXT;
ALTER TABLE application_lines ADD COLUMN hr_checked_at BIGINT;
ALTER TABLE application_lines ADD COLUMN hr_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE application_lines ADD COLUMN hr_next_check_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE application_lines ADD COLUMN hr_last_error TEXT;
-- An HR event that ended the person's powers after the line was submitted: the line is not granted.
ALTER TABLE application_lines ADD COLUMN hr_event_id BIGINT;
CREATE INDEX application_lines_hr ON application_lines(hr_status, hr_next_check_at);

-- How a grant ended: expired (validity over), blocked (HR event), with when and why.
ALTER TABLE grants ADD COLUMN ended_at BIGINT;
ALTER TABLE grants ADD COLUMN end_reason TEXT;
ALTER TABLE grants ADD COLUMN hr_event_id BIGINT;
CREATE INDEX grants_status ON grants(status, valid_until);

-- Dismissals and transfers. The same event (by id, or by kind, person, organization, date and order)
-- is stored once; the block clock (3 working days from the end of powers) is recorded with its outcome.
CREATE TABLE hr_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    iin TEXT NOT NULL,
    bin TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    order_number TEXT NOT NULL,
    order_date TEXT,
    new_position TEXT,
    received_at BIGINT NOT NULL,
    block_due TEXT NOT NULL,
    block_due_at BIGINT NOT NULL,
    block_due_provisional BIGINT NOT NULL,
    grants_blocked BIGINT NOT NULL,
    sessions_ended BIGINT NOT NULL,
    lines_stopped BIGINT NOT NULL,
    met BIGINT NOT NULL,
    working_days_taken BIGINT NOT NULL,
    evidence BLOB,
    UNIQUE (kind, iin, bin, effective_date, order_number)
);
CREATE INDEX hr_events_person ON hr_events(iin, bin);
CREATE INDEX hr_events_effective ON hr_events(effective_date);

-- The file adapter's registry: posts from imported personnel lists, replaced per organization.
CREATE TABLE hr_personnel (
    bin TEXT NOT NULL,
    iin TEXT NOT NULL,
    position TEXT NOT NULL,
    unit TEXT,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (bin, iin, position)
);
CREATE INDEX hr_personnel_iin ON hr_personnel(iin);

-- What a person sets after signing in: the e-mail for notifications and the language of them.
CREATE TABLE profiles (
    iin TEXT NOT NULL,
    bin TEXT NOT NULL,
    email TEXT,
    language TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (iin, bin)
);

-- In-app notifications; dedupe_key makes every reminder and flag fire once.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient_iin TEXT NOT NULL,
    recipient_bin TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_ref TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    title_kk TEXT NOT NULL,
    title_ru TEXT NOT NULL,
    body_kk TEXT NOT NULL,
    body_ru TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX notifications_recipient ON notifications(recipient_iin, recipient_bin);

-- E-mails to send. pending → sending (claimed, committed before the SMTP call) → sent; a refused or
-- failed send goes back to pending with a later attempt; a claim found after a crash is 'uncertain'
-- (it may have reached the relay) and waits for an operator instead of being sent twice.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id BIGINT NOT NULL REFERENCES notifications(id),
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    claimed_at BIGINT,
    sent_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

-- Each run of the worker's jobs, with the clock it ran at and what it did.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    clock_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    summary TEXT
);
