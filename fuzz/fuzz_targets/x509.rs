#![no_main]
// Any bytes as a certificate (DER or PEM): parsed, read in the NCA profile, and checked as a chain
// and against itself, including the GOST key and signature paths.
use der::{Decode, DecodePem};
use libfuzzer_sys::fuzz_target;
use x509_cert::Certificate;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(cert) = Certificate::from_der(data).or_else(|_| Certificate::from_pem(data)) else {
        return;
    };
    let _ = qoljetim_signature::CertificateIdentity::of(&cert);
    let _ = qoljetim_signature::verify::certificate_signed_by(&cert, &cert);
    let _ = qoljetim_signature::gost::curve_of(cert.tbs_certificate().subject_public_key_info());
    let _ = common::verifier().verify_path(&cert, &[cert.clone()], jiff::Timestamp::now());
});
