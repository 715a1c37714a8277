//! The development CA: test certificates in the NCA profile for the demo and the tests, and a CMS
//! signer that makes what NCALayer makes (attached SignedData with content type, signing time and
//! message digest as signed attributes); the GOST signer (`gost_sign`) and the PKCS#12 writer
//! (`pkcs12`). Never trusted in production mode, and never linked into verification: it depends on
//! `qoljetim-signature`, not the other way round.

pub mod egov_app;
pub mod gost_sign;
pub mod ncalayer;
pub mod pkcs12;
#[cfg(test)]
mod verification_tests;

use std::str::FromStr;
use std::time::{Duration, UNIX_EPOCH};

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, EncodePem};
use jiff::Timestamp;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};
use signature::{SignatureEncoding, Signer};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{
    AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfo, SubjectPublicKeyInfoOwned,
    SubjectPublicKeyInfoRef,
};
use x509_cert::time::{Time, Validity};

use crate::gost_sign::GostSigningKey;
use qoljetim_signature::gost::{self, GostCurve};
use qoljetim_signature::identity::{KeyPurpose, NcaRole};
use qoljetim_signature::{SignatureError, oids};

fn internal<E: std::fmt::Display>(e: E) -> SignatureError {
    SignatureError::Internal(e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa2048,
    P256,
    /// GOST 34.310-2004 on the CryptoPro-A curve, hash GOST 34.311-95.
    Gost2004,
    /// GOST 34.10-2015 512-bit (TC26 curve A), hash Streebog-512.
    Gost2015_512,
}

impl KeyKind {
    pub fn label(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "RSA",
            KeyKind::P256 => "ECDSA P-256",
            KeyKind::Gost2004 => "GOST 34.310-2004",
            KeyKind::Gost2015_512 => "GOST 34.10-2015 512",
        }
    }
    pub fn is_gost(self) -> bool {
        matches!(self, KeyKind::Gost2004 | KeyKind::Gost2015_512)
    }
}

/// A private key of the development CA or of a demo person.
#[derive(Clone)]
pub enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::ecdsa::SigningKey),
    Gost(GostSigningKey),
}

impl PrivateKey {
    pub fn generate(kind: KeyKind) -> Result<Self, SignatureError> {
        let mut rng = rand::rng();
        Ok(match kind {
            KeyKind::Rsa2048 => PrivateKey::Rsa(Box::new(
                rsa::PrivateKey::new(&mut rng, 2048).map_err(internal)?,
            )),
            KeyKind::P256 => {
                use p256::elliptic_curve::Generate;
                PrivateKey::P256(
                    p256::ecdsa::SigningKey::try_generate_from_rng(&mut rng).map_err(internal)?,
                )
            }
            KeyKind::Gost2004 => PrivateKey::Gost(GostSigningKey::generate(GostCurve::CryptoProA)?),
            KeyKind::Gost2015_512 => {
                PrivateKey::Gost(GostSigningKey::generate(GostCurve::Tc26Gost512A)?)
            }
        })
    }

