//! The support service (Order 270 §14): a user, head or operator opens a request about work, technical
//! or training questions, in Kazakh or Russian, linked to an application, a grant or a data query when
//! it is about one; the integrator's support staff answer, assign and resolve; the requester is told in
//! the app and by e-mail (the outbox); the first answer's working-day clock is tracked. One requester's
//! request, with its personal data, is never another requester's to read (Cedar).

use qoljetim_domain::application::FieldError;
use qoljetim_domain::support::{
    AttachmentKind, Category, MAX_ATTACHMENT_BYTES, MAX_MESSAGE_CHARS, MAX_SUBJECT_CHARS,
};
use qoljetim_domain::{Bin, Iin};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{
    Change, NewAttachment, NewEmail, NewNotification, NewSupportRequest, SupportChange,
    SupportRequestRow,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::toolbox::*;
use crate::views::*;
use crate::{Caller, Service};

fn resource(r: &SupportRequestRow) -> ServiceResult<Resource> {
    Ok(Resource::SupportRequest {
        id: r.id,
        requester_iin: Iin::parse(&r.requester_iin).map_err(ServiceError::internal)?,
        requester_bin: Bin::parse(&r.requester_bin).map_err(ServiceError::internal)?,
    })
}

fn text_field(v: &str, field: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "text_length",
            format!("1 to {max} characters"),
        ));
    }
    t.to_owned()
}

/// What the support notices say, in both languages (the recipient's notices are in their language).
struct Notice {
    kind: &'static str,
    title: (String, String),
    body: (String, String),
}

impl Service {
    fn request_view(
        &self,
        r: &SupportRequestRow,
        messages: Vec<SupportMessageView>,
        attachments: Vec<AttachmentView>,
    ) -> SupportRequestView {
        let now = self.clock.now().as_microsecond();
        SupportRequestView {
            id: r.id,
            requester: format!("{}@{}", r.requester_iin, r.requester_bin),
            category: r.category.clone(),
            language: r.language.clone(),
            subject: r.subject.clone(),
            linked: r.linked_kind.as_ref().map(|k| SupportLinkView {
                kind: k.clone(),
                id: r.linked_id.unwrap_or_default(),
            }),
            status: r.status.clone(),
            assignee: r.assignee.clone(),
            opened_at: rfc3339_micros(r.opened_at),
            first_answer_due: r.first_answer_due.clone(),
            first_answer_due_at: rfc3339_micros(r.first_answer_due_at),
            first_answer_due_provisional: r.first_answer_due_provisional,
            first_answered_at: r.first_answered_at.map(rfc3339_micros),
            first_answer_overdue: match r.first_answered_at {
                Some(a) => a > r.first_answer_due_at,
                None => now > r.first_answer_due_at,
            },
            resolved_at: r.resolved_at.map(rfc3339_micros),
            messages,
            attachments,
        }
    }

    /// In-app notices to `to` (IIN, BIN); each with an e-mail when the recipient's profile has an
    /// address. `key` makes each notice once.
    async fn support_notices(
        &self,
        to: &[(String, String)],
        request: &str,
        key: &str,
        n: &Notice,
        at: i64,
    ) -> ServiceResult<Vec<NewNotification>> {
        let mut out = vec![];
        for (iin, bin) in to {
            let profile = self
                .store
                .profile(iin, bin)
                .await
                .map_err(ServiceError::store)?;
            let kk = profile.as_ref().is_some_and(|p| p.language == "kk");
            let email = profile.and_then(|p| p.email).map(|address| NewEmail {
                to: address,
                subject: format!("Qoljetim: {}", if kk { &n.title.0 } else { &n.title.1 }),
                body: format!(
                    "{}\n\n/support/{request}",
                    if kk { &n.body.0 } else { &n.body.1 }
                ),
            });
            out.push(NewNotification {
                recipient_iin: iin.clone(),
                recipient_bin: bin.clone(),
                kind: n.kind.into(),
                subject_ref: format!("support_request:{request}"),
                dedupe_key: format!("{key}:{iin}@{bin}"),
                title_kk: n.title.0.clone(),
                title_ru: n.title.1.clone(),
                body_kk: n.body.0.clone(),
                body_ru: n.body.1.clone(),
                created_at: at,
                email,
            });
        }
        Ok(out)
    }

