//! Kazakh, Russian and English messages (Fluent files under `locales/`, generated from one table).
//! Kazakh, the state language, is the default.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{Loader, static_loader};
use unic_langid::{LanguageIdentifier, langid};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "kk",
        // Plain text in JSON: no Unicode isolation marks around arguments.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Kk,
    Ru,
    En,
}

impl Lang {
    /// The first of kk, ru, en named in an Accept-Language header, by order of quality; default kk.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(h) = header else { return Lang::Kk };
        let mut best: Option<(f32, Lang)> = None;
        for part in h.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next().unwrap_or("") {
                "kk" => Lang::Kk,
                "ru" => Lang::Ru,
                "en" => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Kk)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::Kk => langid!("kk"),
            Lang::Ru => langid!("ru"),
            Lang::En => langid!("en"),
        }
    }

    pub fn text(self, key: &str, args: &[(&'static str, String)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), FluentValue::from(v.clone())))
            .collect();
        LOCALES
            .try_lookup_with_args(&self.id(), key, &map)
            .unwrap_or_else(|| key.to_owned())
    }

    pub fn has(self, key: &str) -> bool {
        LOCALES.try_lookup(&self.id(), key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem of the enum has a title and a detail in Kazakh, Russian and English, every
    /// argument a message uses is given by some caller, and no message names a problem that is gone.
    #[test]
    fn every_problem_is_translated() {
        use crate::problem::Problem;
        let args: Vec<(&'static str, String)> = [
            "count",
            "reason",
            "action",
            "what",
            "current",
            "expected",
            "line",
            "bin",
            "kind",
            "session",
            "applicant",
            "at",
            "not_before",
            "not_after",
            "found",
            "limit",
            "system",
            "filter",
            "scope",
            "id",
            "status",
            "serial",
            "revoked_at",
        ]
        .into_iter()
        .map(|k| (k, "x".to_owned()))
        .collect();
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            for p in Problem::ALL {
                for part in ["title", "detail"] {
                    let key = format!("problem-{}-{part}", p.slug());
                    let text = lang.text(&key, &args);
                    assert!(
                        text != key && !text.is_empty() && !text.contains("{"),
                        "{key} missing or incomplete in {}: {text}",
                        lang.code()
                    );
                }
            }
        }
        let en = include_str!("../locales/en/main.ftl");
        for line in en.lines() {
            if let Some(slug) = line
                .strip_prefix("problem-")
                .and_then(|r| r.split_once("-title"))
                .map(|(s, _)| s)
            {
                assert!(
                    Problem::ALL.iter().any(|p| p.slug() == slug),
                    "{slug} has messages but no Problem"
                );
            }
        }
        assert_eq!(
            Lang::Ru.text("problem-forbidden-detail", &[("action", "x".into())]),
            "Действие x вам не разрешено."
        );
        assert_eq!(
            Lang::Kk.text("problem-not-signed-in-title", &[]),
            "Кіру қажет"
        );
    }

    /// docs/problems.md lists every problem type and every field rule the server can answer.
    #[test]
    fn every_problem_and_rule_is_documented() {
        let doc = include_str!("../../../docs/problems.md");
        for p in crate::problem::Problem::ALL {
            assert!(
                doc.contains(&format!("| `{}` | {}", p.slug(), p.status().as_u16())),
                "{} ({}) is not in docs/problems.md with its status",
                p.slug(),
                p.status().as_u16()
            );
        }
        let en = include_str!("../locales/en/main.ftl");
        for rule in en.lines().filter_map(|l| {
            l.strip_prefix("rule-")
                .and_then(|rest| rest.split_once(' '))
                .map(|(rule, _)| rule.replace('-', "_"))
        }) {
            assert!(
                doc.contains(&format!("`{rule}`")),
                "{rule} is not in docs/problems.md"
            );
        }
    }

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(Lang::from_accept_language(None), Lang::Kk);
        assert_eq!(
            Lang::from_accept_language(Some("ru-RU,ru;q=0.9,en;q=0.8")),
            Lang::Ru
        );
        assert_eq!(
            Lang::from_accept_language(Some("de, en;q=0.5, kk;q=0.7")),
            Lang::Kk
        );
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Kk);
    }
}
