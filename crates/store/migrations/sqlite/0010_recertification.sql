-- Issue 17: recertification campaigns. The integrator (or the schedule) opens a campaign for an
-- organization: one line per grant live at the opening; the organization's head confirms or withdraws
-- each line by a signed answer (kept as evidence); lines not answered by the deadline are blocked.
CREATE TABLE recertification_campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_bin TEXT NOT NULL REFERENCES organizations(bin),
    status TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    due TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    due_provisional BIGINT NOT NULL,
    remind_at BIGINT NOT NULL,
    closed_at BIGINT
);
-- One open campaign per organization.
CREATE UNIQUE INDEX recertification_one_open ON recertification_campaigns(organization_bin) WHERE status = 'open';

CREATE TABLE recertification_answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id BIGINT NOT NULL REFERENCES recertification_campaigns(id),
    signer TEXT NOT NULL,
    signer_name TEXT NOT NULL,
    evidence BLOB NOT NULL,
    content_sha256 TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL
);
CREATE INDEX recertification_answers_campaign ON recertification_answers(campaign_id);

CREATE TABLE recertification_lines (
    campaign_id BIGINT NOT NULL REFERENCES recertification_campaigns(id),
    grant_id BIGINT NOT NULL REFERENCES grants(id),
    person_iin TEXT NOT NULL,
    person_name TEXT NOT NULL,
    system TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    outcome TEXT NOT NULL,
    answer_id BIGINT REFERENCES recertification_answers(id),
    reason TEXT,
    decided_at BIGINT,
    PRIMARY KEY (campaign_id, grant_id)
);
