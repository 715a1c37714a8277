//! The HR registry port (E-Qyzmet, DESIGN.md §4) and its adapters. The worker asks it, for each line
//! of a submitted application, which posts the person holds now; the domain compares the answer with
//! the line (`qoljetim_domain::lifecycle::compare_with_registry`).
//!
//! - `HttpRegistry`: the documented JSON contract (docs/lifecycle.md) over HTTP.
//! - `FileRegistry`: personnel lists imported with `qoljetim hr import-personnel` (CSV).
//!
//! No public E-Qyzmet integration contract exists (FACTS.md): the HTTP contract is ours, for the
//! integrator's gateway to implement.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use qoljetim_domain::lifecycle::{HrPost, HrQuery};
use qoljetim_store::Store;
use serde::Deserialize;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum HrError {
    #[error("the HR registry could not be reached: {0}")]
    Unreachable(String),
    #[error("the HR registry answered {0}")]
    Status(u16),
    #[error("the HR registry's answer cannot be read: {0}")]
    Answer(String),
    #[error("store: {0}")]
    Store(String),
}

/// The port: the person's current posts, or None when the registry does not know the person.
pub trait HrRegistry: Send + Sync {
    fn name(&self) -> &'static str;
    fn current_posts<'a>(
        &'a self,
        q: &'a HrQuery,
    ) -> BoxFuture<'a, Result<Option<Vec<HrPost>>, HrError>>;
}

pub struct HttpRegistry {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct PostsAnswer {
    posts: Vec<HrPost>,
}

impl HttpRegistry {
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Result<Self, HrError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| HrError::Unreachable(e.to_string()))?;
        Ok(HttpRegistry {
            base: base.trim_end_matches('/').to_owned(),
            token,
            client,
        })
    }
}

impl HrRegistry for HttpRegistry {
    fn name(&self) -> &'static str {
        "http"
    }

    /// `GET {base}/v1/persons/{iin}/posts?bin=&qr=` → 200 `{"posts": [{bin, position, unit?}]}`,
    /// 404 when the person is unknown; anything else is retried later.
    fn current_posts<'a>(
        &'a self,
        q: &'a HrQuery,
    ) -> BoxFuture<'a, Result<Option<Vec<HrPost>>, HrError>> {
        Box::pin(async move {
            let url = format!("{}/v1/persons/{}/posts", self.base, q.iin);
            let mut req = self
                .client
                .get(url)
                .query(&[("bin", q.bin.as_str()), ("qr", q.qr.as_str())])
                .header("Accept", "application/json");
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| HrError::Unreachable(crate::causes(&e)))?;
            match resp.status().as_u16() {
                200 => {
                    let a: PostsAnswer = resp
                        .json()
                        .await
                        .map_err(|e| HrError::Answer(crate::causes(&e)))?;
                    Ok(Some(a.posts))
                }
                404 => Ok(None),
                s => Err(HrError::Status(s)),
            }
        })
    }
}

pub struct FileRegistry {
    store: Store,
}

impl FileRegistry {
    pub fn new(store: Store) -> Self {
        FileRegistry { store }
    }
}

impl HrRegistry for FileRegistry {
    fn name(&self) -> &'static str {
        "file"
    }

    fn current_posts<'a>(
        &'a self,
        q: &'a HrQuery,
    ) -> BoxFuture<'a, Result<Option<Vec<HrPost>>, HrError>> {
        Box::pin(async move {
            let posts = self
                .store
                .personnel_posts(&q.iin)
                .await
                .map_err(|e| HrError::Store(e.to_string()))?;
            Ok(posts.map(|list| {
                list.into_iter()
                    .map(|p| HrPost {
                        bin: p.bin,
                        position: p.position,
                        unit: p.unit,
                    })
                    .collect()
            }))
        })
    }
}

