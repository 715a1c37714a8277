-- Issue 16: the manuals (Order 270 §7, §12) are versioned; each reader's last read version of each
-- manual, so the manual's page shows what changed since.
CREATE TABLE manual_reads (
    iin TEXT NOT NULL,
    bin TEXT NOT NULL,
    manual TEXT NOT NULL,
    version BIGINT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (iin, bin, manual)
);