    async fn agents(&self) -> ServiceResult<Vec<(String, String)>> {
        self.store
            .staff_with_role("support_agent")
            .await
            .map_err(ServiceError::store)
    }

    /// Checks that a linked record exists and is the caller's to read (an application, a grant, a
    /// data query: the audit record of the caller's own read).
    async fn check_link(
        &self,
        caller: &Caller,
        link: &SupportLinkBody,
    ) -> ServiceResult<(String, i64)> {
        let unknown = || {
            ServiceError::field(
                "/linked/id",
                "linked_record",
                format!("no {} {} of yours", link.kind, link.id),
            )
        };
        let readable = match link.kind.as_str() {
            "application" => match self.store.application(link.id).await {
                Ok(Some(a)) => {
                    self.decide(
                        &caller.actor,
                        Action::ReadApplication,
                        &crate::applications::app_resource(&a),
                    )?
                    .allowed
                        || a.applicant_bin == caller.actor.bin
                }
                _ => false,
            },
            "grant" => match self.store.grant(link.id).await {
                Ok(Some(g)) => {
                    self.decide(
                        &caller.actor,
                        Action::ReadGrant,
                        &crate::grants::grant_resource(&g),
                    )?
                    .allowed
                }
                _ => false,
            },
            // A data query is the audit record of the read (its export's id, Order 270 §15).
            "data_query" => self
                .store
                .audit_records(link.id - 1, 1)
                .await
                .map_err(ServiceError::store)?
                .first()
                .is_some_and(|r| {
                    r.seq == link.id
                        && r.action == "query_data"
                        && r.outcome == "allowed"
                        && r.actor == caller.actor_id()
                }),
            _ => {
                return Err(ServiceError::field(
                    "/linked/kind",
                    "linked_kind",
                    "application, grant or data_query",
                ));
            }
        };
        if readable {
            Ok((link.kind.clone(), link.id))
        } else {
            Err(unknown())
        }
    }

    /// Order 270 §14: opens a request; the support staff are told.
    pub async fn open_support_request(
        &self,
        caller: &Caller,
        body: crate::Input<SupportRequestBody>,
    ) -> ServiceResult<SupportRequestView> {
        let attempt = Attempt::default();
        let r = self.open_support_request_in(&attempt, caller, body).await;
        self.settle(attempt, r).await
    }

