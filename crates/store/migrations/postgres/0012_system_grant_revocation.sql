-- Issue 18: the integrator revokes one information system's grant with a reason, as a person's.
ALTER TABLE system_grants ADD COLUMN revoke_reason TEXT;
ALTER TABLE system_grants ADD COLUMN revoked_by TEXT;
