-- Issue 17: change requests (Order 270 §10): drafted by the integrator, agreed (or returned) by the body
-- the rule of competence names, approved by the authorized body; each decision a signed CMS kept as
-- evidence; the versions deployed and the approved requests each implements.
CREATE TABLE change_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    what TEXT NOT NULL,
    why TEXT NOT NULL,
    component TEXT NOT NULL,
    risk TEXT NOT NULL,
    rollback TEXT NOT NULL,
    revision BIGINT NOT NULL,
    agreeing_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    submitted_at BIGINT NOT NULL,
    agreement_due TEXT NOT NULL,
    agreement_due_at BIGINT NOT NULL,
    agreement_due_provisional BIGINT NOT NULL,
    agreed_at BIGINT,
    approval_due TEXT,
    approval_due_at BIGINT,
    approval_due_provisional BIGINT NOT NULL DEFAULT 0,
    approved_at BIGINT
);

CREATE TABLE change_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BIGINT NOT NULL REFERENCES change_requests(id),
    revision BIGINT NOT NULL,
    decision TEXT NOT NULL,
    reasons TEXT,
    signer TEXT NOT NULL,
    signer_name TEXT NOT NULL,
    evidence BLOB NOT NULL,
    content_sha256 TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL
);
CREATE INDEX change_decisions_request ON change_decisions(request_id);

CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL UNIQUE,
    implements TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
