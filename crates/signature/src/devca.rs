//! The development CA: test certificates in the NCA profile for the demo and the tests, and a CMS
//! signer that makes what NCALayer makes (attached SignedData with content type, signing time and
//! message digest as signed attributes). Never trusted in production mode.

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
    AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfo, SubjectPublicKeyInfoRef,
};
use x509_cert::time::{Time, Validity};

use crate::identity::{KeyPurpose, NcaRole};
use crate::{SignatureError, oids};

fn internal<E: std::fmt::Display>(e: E) -> SignatureError {
    SignatureError::Internal(e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa2048,
    P256,
}

/// A private key of the development CA or of a demo person.
#[derive(Clone)]
pub enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::ecdsa::SigningKey),
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
        })
    }

    pub fn to_pkcs8_pem(&self) -> Result<String, SignatureError> {
        let pem = match self {
            PrivateKey::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF).map_err(internal)?,
            PrivateKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF).map_err(internal)?,
        };
        Ok(pem.to_string())
    }

    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, SignatureError> {
        let doc = match self {
            PrivateKey::Rsa(k) => k.to_pkcs8_der().map_err(internal)?,
            PrivateKey::P256(k) => k.to_pkcs8_der().map_err(internal)?,
        };
        Ok(doc.as_bytes().to_vec())
    }

    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignatureError> {
        if let Ok(k) = rsa::PrivateKey::from_pkcs8_pem(pem) {
            return Ok(PrivateKey::Rsa(Box::new(k)));
        }
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(PrivateKey::P256)
            .map_err(internal)
    }

    pub fn public_key_info(
        &self,
    ) -> Result<SubjectPublicKeyInfo<Any, der::asn1::BitString>, SignatureError> {
        let der = match self {
            PrivateKey::Rsa(k) => k.to_public_key().to_public_key_der().map_err(internal)?,
            PrivateKey::P256(k) => k.verifying_key().to_public_key_der().map_err(internal)?,
        };
        SubjectPublicKeyInfo::from_der(der.as_bytes()).map_err(internal)
    }

    /// Signs `msg` with SHA-256; returns the CMS signature algorithm and the signature value.
    pub fn sign_sha256(&self, msg: &[u8]) -> Result<(ObjectIdentifier, Vec<u8>), SignatureError> {
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
        let label = match kind {
            KeyKind::Rsa2048 => "RSA",
            KeyKind::P256 => "ECDSA P-256",
        };
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
    let sha256 = AlgorithmIdentifierOwned {
        oid: oids::SHA256,
        parameters: None,
    };
    let digest = Sha256::digest(content);
    let mut attrs = SetOfVec::new();
    attrs
        .insert(attribute(
            oids::ATTR_CONTENT_TYPE,
            Any::encode_from(&oids::CT_DATA).map_err(internal)?,
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
    let (sig_alg, sig) = key.sign_sha256(&to_sign)?;
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: sig_alg,
            parameters: None,
        },
        signature: OctetString::new(sig).map_err(internal)?,
        unsigned_attrs: None,
    };
    let mut digests = SetOfVec::new();
    digests.insert(sha256).map_err(internal)?;
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
            econtent_type: oids::CT_DATA,
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
