//! Signature tests: round trips through the development CA, every refusal path, and the real NCA
//! test artefacts (tests/fixtures/nca-test, from NCANode under the MIT licence).

use der::{Decode, DecodePem};
use jiff::{Timestamp, ToSpan};
use qoljetim_domain::Bin;
use x509_cert::Certificate;

use crate::SignatureError;
use crate::devca::{DevCa, KeyKind, PrivateKey, Subject, sign_cms};
use crate::identity::{CertificateIdentity, KeyPurpose, NcaRole};
use crate::verify::{
    TrustAnchor, Verifier, certificate_signed_by, require_application_signer, require_sign_in,
};

const BIN: &str = "940140000385";
const OTHER_BIN: &str = "950341000052";

fn now() -> Timestamp {
    Timestamp::now()
}

fn ca(kind: KeyKind) -> DevCa {
    let n = now();
    DevCa::generate(kind, n - 24.hours(), n + 87600.hours()).unwrap_or_else(|e| panic!("{e}"))
}

fn person(role: Option<NcaRole>, purpose: KeyPurpose, org: Option<&str>) -> Subject {
    Subject {
        surname: "ИВАНОВА".into(),
        name: "АННА".into(),
        patronymic: Some("СЕРГЕЕВНА".into()),
        iin: "871008401427".into(),
        organization: org.map(|b| (b.to_owned(), "Мәслихат".to_owned())),
        role,
        purpose,
    }
}

fn issue(ca: &DevCa, s: &Subject, kind: KeyKind) -> (Certificate, PrivateKey) {
    let n = now();
    ca.issue(s, kind, n - 1.hour(), n + 24.hours())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn verifier(ca: &DevCa) -> Verifier {
    Verifier::new(vec![TrustAnchor {
        name: "dev".into(),
        certificate: ca.certificate.clone(),
        development: true,
    }])
}

fn bin(s: &str) -> Bin {
    Bin::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn round_trip_ecdsa_and_rsa() {
    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let ca = ca(kind);
        let (cert, key) = issue(
            &ca,
            &person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN)),
            kind,
        );
        let cms = sign_cms(b"{\"hello\":1}", &cert, &key, Some(now())).unwrap_or_default();
        let v = verifier(&ca)
            .verify_cms(&cms, now())
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(v.content, b"{\"hello\":1}");
        assert_eq!(
            v.signer.iin.as_ref().map(|i| i.as_str()),
            Some("871008401427")
        );
        assert_eq!(v.signer.bin.as_ref().map(|b| b.as_str()), Some(BIN));
        assert_eq!(
            v.signer.patronymic.as_deref(),
            Some("СЕРГЕЕВНА"),
            "GIVENNAME carries the patronymic"
        );
        assert_eq!(v.signer.given_name().as_deref(), Some("АННА"));
        assert!(v.claimed_signing_time.is_some());
        assert!(v.development_anchor);
        assert_eq!(require_application_signer(&v.signer, &bin(BIN)), Ok(()));
    }
}

// Order 270 §8: a tampered document is refused.
#[test]
fn tampered_content_is_refused() {
    let ca = ca(KeyKind::P256);
    let (cert, key) = issue(
        &ca,
        &person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN)),
        KeyKind::P256,
    );
    let content = b"{\"applicant_bin\":\"940140000385\"}";
    let mut cms = sign_cms(content, &cert, &key, None).unwrap_or_default();
    let pos = cms
        .windows(content.len())
        .position(|w| w == content)
        .unwrap_or(0);
    cms[pos + 20] ^= 0x01;
    assert_eq!(
        verifier(&ca).verify_cms(&cms, now()).err(),
        Some(SignatureError::SignatureInvalid)
    );
    // A flipped bit inside the signature value is refused too.
    let mut cms2 = sign_cms(content, &cert, &key, None).unwrap_or_default();
    let len = cms2.len();
    cms2[len - 5] ^= 0x01;
    assert!(verifier(&ca).verify_cms(&cms2, now()).is_err());
}

#[test]
fn untrusted_chain_and_expired_certificate_are_refused() {
    let trusted = ca(KeyKind::P256);
    let rogue = ca(KeyKind::P256);
    let s = person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN));
    let (cert, key) = issue(&rogue, &s, KeyKind::P256);
    let cms = sign_cms(b"x", &cert, &key, None).unwrap_or_default();
    assert_eq!(
        verifier(&trusted).verify_cms(&cms, now()).err(),
        Some(SignatureError::Untrusted)
    );

    let n = now();
    let (old, old_key) = trusted
        .issue(&s, KeyKind::P256, n - 48.hours(), n - 24.hours())
        .unwrap_or_else(|e| panic!("{e}"));
    let cms = sign_cms(b"x", &old, &old_key, Some(n - 30.hours())).unwrap_or_default();
    let err = verifier(&trusted).verify_cms(&cms, n).err();
    assert!(
        matches!(err, Some(SignatureError::Expired { .. })),
        "{err:?}"
    );
    // The signing-time claim does not rescue it: validity is judged at the time of receipt.
}

