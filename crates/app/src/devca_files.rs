//! The development CA on disk (`<data_dir>/dev-ca/`) and certificates for demo people, written as PEM
//! (for `openssl cms`) next to their private keys. Keys are generated at run time, never committed.

use std::path::{Path, PathBuf};

use jiff::{Timestamp, ToSpan};
use qoljetim_signature::devca::{DevCa, KeyKind, PrivateKey, Subject, certificate_pem};
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
    Ok(ca)
}

pub fn load(dir: &Path) -> Result<DevCa, AnyError> {
    let cert = std::fs::read_to_string(dir.join("ca.pem"))?;
    let key = std::fs::read_to_string(dir.join("ca.key.pem"))?;
    Ok(DevCa::from_pem(&cert, &key)?)
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
    let p12 = qoljetim_signature::pkcs12::write(
        &cert,
        &key.to_pkcs8_der()?,
        DEMO_PKCS12_PASSWORD,
        &name,
    )?;
    std::fs::write(dir.join(format!("{stem}.p12")), p12)?;
    Ok((cert, key, cert_path))
}
