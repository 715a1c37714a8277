//! The user manuals (Order 270 §7, §12): Markdown in the repository, one per role and language, each
//! with its version, the pages of its role it explains and what changed in each version.
//!
//! ```markdown
//! <!-- manual: user-analytical-central; version: 2 -->
//! # Title
//! ## Signing in
//! <!-- page: /sign-in -->
//! …
//! ## What changed
//! <!-- changes -->
//! ### 2 — 2026-12-04
//! - Training before the first read …
//! ### 1 — 2026-11-20
//! - First version.
//! ```

/// The manual of a system's users (a new grant's notice links it).
pub fn user_manual(system: crate::System) -> &'static str {
    match system {
        crate::System::AnalyticalCentral => "user-analytical-central",
        crate::System::StatePlanning => "user-state-planning",
    }
}

/// One version's entry of a manual's change list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManualChange {
    pub version: u32,
    pub date: String,
    pub items: Vec<String>,
}

/// A section: its heading and text, for search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualSection {
    pub heading: String,
    pub anchor: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manual {
    pub name: String,
    pub language: String,
    pub version: u32,
    pub title: String,
    /// The pages this manual has a section for (`<!-- page: /path -->`).
    pub pages: Vec<String>,
    pub changes: Vec<ManualChange>,
    pub sections: Vec<ManualSection>,
    /// The Markdown without the markers and the change list.
    pub body: String,
}

/// A section's anchor: its heading in lower case, letters and digits kept, the rest hyphens.
pub fn anchor(heading: &str) -> String {
    let mut out = String::new();
    for c in heading.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn marker<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    inner
        .split(';')
        .map(str::trim)
        .find_map(|kv| kv.strip_prefix(key)?.trim_start().strip_prefix(':'))
        .map(str::trim)
}

impl Manual {
    /// Parses a manual; an error names the file and what is missing.
    pub fn parse(file: &str, language: &str, text: &str) -> Result<Manual, String> {
        let first = text.lines().next().unwrap_or_default();
        let name = marker(first, "manual")
            .ok_or(format!("{file}:1: no <!-- manual: …; version: N --> line"))?;
        let version: u32 = marker(first, "version")
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{file}:1: no version"))?;
        let mut title = String::new();
        let mut pages = vec![];
        let mut changes: Vec<ManualChange> = vec![];
        let mut sections: Vec<ManualSection> = vec![];
        let mut body = String::new();
        let mut in_changes = false;
        for (n, line) in text.lines().enumerate().skip(1) {
            if let Some(p) = marker(line, "page") {
                pages.push(p.to_owned());
                continue;
            }
            if marker(line, "changes").is_some() || line.trim() == "<!-- changes -->" {
                in_changes = true;
                // The change list's heading is not part of the body.
                if let Some(last) = sections.pop() {
                    let cut = body
                        .rfind(&format!("## {}", last.heading))
                        .unwrap_or(body.len());
                    body.truncate(cut);
                }
                continue;
            }
            if in_changes {
                if let Some(h) = line.strip_prefix("### ") {
                    let (v, date) = h.split_once('—').unwrap_or((h, ""));
                    let version = v.trim().parse().map_err(|_| {
                        format!("{file}:{}: a change heading is `### N — date`", n + 1)
                    })?;
                    changes.push(ManualChange {
                        version,
                        date: date.trim().to_owned(),
                        items: vec![],
                    });
                } else if let Some(item) = line.trim().strip_prefix("- ")
                    && let Some(c) = changes.last_mut()
                {
                    c.items.push(item.to_owned());
                }
                continue;
            }
            if let Some(t) = line.strip_prefix("# ") {
                title = t.trim().to_owned();
            } else if let Some(h) = line.strip_prefix("## ") {
                sections.push(ManualSection {
                    heading: h.trim().to_owned(),
                    anchor: anchor(h),
                    text: String::new(),
                });
            } else if let Some(s) = sections.last_mut() {
                s.text.push_str(line);
                s.text.push('\n');
            }
            body.push_str(line);
            body.push('\n');
        }
        if title.is_empty() {
            return Err(format!("{file}: no # title"));
        }
        if changes.first().map(|c| c.version) != Some(version) {
            return Err(format!(
                "{file}: the change list must begin with version {version}"
            ));
        }
        Ok(Manual {
            name: name.to_owned(),
            language: language.to_owned(),
            version,
            title,
            pages,
            changes,
            sections,
            body,
        })
    }

    /// The changes after `version` (what a reader of that version has not seen), newest first.
    pub fn changes_since(&self, version: u32) -> Vec<&ManualChange> {
        self.changes
            .iter()
            .filter(|c| c.version > version)
            .collect()
    }

    /// The sections whose heading or text contains every word of `query` (case-insensitive), each
    /// with a snippet around the first word.
    pub fn search(&self, query: &str) -> Vec<(&ManualSection, String)> {
        let words: Vec<String> = query
            .split_whitespace()
            .map(str::to_lowercase)
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return vec![];
        }
        self.sections
            .iter()
            .filter_map(|s| {
                let hay = format!("{}\n{}", s.heading, s.text).to_lowercase();
                if !words.iter().all(|w| hay.contains(w.as_str())) {
                    return None;
                }
                let at = hay.find(words[0].as_str()).unwrap_or(0);
                let chars: Vec<char> = hay.chars().collect();
                let start_char = hay[..at].chars().count().saturating_sub(60);
                let snippet: String = chars.iter().skip(start_char).take(180).collect();
                Some((s, snippet.replace('\n', " ").trim().to_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "<!-- manual: head; version: 2 -->\n# Басшы\n\n## Кіру\n<!-- page: /sign-in -->\nNCALayer іске қосыңыз.\n\n## Өтінім\n<!-- page: /applications/new -->\nЖаңа өтінім жасаңыз.\n\n## Өзгерістер\n<!-- changes -->\n### 2 — 2026-12-04\n- Оқу және қолдау бөлімдері.\n### 1 — 2026-11-20\n- Алғашқы нұсқа.\n";

    #[test]
    fn a_manual_names_its_pages_versions_and_changes() {
        let m = Manual::parse("head.md", "kk", TEXT).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.name.as_str(), m.version), ("head", 2));
        assert_eq!(m.pages, ["/sign-in", "/applications/new"]);
        assert_eq!(m.sections.len(), 2, "the change list is not a section");
        assert!(
            !m.body.contains("Өзгерістер") && !m.body.contains("page:"),
            "{}",
            m.body
        );
        assert_eq!(m.changes_since(1).len(), 1);
        assert!(m.changes_since(2).is_empty());
        let hits = m.search("жаңа ӨТІНІМ");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0.heading, "Өтінім");
        assert!(m.search("жоқ сөз").is_empty());
    }

    #[test]
    fn a_manual_without_its_marks_is_refused_by_name() {
        let e = Manual::parse("x.md", "ru", "# Без отметок\n")
            .err()
            .unwrap_or_default();
        assert!(e.contains("x.md:1"), "{e}");
        let stale = TEXT.replace("version: 2", "version: 3");
        let e = Manual::parse("x.md", "kk", &stale)
            .err()
            .unwrap_or_default();
        assert!(e.contains("version 3"), "{e}");
    }
}
