#![no_main]
// Any bytes as a CRL loaded for an anchor of each family: refused or loaded, never a panic; a loaded
// CRL answers status queries.
use libfuzzer_sys::fuzz_target;
use qoljetim_signature::CrlStore;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    for anchor in common::verifier().anchors() {
        let store = CrlStore::new(anchor.certificate.clone());
        if store.load("fuzz", data).is_ok() {
            let now = jiff::Timestamp::now();
            let _ = store.status_of_serial(&data[..data.len().min(20)], now, now);
        }
    }
    let _ = qoljetim_signature::revocation::parse_crl(data);
});
