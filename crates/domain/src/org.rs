//! Organizations and the competence → scope rule of Order 270 §6 (DESIGN.md §2).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::competence::{Competence, CompetenceRules};
use crate::ids::Bin;
use crate::kato::{Kato, KatoLevel};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    Parliament,
    SupremeAuditChamber,
    InternalStateAudit,
    Maslikhat,
    RevisionCommission,
    LocalInternalAudit,
    CentralInternalAudit,
    MvdTerritorialInternalAudit,
    AuthorizedBody,
    Integrator,
    BudgetPlanningBody,
}

impl OrganizationKind {
    pub const ALL: [OrganizationKind; 11] = [
        OrganizationKind::Parliament,
        OrganizationKind::SupremeAuditChamber,
        OrganizationKind::InternalStateAudit,
        OrganizationKind::Maslikhat,
        OrganizationKind::RevisionCommission,
        OrganizationKind::LocalInternalAudit,
        OrganizationKind::CentralInternalAudit,
        OrganizationKind::MvdTerritorialInternalAudit,
        OrganizationKind::AuthorizedBody,
        OrganizationKind::Integrator,
        OrganizationKind::BudgetPlanningBody,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationKind::Parliament => "parliament",
            OrganizationKind::SupremeAuditChamber => "supreme_audit_chamber",
            OrganizationKind::InternalStateAudit => "internal_state_audit",
            OrganizationKind::Maslikhat => "maslikhat",
            OrganizationKind::RevisionCommission => "revision_commission",
            OrganizationKind::LocalInternalAudit => "local_internal_audit",
            OrganizationKind::CentralInternalAudit => "central_internal_audit",
            OrganizationKind::MvdTerritorialInternalAudit => "mvd_territorial_internal_audit",
            OrganizationKind::AuthorizedBody => "authorized_body",
            OrganizationKind::Integrator => "integrator",
            OrganizationKind::BudgetPlanningBody => "budget_planning_body",
        }
    }

    /// Operator organizations run the process; they never apply for data access.
    pub fn is_operator(self) -> bool {
        matches!(
            self,
            OrganizationKind::AuthorizedBody
                | OrganizationKind::Integrator
                | OrganizationKind::BudgetPlanningBody
        )
    }

    pub fn is_applicant(self) -> bool {
        !self.is_operator()
    }
}

impl fmt::Display for OrganizationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrganizationKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        OrganizationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// Kinds that Order 270 §2.6 names and excludes ("…қоспағанда" = "except"): the internal audit
/// services of the National Bank and of the financial-market regulator are not state audit bodies
/// under the order. They are no kind of this system; a record or request naming one is refused.
pub const EXCLUDED_KINDS: [&str; 2] = [
    "national_bank_internal_audit",
    "financial_regulator_internal_audit",
];

/// The kind an organization was registered with: one of today's kinds, or one §2.6 excludes (a record
/// kept from before the re-reading, recognised so that it is marked not eligible — never read as a
/// kind that may apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisteredKind {
    Current(OrganizationKind),
    Excluded(&'static str),
}

impl RegisteredKind {
    /// None: neither a kind of this system nor an excluded one.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse::<OrganizationKind>()
            .ok()
            .map(RegisteredKind::Current)
            .or_else(|| {
                EXCLUDED_KINDS
                    .into_iter()
                    .find(|k| *k == s)
                    .map(RegisteredKind::Excluded)
            })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RegisteredKind::Current(k) => k.as_str(),
            RegisteredKind::Excluded(k) => k,
        }
    }
    /// The kind, when it is one of this system's.
    pub fn current(self) -> Option<OrganizationKind> {
        match self {
            RegisteredKind::Current(k) => Some(k),
            RegisteredKind::Excluded(_) => None,
        }
    }
}

impl From<OrganizationKind> for RegisteredKind {
    fn from(k: OrganizationKind) -> Self {
        RegisteredKind::Current(k)
    }
}

impl fmt::Display for RegisteredKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RegisteredKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The §2.6 exclusions: the kinds above and a configured list of BINs (those two bodies' BINs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    bins: BTreeSet<Bin>,
}

