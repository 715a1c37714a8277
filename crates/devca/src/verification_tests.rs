//! Signature tests: round trips through the development CA, every refusal path, and the real NCA
//! test artefacts (tests/fixtures/nca-test, from NCANode under the MIT licence).

use der::{Decode, DecodePem};
use jiff::{Timestamp, ToSpan};
use qoljetim_domain::Bin;
use x509_cert::Certificate;

use crate::{DevCa, KeyKind, PrivateKey, Subject, sign_cms};
use qoljetim_signature::SignatureError;
use qoljetim_signature::identity::{CertificateIdentity, KeyPurpose, NcaRole};
use qoljetim_signature::verify::{
    TrustAnchor, Verifier, certificate_signed_by, require_application_signer, require_sign_in,
    require_system_sign_in,
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
        revocation: qoljetim_signature::Revocation::None,
    }])
}

/// The interoperability tests need the `openssl` command (scripts/test installs it).
fn openssl_missing() -> bool {
    let missing = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err();
    if missing {
        eprintln!("openssl not installed; scripts/test installs it");
    }
    missing
}

fn bin(s: &str) -> Bin {
    Bin::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn round_trip_ecdsa_rsa_and_gost() {
    for kind in [
        KeyKind::P256,
        KeyKind::Rsa2048,
        KeyKind::Gost2004,
        KeyKind::Gost2015_512,
    ] {
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

    // Not valid yet: its own refusal, not "expired".
    let (early, early_key) = trusted
        .issue(&s, KeyKind::P256, n + 24.hours(), n + 48.hours())
        .unwrap_or_else(|e| panic!("{e}"));
    let cms = sign_cms(b"x", &early, &early_key, None).unwrap_or_default();
    let err = verifier(&trusted).verify_cms(&cms, n).err();
    assert!(
        matches!(err, Some(SignatureError::NotYetValid { .. })),
        "{err:?}"
    );
    assert_eq!(err.map(|e| e.slug()), Some("certificate-not-yet-valid"));
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

// Issue 18 (Order 270 §3): an organization's own information system signs in with its legal-entity
// information-system certificate (EKU 1.2.398.3.3.4.1.2.6), authentication key, of its BIN; a person's
// certificate, an individual's system, another BIN and a signing key are refused; and the system's
// certificate does not sign in as a person.
#[test]
fn information_system_sign_in_rules() {
    let ca = ca(KeyKind::P256);
    let id = |s: Subject| CertificateIdentity::of(&issue(&ca, &s, KeyKind::P256).0);
    let bin = Bin::parse(BIN).unwrap_or_else(|e| panic!("{e}"));
    let system = id(person(
        Some(NcaRole::InformationSystem),
        KeyPurpose::Authentication,
        Some(BIN),
    ));
    assert_eq!(require_system_sign_in(&system, Some(&bin)), Ok(()));
    assert_eq!(require_system_sign_in(&system, None), Ok(()));
    assert_eq!(
        require_sign_in(&system),
        Err(SignatureError::InformationSystemCertificate),
        "a system is not a person"
    );
    let other = Bin::parse(OTHER_BIN).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        require_system_sign_in(&system, Some(&other)),
        Err(SignatureError::WrongBin { .. })
    ));
    for refused in [
        person(
            Some(NcaRole::Employee),
            KeyPurpose::Authentication,
            Some(BIN),
        ),
        person(
            Some(NcaRole::FirstHead),
            KeyPurpose::Authentication,
            Some(BIN),
        ),
        person(None, KeyPurpose::Authentication, None),
    ] {
        assert_eq!(
            require_system_sign_in(&id(refused.clone()), Some(&bin)),
            Err(SignatureError::NotInformationSystem),
            "{refused:?}"
        );
    }
    let mut individual_system = system.clone();
    individual_system.individual_system = true;
    assert_eq!(
        require_system_sign_in(&individual_system, None),
        Err(SignatureError::NotInformationSystem)
    );
    assert_eq!(
        require_system_sign_in(
            &id(person(
                Some(NcaRole::InformationSystem),
                KeyPurpose::Signing,
                Some(BIN)
            )),
            Some(&bin)
        ),
        Err(SignatureError::NotAuthenticationKey)
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
        concat!(env!("CARGO_MANIFEST_DIR"), "/../signature")
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
    let res = qoljetim_signature::verify::verify_gost(
        ca2015.tbs_certificate().subject_public_key_info(),
        &qoljetim_signature::oids::GOST2004_SIGNATURE,
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
    if openssl_missing() {
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
        crate::certificate_pem(&cert).unwrap_or_default().as_bytes(),
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
    if openssl_missing() {
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
    if openssl_missing() {
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
        revocation: qoljetim_signature::Revocation::None,
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

/// Decodes a CMS, lets `f` change its one signer info, and encodes it again.
fn rewrite_signer(cms: &[u8], f: impl FnOnce(&mut cms::signed_data::SignerInfo)) -> Vec<u8> {
    use cms::content_info::ContentInfo;
    use cms::signed_data::{SignedData, SignerInfos};
    use der::Encode;
    let mut ci = ContentInfo::from_der(cms).unwrap();
    let mut sd: SignedData = ci.content.decode_as().unwrap();
    let mut si = sd.signer_infos.0.iter().next().unwrap().clone();
    f(&mut si);
    let mut set = der::asn1::SetOfVec::new();
    set.insert(si).unwrap();
    sd.signer_infos = SignerInfos(set);
    ci.content = der::Any::encode_from(&sd).unwrap();
    ci.to_der().unwrap()
}

// Order 270 §8, DESIGN.md §4: a GOST CMS whose content, signed attributes or signature value changed
// by one bit is refused as signature-invalid, on both NCA GOST families.
#[test]
fn gost_cms_one_bit_changes_are_refused() {
    for kind in [KeyKind::Gost2004, KeyKind::Gost2015_512] {
        let ca = ca(kind);
        let (cert, key) = issue(
            &ca,
            &person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN)),
            kind,
        );
        let content = b"{\"applicant_bin\":\"940140000385\"}";
        let cms = sign_cms(content, &cert, &key, Some(now())).unwrap();
        assert!(verifier(&ca).verify_cms(&cms, now()).is_ok());
        let pos = cms
            .windows(content.len())
            .position(|w| w == content)
            .unwrap();
        let mut tampered = cms.clone();
        tampered[pos + 3] ^= 0x01;
        assert_eq!(
            verifier(&ca).verify_cms(&tampered, now()).err(),
            Some(SignatureError::SignatureInvalid),
            "{kind:?} content"
        );
        let flipped = rewrite_signer(&cms, |si| {
            let mut v = si.signature.as_bytes().to_vec();
            v[0] ^= 0x01;
            si.signature = der::asn1::OctetString::new(v).unwrap();
        });
        assert_eq!(
            verifier(&ca).verify_cms(&flipped, now()).err(),
            Some(SignatureError::SignatureInvalid),
            "{kind:?} signature value"
        );
    }
}

// DESIGN.md §4: the parameter set comes from the key; a GOST 2004 key presented as a GOST 2015-512
// signature (or with another algorithm's digest) is refused, with its own error type.
#[test]
fn gost_key_on_the_wrong_curve_or_digest_is_refused() {
    let ca = ca(KeyKind::Gost2004);
    let (cert, key) = issue(
        &ca,
        &person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN)),
        KeyKind::Gost2004,
    );
    let cms = sign_cms(b"{}", &cert, &key, None).unwrap();
    let wrong_curve = rewrite_signer(&cms, |si| {
        si.signature_algorithm.oid = qoljetim_signature::oids::GOST2015_512_SIGNATURE;
        si.digest_alg.oid = qoljetim_signature::oids::STREEBOG512;
    });
    let err = verifier(&ca).verify_cms(&wrong_curve, now()).err().unwrap();
    assert_eq!(err.slug(), "key-parameters", "{err}");
    let wrong_digest = rewrite_signer(&cms, |si| {
        si.digest_alg.oid = qoljetim_signature::oids::SHA256
    });
    let err = verifier(&ca)
        .verify_cms(&wrong_digest, now())
        .err()
        .unwrap();
    assert_eq!(err.slug(), "signature-algorithm", "{err}");
    // The unconfirmed 256-bit GOST 2015 set is refused, not guessed.
    let unconfirmed = rewrite_signer(&cms, |si| {
        si.signature_algorithm.oid = qoljetim_signature::oids::GOST2015_256_SIGNATURE;
        si.digest_alg.oid = qoljetim_signature::oids::STREEBOG256;
    });
    let err = verifier(&ca).verify_cms(&unconfirmed, now()).err().unwrap();
    assert_eq!(err.slug(), "key-parameters", "{err}");
}

// A GOST CA's certificates name the NCA's key and signature OIDs and verify with the same code as the
// NCA's own test certificates; an RSA CA's certificate does not verify under a GOST CA.
#[test]
fn gost_development_ca_writes_the_nca_profile() {
    use der::Encode;
    for (kind, sig) in [
        (
            KeyKind::Gost2004,
            qoljetim_signature::oids::GOST2004_SIGNATURE,
        ),
        (
            KeyKind::Gost2015_512,
            qoljetim_signature::oids::GOST2015_512_SIGNATURE,
        ),
    ] {
        let ca = ca(kind);
        assert_eq!(ca.certificate.signature_algorithm().oid, sig);
        assert!(certificate_signed_by(&ca.certificate, &ca.certificate).unwrap());
        let (cert, _) = issue(&ca, &person(None, KeyPurpose::Authentication, None), kind);
        assert!(certificate_signed_by(&cert, &ca.certificate).unwrap());
        let other = self::ca(KeyKind::Rsa2048);
        assert!(!certificate_signed_by(&cert, &other.certificate).unwrap());
        // The private key survives its PEM file.
        let pem = ca.key.to_pkcs8_pem().unwrap();
        let back =
            DevCa::from_pem(&crate::certificate_pem(&ca.certificate).unwrap(), &pem).unwrap();
        let (cert2, _) = issue(&back, &person(None, KeyPurpose::Signing, None), kind);
        assert!(certificate_signed_by(&cert2, &ca.certificate).unwrap());
        assert!(!cert2.to_der().unwrap().is_empty());
    }
}

fn crl_verifier(
    ca: &DevCa,
    store: std::sync::Arc<qoljetim_signature::CrlStore>,
    fail_open: bool,
) -> Verifier {
    Verifier::new(vec![TrustAnchor {
        name: "dev".into(),
        certificate: ca.certificate.clone(),
        development: true,
        revocation: qoljetim_signature::Revocation::Crl(store),
    }])
    .with_fail_open(fail_open)
}

fn der_of(crl: &x509_cert::crl::CertificateList) -> Vec<u8> {
    use der::Encode;
    crl.to_der().unwrap()
}

// DESIGN.md §4 revocation: a certificate on the anchor's CRL (full or delta) is refused as revoked; a
// certificate not on it is accepted with the CRL recorded as the evidence; with no usable CRL the
// status is unknown and the signature is refused (fail closed) unless fail-open is set, which the
// evidence then says. Both families: RSA and GOST CAs publish CRLs.
#[test]
fn crl_full_and_delta_revocation_fail_closed_and_fail_open() {
    use crate::RevokedEntry;
    for kind in [KeyKind::Rsa2048, KeyKind::Gost2015_512] {
        let ca = ca(kind);
        let s = person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN));
        let (good_cert, good_key) = issue(&ca, &s, kind);
        let (bad_cert, bad_key) = issue(&ca, &s, kind);
        let (late_cert, late_key) = issue(&ca, &s, kind);
        let n = now();
        let entry = |c: &Certificate| RevokedEntry {
            serial: c.tbs_certificate().serial_number().as_bytes().to_vec(),
            revoked_at: n - 10.minutes(),
        };
        let store = std::sync::Arc::new(qoljetim_signature::CrlStore::new(ca.certificate.clone()));
        let v = crl_verifier(&ca, store.clone(), false);
        let cms_good = sign_cms(b"{}", &good_cert, &good_key, None).unwrap();
        let cms_bad = sign_cms(b"{}", &bad_cert, &bad_key, None).unwrap();
        let cms_late = sign_cms(b"{}", &late_cert, &late_key, None).unwrap();

        // No CRL yet: unknown, refused.
        let err = v.verify_cms(&cms_good, n).err().unwrap();
        assert_eq!(err.slug(), "revocation-unknown", "{kind:?}: {err}");

        let full = ca
            .crl(&[entry(&bad_cert)], 7, None, n - 1.hour(), n + 1.hour())
            .unwrap();
        let summary = store.load("full", &der_of(&full)).unwrap();
        assert_eq!((summary.delta, summary.entries), (false, 1));
        let ok = v.verify_cms(&cms_good, n).unwrap();
        assert_eq!(
            (
                ok.revocation.method,
                ok.revocation.status,
                ok.revocation.fail_open
            ),
            ("crl", "good", false)
        );
        let err = v.verify_cms(&cms_bad, n).err().unwrap();
        assert_eq!(err.slug(), "certificate-revoked", "{kind:?}: {err}");
        assert!(v.verify_cms(&cms_late, n).is_ok());

        // A delta CRL on top of full CRL 7 revokes one more.
        let delta = ca
            .crl(
                &[entry(&late_cert)],
                8,
                Some(7),
                n - 1.minutes(),
                n + 1.hour(),
            )
            .unwrap();
        assert!(store.load("delta", &der_of(&delta)).unwrap().delta);
        let err = v.verify_cms(&cms_late, n).err().unwrap();
        assert_eq!(err.slug(), "certificate-revoked", "{kind:?}: {err}");

        // The full CRL has expired at a later time: unknown, refused; accepted under fail-open and
        // marked so.
        let later = n + 2.hours();
        let err = v.verify_cms(&cms_good, later).err().unwrap();
        assert_eq!(err.slug(), "revocation-unknown", "{kind:?}: {err}");
        let open = crl_verifier(&ca, store.clone(), true);
        let ok = open.verify_cms(&cms_good, later).unwrap();
        assert_eq!(
            (ok.revocation.status, ok.revocation.fail_open),
            ("unknown", true)
        );
        assert!(ok.revocation.detail.unwrap_or_default().contains("expired"));
        // Revoked stays refused under fail-open.
        assert_eq!(
            open.verify_cms(&cms_bad, n).err().map(|e| e.slug()),
            Some("certificate-revoked")
        );
    }
}

// A CRL that the anchor did not sign, or that was changed after signing, is refused at load and
// replaces nothing.
#[test]
fn foreign_or_tampered_crl_is_refused_and_keeps_the_previous_one() {
    let ca = ca(KeyKind::Gost2004);
    let rogue = self::ca(KeyKind::Gost2004);
    let n = now();
    let store = qoljetim_signature::CrlStore::new(ca.certificate.clone());
    let good = der_of(&ca.crl(&[], 1, None, n - 1.hour(), n + 1.hour()).unwrap());
    store.load("crl", &good).unwrap();
    let foreign = der_of(&rogue.crl(&[], 2, None, n - 1.hour(), n + 1.hour()).unwrap());
    assert_eq!(
        store.load("crl", &foreign).err().map(|e| e.slug()),
        Some("crl-invalid")
    );
    let mut tampered = good.clone();
    let len = tampered.len();
    tampered[len - 70] ^= 0x04;
    assert!(store.load("crl", &tampered).is_err());
    assert!(store.load("crl", b"not a crl").is_err());
    assert_eq!(
        store.status_of_serial(&[1, 2, 3], n, n),
        qoljetim_signature::RevocationStatus::Good,
        "the previous CRL is still in force"
    );
}

// The NCA's own test CRLs load against their issuers' certificates (signature checked on load).
#[test]
fn real_nca_crls_load_against_their_issuers() {
    for (crl, issuer) in [
        ("nca_gost_test.crl", "nca_gost_test.crt"),
        ("nca_rsa_test.crl", "nca_rsa_test.crt"),
        ("nca_gost2022_test.crl", "nca_gost2015_test.cer"),
    ] {
        let store = qoljetim_signature::CrlStore::new(load_cert(issuer));
        let summary = store
            .load(crl, &fixture(crl))
            .unwrap_or_else(|e| panic!("{crl}: {e}"));
        assert!(!summary.delta, "{crl}");
        let mut bytes = fixture(crl);
        let len = bytes.len();
        bytes[len - 10] ^= 0x01;
        assert!(store.load(crl, &bytes).is_err(), "{crl} one bit changed");
    }
}

mod interop {
    //! Signatures made by OpenSSL 3 with Debian's GOST engine and by `openssl cms` (fixtures/interop,
    //! made by its make.sh): an implementation nobody here wrote agrees with ours.
    use super::*;
    use der::Encode;
    use num_bigint::BigUint;
    use qoljetim_signature::gost::{self, GostCurve};

    fn read(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/interop/{name}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../signature")
        );
        std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn streebog(curve: GostCurve, data: &[u8]) -> Vec<u8> {
        use streebog::Digest;
        match curve {
            GostCurve::Tc26Gost512A => streebog::Streebog512::digest(data).to_vec(),
            _ => streebog::Streebog256::digest(data).to_vec(),
        }
    }

    /// RFC 4491 §2.2.2 / RFC 7091: the value is s‖r big-endian; its byte reverse is the NCA's r‖s
    /// little-endian, and the digest is read little-endian in both.
    fn verify_rfc4491(
        curve: GostCurve,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let (qx, qy) = gost::public_key_xy(curve, public_key).unwrap();
        let nca: Vec<u8> = signature.iter().rev().copied().collect();
        let n = curve.size();
        if nca.len() != 2 * n {
            return false;
        }
        let e = BigUint::from_bytes_le(&streebog(curve, message));
        let r = BigUint::from_bytes_le(&nca[..n]);
        let s = BigUint::from_bytes_le(&nca[n..]);
        gost::verify_numbers(curve, &qx, &qy, &e, &r, &s).is_ok()
    }

    #[test]
    fn openssl_gost_engine_certificates_and_cms_verify_and_one_bit_fails() {
        use cms::content_info::ContentInfo;
        use cms::signed_data::SignedData;
        for (name, curve) in [
            ("gost2012_256_cryptopro_a", GostCurve::CryptoProA),
            ("gost2012_512_tc26_a", GostCurve::Tc26Gost512A),
        ] {
            let cert = Certificate::from_pem(read(&format!("{name}.pem"))).unwrap();
            let key = cert
                .tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes()
                .to_vec();
            let tbs = cert.tbs_certificate().to_der().unwrap();
            let sig = cert.signature().raw_bytes().to_vec();
            assert!(
                verify_rfc4491(curve, &key, &tbs, &sig),
                "{name} certificate"
            );
            let mut bad = tbs.clone();
            bad[40] ^= 0x01;
            assert!(!verify_rfc4491(curve, &key, &bad, &sig), "{name} tbs bit");
            let mut bad_sig = sig.clone();
            bad_sig[5] ^= 0x80;
            assert!(
                !verify_rfc4491(curve, &key, &tbs, &bad_sig),
                "{name} sig bit"
            );

            // The CMS: message digest over the content, signature over the signed attributes.
            let ci = ContentInfo::from_der(&read(&format!("{name}.cms"))).unwrap();
            let sd: SignedData = ci.content.decode_as().unwrap();
            let si = sd.signer_infos.0.iter().next().unwrap();
            let attrs = si.signed_attrs.as_ref().unwrap();
            let content = read("content.json");
            let md = attrs
                .iter()
                .find(|a| a.oid == qoljetim_signature::oids::ATTR_MESSAGE_DIGEST)
                .and_then(|a| a.values.iter().next())
                .and_then(|v| v.decode_as::<der::asn1::OctetString>().ok())
                .unwrap();
            assert_eq!(
                md.as_bytes(),
                streebog(curve, &content).as_slice(),
                "{name}"
            );
            let signed = attrs.to_der().unwrap();
            assert!(
                verify_rfc4491(curve, &key, &signed, si.signature.as_bytes()),
                "{name} CMS"
            );
            let mut bad = signed.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x01;
            assert!(!verify_rfc4491(curve, &key, &bad, si.signature.as_bytes()));
        }
    }

    // `openssl cms` RSA-2048 and ECDSA P-256 signatures verify in the full CMS path (the self-signed
    // certificate as the anchor); a changed content byte is refused.
    #[test]
    fn openssl_cms_rsa_and_p256_fixtures_verify() {
        for name in ["rsa2048", "p256"] {
            let cert = Certificate::from_pem(read(&format!("{name}.pem"))).unwrap();
            let v = Verifier::new(vec![TrustAnchor {
                name: name.into(),
                certificate: cert.clone(),
                development: true,
                revocation: qoljetim_signature::Revocation::None,
            }]);
            let cms = read(&format!("{name}.cms"));
            let at = Timestamp::from_second(
                cert.tbs_certificate()
                    .validity()
                    .not_before
                    .to_unix_duration()
                    .as_secs() as i64
                    + 60,
            )
            .unwrap();
            let ok = v
                .verify_cms(&cms, at)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ok.content, read("content.json"));
            assert_eq!(ok.revocation.method, "none");
            let mut bad = cms.clone();
            let pos = bad.windows(7).position(|w| w == b"interop").unwrap();
            bad[pos] = b'J';
            assert_eq!(
                v.verify_cms(&bad, at).err(),
                Some(SignatureError::SignatureInvalid),
                "{name}"
            );
        }
    }
}