// Order 270 §8: the application is signed by the head (or signing right) of the applicant, with a signing key.
#[test]
fn application_signer_rules() {
    let ca = ca(KeyKind::P256);
    let check = |s: Subject| {
        let (cert, _) = issue(&ca, &s, KeyKind::P256);
        require_application_signer(&CertificateIdentity::of(&cert), &bin(BIN))
    };
    assert_eq!(
        check(person(None, KeyPurpose::Signing, None)),
        Err(SignatureError::NotLegalEntity)
    );
    assert!(matches!(
        check(person(
            Some(NcaRole::FirstHead),
            KeyPurpose::Signing,
            Some(OTHER_BIN)
        )),
        Err(SignatureError::WrongBin { .. })
    ));
    assert_eq!(
        check(person(
            Some(NcaRole::Employee),
            KeyPurpose::Signing,
            Some(BIN)
        )),
        Err(SignatureError::NoSigningRight)
    );
    assert_eq!(
        check(person(
            Some(NcaRole::FirstHead),
            KeyPurpose::Authentication,
            Some(BIN)
        )),
        Err(SignatureError::NotSigningKey)
    );
    assert_eq!(
        check(person(
            Some(NcaRole::SigningRight),
            KeyPurpose::Signing,
            Some(BIN)
        )),
        Ok(())
    );
}

// Order 270 §11: sign-in with the organization's authentication key.
#[test]
fn sign_in_rules() {
    let ca = ca(KeyKind::P256);
    let id = |s: Subject| CertificateIdentity::of(&issue(&ca, &s, KeyKind::P256).0);
    assert_eq!(
        require_sign_in(&id(person(
            Some(NcaRole::Employee),
            KeyPurpose::Authentication,
            Some(BIN)
        ))),
        Ok(())
    );
    assert_eq!(
        require_sign_in(&id(person(
            Some(NcaRole::FirstHead),
            KeyPurpose::Signing,
            Some(BIN)
        ))),
        Err(SignatureError::NotAuthenticationKey)
    );
    assert_eq!(
        require_sign_in(&id(person(None, KeyPurpose::Authentication, None))),
        Err(SignatureError::NotLegalEntity)
    );
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let ca = ca(KeyKind::P256);
    let v = verifier(&ca);
    for bad in [
        &b""[..],
        b"\x30\x03\x02\x01",
        b"not der at all",
        &[0x30, 0x80, 0x00, 0x00],
    ] {
        assert!(matches!(
            v.verify_cms(bad, now()),
            Err(SignatureError::Malformed(_))
        ));
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/nca-test/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap_or_default()
}

fn load_cert(name: &str) -> Certificate {
    let bytes = fixture(name);
    Certificate::from_der(&bytes)
        .or_else(|_| Certificate::from_pem(&bytes))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

// The real NCA test PKI: RSA certificates verify under their issuing CA, and a one-bit change fails.
#[test]
fn real_nca_rsa_certificates_verify() {
    let ca = load_cert("nca_rsa_test.crt");
    for name in [
        "individual_valid_sign_2004_rsa.cer",
        "individual_valid_sign_2004_rsa_auth.cer",
    ] {
        let cert = load_cert(name);
        assert_eq!(certificate_signed_by(&cert, &ca), Ok(true), "{name}");
        let id = CertificateIdentity::of(&cert);
        assert!(
            id.individual && !id.legal_entity,
            "{name} is an individual's certificate"
        );
        // IIN123456789011 is a placeholder that fails the check digit: it must not be accepted as an IIN.
        assert_eq!(id.iin, None);
        let mut bytes = fixture(name);
        if bytes.starts_with(b"-----") {
            continue;
        }
        let n = bytes.len();
        bytes[n - 10] ^= 0x01;
        if let Ok(tampered) = Certificate::from_der(&bytes) {
            assert_eq!(certificate_signed_by(&tampered, &ca), Ok(false));
        }
    }
    // The GOST first-head certificate parses in the NCA profile.
    let ceo = CertificateIdentity::of(&load_cert("ceo_valid_sign_2004_gost.cer"));
    assert!(ceo.legal_entity && ceo.signing_key && ceo.roles.contains(&NcaRole::FirstHead));
    assert_eq!(
        ceo.bin, None,
        "BIN123456789021 is a placeholder that fails the check digit"
    );
}

// The NCA's GOST 34.310-2004 first-head certificate chains to its GOST issuing CA through the same
// `certificate_signed_by` the verifier uses; a changed byte, or a GOST key on the wrong curve, fails.
#[test]
fn real_nca_gost_certificate_verifies_in_the_chain_check() {
    let ca = load_cert("nca_gost_test.crt");
    let ceo = load_cert("ceo_valid_sign_2004_gost.cer");
    assert_eq!(certificate_signed_by(&ceo, &ca), Ok(true));
    let mut bytes = fixture("ceo_valid_sign_2004_gost.cer");
    if !bytes.starts_with(b"-----") {
        let n = bytes.len();
        bytes[n - 5] ^= 0x01; // inside the signature value
        if let Ok(tampered) = Certificate::from_der(&bytes) {
            assert_eq!(certificate_signed_by(&tampered, &ca), Ok(false));
        }
    }
    // The 2015 (512-bit) CA's key cannot have signed a 34.310-2004 signature: refused by parameters.
    let ca2015 = load_cert("nca_gost2015_test.cer");
    let res = crate::verify::verify_gost(
        ca2015.tbs_certificate().subject_public_key_info(),
        &crate::oids::GOST2004_SIGNATURE,
        b"x",
        &[0u8; 64],
    );
    assert!(
        matches!(res, Some(Err(SignatureError::KeyParameters(_)))),
        "{res:?}"
    );
}

// `openssl cms`, an independent implementation, signs what we verify.
#[test]
fn openssl_cms_signature_verifies() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not installed; .ci/run installs it");
        return;
    }
    let dir = std::env::temp_dir().join(format!("qoljetim-openssl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_default();
    let ca = ca(KeyKind::Rsa2048);
    let (cert, key) = issue(
        &ca,
        &person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN)),
        KeyKind::Rsa2048,
    );
    let write = |n: &str, b: &[u8]| std::fs::write(dir.join(n), b).unwrap_or_default();
    write(
        "cert.pem",
        crate::devca::certificate_pem(&cert)
            .unwrap_or_default()
            .as_bytes(),
    );
    write("key.pem", key.to_pkcs8_pem().unwrap_or_default().as_bytes());
    write("content.json", b"{\"a\":\"\xd3\x98\"}");
    let out = std::process::Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-outform",
            "DER",
            "-md",
            "sha256",
        ])
        .arg("-in")
        .arg(dir.join("content.json"))
        .arg("-signer")
        .arg(dir.join("cert.pem"))
        .arg("-inkey")
        .arg(dir.join("key.pem"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = verifier(&ca)
        .verify_cms(&out.stdout, now())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.content, b"{\"a\":\"\xd3\x98\"}");
    std::fs::remove_dir_all(&dir).unwrap_or_default();
}

