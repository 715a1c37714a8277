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
        self.lookup(
            key,
            args.iter()
                .map(|(k, v)| (Cow::Borrowed(*k), FluentValue::from(v.clone())))
                .collect(),
        )
    }

    /// The same with argument names known only at run time (the pages' `t()` passes whatever a
    /// template names).
    pub fn text_with(self, key: &str, args: &[(String, String)]) -> String {
        self.lookup(
            key,
            args.iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), FluentValue::from(v.clone())))
                .collect(),
        )
    }

    fn lookup(self, key: &str, map: HashMap<Cow<'static, str>, FluentValue>) -> String {
        LOCALES
            .try_lookup_with_args(&self.id(), key, &map)
            .unwrap_or_else(|| key.to_owned())
    }

    pub fn has(self, key: &str) -> bool {
        LOCALES.try_lookup(&self.id(), key).is_some()
    }
}

/// The caller's language from `Accept-Language` (Kazakh when none is named).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Lang::of_request(parts))
    }
}

impl Lang {
    /// The language a request is answered in: the one chosen on the pages (the `qoljetim_lang`
    /// cookie, so a CSV downloaded from a Russian page is Russian), else `Accept-Language`, else
    /// Kazakh.
    pub fn of_request(parts: &axum::http::request::Parts) -> Lang {
        match crate::auth::cookie(parts, crate::pages::LANG_COOKIE).as_deref() {
            Some("kk") => Lang::Kk,
            Some("ru") => Lang::Ru,
            Some("en") => Lang::En,
            _ => Lang::from_accept_language(
                parts
                    .headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            ),
        }
    }
}

impl Lang {
    /// Notices are written in Kazakh and Russian: an English reader gets the Kazakh ones, the state
    /// language (the API and the pages alike).
    pub fn notices(self) -> qoljetim_service::NoticeLanguage {
        match self {
            Lang::Ru => qoljetim_service::NoticeLanguage::Ru,
            Lang::Kk | Lang::En => qoljetim_service::NoticeLanguage::Kk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
