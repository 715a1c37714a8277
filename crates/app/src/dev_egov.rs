//! `qoljetim dev-egov-app`: the development stand-in for the eGov apps' QR signing, over HTTP (the
//! protocol's data is `qoljetim_devca::egov_app`). What a phone does after scanning: fetch the service
//! description, fetch the document with the bearer token it names, sign, send it back. Used by the
//! demo and the browser tests; never by the server.

use qoljetim_devca::egov_app::{FakeEgovApp, service_url};
use serde_json::Value;

use crate::AnyError;

/// What the server answered the signed document: its status and body (`{}`, or the problem the app
/// would show).
#[derive(Debug)]
pub struct AppAnswer {
    pub status: u16,
    pub body: Value,
}

async fn json_of(r: reqwest::Response) -> Result<(u16, Value), AnyError> {
    let status = r.status().as_u16();
    let bytes = r.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// Signs what a scanned QR code (or cross-link) asks for, as the app would.
pub async fn sign_scanned(scanned: &str, app: &FakeEgovApp) -> Result<AppAnswer, AnyError> {
    let url = service_url(scanned).ok_or("not the text of a QR signing code")?;
    let http = reqwest::Client::new();
    let (status, service) = json_of(http.get(&url).send().await?).await?;
    if status != 200 {
        return Ok(AppAnswer {
            status,
            body: service,
        });
    }
    // The app shows the expiry; the server refuses an expired request itself (and the tests move the
    // server's clock, not this machine's), so it is read, not enforced, here.
    let _expiry: jiff::Timestamp = service["expiry_date"]
        .as_str()
        .ok_or("the service description has no expiry_date")?
        .parse()?;
    let doc = &service["document"];
    let uri = doc["uri"]
        .as_str()
        .ok_or("the service description has no document.uri")?;
    let bearer = match doc["auth_type"].as_str() {
        Some("Bearer") => Some(
            doc["auth_token"]
                .as_str()
                .ok_or("auth_type Bearer without auth_token")?,
        ),
        _ => None,
    };
    let with_token = |r: reqwest::RequestBuilder| match bearer {
        Some(t) => r.bearer_auth(t),
        None => r,
    };
    let (status, documents) = json_of(with_token(http.get(uri)).send().await?).await?;
    if status != 200 {
        return Ok(AppAnswer {
            status,
            body: documents,
        });
    }
    let signed = app.sign_documents(&documents)?;
    let (status, body) = json_of(with_token(http.put(uri)).json(&signed).send().await?).await?;
    Ok(AppAnswer { status, body })
}