impl Exclusions {
    /// Parses the configured BINs; a wrong one is refused with its position in the list.
    pub fn new(bins: &[String]) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for (i, b) in bins.iter().enumerate() {
            let bin = Bin::parse(b)
                .map_err(|e| format!("excluded_bins[{i}] = {b:?}: {e} (Order 270 §2.6 list)"))?;
            set.insert(bin);
        }
        Ok(Exclusions { bins: set })
    }

    /// Whether an organization of this BIN (and stored or asked-for kind) is excluded by §2.6.
    pub fn excludes(&self, bin: &str, kind: &str) -> bool {
        EXCLUDED_KINDS.contains(&kind) || self.bins.iter().any(|b| b.as_str() == bin)
    }

    pub fn bins(&self) -> impl Iterator<Item = &Bin> {
        self.bins.iter()
    }
}

/// A budget program administrator code: 3 digits (unified budget classification).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdministratorCode(String);

impl AdministratorCode {
    /// The Ministry of Internal Affairs' administrator whose budget its territorial internal audit
    /// reads: 252 in a region, 352 in a city of republican significance.
    pub fn mvd(republican_city: bool) -> Self {
        AdministratorCode(if republican_city { "352" } else { "252" }.to_owned())
    }
    /// The code as a number (`"017"` is 17): three digits by construction, so never a failure that
    /// could drop a code from a scope and widen it.
    pub fn number(&self) -> i16 {
        self.0
            .bytes()
            .fold(0, |n, b| n * 10 + i16::from(b.saturating_sub(b'0')))
    }
    pub fn parse(s: &str) -> Result<Self, OrgRule> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AdministratorCode(s.to_owned()))
        } else {
            Err(OrgRule::AdministratorFormat)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for AdministratorCode {
    type Error = OrgRule;
    fn try_from(s: String) -> Result<Self, OrgRule> {
        AdministratorCode::parse(&s)
    }
}
impl From<AdministratorCode> for String {
    fn from(a: AdministratorCode) -> String {
        a.0
    }
}

/// The rule an organization record broke; each names the field it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrgRule {
    #[error("this kind of organization needs a territory")]
    TerritoryRequired,
    #[error("this kind of organization has no territory")]
    TerritoryNotAllowed,
    #[error("the territory must be an oblast or one of the cities Astana, Almaty, Shymkent")]
    TerritoryMustBeRegion,
    #[error(
        "a maslikhat's territory is a region, city or district, not a rural district or settlement"
    )]
    TerritoryTooLow,
    #[error("this kind of organization needs the administrator codes of its state body")]
    AdministratorsRequired,
    #[error("this kind of organization has no administrator codes")]
    AdministratorsNotAllowed,
    #[error("an administrator code is 3 digits")]
    AdministratorFormat,
    #[error("a name in Kazakh and in Russian is required (1 to 500 characters)")]
    Name,
}

impl OrgRule {
    pub fn rule(&self) -> &'static str {
        match self {
            OrgRule::TerritoryRequired => "territory_required",
            OrgRule::TerritoryNotAllowed => "territory_not_allowed",
            OrgRule::TerritoryMustBeRegion => "territory_must_be_region",
            OrgRule::TerritoryTooLow => "territory_too_low",
            OrgRule::AdministratorsRequired => "administrators_required",
            OrgRule::AdministratorsNotAllowed => "administrators_not_allowed",
            OrgRule::AdministratorFormat => "administrator_format",
            OrgRule::Name => "name_length",
        }
    }
    pub fn field(&self) -> &'static str {
        match self {
            OrgRule::TerritoryRequired
            | OrgRule::TerritoryNotAllowed
            | OrgRule::TerritoryMustBeRegion
            | OrgRule::TerritoryTooLow => "/territory",
            OrgRule::AdministratorsRequired
            | OrgRule::AdministratorsNotAllowed
            | OrgRule::AdministratorFormat => "/administrators",
            OrgRule::Name => "/name_kk",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub bin: Bin,
    pub name_kk: String,
    pub name_ru: String,
    pub kind: OrganizationKind,
    pub territory: Option<Kato>,
    pub administrators: Vec<AdministratorCode>,
}