    pub fn to_pkcs8_pem(&self) -> Result<String, SignatureError> {
        let pem = match self {
            PrivateKey::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF).map_err(internal)?,
            PrivateKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF).map_err(internal)?,
            PrivateKey::Gost(k) => {
                let der = k.to_pkcs8_der()?;
                return der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &der)
                    .map_err(internal);
            }
        };
        Ok(pem.to_string())
    }

    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, SignatureError> {
        let doc = match self {
            PrivateKey::Rsa(k) => k.to_pkcs8_der().map_err(internal)?,
            PrivateKey::P256(k) => k.to_pkcs8_der().map_err(internal)?,
            PrivateKey::Gost(k) => return k.to_pkcs8_der(),
        };
        Ok(doc.as_bytes().to_vec())
    }

    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignatureError> {
        if let Ok(k) = rsa::PrivateKey::from_pkcs8_pem(pem) {
            return Ok(PrivateKey::Rsa(Box::new(k)));
        }
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(PrivateKey::P256(k));
        }
        let (label, der) = der::pem::decode_vec(pem.as_bytes()).map_err(internal)?;
        if label != "PRIVATE KEY" {
            return Err(internal(format!("PEM label {label}")));
        }
        GostSigningKey::from_pkcs8_der(&der).map(PrivateKey::Gost)
    }

    pub fn public_key_info(
        &self,
    ) -> Result<SubjectPublicKeyInfo<Any, der::asn1::BitString>, SignatureError> {
        let der = match self {
            PrivateKey::Rsa(k) => k.to_public_key().to_public_key_der().map_err(internal)?,
            PrivateKey::P256(k) => k.verifying_key().to_public_key_der().map_err(internal)?,
            PrivateKey::Gost(k) => {
                let owned = k.subject_public_key_info()?;
                let der = owned.to_der().map_err(internal)?;
                return SubjectPublicKeyInfo::from_der(&der).map_err(internal);
            }
        };
        SubjectPublicKeyInfo::from_der(der.as_bytes()).map_err(internal)
    }

    /// The digest algorithm a CMS signer info made with this key names: SHA-256 for RSA and ECDSA,
    /// the curve's own hash for GOST.
    pub fn cms_digest_algorithm(&self) -> ObjectIdentifier {
        match self {
            PrivateKey::Gost(k) => k.digest_algorithm(),
            _ => oids::SHA256,
        }
    }

    /// The digest of `data` under [`Self::cms_digest_algorithm`].
    pub fn cms_digest(&self, data: &[u8]) -> Vec<u8> {
        match self {
            PrivateKey::Gost(k) => gost::digest(k.curve(), data),
            _ => Sha256::digest(data).to_vec(),
        }
    }

    /// Signs `msg` (SHA-256 for RSA and ECDSA, the curve's hash for GOST); returns the CMS signature algorithm and the signature value.
    pub fn sign(&self, msg: &[u8]) -> Result<(ObjectIdentifier, Vec<u8>), SignatureError> {
        Ok(match self {
            PrivateKey::Rsa(k) => {
                let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone());
                let sig = sk.try_sign(msg).map_err(internal)?;
                (oids::RSA_ENCRYPTION, sig.to_vec())
            }
            PrivateKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k.try_sign(msg).map_err(internal)?;
                (oids::ECDSA_SHA256, sig.to_der().as_bytes().to_vec())
            }
            PrivateKey::Gost(k) => (k.signature_algorithm(), k.sign(msg)?),
        })
    }
}

/// Who a test certificate is issued to, in the NCA profile.
#[derive(Debug, Clone)]
pub struct Subject {
    pub surname: String,
    pub name: String,
    pub patronymic: Option<String>,
    pub iin: String,
    /// BIN and name of the organization for a legal entity's employee; None for an individual.
    pub organization: Option<(String, String)>,
    pub role: Option<NcaRole>,
    pub purpose: KeyPurpose,
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if ",+\"\\<>;=".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 4514 text is written last-RDN-first; attribute types by OID keep the NCA string types
/// (SERIALNUMBER and C printable, the rest UTF-8).
fn name_from(parts: &[(ObjectIdentifier, String)]) -> Result<Name, SignatureError> {
    let text: Vec<String> = parts
        .iter()
        .rev()
        .map(|(oid, v)| format!("{oid}={}", escape(v)))
        .collect();
    Name::from_str(&text.join(",")).map_err(internal)
}

impl Subject {
    pub fn name(&self) -> Result<Name, SignatureError> {
        let mut parts = vec![
            (
                oids::AT_COMMON_NAME,
                format!("{} {}", self.surname, self.name),
            ),
            (oids::AT_SURNAME, self.surname.clone()),
            (oids::AT_SERIAL_NUMBER, format!("IIN{}", self.iin)),
            (oids::AT_COUNTRY, "KZ".to_owned()),
        ];
        if let Some((bin, org)) = &self.organization {
            parts.push((oids::AT_ORGANIZATION, org.clone()));
            parts.push((oids::AT_ORGANIZATIONAL_UNIT, format!("BIN{bin}")));
        }
        if let Some(p) = &self.patronymic {
            parts.push((oids::AT_GIVEN_NAME, p.clone()));
        }
        name_from(&parts)
    }

