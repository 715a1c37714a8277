//! Who a certificate names, read in the NCA profile: `SERIALNUMBER=IIN…`, `OU=BIN…`, roles by EKU.

use const_oid::ObjectIdentifier;
use der::{Tag, Tagged};
use qoljetim_domain::{Bin, Iin};
use std::collections::BTreeSet;
use x509_cert::Certificate;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::Name;

use crate::oids;

/// The role an NCA legal-entity certificate carries (FACTS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NcaRole {
    FirstHead,
    SigningRight,
    FinancialSigning,
    Hr,
    Employee,
    InformationSystem,
}

impl NcaRole {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            NcaRole::FirstHead => oids::EKU_FIRST_HEAD,
            NcaRole::SigningRight => oids::EKU_SIGNING_RIGHT,
            NcaRole::FinancialSigning => oids::EKU_FINANCIAL_SIGNING,
            NcaRole::Hr => oids::EKU_HR,
            NcaRole::Employee => oids::EKU_EMPLOYEE,
            NcaRole::InformationSystem => oids::EKU_INFORMATION_SYSTEM,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            NcaRole::FirstHead => "first_head",
            NcaRole::SigningRight => "signing_right",
            NcaRole::FinancialSigning => "financial_signing",
            NcaRole::Hr => "hr",
            NcaRole::Employee => "employee",
            NcaRole::InformationSystem => "information_system",
        }
    }
    /// Every role the NCA issues, in EKU order.
    pub const ALL: [NcaRole; 6] = [
        NcaRole::FirstHead,
        NcaRole::SigningRight,
        NcaRole::FinancialSigning,
        NcaRole::Hr,
        NcaRole::Employee,
        NcaRole::InformationSystem,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// 1.3.6.1.5.5.7.3.4: signs documents.
    Signing,
    /// 1.3.6.1.5.5.7.3.2: authenticates (signs in).
    Authentication,
}

/// The identity fields of a certificate, as far as they parse. Identifiers that fail their check digit
/// are left out rather than relaxed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    pub iin: Option<Iin>,
    pub bin: Option<Bin>,
    pub common_name: Option<String>,
    pub surname: Option<String>,
    /// NCA certificates carry the patronymic in GIVENNAME.
    pub patronymic: Option<String>,
    pub organization: Option<String>,
    pub individual: bool,
    pub legal_entity: bool,
    /// EKU 1.2.398.3.3.4.1.1.1: an individual's information system.
    pub individual_system: bool,
    pub roles: BTreeSet<NcaRole>,
    pub signing_key: bool,
    pub authentication_key: bool,
    pub serial_hex: String,
    pub issuer: String,
    pub not_after_unix: i64,
}

/// Reads a directory string of any of the string types certificates use.
pub fn attribute_text(value: &der::Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
            String::from_utf8(bytes.to_vec()).ok()
        }
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

pub fn name_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.iter()
        .find(|atv| atv.oid == oid)
        .and_then(|atv| attribute_text(&atv.value))
}

impl CertificateIdentity {
    pub fn of(cert: &Certificate) -> Self {
        let tbs = cert.tbs_certificate();
        let subject = tbs.subject();
        let ekus: Vec<ObjectIdentifier> = match tbs.get_extension::<ExtendedKeyUsage>() {
            Ok(Some((_, eku))) => eku.0,
            _ => vec![],
        };
        let has = |o: ObjectIdentifier| ekus.contains(&o);
        let under = |o: ObjectIdentifier| holds_arc(&ekus, o);
        let iin = name_attribute(subject, oids::AT_SERIAL_NUMBER)
            .and_then(|s| s.strip_prefix("IIN").map(str::to_owned))
            .and_then(|s| Iin::parse(&s).ok());
        let bin = name_attribute(subject, oids::AT_ORGANIZATIONAL_UNIT)
            .and_then(|s| s.strip_prefix("BIN").map(str::to_owned))
            .and_then(|s| Bin::parse(&s).ok());
        CertificateIdentity {
            iin,
            bin,
            common_name: name_attribute(subject, oids::AT_COMMON_NAME),
            surname: name_attribute(subject, oids::AT_SURNAME),
            patronymic: name_attribute(subject, oids::AT_GIVEN_NAME),
            organization: name_attribute(subject, oids::AT_ORGANIZATION),
            individual: has(oids::EKU_INDIVIDUAL),
            legal_entity: has(oids::EKU_LEGAL_ENTITY),
            individual_system: under(oids::EKU_INDIVIDUAL_SYSTEM),
            roles: NcaRole::ALL
                .into_iter()
                .filter(|r| match r {
                    NcaRole::InformationSystem => under(r.oid()),
                    _ => has(r.oid()),
                })
                .collect(),
            signing_key: has(oids::EKU_SIGNING_KEY),
            authentication_key: has(oids::EKU_AUTH_KEY),
            serial_hex: hex_upper(tbs.serial_number().as_bytes()),
            issuer: tbs.issuer().to_string(),
            not_after_unix: tbs.validity().not_after.to_unix_duration().as_secs() as i64,
        }
    }

    /// The person's given name: CN is "SURNAME NAME", so the name is what follows the surname.
    pub fn given_name(&self) -> Option<String> {
        let cn = self.common_name.as_deref()?;
        match self.surname.as_deref() {
            Some(s) => cn
                .strip_prefix(s)
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty()),
            None => cn.split_whitespace().nth(1).map(str::to_owned),
        }
    }
}

/// The NCA also issues information-system certificates naming one system under the role's arc
/// (1.2.398.3.3.4.1.2.6.N): the role is held by the arc itself or by any OID beneath it.
pub fn holds_arc(ekus: &[ObjectIdentifier], arc: ObjectIdentifier) -> bool {
    let prefix = format!("{arc}.");
    ekus.iter()
        .any(|e| *e == arc || e.to_string().starts_with(&prefix))
}

pub fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 18: an information system is the role's arc or a system named beneath it; a sibling arc
    // that merely starts with the same digits (1.2.398.3.3.4.1.2.60) is not.
    #[test]
    fn an_information_system_is_the_arc_or_beneath_it() {
        let o = |s: &str| ObjectIdentifier::new_unwrap(s);
        let arc = oids::EKU_INFORMATION_SYSTEM;
        assert!(holds_arc(&[o("1.2.398.3.3.4.1.2"), arc], arc));
        assert!(holds_arc(&[o("1.2.398.3.3.4.1.2.6.71")], arc));
        assert!(!holds_arc(&[o("1.2.398.3.3.4.1.2.60")], arc));
        assert!(!holds_arc(&[o("1.2.398.3.3.4.1.2.5")], arc));
        assert!(!holds_arc(&[], arc));
    }
}