impl Organization {
    /// Builds an organization, refusing a record whose kind and territory/administrators disagree.
    pub fn new(
        bin: Bin,
        name_kk: String,
        name_ru: String,
        kind: OrganizationKind,
        territory: Option<Kato>,
        administrators: Vec<AdministratorCode>,
    ) -> Result<Self, OrgRule> {
        let name_ok = |n: &str| !n.trim().is_empty() && n.chars().count() <= 500;
        if !name_ok(&name_kk) || !name_ok(&name_ru) {
            return Err(OrgRule::Name);
        }
        use OrganizationKind as K;
        match kind {
            K::Maslikhat => match &territory {
                None => return Err(OrgRule::TerritoryRequired),
                Some(t)
                    if matches!(t.level(), KatoLevel::RuralDistrict | KatoLevel::Settlement) =>
                {
                    return Err(OrgRule::TerritoryTooLow);
                }
                Some(_) => {}
            },
            K::RevisionCommission | K::LocalInternalAudit | K::MvdTerritorialInternalAudit => {
                match &territory {
                    None => return Err(OrgRule::TerritoryRequired),
                    Some(t) if t.level() != KatoLevel::Region => {
                        return Err(OrgRule::TerritoryMustBeRegion);
                    }
                    Some(_) => {}
                }
            }
            _ => {
                if territory.is_some() {
                    return Err(OrgRule::TerritoryNotAllowed);
                }
            }
        }
        match kind {
            K::CentralInternalAudit if administrators.is_empty() => {
                return Err(OrgRule::AdministratorsRequired);
            }
            K::CentralInternalAudit => {}
            _ if !administrators.is_empty() => return Err(OrgRule::AdministratorsNotAllowed),
            _ => {}
        }
        let mut administrators = administrators;
        administrators.sort();
        administrators.dedup();
        Ok(Organization {
            bin,
            name_kk,
            name_ru,
            kind,
            territory,
            administrators,
        })
    }
}

/// The two budget-process information systems of Order 270 §4; each is a separate grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    AnalyticalCentral,
    StatePlanning,
}

impl System {
    pub const ALL: [System; 2] = [System::AnalyticalCentral, System::StatePlanning];
    pub fn as_str(self) -> &'static str {
        match self {
            System::AnalyticalCentral => "analytical_central",
            System::StatePlanning => "state_planning",
        }
    }
}

impl FromStr for System {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        System::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetLevel {
    Republican,
    Regional,
    District,
    Rural,
}

impl BudgetLevel {
    /// In the order of the budget engine's level codes (0 = republican … 3 = rural).
    pub const ALL: [BudgetLevel; 4] = [
        BudgetLevel::Republican,
        BudgetLevel::Regional,
        BudgetLevel::District,
        BudgetLevel::Rural,
    ];
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetLevel::Republican => "republican",
            BudgetLevel::Regional => "regional",
            BudgetLevel::District => "district",
            BudgetLevel::Rural => "rural",
        }
    }
}

/// What a grant lets its holder read: fixed at grant time and stored on the grant as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub fiscal_years: Vec<i16>,
    pub levels: Vec<BudgetLevel>,
    /// KATO of the territory whose budgets (and those inside it) may be read; None = no territorial limit.
    pub territory: Option<Kato>,
    /// The level prefix of `territory` that every readable budget's KATO starts with.
    pub territory_prefix: Option<String>,
    /// Administrator codes the holder may read; empty = every administrator within the other limits.
    pub administrators: Vec<AdministratorCode>,
}

impl Scope {
    /// True when the scope admits nothing (an organization whose kind has no rule).
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }
}

/// Fiscal years "for the relevant financial year" (DESIGN.md §2): analytical_central from the year
/// before the grant through the year validity ends; state_planning from the grant year through three
/// years after validity ends.
pub fn fiscal_years(system: System, granted_on: Date, valid_until: Date) -> Vec<i16> {
    let (from, to) = match system {
        System::AnalyticalCentral => (granted_on.year() - 1, valid_until.year()),
        System::StatePlanning => (granted_on.year(), valid_until.year() + 3),
    };
    (from..=to).collect()
}