    pub fn extended_key_usage(&self) -> Vec<ObjectIdentifier> {
        let mut ekus = vec![match self.purpose {
            KeyPurpose::Signing => oids::EKU_SIGNING_KEY,
            KeyPurpose::Authentication => oids::EKU_AUTH_KEY,
        }];
        match (&self.organization, self.role) {
            (Some(_), role) => {
                ekus.push(oids::EKU_LEGAL_ENTITY);
                ekus.push(role.unwrap_or(NcaRole::Employee).oid());
            }
            (None, _) => ekus.push(oids::EKU_INDIVIDUAL),
        }
        ekus
    }
}

struct NcaProfile {
    issuer: Name,
    subject: Name,
    ca: bool,
    key_usage: KeyUsage,
    ekus: Vec<ObjectIdentifier>,
}

impl BuilderProfile for NcaProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut ext: Vec<Extension> = vec![];
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        ext.push((&ski).to_extension(tbs.subject(), &ext)?);
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(issuer_ski.0),
            ..Default::default()
        };
        ext.push((&aki).to_extension(tbs.subject(), &ext)?);
        let bc = BasicConstraints {
            ca: self.ca,
            path_len_constraint: None,
        };
        ext.push((&bc).to_extension(tbs.subject(), &ext)?);
        ext.push((&self.key_usage).to_extension(tbs.subject(), &ext)?);
        if !self.ekus.is_empty() {
            ext.push((&ExtendedKeyUsage(self.ekus.clone())).to_extension(tbs.subject(), &ext)?);
        }
        Ok(ext)
    }
}

fn time(t: Timestamp) -> Result<Time, SignatureError> {
    let st = UNIX_EPOCH + Duration::from_secs(t.as_second().max(0) as u64);
    Time::try_from(st).map_err(internal)
}

fn serial() -> Result<SerialNumber, SignatureError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(internal)?;
    b[0] &= 0x7f;
    b[0] |= 0x01;
    SerialNumber::new(&b).map_err(internal)
}

fn build_cert(
    profile: NcaProfile,
    spki: SubjectPublicKeyInfo<Any, der::asn1::BitString>,
    signer: &PrivateKey,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<Certificate, SignatureError> {
    let validity = Validity::new(time(not_before)?, time(not_after)?);
    let builder = CertificateBuilder::new(profile, serial()?, validity, spki).map_err(internal)?;
    match signer {
        PrivateKey::Rsa(k) => {
            let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone());
            builder
                .build::<_, rsa::pkcs1v15::Signature>(&sk)
                .map_err(internal)
        }
        PrivateKey::P256(k) => builder
            .build::<_, p256::ecdsa::DerSignature>(k)
            .map_err(internal),
        PrivateKey::Gost(k) => builder
            .build::<_, GostSignatureBits>(&GostCaSigner::new(k)?)
            .map_err(internal),
    }
}

/// The GOST key of a development CA as x509-cert's builders want a signer (certificates and CRLs).
struct GostCaSigner<'a> {
    key: &'a GostSigningKey,
    public: GostPublicKey,
}

impl<'a> GostCaSigner<'a> {
    fn new(key: &'a GostSigningKey) -> Result<Self, SignatureError> {
        Ok(GostCaSigner {
            key,
            public: GostPublicKey(key.subject_public_key_info()?),
        })
    }
}

#[derive(Clone)]
struct GostPublicKey(SubjectPublicKeyInfoOwned);

struct GostSignatureBits(Vec<u8>);

impl EncodePublicKey for GostPublicKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::encode_msg(&self.0)?)
    }
}

impl signature::Keypair for GostCaSigner<'_> {
    type VerifyingKey = GostPublicKey;
    fn verifying_key(&self) -> GostPublicKey {
        self.public.clone()
    }
}

impl spki::DynSignatureAlgorithmIdentifier for GostCaSigner<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        // The NCA writes the GOST signature algorithms with NULL parameters.
        Ok(AlgorithmIdentifierOwned {
            oid: self.key.signature_algorithm(),
            parameters: Some(Any::null()),
        })
    }
}

impl Signer<GostSignatureBits> for GostCaSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<GostSignatureBits, signature::Error> {
        self.key
            .sign(msg)
            .map(GostSignatureBits)
            .map_err(|_| signature::Error::new())
    }
}

impl spki::SignatureBitStringEncoding for GostSignatureBits {
    fn to_bitstring(&self) -> der::Result<der::asn1::BitString> {
        der::asn1::BitString::from_bytes(&self.0)
    }
}

/// A development certification authority.
#[derive(Clone)]
pub struct DevCa {
    pub certificate: Certificate,
    pub key: PrivateKey,
}

pub const DEV_CA_NAME: &str = "QOLJETIM DEVELOPMENT CA — NOT FOR PRODUCTION";

