-- Issue 17: the operators' daily work. A single grant revoked with its reason and who revoked it (status
-- 'revoked'); an organization deactivated (its grants blocked, its applications refused).
ALTER TABLE grants ADD COLUMN revoke_reason TEXT;
ALTER TABLE grants ADD COLUMN revoked_by TEXT;
ALTER TABLE organizations ADD COLUMN deactivated_at BIGINT;
ALTER TABLE organizations ADD COLUMN deactivated_reason TEXT;
