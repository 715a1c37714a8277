-- Issue 16: the support service (Order 270 §14). A request of a user, head or operator, in kk or ru,
-- answered, assigned and resolved by the integrator's support staff; the first answer's working-day
-- clock; attachments kept as received (type checked by content, at most 10 MiB each).
CREATE TABLE support_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requester_iin TEXT NOT NULL,
    requester_bin TEXT NOT NULL,
    category TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    linked_kind TEXT,
    linked_id BIGINT,
    status TEXT NOT NULL,
    assignee TEXT,
    opened_at BIGINT NOT NULL,
    first_answer_due TEXT NOT NULL,
    first_answer_due_at BIGINT NOT NULL,
    first_answer_due_provisional BIGINT NOT NULL,
    first_answered_at BIGINT,
    resolved_at BIGINT
);
CREATE INDEX support_requests_requester ON support_requests(requester_iin, requester_bin);
CREATE INDEX support_requests_status ON support_requests(status, first_answer_due_at);

CREATE TABLE support_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BIGINT NOT NULL REFERENCES support_requests(id),
    author TEXT NOT NULL,
    from_support BIGINT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX support_messages_request ON support_messages(request_id);

CREATE TABLE support_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BIGINT NOT NULL REFERENCES support_requests(id),
    author TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BLOB NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX support_attachments_request ON support_attachments(request_id);