mod time_stamps {
    //! RFC 3161 time stamps (DESIGN.md §4): a verified token's genTime is the signing time; the
    //! certificate's validity and revocation are judged at it; a token that does not verify, is for
    //! another signature, or comes from an untrusted TSA is refused as `timestamp-invalid`.
    use super::*;
    use crate::{RevokedEntry, add_time_stamp, issue_tsa};

    fn with_tsa(
        ca: &DevCa,
        tsa_ca: &DevCa,
        store: Option<std::sync::Arc<qoljetim_signature::CrlStore>>,
    ) -> Verifier {
        Verifier::new(vec![TrustAnchor {
            name: "dev".into(),
            certificate: ca.certificate.clone(),
            development: true,
            revocation: match store {
                Some(s) => qoljetim_signature::Revocation::Crl(s),
                None => qoljetim_signature::Revocation::None,
            },
        }])
        .with_tsa_anchors(vec![TrustAnchor {
            name: "tsa".into(),
            certificate: tsa_ca.certificate.clone(),
            development: true,
            revocation: qoljetim_signature::Revocation::None,
        }])
    }

    #[test]
    fn token_time_is_the_signing_time_on_both_families() {
        for kind in [KeyKind::P256, KeyKind::Gost2015_512] {
            let ca = ca(kind);
            let n = now();
            let (tsa_cert, tsa_key) = issue_tsa(&ca, kind, n - 48.hours(), n + 48.hours()).unwrap();
            let s = person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN));
            let (cert, key) = issue(&ca, &s, kind);
            let cms = sign_cms(b"{}", &cert, &key, None).unwrap();
            let at = n - 20.minutes();
            let stamped = add_time_stamp(&cms, &tsa_cert, &tsa_key, at).unwrap();
            let v = with_tsa(&ca, &ca, None).verify_cms(&stamped, n).unwrap();
            assert_eq!(v.signing_time_source(), "timestamp");
            assert_eq!(v.signing_time.as_second(), at.as_second());
            let ts = v.time_stamp.unwrap();
            assert!(ts.tsa.contains("TSA"), "{}", ts.tsa);
            assert_eq!(ts.anchor, "tsa");
            // Without a token the time of receipt is the signing time.
            let plain = with_tsa(&ca, &ca, None).verify_cms(&cms, n).unwrap();
            assert_eq!(
                (plain.signing_time_source(), plain.signing_time),
                ("receipt", n)
            );
        }
    }

    // Validity at the signing time: a token from before the certificate's notBefore makes it
    // not yet valid; revocation after the token's time does not undo a signature made before it.
    #[test]
    fn validity_and_revocation_are_judged_at_the_token_time() {
        let ca = ca(KeyKind::P256);
        let n = now();
        let (tsa_cert, tsa_key) =
            issue_tsa(&ca, KeyKind::P256, n - 48.hours(), n + 48.hours()).unwrap();
        let s = person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN));
        let (cert, key) = issue(&ca, &s, KeyKind::P256); // valid from n − 1 h
        let cms = sign_cms(b"{}", &cert, &key, None).unwrap();
        let early = add_time_stamp(&cms, &tsa_cert, &tsa_key, n - 2.hours()).unwrap();
        assert_eq!(
            with_tsa(&ca, &ca, None)
                .verify_cms(&early, n)
                .err()
                .map(|e| e.slug()),
            Some("certificate-not-yet-valid")
        );
        let store = std::sync::Arc::new(qoljetim_signature::CrlStore::new(ca.certificate.clone()));
        let crl = ca
            .crl(
                &[RevokedEntry {
                    serial: cert.tbs_certificate().serial_number().as_bytes().to_vec(),
                    revoked_at: n - 10.minutes(),
                }],
                1,
                None,
                n - 5.minutes(),
                n + 1.hour(),
            )
            .unwrap();
        store.load("crl", &der_of(&crl)).unwrap();
        let v = with_tsa(&ca, &ca, Some(store.clone()));
        let before = add_time_stamp(&cms, &tsa_cert, &tsa_key, n - 30.minutes()).unwrap();
        let ok = v.verify_cms(&before, n).unwrap();
        assert_eq!(ok.revocation.status, "good", "signed before the revocation");
        assert_eq!(
            v.verify_cms(&cms, n).err().map(|e| e.slug()),
            Some("certificate-revoked"),
            "without a token, the time of receipt is after the revocation"
        );
    }

    #[test]
    fn foreign_untrusted_or_changed_tokens_are_refused() {
        let ca = ca(KeyKind::P256);
        let rogue = self::ca(KeyKind::P256);
        let n = now();
        let s = person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN));
        let (cert, key) = issue(&ca, &s, KeyKind::P256);
        let (tsa_cert, tsa_key) =
            issue_tsa(&ca, KeyKind::P256, n - 48.hours(), n + 48.hours()).unwrap();
        let v = with_tsa(&ca, &ca, None);
        let slug = |cms: &[u8]| v.verify_cms(cms, n).err().map(|e| e.slug());
        let cms_a = sign_cms(b"{\"a\":1}", &cert, &key, None).unwrap();
        let cms_b = sign_cms(b"{\"b\":2}", &cert, &key, None).unwrap();
        // A token for another signature.
        let stamped_b = add_time_stamp(&cms_b, &tsa_cert, &tsa_key, n).unwrap();
        let token_b = {
            use cms::content_info::ContentInfo;
            use cms::signed_data::SignedData;
            let ci = ContentInfo::from_der(&stamped_b).unwrap();
            let sd: SignedData = ci.content.decode_as().unwrap();
            let si = sd.signer_infos.0.iter().next().unwrap().clone();
            si.unsigned_attrs.unwrap()
        };
        let swapped = rewrite_signer(&cms_a, |si| si.unsigned_attrs = Some(token_b));
        assert_eq!(slug(&swapped), Some("timestamp-invalid"));
        // A TSA of an untrusted CA.
        let (rogue_tsa, rogue_key) =
            issue_tsa(&rogue, KeyKind::P256, n - 48.hours(), n + 48.hours()).unwrap();
        let stamped = add_time_stamp(&cms_a, &rogue_tsa, &rogue_key, n).unwrap();
        assert_eq!(slug(&stamped), Some("timestamp-invalid"));
        // A certificate without id-kp-timeStamping acting as a TSA.
        let stamped = add_time_stamp(&cms_a, &cert, &key, n).unwrap();
        assert_eq!(slug(&stamped), Some("timestamp-invalid"));
        // A time in the future.
        let stamped = add_time_stamp(&cms_a, &tsa_cert, &tsa_key, n + 1.hours()).unwrap();
        assert_eq!(slug(&stamped), Some("timestamp-invalid"));
        // One bit of the token changed.
        let good = add_time_stamp(&cms_a, &tsa_cert, &tsa_key, n).unwrap();
        assert!(v.verify_cms(&good, n).is_ok());
        let mut bad = good.clone();
        let len = bad.len();
        bad[len - 3] ^= 0x01;
        assert!(v.verify_cms(&bad, n).is_err());
    }

    // Interoperability: a token made by `openssl ts` (fixtures/interop/make.sh) over the signature of
    // the `openssl cms` RSA fixture verifies, and its genTime becomes the signing time.
    #[test]
    fn openssl_ts_token_verifies() {
        let read = |name: &str| {
            std::fs::read(format!(
                "{}/tests/fixtures/interop/{name}",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../signature")
            ))
            .unwrap()
        };
        let signer = Certificate::from_pem(read("rsa2048.pem")).unwrap();
        let tsa_ca = Certificate::from_pem(read("ts-ca.pem")).unwrap();
        let token = der::Any::from_der(&read("ts-token.der")).unwrap();
        let cms = rewrite_signer(&read("rsa2048.cms"), |si| {
            let mut values = der::asn1::SetOfVec::new();
            values.insert(token.clone()).unwrap();
            let mut attrs = der::asn1::SetOfVec::new();
            attrs
                .insert(x509_cert::attr::Attribute {
                    oid: qoljetim_signature::oids::ATTR_TIME_STAMP_TOKEN,
                    values,
                })
                .unwrap();
            si.unsigned_attrs = Some(attrs);
        });
        let anchor = |name: &str, c: &Certificate| TrustAnchor {
            name: name.into(),
            certificate: c.clone(),
            development: true,
            revocation: qoljetim_signature::Revocation::None,
        };
        let nb = signer
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration()
            .as_secs() as i64;
        let at = Timestamp::from_second(nb + 3600).unwrap();
        let v = Verifier::new(vec![anchor("signer", &signer)])
            .with_tsa_anchors(vec![anchor("openssl-tsa", &tsa_ca)]);
        let ok = v.verify_cms(&cms, at).unwrap();
        let ts = ok.time_stamp.unwrap();
        assert_eq!(ts.policy, "1.2.398.3.3.2.99");
        assert_eq!(ts.anchor, "openssl-tsa");
        assert!(
            (ts.gen_time.as_second() - nb).abs() < 600,
            "made with the certificate"
        );
        assert_eq!(ok.signing_time, ts.gen_time);
        // Without the TSA anchor the token is refused, not ignored.
        let v = Verifier::new(vec![anchor("signer", &signer)]);
        assert_eq!(
            v.verify_cms(&cms, at).err().map(|e| e.slug()),
            Some("timestamp-invalid")
        );
    }
}