impl DevCa {
    pub fn generate(
        kind: KeyKind,
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> Result<Self, SignatureError> {
        let key = PrivateKey::generate(kind)?;
        let label = kind.label();
        let name = name_from(&[
            (oids::AT_COMMON_NAME, format!("{DEV_CA_NAME} ({label})")),
            (oids::AT_ORGANIZATION, "Qoljetim development".to_owned()),
            (oids::AT_COUNTRY, "KZ".to_owned()),
        ])?;
        let profile = NcaProfile {
            issuer: name.clone(),
            subject: name,
            ca: true,
            key_usage: KeyUsage(
                KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature,
            ),
            ekus: vec![],
        };
        let certificate = build_cert(profile, key.public_key_info()?, &key, not_before, not_after)?;
        Ok(DevCa { certificate, key })
    }

    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, SignatureError> {
        use der::DecodePem;
        Ok(DevCa {
            certificate: Certificate::from_pem(cert_pem).map_err(internal)?,
            key: PrivateKey::from_pkcs8_pem(key_pem)?,
        })
    }

    /// Issues a certificate in the NCA profile to `subject` for a new key of `kind`.
    pub fn issue(
        &self,
        subject: &Subject,
        kind: KeyKind,
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> Result<(Certificate, PrivateKey), SignatureError> {
        let key = PrivateKey::generate(kind)?;
        let cert = self.issue_for_key(subject, &key, not_before, not_after)?;
        Ok((cert, key))
    }

    pub fn issue_for_key(
        &self,
        subject: &Subject,
        key: &PrivateKey,
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> Result<Certificate, SignatureError> {
        let key_usage = match subject.purpose {
            KeyPurpose::Signing => {
                KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation)
            }
            KeyPurpose::Authentication => {
                KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment)
            }
        };
        let profile = NcaProfile {
            issuer: self.certificate.tbs_certificate().subject().clone(),
            subject: subject.name()?,
            ca: false,
            key_usage,
            ekus: subject.extended_key_usage(),
        };
        build_cert(
            profile,
            key.public_key_info()?,
            &self.key,
            not_before,
            not_after,
        )
    }
}

/// One entry of a development CRL.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    /// The certificate's serial number, big-endian.
    pub serial: Vec<u8>,
    pub revoked_at: Timestamp,
}

/// The signature algorithm and value a key makes over a to-be-signed structure (certificate or CRL):
/// sha256WithRSAEncryption, ecdsa-with-SHA256, or the GOST algorithm of the key (NULL parameters).
fn sign_tbs(
    key: &PrivateKey,
    tbs: &[u8],
) -> Result<(AlgorithmIdentifierOwned, der::asn1::BitString), SignatureError> {
    let (oid, params, sig) = match key {
        PrivateKey::Rsa(_) => {
            let (_, sig) = key.sign(tbs)?;
            (oids::SHA256_WITH_RSA, Some(Any::null()), sig)
        }
        PrivateKey::P256(_) => {
            let (_, sig) = key.sign(tbs)?;
            (oids::ECDSA_SHA256, None, sig)
        }
        PrivateKey::Gost(k) => (k.signature_algorithm(), Some(Any::null()), k.sign(tbs)?),
    };
    Ok((
        AlgorithmIdentifierOwned {
            oid,
            parameters: params,
        },
        der::asn1::BitString::from_bytes(&sig).map_err(internal)?,
    ))
}

impl DevCa {
    /// A CRL of this CA (RFC 5280 §5): `number` in the CRL number extension; with `delta_of`, a delta
    /// CRL building on that full CRL number. This is how the development CA publishes revocations.
    pub fn crl(
        &self,
        revoked: &[RevokedEntry],
        number: u64,
        delta_of: Option<u64>,
        this_update: Timestamp,
        next_update: Timestamp,
    ) -> Result<x509_cert::crl::CertificateList, SignatureError> {
        use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
        use x509_cert::ext::pkix::{BaseCrlNumber, CrlNumber};
        let issuer = self.certificate.tbs_certificate().subject().clone();
        let mut exts: Vec<Extension> = vec![];
        exts.push(
            CrlNumber::try_from(number)
                .map_err(internal)?
                .to_extension(&issuer, &exts)
                .map_err(internal)?,
        );
        if let Some(base) = delta_of {
            exts.push(
                BaseCrlNumber(der::asn1::Uint::new(&base.to_be_bytes()).map_err(internal)?)
                    .to_extension(&issuer, &exts)
                    .map_err(internal)?,
            );
        }
        let mut entries = vec![];
        for r in revoked {
            entries.push(RevokedCert {
                serial_number: SerialNumber::new(&r.serial).map_err(internal)?,
                revocation_date: time(r.revoked_at)?,
                crl_entry_extensions: None,
            });
        }
        let (alg, _) = sign_tbs(&self.key, b"")?;
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: alg,
            issuer,
            this_update: time(this_update)?,
            next_update: Some(time(next_update)?),
            revoked_certificates: if entries.is_empty() {
                None
            } else {
                Some(entries)
            },
            crl_extensions: Some(exts),
        };
        let (signature_algorithm, signature) =
            sign_tbs(&self.key, &tbs.to_der().map_err(internal)?)?;
        Ok(CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm,
            signature,
        })
    }
}

