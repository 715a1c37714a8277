//! The development CA on disk (`<data_dir>/dev-ca/`) and certificates for demo people, written as PEM
//! (for `openssl cms`) next to their private keys. Keys are generated at run time, never committed.

use std::path::{Path, PathBuf};

use jiff::{Timestamp, ToSpan};
use qoljetim_devca::{DevCa, KeyKind, PrivateKey, RevokedEntry, Subject, certificate_pem};
use x509_cert::Certificate;

use crate::AnyError;

pub fn init(dir: &Path, kind: KeyKind) -> Result<DevCa, AnyError> {
    if dir.join("ca.pem").exists() {
        return load(dir);
    }
    std::fs::create_dir_all(dir)?;
    let now = Timestamp::now();
    // Valid from two years back, so that tests with a settable clock can travel into the past.
    let ca = DevCa::generate(kind, now - 17_520.hours(), now + 87_600.hours())?;
    std::fs::write(dir.join("ca.pem"), certificate_pem(&ca.certificate)?)?;
    write_private(&dir.join("ca.key.pem"), &ca.key.to_pkcs8_pem()?)?;
    publish_crl(dir, &ca)?;
    Ok(ca)
}

/// The development CA's CRL file, which its trust anchor is configured with.
pub fn crl_path(dir: &Path) -> PathBuf {
    dir.join("ca.crl")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RevokedFile {
    number: u64,
    revoked: Vec<(String, i64)>,
}

fn read_revoked(dir: &Path) -> Result<RevokedFile, AnyError> {
    let path = dir.join("revoked.json");
    if !path.exists() {
        return Ok(RevokedFile {
            number: 0,
            revoked: vec![],
        });
    }
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// Writes the CA's CRL (DER) with the next CRL number and every revocation so far. It is in force
/// for as long as the CA is, so that tests on a settable clock see it too.
pub fn publish_crl(dir: &Path, ca: &DevCa) -> Result<PathBuf, AnyError> {
    let mut file = read_revoked(dir)?;
    file.number += 1;
    let entries = file
        .revoked
        .iter()
        .map(|(serial, at)| {
            Ok(RevokedEntry {
                serial: hex::decode(serial)?,
                revoked_at: Timestamp::from_second(*at)?,
            })
        })
        .collect::<Result<Vec<_>, AnyError>>()?;
    let validity = ca.certificate.tbs_certificate().validity();
    let from = Timestamp::from_second(validity.not_before.to_unix_duration().as_secs() as i64)?;
    let to = Timestamp::from_second(validity.not_after.to_unix_duration().as_secs() as i64)?;
    let crl = ca.crl(&entries, file.number, None, from, to)?;
    let path = crl_path(dir);
    std::fs::write(&path, der::Encode::to_der(&crl)?)?;
    std::fs::write(dir.join("revoked.json"), serde_json::to_string(&file)?)?;
    Ok(path)
}

/// Revokes `cert` (issued by one of the development CAs under `dir`) at `at` and publishes the CRL
/// again. Returns the CRL file.
pub fn revoke(dir: &Path, cert: &Certificate, at: Timestamp) -> Result<PathBuf, AnyError> {
    for ca_dir in [dir.to_path_buf(), gost_dir(dir)] {
        if !ca_dir.join("ca.pem").exists() {
            continue;
        }
        let ca = load(&ca_dir)?;
        if ca.certificate.tbs_certificate().subject() != cert.tbs_certificate().issuer() {
            continue;
        }
        let mut file = read_revoked(&ca_dir)?;
        let serial = hex::encode_upper(cert.tbs_certificate().serial_number().as_bytes());
        if !file.revoked.iter().any(|(s, _)| *s == serial) {
            file.revoked.push((serial, at.as_second()));
        }
        std::fs::write(ca_dir.join("revoked.json"), serde_json::to_string(&file)?)?;
        return publish_crl(&ca_dir, &ca);
    }
    Err("the certificate was not issued by a development CA here".into())
}

/// The GOST family of the development CA (GOST 34.10-2015, 512 bits) lives in `<dir>/gost/`, so that
/// the demo shows both families; it issues GOST 34.310-2004 and 34.10-2015 certificates.
pub fn gost_dir(dir: &Path) -> PathBuf {
    dir.join("gost")
}

/// Creates (or keeps) both development CAs: `kind`'s in `dir` and the GOST one in `dir/gost`.
pub fn init_both(dir: &Path, kind: KeyKind) -> Result<(DevCa, DevCa), AnyError> {
    let main = init(dir, kind)?;
    let gost = init(&gost_dir(dir), KeyKind::Gost2015_512)?;
    Ok((main, gost))
}

/// The development CA that issues keys of `kind`: the GOST one for GOST keys.
pub fn load_for(dir: &Path, kind: KeyKind) -> Result<DevCa, AnyError> {
    if kind.is_gost() {
        load(&gost_dir(dir))
    } else {
        load(dir)
    }
}

pub fn load(dir: &Path) -> Result<DevCa, AnyError> {
    let cert = std::fs::read_to_string(dir.join("ca.pem"))?;
    let key = std::fs::read_to_string(dir.join("ca.key.pem"))?;
    let ca = DevCa::from_pem(&cert, &key)?;
    // A CA made before CRLs existed publishes one now.
    if !crl_path(dir).exists() {
        publish_crl(dir, &ca)?;
    }
    Ok(ca)
}

fn write_private(path: &Path, text: &str) -> Result<(), AnyError> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The password of the demo PKCS#12 stores, as on the NCA's test keys.
pub const DEMO_PKCS12_PASSWORD: &str = "Qwerty12";

/// Issues a one-year certificate and writes `<stem>.pem`, `<stem>.key.pem` and `<stem>.p12` into `dir`.
pub fn issue_to_files(
    ca: &DevCa,
    subject: &Subject,
    kind: KeyKind,
    dir: &Path,
    stem: &str,
) -> Result<(Certificate, PrivateKey, PathBuf), AnyError> {
    std::fs::create_dir_all(dir)?;
    let now = Timestamp::now();
    let (cert, key) = ca.issue(subject, kind, now - 1.hour(), now + 8_760.hours())?;
    let cert_path = dir.join(format!("{stem}.pem"));
    std::fs::write(&cert_path, certificate_pem(&cert)?)?;
    write_private(&dir.join(format!("{stem}.key.pem")), &key.to_pkcs8_pem()?)?;
    let name = format!("{} {}", subject.surname, subject.name);
    let p12 =
        qoljetim_devca::pkcs12::write(&cert, &key.to_pkcs8_der()?, DEMO_PKCS12_PASSWORD, &name)?;
    std::fs::write(dir.join(format!("{stem}.p12")), p12)?;
    Ok((cert, key, cert_path))
}
