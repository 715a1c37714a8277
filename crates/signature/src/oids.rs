//! Object identifiers of the NCA profile (FACTS.md, "Digital signatures") and of RFC 5652/5280.
use const_oid::ObjectIdentifier as Oid;

pub const EKU_INDIVIDUAL: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.1");
pub const EKU_LEGAL_ENTITY: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.2");
pub const EKU_FIRST_HEAD: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.2.1");
pub const EKU_SIGNING_RIGHT: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.2.2");
pub const EKU_FINANCIAL_SIGNING: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.2.3");
pub const EKU_HR: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.2.4");
pub const EKU_EMPLOYEE: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.2.5");
pub const EKU_INFORMATION_SYSTEM: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.2.6");
/// An individual's information system (issue 18: refused where a legal entity's system signs in).
pub const EKU_INDIVIDUAL_SYSTEM: Oid = Oid::new_unwrap("1.2.398.3.3.4.1.1.1");
/// emailProtection: the NCA's signing key.
pub const EKU_SIGNING_KEY: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
/// clientAuth: the NCA's authentication key.
pub const EKU_AUTH_KEY: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");

pub const AT_COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
pub const AT_SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
pub const AT_SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
pub const AT_COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
pub const AT_ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
pub const AT_ORGANIZATIONAL_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
pub const AT_GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");

pub const CT_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
pub const CT_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
pub const ATTR_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
pub const ATTR_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
pub const ATTR_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");

pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");

pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
pub const CURVE_P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
pub const CURVE_P384: Oid = Oid::new_unwrap("1.3.132.0.34");

/// GOST 34.310-2004 signature (hash GOST 34.311-95).
pub const GOST2004_SIGNATURE: Oid = Oid::new_unwrap("1.2.398.3.10.1.1.1.2");
/// GOST 34.10-2015 with Streebog-256 / -512.
pub const GOST2015_256_SIGNATURE: Oid = Oid::new_unwrap("1.2.398.3.10.1.1.2.3.1");
pub const GOST2015_512_SIGNATURE: Oid = Oid::new_unwrap("1.2.398.3.10.1.1.2.3.2");
/// GOST key algorithms: 34.310-2004 and 34.10-2015 (parameters name the curve).
pub const GOST2004_KEY: Oid = Oid::new_unwrap("1.2.398.3.10.1.1.1.1");
pub const GOST2015_KEY: Oid = Oid::new_unwrap("1.2.398.3.10.1.1.2.2");
/// Digests: GOST 34.311-95 and GOST 34.11-2015 (Streebog) 256 / 512.
pub const GOST34311: Oid = Oid::new_unwrap("1.2.398.3.10.1.3.1");
pub const STREEBOG256: Oid = Oid::new_unwrap("1.2.398.3.10.1.3.2");
pub const STREEBOG512: Oid = Oid::new_unwrap("1.2.398.3.10.1.3.3");
/// The GOST 34.311-95 hash parameters (test S-box) NCA keys of 2004 name.
pub const GOST2004_HASH_PARAMS_TEST: Oid = Oid::new_unwrap("1.2.398.3.10.1.3.1.1.0");
/// RFC 3161: the time-stamp token unsigned attribute, the TSTInfo content type, the TSA's EKU.
pub const ATTR_TIME_STAMP_TOKEN: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");
pub const CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
pub const EKU_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
