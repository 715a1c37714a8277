#![no_main]
// Any bytes as an attached CMS SignedData: an error or a verified result, never a panic or a hang.
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let _ = common::verifier().verify_cms(data, jiff::Timestamp::now());
});
