#![no_main]
// Any bytes as the body of POST /api/v1/auth/login: the same steps as the handler before it touches the
// database — JSON, base64, CMS verification, the challenge check — end in a problem, never a panic.
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(cms) = qoljetim_service::signed_body_cms(data) else {
        return;
    };
    let now = jiff::Timestamp::now();
    if let Ok(v) = common::verifier().verify_cms(&cms, now) {
        let challenge = String::from_utf8_lossy(&v.content);
        let _ = qoljetim_service::check_challenge(&[7u8; 32], &challenge, now);
        let _ = qoljetim_signature::require_sign_in(&v.signer);
    }
});
