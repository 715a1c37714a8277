// Shared by the targets: one development CA of each family, made once per process, as the anchors.
use std::sync::OnceLock;

use jiff::{Timestamp, ToSpan};
use qoljetim_signature::devca::{DevCa, KeyKind};
use qoljetim_signature::{Revocation, TrustAnchor, Verifier};

pub fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let now = Timestamp::now();
        let anchors = [KeyKind::P256, KeyKind::Gost2004, KeyKind::Gost2015_512]
            .into_iter()
            .filter_map(|k| DevCa::generate(k, now - 1.hour(), now + 24.hours()).ok())
            .enumerate()
            .map(|(i, ca)| TrustAnchor {
                name: format!("fuzz-{i}"),
                certificate: ca.certificate,
                development: true,
                revocation: Revocation::None,
            })
            .collect();
        Verifier::new(anchors)
    })
}