/// Personnel list CSV (`bin,iin,position,unit`; surname and name columns may be present and are not
/// needed): every row checked first, then all of it replaces the posts of the organizations it names.
pub fn parse_personnel_csv(
    file: &str,
    text: &str,
) -> Result<Vec<qoljetim_store::PersonnelPost>, Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![format!("{file}: {e}")]),
    };
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(cb), Some(ci), Some(cp)) = (col("bin"), col("iin"), col("position")) else {
        return Err(vec![format!(
            "{file}:1: the header must name the columns bin, iin, position (and optionally unit)"
        )]);
    };
    let cu = col("unit");
    let mut out = vec![];
    let mut errors = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{file}:{line}: {e}"));
                continue;
            }
        };
        let get = |c: usize| rec.get(c).unwrap_or("").trim().to_owned();
        let bin = get(cb);
        let iin = get(ci);
        let position = get(cp);
        if let Err(e) = qoljetim_domain::Bin::parse(&bin) {
            errors.push(format!("{file}:{line}: column bin: {} ({e})", e.rule()));
        }
        if let Err(e) = qoljetim_domain::Iin::parse(&iin) {
            errors.push(format!("{file}:{line}: column iin: {} ({e})", e.rule()));
        }
        if position.is_empty() {
            errors.push(format!("{file}:{line}: column position: required"));
        }
        out.push(qoljetim_store::PersonnelPost {
            bin,
            iin,
            position,
            unit: cu.map(get).filter(|u| !u.is_empty()),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Personnel orders CSV (`event_id,kind,iin,bin,effective_date,order_number,order_date,new_position`):
/// dismissals and transfers, each checked like a webhook event.
pub fn parse_orders_csv(
    file: &str,
    text: &str,
) -> Result<Vec<qoljetim_domain::lifecycle::HrEvent>, Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![format!("{file}: {e}")]),
    };
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let required = [
        "event_id",
        "kind",
        "iin",
        "bin",
        "effective_date",
        "order_number",
    ];
    if required.iter().any(|c| col(c).is_none()) {
        return Err(vec![format!(
            "{file}:1: the header must name the columns {} (and optionally order_date, new_position)",
            required.join(", ")
        )]);
    }
    let mut out = vec![];
    let mut errors = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{file}:{line}: {e}"));
                continue;
            }
        };
        let get = |name: &str| col(name).and_then(|c| rec.get(c)).unwrap_or("").to_owned();
        match qoljetim_domain::lifecycle::HrEvent::from_fields(
            "",
            &get("event_id"),
            &get("kind"),
            &get("iin"),
            &get("bin"),
            &get("effective_date"),
            &get("order_number"),
            Some(get("order_date").as_str()),
            Some(get("new_position").as_str()),
        ) {
            Ok(e) => out.push(e),
            Err(fes) => {
                for fe in fes {
                    errors.push(format!(
                        "{file}:{line}: column {}: {} ({})",
                        fe.field.trim_start_matches('/'),
                        fe.rule,
                        fe.detail
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personnel_csv_reports_every_bad_cell_and_accepts_a_bom() {
        let bad = "bin,iin,position\n940140000385,123,\n";
        let e = parse_personnel_csv("p.csv", bad).err().unwrap_or_default();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("p.csv:2: column iin: length"), "{e:?}");
        let ok = "\u{feff}bin,iin,surname,position,unit\n940140000385,871008401427,Әлиева,Бас маман,Бюджет бөлімі\n";
        let posts = parse_personnel_csv("p.csv", ok).unwrap_or_default();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].unit.as_deref(), Some("Бюджет бөлімі"));
    }

    #[test]
    fn orders_csv_names_line_and_column() {
        let bad = "event_id,kind,iin,bin,effective_date,order_number\nE1,fired,871008401427,940140000385,2026-03-20,12-к\n";
        let e = parse_orders_csv("o.csv", bad).err().unwrap_or_default();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("o.csv:2: column kind: hr_event_kind"),
            "{e:?}"
        );
    }
}
