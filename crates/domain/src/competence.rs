//! Competence → scope as data (Order 270 §6, DESIGN.md §2): one rule per applicant kind, read from a
//! TOML file (`rules/competence.toml`, shipped; a configured file replaces it). A file that names an
//! unknown kind, level or rule, repeats a kind or leaves one out is refused with the line it is on, so a
//! stricter or corrected reading of the order needs no rebuild and cannot start half-read.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::kato::{Kato, KatoLevel};
use crate::org::{AdministratorCode, BudgetLevel, Organization, OrganizationKind};

/// The rules shipped with the binary.
pub const SHIPPED_RULES: &str = include_str!("../../../rules/competence.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerritoryRule {
    /// Every territory.
    All,
    /// The organization's territory and those inside it (by KATO level prefix).
    Own,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdministratorRule {
    Any,
    /// The administrator codes registered for the organization.
    Own,
    /// 252 for an oblast, 352 for a city of republican significance or the capital (§6, indent 5).
    Mvd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetenceRule {
    pub kind: OrganizationKind,
    pub clause: String,
    pub levels: Vec<BudgetLevel>,
    pub territory: TerritoryRule,
    pub administrators: AdministratorRule,
}

/// What an organization's competence lets its people read, before fiscal years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Competence {
    pub levels: Vec<BudgetLevel>,
    pub territory: Option<Kato>,
    pub administrators: Vec<AdministratorCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RulesError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetenceRules {
    /// Where the rules came from (the shipped file or a configured path), for messages and audit.
    pub source: String,
    rules: BTreeMap<OrganizationKind, CompetenceRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    kind: Spanned<String>,
    clause: String,
    levels: Vec<Spanned<String>>,
    territory: Spanned<String>,
    administrators: Spanned<String>,
}

fn level_of(s: &str) -> Option<BudgetLevel> {
    match s {
        "republican" => Some(BudgetLevel::Republican),
        "regional" => Some(BudgetLevel::Regional),
        "district" => Some(BudgetLevel::District),
        "rural" => Some(BudgetLevel::Rural),
        _ => None,
    }
}

/// Kinds whose organizations carry a territory (Organization::new requires one).
fn has_territory(kind: OrganizationKind) -> bool {
    use OrganizationKind as K;
    matches!(
        kind,
        K::Maslikhat
            | K::RevisionCommission
            | K::LocalInternalAudit
            | K::MvdTerritorialInternalAudit
    )
}

impl CompetenceRules {
    pub fn shipped() -> Result<Self, RulesError> {
        Self::parse("rules/competence.toml (shipped)", SHIPPED_RULES)
    }

    /// Parses and checks a rules file; every refusal names the file and line.
    pub fn parse(file: &str, text: &str) -> Result<Self, RulesError> {
        let line_at = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let fail = |offset: usize, message: String| RulesError {
            file: file.to_owned(),
            line: line_at(offset),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            fail(offset, e.message().to_owned())
        })?;
        let mut rules = BTreeMap::new();
        for r in raw.rule {
            let start = r.span().start;
            let r = r.into_inner();
            let kind = r.kind.get_ref().parse::<OrganizationKind>().map_err(|()| {
                fail(
                    r.kind.span().start,
                    format!(
                        "unknown kind {:?} (Order 270 §2.6 lists the applicant kinds; the internal audit services of the National Bank and of the financial-market regulator are excluded)",
                        r.kind.get_ref()
                    ),
                )
            })?;
            if kind.is_operator() {
                return Err(fail(
                    r.kind.span().start,
                    format!("{kind} is an operator kind and reads no budget data"),
                ));
            }
            let mut levels = vec![];
            for l in &r.levels {
                let level = level_of(l.get_ref()).ok_or_else(|| {
                    fail(
                        l.span().start,
                        format!(
                            "unknown budget level {:?} (republican, regional, district, rural)",
                            l.get_ref()
                        ),
                    )
                })?;
                if !levels.contains(&level) {
                    levels.push(level);
                }
            }
            levels.sort();
            if levels.is_empty() {
                return Err(fail(start, format!("{kind}: no budget level")));
            }
            let territory = match r.territory.get_ref().as_str() {
                "all" => TerritoryRule::All,
                "own" if has_territory(kind) => TerritoryRule::Own,
                "own" => {
                    return Err(fail(
                        r.territory.span().start,
                        format!("{kind} has no territory, so \"own\" cannot apply"),
                    ));
                }
                other => {
                    return Err(fail(
                        r.territory.span().start,
                        format!("unknown territory rule {other:?} (all, own)"),
                    ));
                }
            };
            let administrators = match r.administrators.get_ref().as_str() {
                "any" => AdministratorRule::Any,
                "own" if kind == OrganizationKind::CentralInternalAudit => AdministratorRule::Own,
                "mvd" if has_territory(kind) => AdministratorRule::Mvd,
                "own" | "mvd" => {
                    return Err(fail(
                        r.administrators.span().start,
                        format!(
                            "administrator rule {:?} does not fit {kind}",
                            r.administrators.get_ref()
                        ),
                    ));
                }
                other => {
                    return Err(fail(
                        r.administrators.span().start,
                        format!("unknown administrator rule {other:?} (any, own, mvd)"),
                    ));
                }
            };
            let rule = CompetenceRule {
                kind,
                clause: r.clause,
                levels,
                territory,
                administrators,
            };
            if rules.insert(kind, rule).is_some() {
                return Err(fail(
                    r.kind.span().start,
                    format!("{kind} has a second rule"),
                ));
            }
        }
        if let Some(missing) = OrganizationKind::ALL
            .into_iter()
            .find(|k| k.is_applicant() && !rules.contains_key(k))
        {
            return Err(fail(
                text.len(),
                format!("no rule for the applicant kind {missing}"),
            ));
        }
        Ok(CompetenceRules {
            source: file.to_owned(),
            rules,
        })
    }

    pub fn rule(&self, kind: OrganizationKind) -> Option<&CompetenceRule> {
        self.rules.get(&kind)
    }

    /// The budget levels, territory and administrators of an organization's competence. Operator
    /// organizations have no rule and read nothing.
    pub fn competence(&self, org: &Organization) -> Competence {
        let nothing = Competence {
            levels: vec![],
            territory: None,
            administrators: vec![],
        };
        let Some(rule) = self.rule(org.kind) else {
            return nothing;
        };
        let (levels, territory) = match (rule.territory, &org.territory) {
            (TerritoryRule::All, _) => (rule.levels.clone(), None),
            (TerritoryRule::Own, Some(t)) => {
                // Budgets of T and inside T: levels above T's own level are not T's.
                let lowest_own = match t.level() {
                    KatoLevel::Region => BudgetLevel::Regional,
                    KatoLevel::District => BudgetLevel::District,
                    _ => BudgetLevel::Rural,
                };
                let levels = rule
                    .levels
                    .iter()
                    .copied()
                    .filter(|l| *l >= lowest_own)
                    .collect();
                (levels, Some(t.clone()))
            }
            (TerritoryRule::Own, None) => return nothing,
        };
        let administrators = match (rule.administrators, &territory) {
            (AdministratorRule::Any, _) => vec![],
            (AdministratorRule::Own, _) => org.administrators.clone(),
            (AdministratorRule::Mvd, Some(t)) => {
                vec![AdministratorCode::mvd(
                    t.region().is_some_and(|r| r.republican_city),
                )]
            }
            (AdministratorRule::Mvd, None) => return nothing,
        };
        Competence {
            levels,
            territory,
            administrators,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> RulesError {
        match CompetenceRules::parse("t.toml", text) {
            Err(e) => e,
            Ok(_) => RulesError {
                file: String::new(),
                line: 0,
                message: "accepted".into(),
            },
        }
    }

    #[test]
    fn shipped_rules_load() {
        let r = CompetenceRules::shipped();
        assert!(r.is_ok(), "{r:?}");
    }

    // Order 270 §2.6: the removed kind, an unknown level or rule, each refused with its line.
    #[test]
    fn a_bad_file_is_refused_naming_the_line() {
        let nb = SHIPPED_RULES.replace(
            "kind = \"internal_state_audit\"",
            "kind = \"national_bank_internal_audit\"",
        );
        let e = err(&nb);
        let want = SHIPPED_RULES
            .lines()
            .position(|l| l.contains("kind = \"internal_state_audit\""))
            .map(|i| i + 1);
        assert_eq!(Some(e.line), want, "{e}");
        assert!(e.message.contains("unknown kind"), "{e}");

        let e = err(&SHIPPED_RULES.replacen("\"rural\"]", "\"village\"]", 1));
        assert!(e.message.contains("unknown budget level"), "{e}");
        assert!(e.line > 1, "{e}");

        let e = err(&SHIPPED_RULES.replacen(
            "administrators = \"mvd\"",
            "administrators = \"some\"",
            1,
        ));
        assert!(e.message.contains("unknown administrator rule"), "{e}");
        let mvd_line = SHIPPED_RULES
            .lines()
            .position(|l| l.contains("administrators = \"mvd\""))
            .map(|i| i + 1);
        assert_eq!(Some(e.line), mvd_line);

        let e = err(&SHIPPED_RULES.replacen("territory = \"all\"", "territory = \"own\"", 1));
        assert!(e.message.contains("has no territory"), "{e}");

        let e = err(&SHIPPED_RULES.replacen(
            "kind = \"supreme_audit_chamber\"",
            "kind = \"parliament\"",
            1,
        ));
        assert!(e.message.contains("second rule"), "{e}");

        let without_mvd = SHIPPED_RULES
            .split("[[rule]]")
            .filter(|part| !part.contains("mvd_territorial_internal_audit"))
            .collect::<Vec<_>>()
            .join("[[rule]]");
        let e = err(&without_mvd);
        assert!(
            e.message
                .contains("no rule for the applicant kind mvd_territorial_internal_audit"),
            "{e}"
        );

        let e = err("[[rule]]\nkind = \"parliament\"\nlevels = 3\n");
        assert_eq!(e.line, 3, "{e}");
    }
}