mod ocsp_interop {
    //! RFC 6960 against `openssl ocsp` as the responder (an implementation nobody here wrote), run on
    //! files so that the test needs no port: good, revoked, unknown, a foreign signer, a delegated
    //! responder, a dead transport.
    use super::*;
    use qoljetim_signature::ocsp::{OcspClient, OcspTransport};
    use std::path::PathBuf;
    use std::sync::Arc;

    struct OpensslResponder {
        dir: PathBuf,
        signer: &'static str,
    }

    impl OcspTransport for OpensslResponder {
        fn post(&self, _url: &str, request: &[u8]) -> Result<Vec<u8>, String> {
            let d = |f: &str| self.dir.join(f).display().to_string();
            std::fs::write(d("req.der"), request).map_err(|e| e.to_string())?;
            let out = std::process::Command::new("openssl")
                .args(["ocsp", "-index", &d("index.txt"), "-CA", &d("ca.pem")])
                .args(["-rsigner", &d(&format!("{}.pem", self.signer))])
                .args(["-rkey", &d(&format!("{}.key", self.signer))])
                .args([
                    "-reqin",
                    &d("req.der"),
                    "-respout",
                    &d("resp.der"),
                    "-nmin",
                    "10",
                ])
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            std::fs::read(d("resp.der")).map_err(|e| e.to_string())
        }
    }