pub fn certificate_pem(cert: &Certificate) -> Result<String, SignatureError> {
    cert.to_pem(der::pem::LineEnding::LF).map_err(internal)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SignatureError> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(internal)?;
    Ok(Attribute { oid, values })
}

/// Makes an attached CMS SignedData over `content`, as NCALayer's `sign` with `encapsulate: true` does.
pub fn sign_cms(
    content: &[u8],
    cert: &Certificate,
    key: &PrivateKey,
    signing_time: Option<Timestamp>,
) -> Result<Vec<u8>, SignatureError> {
    sign_cms_typed(content, oids::CT_DATA, cert, key, signing_time)
}

/// A time-stamp authority of the development CA: a certificate with id-kp-timeStamping (RFC 3161
/// §2.3) for a new key of `kind`.
pub fn issue_tsa(
    ca: &DevCa,
    kind: KeyKind,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<(Certificate, PrivateKey), SignatureError> {
    issue_service(
        ca,
        kind,
        "TSA",
        oids::EKU_TIME_STAMPING,
        not_before,
        not_after,
    )
}

/// A delegated OCSP responder of the development CA (RFC 6960 §4.2.2.2: EKU id-kp-OCSPSigning).
pub fn issue_ocsp_responder(
    ca: &DevCa,
    kind: KeyKind,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<(Certificate, PrivateKey), SignatureError> {
    let ocsp_signing = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
    issue_service(
        ca,
        kind,
        "OCSP responder",
        ocsp_signing,
        not_before,
        not_after,
    )
}

fn issue_service(
    ca: &DevCa,
    kind: KeyKind,
    what: &str,
    eku: ObjectIdentifier,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<(Certificate, PrivateKey), SignatureError> {
    let key = PrivateKey::generate(kind)?;
    let profile = NcaProfile {
        issuer: ca.certificate.tbs_certificate().subject().clone(),
        subject: name_from(&[
            (
                oids::AT_COMMON_NAME,
                format!("Qoljetim development {what} ({})", kind.label()),
            ),
            (oids::AT_ORGANIZATION, "Qoljetim development".to_owned()),
            (oids::AT_COUNTRY, "KZ".to_owned()),
        ])?,
        ca: false,
        key_usage: KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
        ekus: vec![eku],
    };
    let cert = build_cert(
        profile,
        key.public_key_info()?,
        &ca.key,
        not_before,
        not_after,
    )?;
    Ok((cert, key))
}

/// An RFC 3161 time-stamp token (a ContentInfo with a SignedData over a TSTInfo) for
/// `signature_value`, at `gen_time`, by the TSA — what a TSA returns to NCALayer.
pub fn time_stamp_token(
    signature_value: &[u8],
    tsa_cert: &Certificate,
    tsa_key: &PrivateKey,
    gen_time: Timestamp,
) -> Result<Any, SignatureError> {
    use qoljetim_signature::verify::MessageImprint;
    let imprint = MessageImprint {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: tsa_key.cms_digest_algorithm(),
            parameters: None,
        },
        hashed_message: OctetString::new(tsa_key.cms_digest(signature_value)).map_err(internal)?,
    };
    time_stamp_token_for(&imprint, tsa_cert, tsa_key, gen_time)
}

/// An RFC 3161 time-stamp token on the message imprint a request sent (the development TSA's answer
/// to `qoljetim_signature::tsp::time_stamp_request`).
pub fn time_stamp_token_for(
    imprint: &qoljetim_signature::verify::MessageImprint,
    tsa_cert: &Certificate,
    tsa_key: &PrivateKey,
    gen_time: Timestamp,
) -> Result<Any, SignatureError> {
    let mut serial_bytes = [0u8; 8];
    getrandom::fill(&mut serial_bytes).map_err(internal)?;
    // Positive and minimal: DER INTEGER with no redundant leading byte.
    serial_bytes[0] = (serial_bytes[0] & 0x7f) | 0x01;
    let generalized = der::asn1::GeneralizedTime::from_unix_duration(Duration::from_secs(
        gen_time.as_second().max(0) as u64,
    ))
    .map_err(internal)?;
    // TSTInfo ::= SEQUENCE { version 1, policy, messageImprint, serialNumber, genTime }
    let fields = vec![
        Any::encode_from(&1u8).map_err(internal)?,
        Any::encode_from(&ObjectIdentifier::new_unwrap("2.5.29.32.0")).map_err(internal)?,
        Any::encode_from(imprint).map_err(internal)?,
        Any::encode_from(&der::asn1::Int::new(&serial_bytes).map_err(internal)?)
            .map_err(internal)?,
        Any::encode_from(&generalized).map_err(internal)?,
    ];
    let tst = fields.to_der().map_err(internal)?;
    let token = sign_cms_typed(&tst, oids::CT_TST_INFO, tsa_cert, tsa_key, Some(gen_time))?;
    Any::from_der(&token).map_err(internal)
}

/// Adds a time-stamp token for its signature to the one signer info of `cms`, as NCALayer does with a
/// TSA profile.
pub fn add_time_stamp(
    cms: &[u8],
    tsa_cert: &Certificate,
    tsa_key: &PrivateKey,
    gen_time: Timestamp,
) -> Result<Vec<u8>, SignatureError> {
    let mut ci = ContentInfo::from_der(cms).map_err(internal)?;
    let mut sd: SignedData = ci.content.decode_as().map_err(internal)?;
    let mut si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .cloned()
        .ok_or_else(|| internal("no signer"))?;
    let token = time_stamp_token(si.signature.as_bytes(), tsa_cert, tsa_key, gen_time)?;
    let mut attrs = si.unsigned_attrs.take().unwrap_or_default();
    attrs
        .insert(attribute(oids::ATTR_TIME_STAMP_TOKEN, token)?)
        .map_err(internal)?;
    si.unsigned_attrs = Some(attrs);
    let mut signers = SetOfVec::new();
    signers.insert(si).map_err(internal)?;
    sd.signer_infos = SignerInfos(signers);
    ci.content = Any::encode_from(&sd).map_err(internal)?;
    ci.to_der().map_err(internal)
}

/// `sign_cms` with another encapsulated content type (a TSTInfo for a time-stamp token).
fn sign_cms_typed(
    content: &[u8],
    content_type: ObjectIdentifier,
    cert: &Certificate,
    key: &PrivateKey,
    signing_time: Option<Timestamp>,
) -> Result<Vec<u8>, SignatureError> {
    let digest_alg = AlgorithmIdentifierOwned {
        oid: key.cms_digest_algorithm(),
        parameters: None,
    };
    let digest = key.cms_digest(content);
    let mut attrs = SetOfVec::new();
    attrs
        .insert(attribute(
            oids::ATTR_CONTENT_TYPE,
            Any::encode_from(&content_type).map_err(internal)?,
        )?)
        .map_err(internal)?;
    attrs
        .insert(attribute(
            oids::ATTR_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(internal)?)
                .map_err(internal)?,
        )?)
        .map_err(internal)?;
    if let Some(t) = signing_time {
        attrs
            .insert(attribute(
                oids::ATTR_SIGNING_TIME,
                Any::encode_from(&time(t)?).map_err(internal)?,
            )?)
            .map_err(internal)?;
    }
    let to_sign = attrs.to_der().map_err(internal)?;
    let (sig_alg, sig) = key.sign(&to_sign)?;
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: sig_alg,
            parameters: None,
        },
        signature: OctetString::new(sig).map_err(internal)?,
        unsigned_attrs: None,
    };
    let mut digests = SetOfVec::new();
    digests.insert(digest_alg).map_err(internal)?;
    let mut certs = SetOfVec::new();
    certs
        .insert(CertificateChoices::Certificate(cert.clone()))
        .map_err(internal)?;
    let mut signers = SetOfVec::new();
    signers.insert(signer).map_err(internal)?;
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: digests,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: content_type,
            econtent: Some(
                Any::encode_from(&OctetString::new(content.to_vec()).map_err(internal)?)
                    .map_err(internal)?,
            ),
        },
        certificates: Some(CertificateSet(certs)),
        crls: None,
        signer_infos: SignerInfos(signers),
    };
    let ci = ContentInfo {
        content_type: oids::CT_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(internal)?,
    };
    ci.to_der().map_err(internal)
}
