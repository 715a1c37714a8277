use cedar_policy::{ValidationMode, Validator};
use proptest::prelude::*;
use qoljetim_domain::{ApplicationStatus, OrganizationKind as K, Role};

use super::*;

fn engine() -> PolicyEngine {
    PolicyEngine::new().unwrap_or_else(|e| panic!("{e}"))
}

fn bin(s: &str) -> Bin {
    Bin::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn iin(s: &str) -> Iin {
    Iin::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn actor(b: &str, kind: K, roles: &[Role]) -> Actor {
    Actor {
        iin: Iin::parse("871008401427").unwrap_or_else(|e| panic!("{e}")),
        bin: bin(b),
        org_kind: Some(kind),
        roles: roles.to_vec(),
    }
}

fn app(b: &str) -> Resource {
    Resource::Application {
        id: Some(1),
        applicant_bin: self::bin(b),
        status: ApplicationStatus::Submitted,
    }
}

const APPLICANT: &str = "940140000385";
const MINFIN: &str = "950341000052";
const INTEGRATOR: &str = "961141000023";

#[test]
fn schema_and_policies_validate_strictly() {
    let e = engine();
    let result = Validator::new(e.schema().clone()).validate(e.policies(), ValidationMode::Strict);
    assert!(
        result.validation_passed(),
        "{:?}",
        result
            .validation_errors()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
    );
}

// DESIGN.md §5: Cedar is the one list of who may do what. Each policy, by its id, with a request it
// decides (and is named for in the decision) and a near miss it does not decide. A policy added or
// removed without a row here fails the test.
#[test]
fn each_policy_makes_its_decisions() {
    let e = engine();
    let head = actor(APPLICANT, K::Maslikhat, &[Role::Head]);
    let employee = actor(APPLICANT, K::Maslikhat, &[Role::Employee]);
    let reviewer = actor(MINFIN, K::AuthorizedBody, &[Role::Reviewer]);
    let integrator = actor(INTEGRATOR, K::Integrator, &[Role::IntegratorAdmin]);
    let line = |i: &str| Resource::ApplicationLine {
        application: 1,
        line: 1,
        applicant_bin: bin(APPLICANT),
        iin: iin(i),
    };
    let grant = |i: &str, b: &str| Resource::Grant {
        id: 1,
        person_iin: iin(i),
        organization_bin: bin(b),
    };
    let block = |b: &str| Resource::BlockRequest {
        id: Some(1),
        applicant_bin: bin(b),
    };
    let other = "990101300013";
    let agent = actor(INTEGRATOR, K::Integrator, &[Role::SupportAgent]);
    let planning_head = actor("940140000385", K::BudgetPlanningBody, &[Role::Head]);
    let minfin_head_ = actor(MINFIN, K::AuthorizedBody, &[Role::Head]);
    let change = |kind: &str| Resource::ChangeRequest {
        id: 1,
        agreeing_kind: kind.to_owned(),
    };
    let campaign = |b: &str| Resource::Campaign {
        id: Some(1),
        organization_bin: bin(b),
    };
    let support = |i: &str, b: &str| Resource::SupportRequest {
        id: 1,
        requester_iin: iin(i),
        requester_bin: bin(b),
    };
    let trainee = |i: &str, b: &str| Resource::Trainee {
        person_iin: iin(i),
        organization_bin: bin(b),
    };
    // (policy, who, action, resource it permits or forbids, near miss: who, resource)
    type Case<'a> = (&'a str, &'a Actor, Action, Resource, &'a Actor, Resource);
    let cases: Vec<Case<'_>> = vec![
        (
            "applicant-head-submits",
            &head,
            Action::SubmitApplication,
            app(APPLICANT),
            &head,
            app(MINFIN),
        ),
        (
            "applicant-head-reads-own-applications",
            &head,
            Action::ReadApplication,
            app(APPLICANT),
            &employee,
            app(APPLICANT),
        ),
        (
            "employee-reads-own-line",
            &employee,
            Action::ReadApplicationLine,
            line(employee.iin.as_str()),
            &employee,
            line(other),
        ),
        (
            "reviewer-reads-applications",
            &reviewer,
            Action::ReadApplication,
            app(APPLICANT),
            &head,
            app(MINFIN),
        ),
        (
            "integrator-reads-applications",
            &integrator,
            Action::ReadApplication,
            app(APPLICANT),
            &employee,
            app(INTEGRATOR),
        ),
        (
            "reviewer-reviews",
            &reviewer,
            Action::ReviewApplication,
            app(APPLICANT),
            &integrator,
            app(APPLICANT),
        ),
        (
            "integrator-grants",
            &integrator,
            Action::GrantAccess,
            app(APPLICANT),
            &reviewer,
            app(APPLICANT),
        ),
        (
            "own-grants",
            &employee,
            Action::ReadGrant,
            grant(employee.iin.as_str(), APPLICANT),
            &employee,
            grant(other, APPLICANT),
        ),
        (
            "head-reads-organization-grants",
            &head,
            Action::ReadGrant,
            grant(other, APPLICANT),
            &head,
            grant(other, MINFIN),
        ),
        (
            "operators-read-grants",
            &reviewer,
            Action::ReadGrant,
            grant(other, APPLICANT),
            &employee,
            grant(other, MINFIN),
        ),
        (
            "integrator-manages-organizations",
            &integrator,
            Action::ManageOrganizations,
            Resource::Registry,
            &reviewer,
            Resource::Registry,
        ),
        (
            "operators-read-audit",
            &reviewer,
            Action::ReadAudit,
            Resource::AuditLog,
            &head,
            Resource::AuditLog,
        ),
        (
            "operators-read-staff",
            &reviewer,
            Action::ReadStaff,
            Resource::Registry,
            &head,
            Resource::Registry,
        ),
        (
            "integrator-manages-outbox",
            &integrator,
            Action::ManageOutbox,
            Resource::Registry,
            &reviewer,
            Resource::Registry,
        ),
        (
            "operators-read-reports",
            &integrator,
            Action::ReadReports,
            Resource::Reports,
            &head,
            Resource::Reports,
        ),
        (
            "own-grant-renewal",
            &employee,
            Action::RequestRenewal,
            grant(employee.iin.as_str(), APPLICANT),
            &employee,
            grant(other, APPLICANT),
        ),
        (
            "head-renews-organization-grants",
            &head,
            Action::RequestRenewal,
            grant(other, APPLICANT),
            &head,
            grant(other, MINFIN),
        ),
        (
            "employer-head-requests-block",
            &head,
            Action::SubmitBlockRequest,
            block(APPLICANT),
            &employee,
            block(APPLICANT),
        ),
        (
            "employer-head-reads-own-block-requests",
            &head,
            Action::ReadBlockRequest,
            block(APPLICANT),
            &head,
            block(MINFIN),
        ),
        (
            "integrator-reads-block-requests",
            &integrator,
            Action::ReadBlockRequest,
            block(APPLICANT),
            &reviewer,
            block(APPLICANT),
        ),
        // Order 270 §12–§13: the integrator runs the training; the authorized body does not.
        (
            "integrator-runs-training",
            &integrator,
            Action::ManageTraining,
            Resource::Registry,
            &reviewer,
            Resource::Registry,
        ),
        // §12: a trainee enrols themselves; nobody else's enrolment is theirs to make.
        (
            "trainee-enrols-self",
            &employee,
            Action::EnrolInTraining,
            trainee("871008401427", APPLICANT),
            &employee,
            trainee(other, APPLICANT),
        ),
        // §12: a head enrols the staff of their own organization, not of another.
        (
            "head-enrols-staff",
            &head,
            Action::EnrolInTraining,
            trainee(other, APPLICANT),
            &head,
            trainee(other, MINFIN),
        ),
        // §14: a requester reads their own support request, not another requester's.
        (
            "requester-works-own-support-request",
            &employee,
            Action::ReadSupportRequest,
            support("871008401427", APPLICANT),
            &employee,
            support(other, APPLICANT),
        ),
        // §14: the integrator's support staff work every request; an integrator administrator does not.
        (
            "support-staff-work-support-requests",
            &agent,
            Action::ManageSupportRequest,
            support(other, APPLICANT),
            &integrator,
            support(other, APPLICANT),
        ),
        (
            "support-staff-list-all-support-requests",
            &agent,
            Action::ListAllSupportRequests,
            Resource::Registry,
            &integrator,
            Resource::Registry,
        ),
        // Issue 17: the integrator revokes a grant and removes staff; the authorized body does not.
        (
            "integrator-revokes-grants",
            &integrator,
            Action::RevokeGrant,
            grant(other, APPLICANT),
            &reviewer,
            grant(other, APPLICANT),
        ),
        (
            "integrator-manages-staff",
            &integrator,
            Action::ManageStaff,
            Resource::Registry,
            &head,
            Resource::Registry,
        ),
        // Order 270 §10: change requests.
        (
            "integrator-drafts-change-requests",
            &integrator,
            Action::DraftChangeRequest,
            Resource::Registry,
            &reviewer,
            Resource::Registry,
        ),
        (
            "both-sides-read-change-requests",
            &reviewer,
            Action::ReadChangeRequests,
            Resource::Registry,
            &head,
            Resource::Registry,
        ),
        (
            "competent-body-agrees",
            &planning_head,
            Action::AgreeChangeRequest,
            change("budget_planning_body"),
            &minfin_head_,
            change("budget_planning_body"),
        ),
        (
            "authorized-body-approves-changes",
            &minfin_head_,
            Action::ApproveChangeRequest,
            change("budget_planning_body"),
            &planning_head,
            change("budget_planning_body"),
        ),
        // Issue 17: recertification campaigns — the integrator runs them, the organization's head
        // answers its own and not the organization's next door.
        (
            "integrator-runs-campaigns",
            &integrator,
            Action::OpenCampaign,
            Resource::Registry,
            &reviewer,
            Resource::Registry,
        ),
        (
            "integrator-reads-campaigns",
            &integrator,
            Action::ReadCampaign,
            campaign(APPLICANT),
            &employee,
            campaign(APPLICANT),
        ),
        (
            "head-reads-own-campaigns",
            &head,
            Action::ReadCampaign,
            campaign(APPLICANT),
            &head,
            campaign(MINFIN),
        ),
        (
            "head-answers-own-campaign",
            &head,
            Action::AnswerCampaign,
            campaign(APPLICANT),
            &head,
            campaign(MINFIN),
        ),
        // §15: the person of the grant accepts its duties; not for somebody else's grant.
        (
            "own-grant-duties",
            &employee,
            Action::AcceptDuties,
            grant("871008401427", APPLICANT),
            &head,
            grant(other, APPLICANT),
        ),
    ];
    let mut covered: Vec<&str> = vec![];
    for (policy, who, action, resource, miss_who, miss) in &cases {
        let d = e
            .decide(who, *action, resource)
            .unwrap_or_else(|x| panic!("{x}"));
        assert!(d.allowed, "{policy}");
        assert_eq!(d.policies, vec![(*policy).to_owned()], "{policy}");
        let d = e
            .decide(miss_who, *action, miss)
            .unwrap_or_else(|x| panic!("{x}"));
        assert!(!d.allowed, "{policy}: the near miss is refused");
        assert!(
            d.policies.is_empty(),
            "{policy}: default deny, no policy named"
        );
        covered.push(policy);
    }
    // Every signed-in person reads the registry: no near miss exists.
    for who in [&head, &employee, &reviewer, &integrator] {
        let d = e
            .decide(who, Action::ReadOrganizations, &Resource::Registry)
            .unwrap_or_else(|x| panic!("{x}"));
        assert_eq!(
            (d.allowed, d.policies),
            (true, vec!["signed-in-reads-organizations".to_owned()])
        );
    }
    covered.push("signed-in-reads-organizations");
    // Order 270 §12: the lessons and the schedule are everyone's to read, a lesson everyone's to take.
    for who in [&head, &employee, &reviewer, &integrator] {
        for action in [Action::ReadTraining, Action::TakeLesson] {
            let d = e
                .decide(who, action, &Resource::Registry)
                .unwrap_or_else(|x| panic!("{x}"));
            assert_eq!(
                (d.allowed, d.policies),
                (true, vec!["signed-in-reads-training".to_owned()])
            );
        }
    }
    covered.push("signed-in-reads-training");
    // Order 270 §14: everyone signed in may turn to the support service.
    for who in [&head, &employee, &reviewer, &integrator] {
        let d = e
            .decide(who, Action::OpenSupportRequest, &Resource::Registry)
            .unwrap_or_else(|x| panic!("{x}"));
        assert_eq!(
            (d.allowed, d.policies),
            (true, vec!["signed-in-opens-support-requests".to_owned()])
        );
    }
    covered.push("signed-in-opens-support-requests");
    // The forbid: an operator's own organization, whatever permits it.
    let d = e
        .decide(&integrator, Action::GrantAccess, &app(INTEGRATOR))
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(
        (d.allowed, d.policies),
        (false, vec!["no-decision-on-own-organization".to_owned()])
    );
    covered.push("no-decision-on-own-organization");
    // §8: an operator's head does not apply, even for its own BIN.
    let minfin_head = actor(MINFIN, K::AuthorizedBody, &[Role::Head]);
    let d = e
        .decide(&minfin_head, Action::SubmitApplication, &app(MINFIN))
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(
        (d.allowed, d.policies),
        (false, vec!["operators-do-not-apply".to_owned()])
    );
    covered.push("operators-do-not-apply");
    // DESIGN.md §8: a head signed in for another organization does not post this one's document.
    let d = e
        .decide_submission(&head, &app(APPLICANT), Some(MINFIN))
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(
        (d.allowed, d.policies),
        (false, vec!["session-of-another-organization".to_owned()])
    );
    let d = e
        .decide_submission(&head, &app(APPLICANT), Some(APPLICANT))
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(
        (d.allowed, d.policies),
        (true, vec!["applicant-head-submits".to_owned()])
    );
    covered.push("session-of-another-organization");
    // §9: HR events from the configured HR systems only.
    let hr = bin(INTEGRATOR);
    let configured = vec![INTEGRATOR.to_owned()];
    let d = e
        .decide_hr_event(Some(&hr), &configured)
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(
        (d.allowed, d.policies),
        (true, vec!["configured-hr-system-posts-events".to_owned()])
    );
    assert!(
        !e.decide_hr_event(Some(&bin(APPLICANT)), &configured)
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    // A signer whose certificate names no BIN is never a configured HR system.
    assert!(
        !e.decide_hr_event(None, &configured)
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    assert!(
        !e.decide_hr_event(Some(&hr), &[])
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    covered.push("configured-hr-system-posts-events");
    // The late block-request list is the integrator's.
    let d = e
        .decide(
            &integrator,
            Action::ListLateBlockRequests,
            &Resource::Reports,
        )
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(
        (d.allowed, d.policies.clone()),
        (true, vec!["integrator-reads-block-requests".to_owned()])
    );
    assert!(
        !e.decide(&reviewer, Action::ListLateBlockRequests, &Resource::Reports)
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    // Lists across organizations are the operators' (block requests: the integrator's only); a head's
    // lists stay narrowed to their organization.
    for (action, policy, who) in [
        (
            Action::ListAllApplications,
            "operators-list-all-applications",
            vec![&reviewer, &integrator],
        ),
        (
            Action::ListAllGrants,
            "operators-list-all-grants",
            vec![&reviewer, &integrator],
        ),
        (
            Action::ListAllBlockRequests,
            "integrator-lists-all-block-requests",
            vec![&integrator],
        ),
    ] {
        for a in [&head, &reviewer, &integrator] {
            let d = e
                .decide(a, action, &Resource::Registry)
                .unwrap_or_else(|x| panic!("{x}"));
            let expected = who.contains(&a);
            assert_eq!(d.allowed, expected, "{} {:?}", action.as_str(), a.roles);
            if expected {
                assert_eq!(d.policies, vec![policy.to_owned()]);
            }
        }
        covered.push(policy);
    }
    // The data policies, with a grant of Almaty.
    let ctx = GrantContext {
        system: System::AnalyticalCentral,
        fiscal_years: vec![2026],
        levels: vec![BudgetLevel::Regional],
        territory_prefix: Some("75".into()),
        administrators: vec![],
        active: true,
        trained: true,
        duties_accepted: true,
    };
    let kato = |k: &str| Some(Kato::parse(k).unwrap_or_else(|e| panic!("{e}")));
    let row = |territory: &str| Resource::BudgetRow {
        system: System::AnalyticalCentral,
        fiscal_year: 2026,
        level: BudgetLevel::Regional,
        territory: kato(territory),
        administrator: AdministratorCode::parse("217").unwrap_or_else(|e| panic!("{e}")),
    };
    let query = |territory: &str| Resource::DataQuery {
        system: System::AnalyticalCentral,
        fiscal_year: 2026,
        level: None,
        territory: kato(territory),
        administrator: None,
    };
    for (policy, action, yes, no) in [
        (
            "grant-scope-permits-row",
            Action::ReadData,
            row("750000000"),
            row("710000000"),
        ),
        (
            "grant-scope-permits-query",
            Action::QueryData,
            query("750000000"),
            query("710000000"),
        ),
    ] {
        let d = e
            .decide_data(&employee, action, &yes, &ctx)
            .unwrap_or_else(|x| panic!("{x}"));
        assert_eq!((d.allowed, d.policies), (true, vec![policy.to_owned()]));
        let d = e
            .decide_data(&employee, action, &no, &ctx)
            .unwrap_or_else(|x| panic!("{x}"));
        assert!(!d.allowed, "{policy}");
        covered.push(policy);
        // Order 270 §9: the same read under a grant that is not active today is forbidden.
        let inactive = GrantContext {
            active: false,
            ..ctx.clone()
        };
        let d = e
            .decide_data(&employee, action, &yes, &inactive)
            .unwrap_or_else(|x| panic!("{x}"));
        assert_eq!(
            (d.allowed, d.policies),
            (false, vec!["grant-not-active".to_owned()])
        );
        // Order 270 §13: the same read before the person's training is forbidden.
        let untrained = GrantContext {
            trained: false,
            ..ctx.clone()
        };
        let d = e
            .decide_data(&employee, action, &yes, &untrained)
            .unwrap_or_else(|x| panic!("{x}"));
        assert_eq!(
            (d.allowed, d.policies),
            (false, vec!["training-required".to_owned()])
        );
        // Order 270 §15: and before the duties are accepted.
        let unaccepted = GrantContext {
            duties_accepted: false,
            ..ctx.clone()
        };
        let d = e
            .decide_data(&employee, action, &yes, &unaccepted)
            .unwrap_or_else(|x| panic!("{x}"));
        assert_eq!(
            (d.allowed, d.policies),
            (false, vec!["duties-not-accepted".to_owned()])
        );
    }
    covered.push("grant-not-active");
    covered.push("training-required");
    covered.push("duties-not-accepted");
    // Issue 18: a_system_reads_itself_only.
    covered.push("system-reads-itself");
    let mut ids: Vec<String> = e
        .policies()
        .policies()
        .map(|p| p.id().to_string())
        .collect();
    ids.sort();
    covered.sort();
    assert_eq!(ids, covered, "every policy has its row, and only those");
}

// Order 270 §8–§9: who may do what in the workflow.
#[test]
fn workflow_decisions_name_their_policies() {
    let e = engine();
    let head = actor(APPLICANT, K::Maslikhat, &[Role::Head]);
    let d = e
        .decide(&head, Action::SubmitApplication, &app(APPLICANT))
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["applicant-head-submits".to_owned()]);
    assert!(
        !e.decide(&head, Action::SubmitApplication, &app(MINFIN))
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    let employee = actor(APPLICANT, K::Maslikhat, &[Role::Employee]);
    assert!(
        !e.decide(&employee, Action::SubmitApplication, &app(APPLICANT))
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    assert!(
        !e.decide(&employee, Action::ReadApplication, &app(APPLICANT))
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    let own_line = Resource::ApplicationLine {
        application: 1,
        line: 1,
        applicant_bin: bin(APPLICANT),
        iin: iin("871008401427"),
    };
    assert!(
        e.decide(&employee, Action::ReadApplicationLine, &own_line)
            .map(|d| d.allowed)
            .unwrap_or(false)
    );
    let other_line = Resource::ApplicationLine {
        application: 1,
        line: 2,
        applicant_bin: bin(APPLICANT),
        iin: iin("850712300801"),
    };
    assert!(
        !e.decide(&employee, Action::ReadApplicationLine, &other_line)
            .map(|d| d.allowed)
            .unwrap_or(true)
    );

    let reviewer = actor(MINFIN, K::AuthorizedBody, &[Role::Reviewer]);
    let d = e
        .decide(&reviewer, Action::ReviewApplication, &app(APPLICANT))
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["reviewer-reviews".to_owned()]);
    assert!(
        !e.decide(&reviewer, Action::GrantAccess, &app(APPLICANT))
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    assert!(
        !e.decide(&reviewer, Action::ManageOrganizations, &Resource::Registry)
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    // Reviewer role registered on an organization that is not the authorized body: refused.
    let misplaced = actor(APPLICANT, K::Maslikhat, &[Role::Reviewer]);
    assert!(
        !e.decide(&misplaced, Action::ReviewApplication, &app(MINFIN))
            .map(|d| d.allowed)
            .unwrap_or(true)
    );

    let integrator = actor(INTEGRATOR, K::Integrator, &[Role::IntegratorAdmin]);
    assert!(
        e.decide(&integrator, Action::GrantAccess, &app(APPLICANT))
            .map(|d| d.allowed)
            .unwrap_or(false)
    );
    assert!(
        !e.decide(&integrator, Action::ReviewApplication, &app(APPLICANT))
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    assert!(
        e.decide(
            &integrator,
            Action::ManageOrganizations,
            &Resource::Registry
        )
        .map(|d| d.allowed)
        .unwrap_or(false)
    );
    let forbid = e
        .decide(&integrator, Action::GrantAccess, &app(INTEGRATOR))
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(!forbid.allowed);
    assert_eq!(
        forbid.policies,
        vec!["no-decision-on-own-organization".to_owned()]
    );
    assert!(
        e.decide(&integrator, Action::ReadAudit, &Resource::AuditLog)
            .map(|d| d.allowed)
            .unwrap_or(false)
    );
    assert!(
        !e.decide(&head, Action::ReadAudit, &Resource::AuditLog)
            .map(|d| d.allowed)
            .unwrap_or(true)
    );
    // Order 270 §9: reports are for the authorized body and the integrator only.
    let allowed = |a: &Actor, act: Action, r: &Resource| {
        e.decide(a, act, r).map(|d| d.allowed).unwrap_or(false)
    };
    assert!(allowed(
        &integrator,
        Action::ReadReports,
        &Resource::Reports
    ));
    assert!(allowed(&reviewer, Action::ReadReports, &Resource::Reports));
    assert!(!allowed(&head, Action::ReadReports, &Resource::Reports));
    assert!(!allowed(
        &misplaced,
        Action::ReadReports,
        &Resource::Reports
    ));
    // A renewal: the person of the grant or the head of its organization, nobody next door.
    let grant_of = |i: &str, b: &str| Resource::Grant {
        id: 1,
        person_iin: iin(i),
        organization_bin: bin(b),
    };
    assert!(allowed(
        &head,
        Action::RequestRenewal,
        &grant_of("990101300013", head.bin.as_str())
    ));
    assert!(!allowed(
        &head,
        Action::RequestRenewal,
        &grant_of("990101300013", MINFIN)
    ));
    assert!(allowed(
        &head,
        Action::RequestRenewal,
        &grant_of(head.iin.as_str(), head.bin.as_str())
    ));
    assert!(!allowed(
        &integrator,
        Action::RequestRenewal,
        &grant_of("990101300013", APPLICANT)
    ));
}

fn role_strategy() -> impl Strategy<Value = Vec<Role>> {
    proptest::collection::vec(
        prop_oneof![
            Just(Role::Head),
            Just(Role::Employee),
            Just(Role::Reviewer),
            Just(Role::IntegratorAdmin)
        ],
        0..3,
    )
}

proptest! {
    // Security property: only a head of the same BIN can submit; only the authorized body's reviewer
    // reviews; only the integrator's admin grants; nobody decides on their own organization.
    #[test]
    fn decisions_match_the_rules(roles in role_strategy(), kind_i in 0usize..K::ALL.len(), same_bin in any::<bool>()) {
        let e = engine();
        let kind = K::ALL[kind_i];
        let a = actor(if same_bin { APPLICANT } else { MINFIN }, kind, &roles);
        let submit = e.decide(&a, Action::SubmitApplication, &app(APPLICANT)).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(submit, roles.contains(&Role::Head) && same_bin && kind.is_applicant());
        // In a session: only of the applicant's own organization.
        let in_session = e.decide_submission(&a, &app(APPLICANT), Some(a.bin.as_str())).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(in_session, submit);
        let elsewhere = e.decide_submission(&a, &app(APPLICANT), Some(INTEGRATOR)).map(|d| d.allowed).unwrap_or(true);
        prop_assert!(!elsewhere);
        let review = e.decide(&a, Action::ReviewApplication, &app(APPLICANT)).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(review, roles.contains(&Role::Reviewer) && kind == K::AuthorizedBody && !same_bin);
        let grant = e.decide(&a, Action::GrantAccess, &app(APPLICANT)).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(grant, roles.contains(&Role::IntegratorAdmin) && kind == K::Integrator && !same_bin);
        // Order 270 §9: only the employing body's head sends its block request.
        let br = Resource::BlockRequest { id: None, applicant_bin: bin(APPLICANT) };
        let block = e.decide(&a, Action::SubmitBlockRequest, &br).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(block, roles.contains(&Role::Head) && same_bin);
    }
}

proptest! {
    // Issue 17: a campaign is answered only by a head of its own organization (BIN), read by them and
    // by the integrator's administrators; opened and listed whole by those administrators only —
    // whatever the other roles and the organization's kind.
    #[test]
    fn campaigns_are_their_organizations_heads_and_the_integrators(roles in role_strategy(),
        kind_i in 0usize..K::ALL.len(), same_bin in any::<bool>()) {
        let e = engine();
        let kind = K::ALL[kind_i];
        let a = actor(if same_bin { APPLICANT } else { MINFIN }, kind, &roles);
        let c = Resource::Campaign { id: Some(1), organization_bin: bin(APPLICANT) };
        let head = roles.contains(&Role::Head) && same_bin;
        let integrator = roles.contains(&Role::IntegratorAdmin) && kind == K::Integrator;
        let answer = e.decide(&a, Action::AnswerCampaign, &c).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(answer, head);
        let read = e.decide(&a, Action::ReadCampaign, &c).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(read, head || integrator);
        for action in [Action::OpenCampaign, Action::ListAllCampaigns] {
            let d = e.decide(&a, action, &Resource::Registry).map(|d| d.allowed).unwrap_or(true);
            prop_assert_eq!(d, integrator, "{:?}", action);
        }
    }
}

proptest! {
    // The grant list asks Cedar once per (person, organization) pair (service `list_grants`): sound
    // only while no policy reads a grant's id. Any id, the same decision, for every role and kind.
    #[test]
    fn read_grant_does_not_depend_on_the_grant_id(roles in role_strategy(), kind_i in 0usize..K::ALL.len(),
        same_bin in any::<bool>(), own in any::<bool>(), id_a in any::<i64>(), id_b in any::<i64>()) {
        let e = engine();
        let a = actor(if same_bin { APPLICANT } else { MINFIN }, K::ALL[kind_i], &roles);
        let person = if own { a.iin.clone() } else { iin("990101300013") };
        let with_id = |id: i64| Resource::Grant { id, person_iin: person.clone(), organization_bin: bin(APPLICANT) };
        let first = e.decide(&a, Action::ReadGrant, &with_id(id_a)).map(|d| d.allowed);
        let second = e.decide(&a, Action::ReadGrant, &with_id(id_b)).map(|d| d.allowed);
        prop_assert_eq!(first.ok(), second.ok());
    }
}

proptest! {
    // Order 270 §14: a support request is read and written by its requester (same IIN and BIN) and by
    // the integrator's support staff — nobody else, whatever their roles and kind; only support staff
    // assign and list everyone's.
    #[test]
    fn support_requests_are_their_requesters_and_the_support_staffs(roles in role_strategy(),
        kind_i in 0usize..K::ALL.len(), same_bin in any::<bool>(), own in any::<bool>(), agent in any::<bool>()) {
        let e = engine();
        let mut roles = roles;
        if agent { roles.push(Role::SupportAgent); }
        let kind = K::ALL[kind_i];
        let a = actor(if same_bin { APPLICANT } else { MINFIN }, kind, &roles);
        let requester = if own { a.iin.clone() } else { iin("990101300013") };
        let r = Resource::SupportRequest { id: 1, requester_iin: requester, requester_bin: bin(APPLICANT) };
        let staff = agent && kind == K::Integrator;
        let mine = own && same_bin;
        for action in [Action::ReadSupportRequest, Action::AnswerSupportRequest] {
            let d = e.decide(&a, action, &r).map(|d| d.allowed).unwrap_or(true);
            prop_assert_eq!(d, mine || staff, "{:?}", action);
        }
        let assign = e.decide(&a, Action::ManageSupportRequest, &r).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(assign, staff);
        let all = e.decide(&a, Action::ListAllSupportRequests, &Resource::Registry).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(all, staff);
    }

    // Order 270 §13, §15: whatever the scope and the row, a grant whose person is not trained, or whose
    // duties are not accepted, reads nothing; trained and accepted, the scope alone decides.
    #[test]
    fn nothing_is_read_before_training_and_the_duties(trained in any::<bool>(), accepted in any::<bool>(),
        region in 0usize..3, year in 2025i16..2028) {
        let e = engine();
        let employee = actor(APPLICANT, K::Maslikhat, &[Role::Employee]);
        let ctx = GrantContext {
            system: System::AnalyticalCentral,
            fiscal_years: vec![2025, 2026, 2027],
            levels: vec![BudgetLevel::Regional],
            territory_prefix: Some("75".into()),
            administrators: vec![],
            active: true,
            trained,
            duties_accepted: accepted,
        };
        let kato = ["750000000", "710000000", "751000000"][region];
        let row = Resource::BudgetRow {
            system: System::AnalyticalCentral,
            fiscal_year: year,
            level: BudgetLevel::Regional,
            territory: Some(Kato::parse(kato).unwrap_or_else(|e| panic!("{e}"))),
            administrator: AdministratorCode::parse("217").unwrap_or_else(|e| panic!("{e}")),
        };
        let d = e.decide_data(&employee, Action::ReadData, &row, &ctx).map(|d| d.allowed).unwrap_or(true);
        prop_assert_eq!(d, trained && accepted && kato.starts_with("75"));
    }
}

fn system_actor(b: &str, id: i64) -> SystemActor {
    SystemActor {
        id,
        bin: bin(b),
        org_kind: Some(K::RevisionCommission),
    }
}

// Issue 18 (Order 270 §3): an information system reads itself, not another system.
#[test]
fn a_system_reads_itself_only() {
    let e = engine();
    let me = system_actor(APPLICANT, 7);
    let own = |id: i64| Resource::InformationSystem {
        id,
        bin: bin(APPLICANT),
        org_kind: Some(K::RevisionCommission),
    };
    let d = e
        .decide_system(&me, Action::ReadOwnSystem, &own(7))
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(
        (d.allowed, d.policies),
        (true, vec!["system-reads-itself".to_owned()])
    );
    let d = e
        .decide_system(&me, Action::ReadOwnSystem, &own(8))
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(!d.allowed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Issue 18 (Order 270 §3, §6): an information system's data reads are decided by the same policies
    // as a person's: under the same grant's scope, the same row or query is allowed for both or for
    // neither — the neighbouring territory, another year, another level included.
    #[test]
    fn a_system_reads_what_a_person_with_the_same_scope_reads(region in 0usize..4, year in 2025i16..2029,
        level_i in 0usize..4, query in any::<bool>(), active in any::<bool>()) {
        let e = engine();
        let person = actor(APPLICANT, K::RevisionCommission, &[Role::Employee]);
        let system = system_actor(APPLICANT, 3);
        let ctx = GrantContext {
            system: System::AnalyticalCentral,
            fiscal_years: vec![2026, 2027],
            levels: vec![BudgetLevel::Regional, BudgetLevel::District],
            territory_prefix: Some("75".into()),
            administrators: vec![],
            active,
            trained: true,
            duties_accepted: true,
        };
        let kato = Kato::parse(["750000000", "710000000", "751000000", "751110000"][region]).unwrap_or_else(|e| panic!("{e}"));
        let level = [BudgetLevel::Republican, BudgetLevel::Regional, BudgetLevel::District, BudgetLevel::Rural][level_i];
        let (action, resource) = if query {
            (Action::QueryData, Resource::DataQuery { system: System::AnalyticalCentral, fiscal_year: year,
                level: Some(level), territory: Some(kato.clone()), administrator: None })
        } else {
            (Action::ReadData, Resource::BudgetRow { system: System::AnalyticalCentral, fiscal_year: year, level,
                territory: Some(kato.clone()),
                administrator: AdministratorCode::parse("217").unwrap_or_else(|e| panic!("{e}")) })
        };
        let p = e.decide_data(&person, action, &resource, &ctx).unwrap_or_else(|x| panic!("{x}"));
        let s = e.decide_system_data(&system, action, &resource, &ctx).unwrap_or_else(|x| panic!("{x}"));
        prop_assert_eq!(&p.allowed, &s.allowed);
        prop_assert_eq!(&p.policies, &s.policies);
        let inside = active && (2026..=2027).contains(&year)
            && matches!(level, BudgetLevel::Regional | BudgetLevel::District)
            && kato.as_str().starts_with("75");
        prop_assert_eq!(s.allowed, inside);
    }

    // Order 270 §3–§4 (issue 18): an information system reads in read mode only — the principal of the
    // data reads and of reading itself, and of no workflow action whatever the resource: the schema refuses the request, so nothing is allowed.
    #[test]
    fn a_system_takes_no_workflow_action(action_i in 0usize..Action::ALL.len(), resource_i in 0usize..4) {
        let e = engine();
        let action = Action::ALL[action_i];
        prop_assume!(!matches!(action, Action::ReadData | Action::QueryData | Action::ReadOwnSystem));
        let resource = [
            app(APPLICANT),
            Resource::Registry,
            Resource::Reports,
            Resource::Grant { id: 1, person_iin: iin("871008401427"), organization_bin: bin(APPLICANT) },
        ][resource_i].clone();
        let allowed = e.decide_system(&system_actor(APPLICANT, 3), action, &resource).map(|d| d.allowed).unwrap_or(false);
        prop_assert!(!allowed, "{}", action.as_str());
    }
}
