//! The employing body's block request (Order 270 §9): "the state body where the user works sends,
//! within 3 working days of the day the employee's powers end, a request to block the account". A CMS
//! signed by the organization's first head or signing right (signing key) over a block request JSON;
//! every live grant of the people named is blocked at once (or at the start of a future effective date)
//! and their sessions end; the request is kept as evidence and its clock reported beside the HR events.

use std::collections::BTreeSet;

use jiff::Timestamp;
use qoljetim_domain::application::FieldError;
use qoljetim_domain::lifecycle::{BlockRequest, BlockRequestLine};
use qoljetim_domain::{Bin, WorkingDayCalendar};
use qoljetim_policy::{Action, Resource};
use qoljetim_store::{
    BlockRequestRow, Change, HrEventRow, LifecycleChange, NewBlockRequest, NewHrEvent,
};
use serde_json::json;

use crate::applications::EvidenceFile;
use crate::audit::Attempt;
use crate::error::{Input, ServiceError, ServiceResult};
use crate::lifecycle::block_clock;
use crate::toolbox::{
    allowed, anonymous, caller_entry, revocation_json, rfc3339_micros, signature_evidence,
    signing_time_json,
};
use crate::views::{BlockLineView, BlockRequestView, Submitted};
use crate::{Caller, Service};
use sha2::Digest;

/// `GET /block-requests`: every block request the caller may read, or only the late ones.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BlockRequestList {
    pub block_requests: Vec<BlockRequestView>,
}

/// The stored block event of one line received at `received_at`, with its block clock.
pub fn block_event(
    cal: &WorkingDayCalendar,
    bin: &Bin,
    line: &BlockRequestLine,
    received_at: Timestamp,
) -> Result<NewHrEvent, String> {
    let clock = block_clock(cal, line.effective_date, received_at)?;
    Ok(NewHrEvent {
        source: "block_request".into(),
        // Replaced by the store with block-request/<request id>/<line>.
        event_id: String::new(),
        kind: line.reason.as_str().to_owned(),
        iin: line.iin.clone(),
        bin: bin.clone(),
        effective_date: line.effective_date,
        order_number: line.order_number.clone().unwrap_or_default(),
        order_date: None,
        new_position: None,
        received_at: received_at.as_microsecond(),
        block_due: clock.due.due,
        block_due_at: clock.due.due_at.as_microsecond(),
        block_due_provisional: clock.due.provisional,
        working_days_taken: clock.working_days_taken,
        met: clock.met,
        evidence: None,
        scheduled: clock.scheduled,
    })
}

impl From<&HrEventRow> for BlockLineView {
    fn from(e: &HrEventRow) -> Self {
        BlockLineView {
            iin: e.iin.to_string(),
            reason: e.kind.clone(),
            effective_date: e.effective_date.to_string(),
            order_number: (!e.order_number.is_empty()).then(|| e.order_number.clone()),
            blocked_grants: e.grants_blocked,
            sessions_ended: e.sessions_ended,
            scheduled_for: if e.applied_at.is_none() {
                e.scheduled_for.map(|d| d.to_string())
            } else {
                None
            },
            blocked_at: e.applied_at.map(rfc3339_micros),
            block_due: e.block_due.to_string(),
            block_due_at: rfc3339_micros(e.block_due_at),
            deadline_met: e.met,
            working_days_taken: e.working_days_taken,
        }
    }
}

impl From<&BlockRequestRow> for BlockRequestView {
    fn from(r: &BlockRequestRow) -> Self {
        BlockRequestView {
            id: r.id,
            applicant_bin: r.applicant_bin.to_string(),
            date: r.form_date.to_string(),
            signer_iin: r.signer_iin.to_string(),
            signer_name: r.signer_name.clone(),
            trust_anchor: r.trust_anchor.clone(),
            received_at: rfc3339_micros(r.received_at),
            deadline_met: r.lines.iter().all(|l| l.met),
            lines: r.lines.iter().map(BlockLineView::from).collect(),
        }
    }
}