    struct Dead;
    impl OcspTransport for Dead {
        fn post(&self, _: &str, _: &[u8]) -> Result<Vec<u8>, String> {
            Err("connection refused".into())
        }
    }

    fn openssl_time(t: Timestamp) -> String {
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%y%m%d%H%M%SZ")
            .to_string()
    }

    fn verifier_with(ca: &DevCa, transport: Arc<dyn OcspTransport>) -> Verifier {
        Verifier::new(vec![TrustAnchor {
            name: "ocsp".into(),
            certificate: ca.certificate.clone(),
            development: true,
            revocation: qoljetim_signature::Revocation::Ocsp(Arc::new(OcspClient::new(
                "http://responder.invalid/",
                transport,
                300,
            ))),
        }])
    }

    #[test]
    fn openssl_responder_answers_good_revoked_and_unknown() {
        let dir = std::env::temp_dir().join(format!("qoljetim-ocsp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = ca(KeyKind::P256);
        let rogue = self::ca(KeyKind::P256);
        let n = now();
        let (resp_cert, resp_key) =
            crate::issue_ocsp_responder(&ca, KeyKind::P256, n - 1.hours(), n + 24.hours()).unwrap();
        let write = |name: &str, cert: &Certificate, key: &PrivateKey| {
            std::fs::write(
                dir.join(format!("{name}.pem")),
                crate::certificate_pem(cert).unwrap(),
            )
            .unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.to_pkcs8_pem().unwrap()).unwrap();
        };
        write("ca", &ca.certificate, &ca.key);
        write("rogue", &rogue.certificate, &rogue.key);
        write("responder", &resp_cert, &resp_key);
        let s = person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN));
        let (good, good_key) = issue(&ca, &s, KeyKind::P256);
        let (bad, bad_key) = issue(&ca, &s, KeyKind::P256);
        let (stranger, stranger_key) = issue(&ca, &s, KeyKind::P256);
        let serial = |c: &Certificate| {
            qoljetim_signature::identity::hex_upper(c.tbs_certificate().serial_number().as_bytes())
        };
        let exp = openssl_time(n + 24.hours());
        let index = format!(
            "V\t{exp}\t\t{}\tunknown\t/CN=good\nR\t{exp}\t{}\t{}\tunknown\t/CN=bad\n",
            serial(&good),
            openssl_time(n - 10.minutes()),
            serial(&bad)
        );
        std::fs::write(dir.join("index.txt"), index).unwrap();
        let responder = |signer| -> Arc<dyn OcspTransport> {
            Arc::new(OpensslResponder {
                dir: dir.clone(),
                signer,
            })
        };
        let v = verifier_with(&ca, responder("ca"));
        let cms = |c: &Certificate, k: &PrivateKey| sign_cms(b"{}", c, k, None).unwrap();
        let ok = v.verify_cms(&cms(&good, &good_key), n).unwrap();
        assert_eq!(
            (ok.revocation.method, ok.revocation.status),
            ("ocsp", "good")
        );
        assert_eq!(
            v.verify_cms(&cms(&bad, &bad_key), n)
                .err()
                .map(|e| e.slug()),
            Some("certificate-revoked")
        );
        let err = v
            .verify_cms(&cms(&stranger, &stranger_key), n)
            .err()
            .unwrap();
        assert_eq!(err.slug(), "revocation-unknown", "{err}");
        // A delegated responder the CA issued for OCSP signing is believed.
        let delegated = verifier_with(&ca, responder("responder"));
        assert!(delegated.verify_cms(&cms(&good, &good_key), n).is_ok());
        // A response signed by another CA's key is not.
        let forged = verifier_with(&ca, responder("rogue"));
        let err = forged.verify_cms(&cms(&good, &good_key), n).err().unwrap();
        assert_eq!(err.slug(), "revocation-unknown");
        assert!(err.to_string().contains("not signed"), "{err}");
        // No answer at all: unknown, refused (fail closed); accepted and marked under fail-open.
        let dead = verifier_with(&ca, Arc::new(Dead));
        assert_eq!(
            dead.verify_cms(&cms(&good, &good_key), n)
                .err()
                .map(|e| e.slug()),
            Some("revocation-unknown")
        );
        let open = verifier_with(&ca, Arc::new(Dead)).with_fail_open(true);
        let ok = open.verify_cms(&cms(&good, &good_key), n).unwrap();
        assert!(ok.revocation.fail_open);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

// The NCA profile in full (FACTS.md): every role EKU reads back as its role and no other; individual
// vs legal entity; signing vs authentication key; and only the first head or signing right may sign
// an application — financial signing, HR, employee and information system may not.
#[test]
fn every_nca_role_reads_back_and_only_heads_sign_applications() {
    let ca = ca(KeyKind::P256);
    for role in NcaRole::ALL {
        let (cert, _) = issue(
            &ca,
            &person(Some(role), KeyPurpose::Signing, Some(BIN)),
            KeyKind::P256,
        );
        let id = CertificateIdentity::of(&cert);
        assert_eq!(id.roles.iter().copied().collect::<Vec<_>>(), vec![role]);
        assert!(id.legal_entity && !id.individual);
        assert!(id.signing_key && !id.authentication_key);
        let may_sign = matches!(role, NcaRole::FirstHead | NcaRole::SigningRight);
        assert_eq!(
            require_application_signer(&id, &bin(BIN)).is_ok(),
            may_sign,
            "{role:?}"
        );
        if !may_sign {
            assert_eq!(
                require_application_signer(&id, &bin(BIN)),
                Err(SignatureError::NoSigningRight)
            );
        }
    }
    let (cert, _) = issue(
        &ca,
        &person(None, KeyPurpose::Authentication, None),
        KeyKind::P256,
    );
    let id = CertificateIdentity::of(&cert);
    assert!(id.individual && !id.legal_entity && id.roles.is_empty());
    assert_eq!(require_sign_in(&id), Err(SignatureError::NotLegalEntity));
    // Cyrillic CN, SURNAME and GIVENNAME (the patronymic) read back as written.
    assert_eq!(id.common_name.as_deref(), Some("ИВАНОВА АННА"));
    assert_eq!(id.surname.as_deref(), Some("ИВАНОВА"));
    assert_eq!(id.patronymic.as_deref(), Some("СЕРГЕЕВНА"));
}

mod properties {
    //! Order 270 §8 / DESIGN.md §4 as properties: whatever byte of the signed content or of the
    //! signature value changes, and however, the CMS is refused — for ECDSA and both GOST families.
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    struct Case {
        verifier: Verifier,
        cms: Vec<u8>,
        content_at: usize,
        content_len: usize,
        signature_at: usize,
        signature_len: usize,
    }

