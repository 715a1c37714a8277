//! The handlers, one file per resource. Each is extract → call one use case → answer.

pub mod applications;
pub mod block;
pub mod changes;
pub mod data;
pub mod grants;
pub mod lifecycle;
pub mod mobile_signing;
pub mod operations;
pub mod organizations;
pub mod recertification;
pub mod reports;
pub mod sign_in;
pub mod support;
pub mod system;
pub mod training;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qoljetim_service::EvidenceFile;

/// A file download: its bytes, its type, and (when named) an attachment file name.
pub(crate) fn download(
    bytes: Vec<u8>,
    content_type: &'static str,
    filename: Option<&str>,
) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(name) = filename
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// A signed document as kept (the evidence), unchanged.
pub(crate) fn evidence(file: EvidenceFile) -> Response {
    download(file.bytes, file.content_type, Some(&file.filename))
}
