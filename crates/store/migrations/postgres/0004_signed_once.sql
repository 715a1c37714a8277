-- Issue 15: a signed document is accepted once. The SHA-256 (hex) of the signed content of each
-- application and block request; the same content again answers with the record it made. Records
-- received before this migration have none (NULL is never equal: they stay as they are).
ALTER TABLE applications ADD COLUMN content_sha256 TEXT;
CREATE UNIQUE INDEX applications_content ON applications(content_sha256);
ALTER TABLE block_requests ADD COLUMN content_sha256 TEXT;
CREATE UNIQUE INDEX block_requests_content ON block_requests(content_sha256);