    async fn open_support_request_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        body: crate::Input<SupportRequestBody>,
    ) -> ServiceResult<SupportRequestView> {
        self.authorize(
            attempt,
            caller,
            Action::OpenSupportRequest,
            &Resource::Registry,
            "support_requests",
        )?;
        let b = body?;
        let mut errors = vec![];
        let category = Category::parse(&b.category);
        if category.is_none() {
            errors.push(FieldError::new(
                "/category",
                "support_category",
                "work, technical or training (Order 270 §14)",
            ));
        }
        if !["kk", "ru"].contains(&b.language.as_str()) {
            errors.push(FieldError::new("/language", "language", "kk or ru"));
        }
        let subject = text_field(&b.subject, "/subject", MAX_SUBJECT_CHARS, &mut errors);
        let message = text_field(&b.message, "/message", MAX_MESSAGE_CHARS, &mut errors);
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        let linked = match &b.linked {
            Some(l) => Some(self.check_link(caller, l).await?),
            None => None,
        };
        let opened = self.clock.now();
        let due = self
            .calendar
            .deadline(opened, self.config.support_first_answer_working_days)
            .map_err(ServiceError::internal)?;
        let category = category.map(|c| c.as_str()).unwrap_or_default();
        attempt.update(|e| {
            e.creates = Some("support_request");
            e.details = json!({"category": category, "language": b.language, "linked": linked,
                "first_answer_due": due.due.to_string()});
        });
        let notify = self
            .support_notices(
                &self.agents().await?,
                "{request}",
                "support:new:{request}",
                &Notice {
                    kind: "support_request",
                    title: (
                        "Қолдау қызметіне жаңа өтініш".into(),
                        "Новое обращение в службу поддержки".into(),
                    ),
                    body: (
                        format!("{} ({category}): {subject}", caller.actor_id()),
                        format!("{} ({category}): {subject}", caller.actor_id()),
                    ),
                },
                caller.now,
            )
            .await?;
        let out = self
            .commit(
                attempt,
                Change::Support(Box::new(SupportChange::Open {
                    request: Box::new(NewSupportRequest {
                        requester_iin: caller.actor.iin.to_string(),
                        requester_bin: caller.actor.bin.to_string(),
                        category: category.to_owned(),
                        language: b.language.clone(),
                        subject,
                        linked,
                        body: message,
                        opened_at: caller.now,
                        first_answer_due: due,
                    }),
                    notify,
                })),
            )
            .await?;
        self.support_request_view(out.id.unwrap_or_default()).await
    }

    async fn support_row(&self, id: i64) -> ServiceResult<SupportRequestRow> {
        self.store
            .support_request(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("support request {id}")))
    }

    async fn support_request_view(&self, id: i64) -> ServiceResult<SupportRequestView> {
        let r = self.support_row(id).await?;
        let messages = self
            .store
            .support_messages(id)
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .map(|m| SupportMessageView {
                id: m.id,
                author: m.author,
                from_support: m.from_support,
                body: m.body,
                at: rfc3339_micros(m.at),
            })
            .collect();
        let attachments = self
            .store
            .support_attachments(id)
            .await
            .map_err(ServiceError::store)?
            .into_iter()
            .map(|a| AttachmentView {
                id: a.id,
                author: a.author,
                filename: a.filename,
                content_type: a.content_type,
                size: a.size,
                sha256: a.sha256,
                at: rfc3339_micros(a.at),
            })
            .collect();
        Ok(self.request_view(&r, messages, attachments))
    }

    /// A request the caller may act on with `action`: another requester's is "not found".
    async fn authorized_request(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
        action: Action,
    ) -> ServiceResult<SupportRequestRow> {
        let r = self.support_row(id).await?;
        let res = resource(&r)?;
        if self
            .authorize(
                attempt,
                caller,
                action,
                &res,
                &format!("support_request/{id}"),
            )
            .is_err()
        {
            return Err(ServiceError::not_found(format!("support request {id}")));
        }
        Ok(r)
    }

    /// The caller's own requests; the support staff's: everyone's. Newest first.
    pub async fn support_requests(
        &self,
        caller: &Caller,
    ) -> ServiceResult<Vec<SupportRequestView>> {
        let attempt = Attempt::default();
        let r = async {
            let all = self.decide(
                &caller.actor,
                Action::ListAllSupportRequests,
                &Resource::Registry,
            )?;
            attempt.begin_for(
                caller,
                caller_entry(
                    caller,
                    "read_support_request",
                    "support_requests".into(),
                    &allowed(all.policies.clone()),
                ),
            );
            let iin = caller.actor.iin.to_string();
            let bin = caller.actor.bin.to_string();
            let rows = self
                .store
                .support_requests((!all.allowed).then_some((iin.as_str(), bin.as_str())), 500)
                .await
                .map_err(ServiceError::store)?;
            let out: Vec<SupportRequestView> = rows
                .iter()
                .map(|r| self.request_view(r, vec![], vec![]))
                .collect();
            attempt.update(|e| e.details = json!({"returned": out.len(), "all": all.allowed}));
            self.record(&attempt).await?;
            Ok(out)
        }
        .await;
        self.settle(attempt, r).await
    }

    /// One request with its messages and attachments.
    pub async fn support_request(
        &self,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<SupportRequestView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorized_request(&attempt, caller, id, Action::ReadSupportRequest)
                .await?;
            let v = self.support_request_view(id).await?;
            self.record(&attempt).await?;
            Ok(v)
        }
        .await;
        self.settle(attempt, r).await
    }

    /// A message on a request. From the support staff, the first one is the first answer (the clock
    /// stops) and the requester is told in the app and by e-mail; from the requester, the request is
    /// open again and its assignee (or every support agent) is told.
    pub async fn support_message(
        &self,
        caller: &Caller,
        id: i64,
        body: crate::Input<SupportMessageBody>,
    ) -> ServiceResult<SupportRequestView> {
        let attempt = Attempt::default();
        let r = async {
            let r = self
                .authorized_request(&attempt, caller, id, Action::AnswerSupportRequest)
                .await?;
            let b = body?;
            let mut errors = vec![];
            let text = text_field(&b.message, "/message", MAX_MESSAGE_CHARS, &mut errors);
            if !errors.is_empty() {
                return Err(ServiceError::validation(errors));
            }
            let mine = r.requester_iin == caller.actor.iin.as_str()
                && r.requester_bin == caller.actor.bin.as_str();
            let from_support = !mine;
            let (to, notice) = if from_support {
                (
                    vec![(r.requester_iin.clone(), r.requester_bin.clone())],
                    Notice {
                        kind: "support_answer",
                        title: (
                            format!("Қолдау қызметі {id} өтінішке жауап берді"),
                            format!("Служба поддержки ответила на обращение {id}"),
                        ),
                        body: (text.clone(), text.clone()),
                    },
                )
            } else {
                let to = match r.assignee.as_deref().and_then(|a| a.split_once('@')) {
                    Some((i, b)) => vec![(i.to_owned(), b.to_owned())],
                    None => self.agents().await?,
                };
                (
                    to,
                    Notice {
                        kind: "support_request",
                        title: (
                            format!("{id} өтініш бойынша жаңа хабар"),
                            format!("Новое сообщение по обращению {id}"),
                        ),
                        body: (text.clone(), text.clone()),
                    },
                )
            };
            let notify = self
                .support_notices(
                    &to,
                    &id.to_string(),
                    &format!("support:{id}:message:{}", caller.now),
                    &notice,
                    caller.now,
                )
                .await?;
            attempt.update(|e| {
                e.details = json!({"request": id, "from_support": from_support,
                    "first_answer": from_support && r.first_answered_at.is_none()})
            });
            self.commit(
                &attempt,
                Change::Support(Box::new(SupportChange::Message {
                    request_id: id,
                    author: caller.actor_id(),
                    from_support,
                    body: text,
                    at: caller.now,
                    notify,
                })),
            )
            .await?;
            self.support_request_view(id).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// A support agent assigns a request to a support agent (themselves when none is named).
    pub async fn assign_support_request(
        &self,
        caller: &Caller,
        id: i64,
        body: crate::Input<SupportAssignBody>,
    ) -> ServiceResult<SupportRequestView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorized_request(&attempt, caller, id, Action::ManageSupportRequest)
                .await?;
            let b = body?;
            let assignee = match b.assignee.as_deref() {
                None => (caller.actor.iin.to_string(), caller.actor.bin.to_string()),
                Some(a) => a
                    .split_once('@')
                    .map(|(i, b)| (i.to_owned(), b.to_owned()))
                    .unwrap_or_default(),
            };
            if !self.agents().await?.contains(&assignee) {
                return Err(ServiceError::field(
                    "/assignee",
                    "support_agent",
                    "IIN@BIN of a support agent",
                ));
            }
            let notify = self
                .support_notices(
                    std::slice::from_ref(&assignee),
                    &id.to_string(),
                    &format!("support:{id}:assigned:{}", caller.now),
                    &Notice {
                        kind: "support_request",
                        title: (
                            format!("{id} өтініш сізге берілді"),
                            format!("Обращение {id} назначено вам"),
                        ),
                        body: (String::new(), String::new()),
                    },
                    caller.now,
                )
                .await?;
            let who = format!("{}@{}", assignee.0, assignee.1);
            attempt.update(|e| e.details = json!({"request": id, "assignee": who}));
            self.commit(
                &attempt,
                Change::Support(Box::new(SupportChange::Assign {
                    request_id: id,
                    assignee: who,
                    notify,
                })),
            )
            .await?;
            self.support_request_view(id).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The requester or a support agent resolves a request; the requester is told when support did.
    pub async fn resolve_support_request(
        &self,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<SupportRequestView> {
        let attempt = Attempt::default();
        let r = async {
            let r = self
                .authorized_request(&attempt, caller, id, Action::AnswerSupportRequest)
                .await?;
            let by_requester = r.requester_iin == caller.actor.iin.as_str()
                && r.requester_bin == caller.actor.bin.as_str();
            let notify = if by_requester {
                vec![]
            } else {
                self.support_notices(
                    &[(r.requester_iin.clone(), r.requester_bin.clone())],
                    &id.to_string(),
                    &format!("support:{id}:resolved"),
                    &Notice {
                        kind: "support_answer",
                        title: (
                            format!("{id} өтініш шешілді"),
                            format!("Обращение {id} решено"),
                        ),
                        body: (r.subject.clone(), r.subject.clone()),
                    },
                    caller.now,
                )
                .await?
            };
            attempt.update(|e| e.details = json!({"request": id, "by_requester": by_requester}));
            self.commit(
                &attempt,
                Change::Support(Box::new(SupportChange::Resolve {
                    request_id: id,
                    at: caller.now,
                    notify,
                })),
            )
            .await?;
            self.support_request_view(id).await
        }
        .await;
        self.settle(attempt, r).await
    }

    /// An attachment (at most 10 MiB; PDF, PNG or JPEG by its content, whatever its name says).
    pub async fn attach_to_support_request(
        &self,
        caller: &Caller,
        id: i64,
        filename: Option<String>,
        bytes: &[u8],
    ) -> ServiceResult<AttachmentView> {
        let attempt = Attempt::default();
        let r = async {
            self.authorized_request(&attempt, caller, id, Action::AnswerSupportRequest)
                .await?;
            if bytes.len() > MAX_ATTACHMENT_BYTES {
                return Err(ServiceError::field(
                    "/attachment",
                    "attachment_size",
                    format!("at most {MAX_ATTACHMENT_BYTES} bytes"),
                ));
            }
            let Some(kind) = AttachmentKind::sniff(bytes) else {
                return Err(ServiceError::field(
                    "/attachment",
                    "attachment_type",
                    "a PDF, PNG or JPEG file (told by its content)",
                ));
            };
            // The name is the caller's words: kept printable and short, with the content's extension.
            let stem: String = filename
                .unwrap_or_default()
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
                .take(100)
                .collect();
            let stem = stem.trim().trim_end_matches(&format!(".{}", kind.extension())).to_owned();
            let name = format!(
                "{}.{}",
                if stem.is_empty() { "attachment" } else { &stem },
                kind.extension()
            );
            let sha256 = hex::encode(Sha256::digest(bytes));
            attempt.update(|e| {
                e.details = json!({"request": id, "filename": name, "content_type": kind.content_type(),
                    "size": bytes.len(), "sha256": sha256})
            });
            let out = self
                .commit(
                    &attempt,
                    Change::Support(Box::new(SupportChange::Attach {
                        request_id: id,
                        author: caller.actor_id(),
                        attachment: Box::new(NewAttachment {
                            filename: name.clone(),
                            content_type: kind.content_type().into(),
                            sha256: sha256.clone(),
                            bytes: bytes.to_vec(),
                        }),
                        at: caller.now,
                    })),
                )
                .await?;
            Ok(AttachmentView {
                id: out.id.unwrap_or_default(),
                author: caller.actor_id(),
                filename: name,
                content_type: kind.content_type().into(),
                size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                sha256,
                at: rfc3339_micros(caller.now),
            })
        }
        .await;
        self.settle(attempt, r).await
    }

    /// An attachment's bytes, for whoever may read its request.
    pub async fn support_attachment(
        &self,
        caller: &Caller,
        id: i64,
        attachment: i64,
    ) -> ServiceResult<crate::EvidenceFile> {
        let attempt = Attempt::default();
        let r = async {
            self.authorized_request(&attempt, caller, id, Action::ReadSupportRequest)
                .await?;
            let (a, bytes) = self
                .store
                .support_attachment(attachment)
                .await
                .map_err(ServiceError::store)?
                .filter(|(a, _)| a.request_id == id)
                .ok_or_else(|| ServiceError::not_found(format!("attachment {attachment}")))?;
            self.record(&attempt).await?;
            let content_type = match a.content_type.as_str() {
                "application/pdf" => "application/pdf",
                "image/png" => "image/png",
                _ => "image/jpeg",
            };
            Ok(crate::EvidenceFile {
                bytes,
                filename: a.filename,
                content_type,
            })
        }
        .await;
        self.settle(attempt, r).await
    }
}
