//! The support service (Order 270 §14): requests, their messages and attachments, the first answer's
//! clock. Each change writes its notifications (and their e-mails) in the same transaction, so an
//! answer is never recorded without its notice, nor a notice sent for an answer that was not kept.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::lifecycle::{NewNotification, notify};
use crate::tx::{Applied, ChangeOutcome, Failure, b};
use crate::{Conflict, Result, Store};

#[derive(Debug, Clone)]
pub struct NewSupportRequest {
    pub requester_iin: String,
    pub requester_bin: String,
    /// work, technical, training.
    pub category: String,
    /// kk or ru.
    pub language: String,
    pub subject: String,
    /// application, grant, data_query (an audit record's id), with its id.
    pub linked: Option<(String, i64)>,
    pub body: String,
    pub opened_at: i64,
    pub first_answer_due: qoljetim_domain::calendar::Deadline,
}

#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub enum SupportChange {
    /// A new request with its first message; `{request}` in the notices' subject and e-mail body
    /// becomes the new request's id.
    Open {
        request: Box<NewSupportRequest>,
        notify: Vec<NewNotification>,
    },
    /// A message on a request; from support, the first one is the first answer.
    Message {
        request_id: i64,
        author: String,
        from_support: bool,
        body: String,
        at: i64,
        notify: Vec<NewNotification>,
    },
    Assign {
        request_id: i64,
        assignee: String,
        notify: Vec<NewNotification>,
    },
    Resolve {
        request_id: i64,
        at: i64,
        notify: Vec<NewNotification>,
    },
    Attach {
        request_id: i64,
        author: String,
        attachment: Box<NewAttachment>,
        at: i64,
    },
}

