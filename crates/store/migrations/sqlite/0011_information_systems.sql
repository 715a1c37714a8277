-- Issue 18 (Order 270 §3): an organization applies for its own information system on an application
-- line of kind information_system (numbered among the person lines); a granted line registers the
-- system (its certificate's serial and issuer) and grants it the scope of the organization's kind.
CREATE TABLE system_lines (
    application_id BIGINT NOT NULL REFERENCES applications(id),
    line BIGINT NOT NULL,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    certificate_issuer TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (application_id, line)
);

CREATE TABLE information_systems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_bin TEXT NOT NULL REFERENCES organizations(bin),
    name TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    certificate_issuer TEXT NOT NULL,
    application_id BIGINT NOT NULL REFERENCES applications(id),
    line BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (application_id, line)
);
CREATE INDEX information_systems_certificate ON information_systems(certificate_serial);

CREATE TABLE system_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    information_system_id BIGINT NOT NULL REFERENCES information_systems(id),
    application_id BIGINT NOT NULL REFERENCES applications(id),
    line BIGINT NOT NULL,
    organization_bin TEXT NOT NULL REFERENCES organizations(bin),
    system TEXT NOT NULL,
    status TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    ended_at BIGINT,
    end_reason TEXT,
    UNIQUE (application_id, line, system)
);