/// The scope of one grant: competence of the organization plus fiscal years, with optional extra years.
pub fn derive_scope(
    rules: &CompetenceRules,
    org: &Organization,
    system: System,
    granted_on: Date,
    valid_until: Date,
    extra_years: &BTreeSet<i16>,
) -> Scope {
    let Competence {
        levels,
        territory,
        administrators,
    } = rules.competence(org);
    if levels.is_empty() {
        return Scope {
            fiscal_years: vec![],
            levels,
            territory: None,
            territory_prefix: None,
            administrators,
        };
    }
    let mut years: BTreeSet<i16> = fiscal_years(system, granted_on, valid_until)
        .into_iter()
        .collect();
    years.extend(extra_years.iter().copied());
    let territory_prefix = territory.as_ref().map(|t| t.level_prefix().to_owned());
    Scope {
        fiscal_years: years.into_iter().collect(),
        levels,
        territory,
        territory_prefix,
        administrators,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin() -> Bin {
        Bin::parse("940140000385").unwrap_or_else(|_| unreachable_bin())
    }
    fn unreachable_bin() -> Bin {
        Bin::parse("950341000052").unwrap_or_else(|_| std::process::abort())
    }
    fn kato(s: &str) -> Kato {
        Kato::parse(s).unwrap_or_else(|_| std::process::abort())
    }
    fn admins(sc: &Scope) -> Vec<&str> {
        sc.administrators
            .iter()
            .map(AdministratorCode::as_str)
            .collect()
    }

    /// An administrator code's number is its three digits, leading zeros included.
    #[test]
    fn administrator_code_number() {
        for (code, n) in [("017", 17), ("352", 352), ("000", 0), ("999", 999)] {
            let c = AdministratorCode::parse(code).unwrap_or_else(|_| std::process::abort());
            assert_eq!(c.number(), n);
        }
    }
    fn org(kind: OrganizationKind, t: Option<&str>, a: &[&str]) -> Result<Organization, OrgRule> {
        Organization::new(
            bin(),
            "атауы".into(),
            "название".into(),
            kind,
            t.map(kato),
            a.iter()
                .map(|s| AdministratorCode::parse(s).unwrap_or_else(|_| std::process::abort()))
                .collect(),
        )
    }
    fn d(s: &str) -> Date {
        s.parse().unwrap_or_else(|_| std::process::abort())
    }

    // Order 270 §6: each kind's record must carry what its competence needs.
    #[test]
    fn kind_and_territory_must_agree() {
        use OrganizationKind as K;
        assert_eq!(
            org(K::Maslikhat, None, &[]),
            Err(OrgRule::TerritoryRequired)
        );
        assert_eq!(
            org(K::Maslikhat, Some("194230000"), &[]),
            Err(OrgRule::TerritoryTooLow)
        );
        assert!(org(K::Maslikhat, Some("194000000"), &[]).is_ok());
        assert_eq!(
            org(K::MvdTerritorialInternalAudit, Some("194000000"), &[]),
            Err(OrgRule::TerritoryMustBeRegion)
        );
        assert_eq!(
            org(K::RevisionCommission, Some("194000000"), &[]),
            Err(OrgRule::TerritoryMustBeRegion)
        );
        assert_eq!(
            org(K::Parliament, Some("750000000"), &[]),
            Err(OrgRule::TerritoryNotAllowed)
        );
        assert_eq!(
            org(K::CentralInternalAudit, None, &[]),
            Err(OrgRule::AdministratorsRequired)
        );
        assert_eq!(
            org(K::Maslikhat, Some("750000000"), &["252"]),
            Err(OrgRule::AdministratorsNotAllowed)
        );
        assert_eq!(
            AdministratorCode::parse("25"),
            Err(OrgRule::AdministratorFormat)
        );
    }

    // Order 270 §6: scope by competence, every applicant kind. Parliament, the Supreme Audit Chamber
    // and internal state audit read the republican budget and all local budgets.
    #[test]
    fn every_applicant_kinds_scope() {
        use OrganizationKind as K;
        let g = d("2026-11-25");
        let u = d("2027-06-30");
        let none = BTreeSet::new();
        let rules = CompetenceRules::shipped().unwrap_or_else(|_| std::process::abort());
        let s = |o: Result<Organization, OrgRule>, sys| {
            derive_scope(
                &rules,
                &o.unwrap_or_else(|_| std::process::abort()),
                sys,
                g,
                u,
                &none,
            )
        };
        for kind in [K::Parliament, K::SupremeAuditChamber, K::InternalStateAudit] {
            let sc = s(org(kind, None, &[]), System::AnalyticalCentral);
            assert_eq!(
                sc.levels,
                vec![
                    BudgetLevel::Republican,
                    BudgetLevel::Regional,
                    BudgetLevel::District,
                    BudgetLevel::Rural
                ]
            );
            assert_eq!(sc.territory, None);
            assert_eq!(sc.territory_prefix, None);
            assert!(sc.administrators.is_empty());
            assert_eq!(sc.fiscal_years, vec![2025, 2026, 2027]);
        }
        let sc = s(
            org(K::Maslikhat, Some("750000000"), &[]),
            System::StatePlanning,
        );
        assert_eq!(
            sc.levels,
            vec![
                BudgetLevel::Regional,
                BudgetLevel::District,
                BudgetLevel::Rural
            ]
        );
        assert_eq!(sc.territory_prefix.as_deref(), Some("75"));
        assert_eq!(sc.fiscal_years, vec![2026, 2027, 2028, 2029, 2030]);
        let sc = s(
            org(K::Maslikhat, Some("194000000"), &[]),
            System::AnalyticalCentral,
        );
        assert_eq!(sc.levels, vec![BudgetLevel::District, BudgetLevel::Rural]);
        assert_eq!(sc.territory_prefix.as_deref(), Some("1940"));
        for kind in [K::RevisionCommission, K::LocalInternalAudit] {
            let sc = s(org(kind, Some("350000000"), &[]), System::AnalyticalCentral);
            assert_eq!(sc.territory_prefix.as_deref(), Some("35"));
            assert!(sc.administrators.is_empty());
        }
        let sc = s(
            org(K::CentralInternalAudit, None, &["217", "218"]),
            System::AnalyticalCentral,
        );
        assert_eq!(sc.levels, vec![BudgetLevel::Republican]);
        assert_eq!(admins(&sc), vec!["217", "218"]);
        let sc = s(
            org(K::MvdTerritorialInternalAudit, Some("750000000"), &[]),
            System::AnalyticalCentral,
        );
        assert_eq!(admins(&sc), vec!["352"]);
        let sc = s(
            org(K::MvdTerritorialInternalAudit, Some("710000000"), &[]),
            System::AnalyticalCentral,
        );
        assert_eq!(admins(&sc), vec!["352"]);
        let sc = s(
            org(K::MvdTerritorialInternalAudit, Some("350000000"), &[]),
            System::AnalyticalCentral,
        );
        assert_eq!(admins(&sc), vec!["252"]);
        // Order 270 §2.6: the National Bank's internal audit is no applicant kind at all.
        assert!("national_bank_internal_audit".parse::<K>().is_err());
    }

    #[test]
    fn extra_years_are_added() {
        let o =
            org(OrganizationKind::Parliament, None, &[]).unwrap_or_else(|_| std::process::abort());
        let extra: BTreeSet<i16> = [2020].into_iter().collect();
        let rules = CompetenceRules::shipped().unwrap_or_else(|_| std::process::abort());
        let sc = derive_scope(
            &rules,
            &o,
            System::AnalyticalCentral,
            d("2026-03-15"),
            d("2027-03-15"),
            &extra,
        );
        assert_eq!(sc.fiscal_years, vec![2020, 2025, 2026, 2027]);
    }
}
