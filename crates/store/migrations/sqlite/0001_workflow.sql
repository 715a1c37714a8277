-- Qoljetim schema, SQLite.

CREATE TABLE organizations (
    bin TEXT PRIMARY KEY,
    name_kk TEXT NOT NULL,
    name_ru TEXT NOT NULL,
    kind TEXT NOT NULL,
    territory TEXT,
    administrators TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE staff (
    iin TEXT NOT NULL,
    bin TEXT NOT NULL REFERENCES organizations(bin),
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (iin, bin, role)
);

-- One-time sign-in challenges that were used: a second use conflicts on the key.
CREATE TABLE used_challenges (
    challenge TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_challenges_expiry ON used_challenges(expires_at);

-- Sessions: the opaque token is stored only as its SHA-256.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    iin TEXT NOT NULL,
    bin TEXT NOT NULL REFERENCES organizations(bin),
    roles TEXT NOT NULL,
    person TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    applicant_bin TEXT NOT NULL REFERENCES organizations(bin),
    status TEXT NOT NULL,
    form_date TEXT NOT NULL,
    systems TEXT NOT NULL,
    head TEXT NOT NULL,
    signer_iin TEXT NOT NULL,
    signer_name TEXT NOT NULL,
    signer_certificate BLOB NOT NULL,
    claimed_signing_time BIGINT,
    trust_anchor TEXT NOT NULL,
    revocation TEXT NOT NULL,
    evidence BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    review_due TEXT NOT NULL,
    review_due_at BIGINT NOT NULL,
    review_due_provisional BIGINT NOT NULL,
    reviewed_at BIGINT,
    reviewed_by TEXT,
    grant_due TEXT,
    grant_due_at BIGINT,
    grant_due_provisional BIGINT,
    granted_at BIGINT,
    granted_by TEXT
);
CREATE INDEX applications_applicant ON applications(applicant_bin);
CREATE INDEX applications_status ON applications(status);

CREATE TABLE application_lines (
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
    access_until_requested TEXT NOT NULL,
    access_until_effective TEXT NOT NULL,
    notice TEXT,
    eqyzmet_qr TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (application_id, line)
);
CREATE INDEX application_lines_iin ON application_lines(iin);

CREATE TABLE grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BIGINT NOT NULL REFERENCES applications(id),
    line BIGINT NOT NULL,
    person_iin TEXT NOT NULL,
    organization_bin TEXT NOT NULL REFERENCES organizations(bin),
    system TEXT NOT NULL,
    status TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    access_until_requested TEXT NOT NULL,
    notice TEXT,
    scope TEXT NOT NULL,
    extra_years_reason TEXT,
    granted_by TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    UNIQUE (application_id, line, system)
);
CREATE INDEX grants_person ON grants(person_iin, organization_bin);

-- The audit chain: each record holds the SHA-256 of the previous one.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    actor_bin TEXT,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ip TEXT NOT NULL,
    policies TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