    fn case(kind: KeyKind) -> Case {
        let ca = ca(kind);
        let (cert, key) = issue(
            &ca,
            &person(Some(NcaRole::FirstHead), KeyPurpose::Signing, Some(BIN)),
            kind,
        );
        let content = b"{\"applicant_bin\":\"940140000385\",\"lines\":[1,2,3]}";
        let cms = sign_cms(content, &cert, &key, None).unwrap();
        let content_at = cms
            .windows(content.len())
            .position(|w| w == content)
            .unwrap();
        let sig = {
            use cms::content_info::ContentInfo;
            use cms::signed_data::SignedData;
            let ci = ContentInfo::from_der(&cms).unwrap();
            let sd: SignedData = ci.content.decode_as().unwrap();
            sd.signer_infos
                .0
                .iter()
                .next()
                .unwrap()
                .signature
                .as_bytes()
                .to_vec()
        };
        let signature_at = cms.windows(sig.len()).position(|w| w == sig).unwrap();
        Case {
            verifier: verifier(&ca),
            cms,
            content_at,
            content_len: content.len(),
            signature_at,
            signature_len: sig.len(),
        }
    }

    fn cases() -> &'static [Case; 3] {
        static CASES: OnceLock<[Case; 3]> = OnceLock::new();
        CASES.get_or_init(|| {
            [
                case(KeyKind::P256),
                case(KeyKind::Gost2004),
                case(KeyKind::Gost2015_512),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_change_to_content_or_signature_is_refused(
            which in 0usize..3, in_signature: bool, pos in 0usize..4096, x in 1u8..=255
        ) {
            let c = &cases()[which];
            let mut bytes = c.cms.clone();
            let at = if in_signature {
                c.signature_at + pos % c.signature_len
            } else {
                c.content_at + pos % c.content_len
            };
            bytes[at] ^= x;
            prop_assert!(c.verifier.verify_cms(&bytes, now()).is_err());
        }
    }
}

// Issue 20: a chain verified once is not verified again — the second sign-in of the same certificate
// verifies only its own CMS signature — while validity is still checked on every use, and a
// certificate whose signature does not verify is never remembered.
#[test]
fn a_verified_chain_is_remembered_but_validity_and_tampering_are_checked_each_time() {
    let ca = ca(KeyKind::P256);
    let v = verifier(&ca);
    let cert = p256_employee(&ca);
    let at = now();
    assert!(v.verify_path(&cert, &[], at).is_ok());
    assert_eq!(
        v.signed_by_cache().hits(),
        0,
        "the first path verifies the signature"
    );
    assert!(v.verify_path(&cert, &[], at).is_ok());
    assert_eq!(
        v.signed_by_cache().hits(),
        1,
        "the second is answered from the cache"
    );
    // Past its validity the remembered certificate is still refused.
    let later = at + 48.hours();
    assert!(matches!(
        v.verify_path(&cert, &[], later),
        Err(SignatureError::Expired { .. })
    ));
    // A certificate with a changed signature is verified (and refused) every time, never cached.
    let mut der = der::Encode::to_der(&cert).unwrap_or_default();
    let last = der.len() - 2;
    der[last] ^= 0x01;
    let tampered = Certificate::from_der(&der).unwrap_or_else(|e| panic!("{e}"));
    let hits = v.signed_by_cache().hits();
    for _ in 0..2 {
        assert!(matches!(
            v.verify_path(&tampered, &[], at),
            Err(SignatureError::Untrusted)
        ));
    }
    assert_eq!(v.signed_by_cache().hits(), hits);
}

/// An employee's P-256 authentication certificate of `BIN` under `ca`.
fn p256_employee(ca: &DevCa) -> Certificate {
    let s = person(
        Some(NcaRole::Employee),
        KeyPurpose::Authentication,
        Some(BIN),
    );
    issue(ca, &s, KeyKind::P256).0
}

// Issue 20: a remembered chain expires with the revocation data it was verified under — once the
// anchor's CRL is replaced, the certificate's signature is verified again before it is remembered anew.
#[test]
fn a_remembered_chain_is_verified_again_after_a_new_crl() {
    let ca = ca(KeyKind::P256);
    let store = std::sync::Arc::new(qoljetim_signature::CrlStore::new(ca.certificate.clone()));
    let v = crl_verifier(&ca, store.clone(), false);
    let cert = p256_employee(&ca);
    let at = now();
    let crl = |number| {
        der_of(
            &ca.crl(&[], number, None, at - 1.hours(), at + 1.hours())
                .unwrap_or_else(|e| panic!("{e}")),
        )
    };
    store
        .load("full", &crl(1))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(v.verify_path(&cert, &[], at).is_ok());
    assert!(v.verify_path(&cert, &[], at).is_ok());
    assert_eq!(v.signed_by_cache().hits(), 1, "remembered under CRL 1");
    store
        .load("full", &crl(2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(v.verify_path(&cert, &[], at).is_ok());
    assert_eq!(
        v.signed_by_cache().hits(),
        1,
        "under CRL 2 the signature is verified again, not answered from the cache"
    );
    assert!(v.verify_path(&cert, &[], at).is_ok());
    assert_eq!(v.signed_by_cache().hits(), 2, "and remembered under CRL 2");
}
