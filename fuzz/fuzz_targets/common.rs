// Shared by the targets: one development CA of each family, made once per process, and the OpenSSL-made
// RSA and P-256 certificates of the interop fixtures, as the anchors. With the latter, the seeds (signed
// by them) pass the whole verification, so mutations start from inputs that reach the content, the
// challenge and the profile checks, not only the chain.
use std::sync::OnceLock;

use der::DecodePem;
use jiff::{Timestamp, ToSpan};
use qoljetim_devca::{DevCa, KeyKind};
use qoljetim_signature::{Revocation, TrustAnchor, Verifier};
use x509_cert::Certificate;

const INTEROP: [&[u8]; 2] = [
    include_bytes!("../../crates/signature/tests/fixtures/interop/rsa2048.pem"),
    include_bytes!("../../crates/signature/tests/fixtures/interop/p256.pem"),
];

pub fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let now = Timestamp::now();
        let generated = [KeyKind::P256, KeyKind::Gost2004, KeyKind::Gost2015_512]
            .into_iter()
            .filter_map(|k| DevCa::generate(k, now - 1.hour(), now + 24.hours()).ok())
            .map(|ca| ca.certificate);
        let interop = INTEROP
            .into_iter()
            .filter_map(|pem| Certificate::from_pem(pem).ok());
        let anchors = generated
            .chain(interop)
            .enumerate()
            .map(|(i, certificate)| TrustAnchor {
                name: format!("fuzz-{i}"),
                certificate,
                development: true,
                revocation: Revocation::None,
            })
            .collect();
        Verifier::new(anchors)
    })
}
