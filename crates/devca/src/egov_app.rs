//! A development stand-in for the eGov apps' QR signing ("QR подписание"), which runs on a phone and
//! cannot run here. It follows the published flow as the public clients implement it
//! (docs/egov-mobile.md): the scanned text `mobileSign:<service URL>` (or a `page.link` cross-link
//! carrying it), `GET <service URL>` for the description and the document's address and token,
//! `GET <document URL>` for `documentsToSign`, and `PUT <document URL>` with each document's data
//! replaced by the attached CMS of its bytes (`signMethod: CMS_WITH_DATA`). It signs with the
//! development key it is given. This module is the protocol's data; the HTTP calls are in the
//! `qoljetim dev-egov-app` command (crate `qoljetim`), which the browser tests drive too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::ncalayer::StoredKey;
use crate::sign_cms;

/// Which app signs: they differ in the keys they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgovApp {
    /// eGov business: an organization employee's legal-entity keys (the organization's BIN).
    Business,
    /// eGov mobile: a person's own (individual) keys.
    Mobile,
}

/// The app and the key it signs with.
pub struct FakeEgovApp {
    pub app: EgovApp,
    pub key: StoredKey,
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The service URL that a scanned QR code's text or a cross-link carries.
pub fn service_url(scanned: &str) -> Option<String> {
    let scanned = scanned.trim();
    if let Some(url) = scanned.strip_prefix("mobileSign:") {
        return Some(url.to_owned());
    }
    let (_, query) = scanned.split_once('?')?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("link="))
        .and_then(percent_decode)
}

impl FakeEgovApp {
    /// The `PUT` body for what `GET <document URL>` answered: the same structure, each document's
    /// `file.data` now the base64 attached CMS of its bytes.
    pub fn sign_documents(&self, documents: &Value) -> Result<Value, String> {
        if documents["signMethod"] != "CMS_WITH_DATA" {
            return Err(format!(
                "the development app signs CMS_WITH_DATA only, not {}",
                documents["signMethod"]
            ));
        }
        let mut signed = documents.clone();
        let list = signed["documentsToSign"]
            .as_array_mut()
            .ok_or("documentsToSign is missing")?;
        for d in list {
            let data = d["document"]["file"]["data"]
                .as_str()
                .ok_or("a document without document.file.data")?;
            let bytes = STANDARD.decode(data).map_err(|e| e.to_string())?;
            let cms = sign_cms(
                &bytes,
                &self.key.cert,
                &self.key.key,
                Some(jiff::Timestamp::now()),
            )
            .map_err(|e| e.to_string())?;
            d["document"]["file"]["data"] = Value::String(STANDARD.encode(cms));
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_url_comes_from_the_qr_text_or_the_cross_link() {
        assert_eq!(
            service_url("mobileSign:https://q.example.kz/api/v1/mobile-signing/abc").as_deref(),
            Some("https://q.example.kz/api/v1/mobile-signing/abc")
        );
        assert_eq!(
            service_url("https://egovbusiness.page.link/?link=https%3A%2F%2Fq.example.kz%2Fapi%2Fv1%2Fmobile-signing%2Fabc&isi=1597880144").as_deref(),
            Some("https://q.example.kz/api/v1/mobile-signing/abc")
        );
        assert_eq!(service_url("https://example.kz/"), None);
        assert_eq!(service_url("x?link=%zz"), None);
    }
}