impl Service {
    /// Order 270 §9: the employing body's signed block request, posted by a signed-in head of it.
    pub async fn submit_block_request(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> ServiceResult<Submitted<BlockRequestView>> {
        let attempt = Attempt::default();
        let r = self.submit_block_request_in(&attempt, caller, body).await;
        self.settle(attempt, r).await
    }

    async fn submit_block_request_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        body: &[u8],
    ) -> ServiceResult<Submitted<BlockRequestView>> {
        let at = self.clock.now();
        let (cms, verified) = self
            .verified_body(
                attempt,
                body,
                at,
                anonymous("submit_block_request", "block_request", &caller.ip),
                false,
            )
            .await?;
        let id = &verified.signer;
        let mut e = caller_entry(
            caller,
            "submit_block_request",
            "block_request".into(),
            &allowed(vec![]),
        );
        e.details = signature_evidence(&verified);
        attempt.begin_for(caller, e.clone());
        // The document is the organization's: signed by its first head or signing right (signing key).
        let days_back = self.config.intake_date_days_back;
        let request = self.organization_document(
            &verified,
            at,
            |b, today| {
                BlockRequest::parse_received(
                    b,
                    qoljetim_domain::application::Receipt::new(today, days_back),
                )
            },
            |r: &BlockRequest| &r.applicant_bin,
        )?;
        let resource = Resource::BlockRequest {
            id: None,
            applicant_bin: request.applicant_bin.clone(),
        };
        let d = self.authorize(
            attempt,
            caller,
            Action::SubmitBlockRequest,
            &resource,
            "block_request",
        )?;
        e.policies = d.policies.clone();
        attempt.begin_for(caller, e);
        // Every person named must hold a grant of this organization; otherwise nothing is applied.
        let bin = &request.applicant_bin;
        let mut errors = vec![];
        for (i, l) in request.lines.iter().enumerate() {
            let grants = self
                .store
                .grants_of_person(l.iin.as_str(), bin.as_str())
                .await
                .map_err(ServiceError::store)?;
            if grants.is_empty() {
                errors.push(FieldError::new(
                    format!("/lines/{i}/iin"),
                    "no_grant_in_organization",
                    format!("{} holds no access granted to {bin}", l.iin),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::validation(errors));
        }
        let mut lines = vec![];
        for l in &request.lines {
            lines.push(block_event(&self.calendar, bin, l, at).map_err(ServiceError::internal)?);
        }
        attempt.update(|e| {
            e.outcome = "allowed".into();
            e.creates = Some("block_request");
            e.details["lines"] = json!(lines.iter().map(|l| json!({"iin": l.iin, "reason": l.kind,
                "effective_date": l.effective_date, "block_due": l.block_due, "met": l.met, "scheduled": l.scheduled})).collect::<Vec<_>>());
        });
        let new = NewBlockRequest {
            applicant_bin: bin.clone(),
            form_date: request.date,
            signer_iin: id.iin.clone().ok_or_else(|| {
                ServiceError::signature(&qoljetim_signature::SignatureError::NoIin, false)
            })?,
            signer_name: id.common_name.clone().unwrap_or_default(),
            signer_certificate: der::Encode::to_der(&verified.signer_certificate)
                .map_err(ServiceError::internal)?,
            trust_anchor: verified.anchor.clone(),
            verification: json!({"revocation": revocation_json(&verified.revocation),
                "signing_time": signing_time_json(&verified)})
            .to_string(),
            evidence: cms,
            received_at: at.as_microsecond(),
            lines,
            content_sha256: hex::encode(sha2::Sha256::digest(&verified.content)),
        };
        let (request_id, created) = match self
            .commit_to_store(
                attempt,
                Change::Lifecycle(Box::new(LifecycleChange::BlockRequest(Box::new(new)))),
            )
            .await?
        {
            Ok(out) => (out.id.ok_or_else(|| ServiceError::internal("no id"))?, true),
            // The same signed request again: the one it made (the writer recorded the repeat).
            Err(qoljetim_store::StoreError::Conflict(
                qoljetim_store::Conflict::DuplicateDocument { id },
            )) => (id, false),
            Err(e) => return Err(ServiceError::store(e)),
        };
        let row = self
            .store
            .block_request(request_id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::internal("block request missing after commit"))?;
        Ok(Submitted {
            view: BlockRequestView::from(&row),
            created,
        })
    }

    /// Heads see their organization's block requests; the integrator sees all and can list the late
    /// ones (`late`).
    pub async fn block_requests(
        &self,
        caller: &Caller,
        late: Input<bool>,
    ) -> ServiceResult<BlockRequestList> {
        let attempt = Attempt::default();
        let r = self.block_requests_in(&attempt, caller, late).await;
        self.settle(attempt, r).await
    }

    async fn block_requests_in(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        late: Input<bool>,
    ) -> ServiceResult<BlockRequestList> {
        let late = late?;
        let mut policies = BTreeSet::new();
        if late {
            let d = self.authorize(
                attempt,
                caller,
                Action::ListLateBlockRequests,
                &Resource::Reports,
                "block_requests?late",
            )?;
            policies.extend(d.policies);
        }
        // Heads read their own organization's; the integrator every organization's (Cedar decides
        // each).
        let all_allowed = self.decide(
            &caller.actor,
            Action::ListAllBlockRequests,
            &Resource::Registry,
        )?;
        let narrow = (!all_allowed.allowed).then_some(caller.actor.bin.as_str());
        policies.extend(all_allowed.policies);
        let rows = self
            .store
            .block_requests(narrow, late, 1000)
            .await
            .map_err(ServiceError::store)?;
        let mut out = vec![];
        for r in &rows {
            let d = self.decide(
                &caller.actor,
                Action::ReadBlockRequest,
                &Resource::BlockRequest {
                    id: Some(r.id),
                    applicant_bin: r.applicant_bin.clone(),
                },
            )?;
            if d.allowed {
                policies.extend(d.policies);
                out.push(BlockRequestView::from(r));
            }
        }
        let mut e = caller_entry(
            caller,
            "read_block_request",
            "block_requests".into(),
            &allowed(policies.into_iter().collect()),
        );
        e.details = json!({"late": late, "count": out.len()});
        attempt.begin_for(caller, e);
        self.record(attempt).await?;
        Ok(BlockRequestList {
            block_requests: out,
        })
    }

    async fn load_block_request(
        &self,
        attempt: &Attempt,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<(BlockRequestRow, qoljetim_policy::Decision)> {
        let row = self
            .store
            .block_request(id)
            .await
            .map_err(ServiceError::store)?
            .ok_or_else(|| ServiceError::not_found(format!("block request {id}")))?;
        let d = self.authorize(
            attempt,
            caller,
            Action::ReadBlockRequest,
            &Resource::BlockRequest {
                id: Some(id),
                applicant_bin: row.applicant_bin.clone(),
            },
            &format!("block_request/{id}"),
        )?;
        Ok((row, d))
    }

    /// One block request with its lines and clocks.
    pub async fn block_request(&self, caller: &Caller, id: i64) -> ServiceResult<BlockRequestView> {
        let attempt = Attempt::default();
        let r = async {
            let (row, _) = self.load_block_request(&attempt, caller, id).await?;
            self.record(&attempt).await?;
            Ok(BlockRequestView::from(&row))
        }
        .await;
        self.settle(attempt, r).await
    }

    /// The signed bytes of a block request, unchanged.
    pub async fn block_request_evidence(
        &self,
        caller: &Caller,
        id: i64,
    ) -> ServiceResult<EvidenceFile> {
        let attempt = Attempt::default();
        let r = async {
            let (_, d) = self.load_block_request(&attempt, caller, id).await?;
            let bytes = self
                .store
                .block_request_evidence(id)
                .await
                .map_err(ServiceError::store)?
                .ok_or_else(|| ServiceError::not_found(format!("block request {id}")))?;
            let e = caller_entry(
                caller,
                "read_block_request_evidence",
                format!("block_request/{id}"),
                &d,
            );
            attempt.begin_for(caller, e);
            self.record(&attempt).await?;
            Ok(EvidenceFile {
                bytes,
                filename: format!("block-request-{id}.p7s"),
                content_type: "application/pkcs7-mime",
            })
        }
        .await;
        self.settle(attempt, r).await
    }
}