async fn status_of(conn: &mut AnyConnection, id: i64) -> std::result::Result<String, Failure> {
    let r = sqlx::query("SELECT status FROM support_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Failure::Conflict(Conflict::NotFound))?;
    Ok(r.try_get("status")?)
}

/// A resolved request takes no more messages, assignments or attachments.
async fn open_request(conn: &mut AnyConnection, id: i64) -> std::result::Result<(), Failure> {
    let status = status_of(conn, id).await?;
    if status == "resolved" {
        return Err(Failure::Conflict(Conflict::WrongState {
            current: status,
            expected: "open or answered",
        }));
    }
    Ok(())
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &SupportChange) -> Applied {
    let mut out = ChangeOutcome::default();
    match change {
        SupportChange::Open {
            request: r,
            notify: n,
        } => {
            let row = sqlx::query(
                "INSERT INTO support_requests (requester_iin, requester_bin, category, language, subject, linked_kind, linked_id, \
                 status, opened_at, first_answer_due, first_answer_due_at, first_answer_due_provisional) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11) RETURNING id",
            )
            .bind(&r.requester_iin)
            .bind(&r.requester_bin)
            .bind(&r.category)
            .bind(&r.language)
            .bind(&r.subject)
            .bind(r.linked.as_ref().map(|l| l.0.clone()))
            .bind(r.linked.as_ref().map(|l| l.1))
            .bind(r.opened_at)
            .bind(r.first_answer_due.due.to_string())
            .bind(r.first_answer_due.due_at.as_microsecond())
            .bind(b(r.first_answer_due.provisional))
            .fetch_one(&mut *conn)
            .await?;
            let id: i64 = row.try_get("id")?;
            sqlx::query(
                "INSERT INTO support_messages (request_id, author, from_support, body, at) VALUES ($1, $2, 0, $3, $4)",
            )
            .bind(id)
            .bind(format!("{}@{}", r.requester_iin, r.requester_bin))
            .bind(&r.body)
            .bind(r.opened_at)
            .execute(&mut *conn)
            .await?;
            let n: Vec<NewNotification> = n
                .iter()
                .cloned()
                .map(|mut x| {
                    x.subject_ref = x.subject_ref.replace("{request}", &id.to_string());
                    x.dedupe_key = x.dedupe_key.replace("{request}", &id.to_string());
                    if let Some(e) = x.email.as_mut() {
                        e.body = e.body.replace("{request}", &id.to_string());
                    }
                    x
                })
                .collect();
            notify(conn, &n, &mut out).await?;
            out.id = Some(id);
        }
        SupportChange::Message {
            request_id,
            author,
            from_support,
            body,
            at,
            notify: n,
        } => {
            open_request(conn, *request_id).await?;
            let row = sqlx::query(
                "INSERT INTO support_messages (request_id, author, from_support, body, at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(*request_id)
            .bind(author)
            .bind(b(*from_support))
            .bind(body)
            .bind(*at)
            .fetch_one(&mut *conn)
            .await?;
            let status = if *from_support { "answered" } else { "open" };
            sqlx::query(
                "UPDATE support_requests SET status = $1, \
                 first_answered_at = CASE WHEN $2 = 1 AND first_answered_at IS NULL THEN $3 ELSE first_answered_at END \
                 WHERE id = $4",
            )
            .bind(status)
            .bind(b(*from_support))
            .bind(*at)
            .bind(*request_id)
            .execute(&mut *conn)
            .await?;
            notify(conn, n, &mut out).await?;
            out.id = Some(row.try_get("id")?);
        }
        SupportChange::Assign {
            request_id,
            assignee,
            notify: n,
        } => {
            open_request(conn, *request_id).await?;
            sqlx::query("UPDATE support_requests SET assignee = $1 WHERE id = $2")
                .bind(assignee)
                .bind(*request_id)
                .execute(&mut *conn)
                .await?;
            notify(conn, n, &mut out).await?;
            out.id = Some(*request_id);
        }
        SupportChange::Resolve {
            request_id,
            at,
            notify: n,
        } => {
            open_request(conn, *request_id).await?;
            sqlx::query(
                "UPDATE support_requests SET status = 'resolved', resolved_at = $1 WHERE id = $2",
            )
            .bind(*at)
            .bind(*request_id)
            .execute(&mut *conn)
            .await?;
            notify(conn, n, &mut out).await?;
            out.id = Some(*request_id);
        }
        SupportChange::Attach {
            request_id,
            author,
            attachment: a,
            at,
        } => {
            open_request(conn, *request_id).await?;
            let row = sqlx::query(
                "INSERT INTO support_attachments (request_id, author, filename, content_type, size, sha256, bytes, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(*request_id)
            .bind(author)
            .bind(&a.filename)
            .bind(&a.content_type)
            .bind(i64::try_from(a.bytes.len()).unwrap_or(i64::MAX))
            .bind(&a.sha256)
            .bind(a.bytes.clone())
            .bind(*at)
            .fetch_one(&mut *conn)
            .await?;
            out.id = Some(row.try_get("id")?);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct SupportRequestRow {
    pub id: i64,
    pub requester_iin: String,
    pub requester_bin: String,
    pub category: String,
    pub language: String,
    pub subject: String,
    pub linked_kind: Option<String>,
    pub linked_id: Option<i64>,
    pub status: String,
    pub assignee: Option<String>,
    pub opened_at: i64,
    pub first_answer_due: String,
    pub first_answer_due_at: i64,
    pub first_answer_due_provisional: bool,
    pub first_answered_at: Option<i64>,
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SupportMessageRow {
    pub id: i64,
    pub author: String,
    pub from_support: bool,
    pub body: String,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct AttachmentRow {
    pub id: i64,
    pub request_id: i64,
    pub author: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub at: i64,
}

const REQUEST_COLUMNS: &str = "id, requester_iin, requester_bin, category, language, subject, linked_kind, linked_id, status, \
    assignee, opened_at, first_answer_due, first_answer_due_at, first_answer_due_provisional, first_answered_at, resolved_at";

fn request(r: &AnyRow) -> Result<SupportRequestRow> {
    Ok(SupportRequestRow {
        id: r.try_get("id")?,
        requester_iin: r.try_get("requester_iin")?,
        requester_bin: r.try_get("requester_bin")?,
        category: r.try_get("category")?,
        language: r.try_get("language")?,
        subject: r.try_get("subject")?,
        linked_kind: r.try_get("linked_kind")?,
        linked_id: r.try_get("linked_id")?,
        status: r.try_get("status")?,
        assignee: r.try_get("assignee")?,
        opened_at: r.try_get("opened_at")?,
        first_answer_due: r.try_get("first_answer_due")?,
        first_answer_due_at: r.try_get("first_answer_due_at")?,
        first_answer_due_provisional: r.try_get::<i64, _>("first_answer_due_provisional")? != 0,
        first_answered_at: r.try_get("first_answered_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

const ATTACHMENT_COLUMNS: &str = "id, request_id, author, filename, content_type, size, sha256, at";

fn attachment(r: &AnyRow) -> Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: r.try_get("id")?,
        request_id: r.try_get("request_id")?,
        author: r.try_get("author")?,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        at: r.try_get("at")?,
    })
}

impl Store {
    /// The version of `manual` the reader last read, if any.
    pub async fn manual_read(&self, iin: &str, bin: &str, manual: &str) -> Result<Option<i64>> {
        let r = sqlx::query(
            "SELECT version FROM manual_reads WHERE iin = $1 AND bin = $2 AND manual = $3",
        )
        .bind(iin)
        .bind(bin)
        .bind(manual)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match r {
            Some(r) => Some(r.try_get("version")?),
            None => None,
        })
    }

    /// Grants made at or after `at` (µs), oldest first: the worker's notices of new grants.
    pub async fn grants_granted_since(&self, at: i64) -> Result<Vec<crate::GrantRow>> {
        self.grants_after(at).await
    }

    /// Requests, newest first: one requester's (`Some((iin, bin))`) or everyone's.
    pub async fn support_requests(
        &self,
        requester: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<SupportRequestRow>> {
        let rows = match requester {
            Some((iin, bin)) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {REQUEST_COLUMNS} FROM support_requests WHERE requester_iin = $1 AND requester_bin = $2 ORDER BY id DESC LIMIT $3"
                )))
                .bind(iin)
                .bind(bin)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {REQUEST_COLUMNS} FROM support_requests ORDER BY id DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(request).collect()
    }

    /// Requests opened between two instants (µs), for the first-answer clock's report.
    pub async fn support_requests_opened_between(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<SupportRequestRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM support_requests WHERE opened_at >= $1 AND opened_at <= $2 ORDER BY id"
        )))
        .bind(start)
        .bind(end)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request).collect()
    }

    pub async fn support_request(&self, id: i64) -> Result<Option<SupportRequestRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM support_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(request).transpose()
    }

    pub async fn support_messages(&self, request_id: i64) -> Result<Vec<SupportMessageRow>> {
        let rows = sqlx::query(
            "SELECT id, author, from_support, body, at FROM support_messages WHERE request_id = $1 ORDER BY id",
        )
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SupportMessageRow {
                    id: r.try_get("id")?,
                    author: r.try_get("author")?,
                    from_support: r.try_get::<i64, _>("from_support")? != 0,
                    body: r.try_get("body")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    pub async fn support_attachments(&self, request_id: i64) -> Result<Vec<AttachmentRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM support_attachments WHERE request_id = $1 ORDER BY id"
        )))
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attachment).collect()
    }

    /// An attachment with its bytes.
    pub async fn support_attachment(&self, id: i64) -> Result<Option<(AttachmentRow, Vec<u8>)>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ATTACHMENT_COLUMNS}, bytes FROM support_attachments WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match r {
            Some(r) => Ok(Some((attachment(&r)?, r.try_get("bytes")?))),
            None => Ok(None),
        }
    }
}