// The development CA's PKCS#12 stores open in OpenSSL with the demo password, MAC verified.
#[test]
fn pkcs12_store_opens_in_openssl() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not installed; .ci/run installs it");
        return;
    }
    let ca = ca(KeyKind::P256);
    let (cert, key) = issue(
        &ca,
        &person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN)),
        KeyKind::P256,
    );
    let p12 = crate::pkcs12::write(
        &cert,
        &key.to_pkcs8_der().unwrap_or_default(),
        "Qwerty12",
        "ИВАНОВА АННА",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let path = std::env::temp_dir().join(format!("qoljetim-{}.p12", std::process::id()));
    std::fs::write(&path, &p12).unwrap_or_default();
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&path)
        .args(["-passin", "pass:Qwerty12", "-nodes"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("BEGIN CERTIFICATE") && text.contains(" PRIVATE KEY-----"),
        "{text}"
    );
    let wrong = std::process::Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&path)
        .args(["-passin", "pass:wrong", "-nodes"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !wrong.status.success(),
        "a wrong password must fail the MAC"
    );
    std::fs::remove_file(&path).unwrap_or_default();
}

// ECDSA P-384 with SHA-384, CA and signer made by openssl alone (an independent implementation).
#[test]
fn openssl_p384_chain_and_cms_verify() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not installed; .ci/run installs it");
        return;
    }
    let dir = std::env::temp_dir().join(format!("qoljetim-p384-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_default();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=P384 CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    std::fs::write(dir.join("leaf.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=1.3.6.1.5.5.7.3.4,1.2.398.3.3.4.1.2,1.2.398.3.3.4.1.2.1\n").unwrap_or_default();
    run(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=HEAD/serialNumber=IIN871008401427/OU=BIN940140000385/C=KZ",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-sha384",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);
    std::fs::write(dir.join("content.json"), b"{}").unwrap_or_default();
    let cms = run(&[
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-outform",
        "DER",
        "-md",
        "sha384",
        "-in",
        "content.json",
        "-signer",
        "leaf.pem",
        "-inkey",
        "leaf.key",
    ]);
    let ca_cert = Certificate::from_pem(std::fs::read(dir.join("ca.pem")).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let v = Verifier::new(vec![TrustAnchor {
        name: "p384".into(),
        certificate: ca_cert,
        development: true,
    }]);
    let ok = v.verify_cms(&cms, now()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(require_application_signer(&ok.signer, &bin(BIN)), Ok(()));
    let mut bad = cms.clone();
    let pos = bad.windows(2).position(|w| w == b"{}").unwrap_or(0);
    bad[pos] = b'[';
    assert_eq!(
        v.verify_cms(&bad, now()).err(),
        Some(SignatureError::SignatureInvalid)
    );
    std::fs::remove_dir_all(&dir).unwrap_or_default();
}
