-- Issue 18 (Order 270 §3): an information system signs in with its own certificate and gets a bearer
-- token of minutes, kept hashed like a person's session. The grants live at sign-in are kept with the
-- token: when any of them is no longer live (blocked, revoked, expired), the token ends at its next
-- request.
CREATE TABLE system_tokens (
    token_hash TEXT PRIMARY KEY,
    information_system_id BIGINT NOT NULL REFERENCES information_systems(id),
    organization_bin TEXT NOT NULL REFERENCES organizations(bin),
    org_kind TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    trust_anchor TEXT NOT NULL,
    grant_ids TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX system_tokens_system ON system_tokens(information_system_id);
