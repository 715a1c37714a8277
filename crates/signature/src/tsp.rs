//! RFC 3161 over HTTP (§3.4), the client's half: the request for a time stamp on a SHA-256 digest,
//! and the token out of the answer. The token itself is checked by `Verifier::verify_time_stamp`.
//! Issue 21 uses it to time-stamp the audit checkpoints.

use der::{Decode, Encode};

use crate::SignatureError;
use crate::oids;
use crate::verify::MessageImprint;

fn bad(e: impl std::fmt::Display) -> SignatureError {
    SignatureError::TimeStamp(e.to_string())
}

/// RFC 3161 §2.4.1 `TimeStampReq ::= SEQUENCE { version 1, messageImprint, nonce, certReq TRUE }`
/// for a SHA-256 digest; the nonce (positive) comes back in the token.
pub fn time_stamp_request(sha256_digest: &[u8], nonce: u64) -> Result<Vec<u8>, SignatureError> {
    if sha256_digest.len() != 32 {
        return Err(bad("a SHA-256 digest is 32 bytes"));
    }
    let imprint = MessageImprint {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: oids::SHA256,
            parameters: None,
        },
        hashed_message: der::asn1::OctetString::new(sha256_digest).map_err(bad)?,
    };
    // Big-endian, minimal, with a zero byte in front when the top bit is set (a positive INTEGER).
    let mut n = nonce.to_be_bytes().to_vec();
    while n.len() > 1 && n[0] == 0 && n[1] & 0x80 == 0 {
        n.remove(0);
    }
    if n[0] & 0x80 != 0 {
        n.insert(0, 0);
    }
    let fields = vec![
        der::Any::encode_from(&1u8).map_err(bad)?,
        der::Any::encode_from(&imprint).map_err(bad)?,
        der::Any::encode_from(&der::asn1::Int::new(&n).map_err(bad)?).map_err(bad)?,
        der::Any::encode_from(&true).map_err(bad)?,
    ];
    fields.to_der().map_err(bad)
}

/// What a time-stamp request asked for (a TSA's reading of `time_stamp_request`).
pub fn imprint_of_request(request: &[u8]) -> Result<MessageImprint, SignatureError> {
    let fields: Vec<der::Any> = Vec::from_der(request).map_err(bad)?;
    let version: u8 = fields
        .first()
        .ok_or_else(|| bad("empty request"))?
        .decode_as()
        .map_err(bad)?;
    if version != 1 {
        return Err(bad(format!("request version {version}")));
    }
    fields
        .get(1)
        .ok_or_else(|| bad("the request has no messageImprint"))?
        .decode_as()
        .map_err(bad)
}

/// RFC 3161 §2.4.2 `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }`:
/// the token when the status is granted (0) or grantedWithMods (1); otherwise the status, as an error.
pub fn token_of_response(response: &[u8]) -> Result<der::Any, SignatureError> {
    let fields: Vec<der::Any> = Vec::from_der(response).map_err(bad)?;
    let status_info: Vec<der::Any> = fields
        .first()
        .ok_or_else(|| bad("empty TimeStampResp"))?
        .decode_as()
        .map_err(bad)?;
    let status: u8 = status_info
        .first()
        .ok_or_else(|| bad("PKIStatusInfo without a status"))?
        .decode_as()
        .map_err(bad)?;
    if status > 1 {
        return Err(bad(format!(
            "the TSA refused the request (PKIStatus {status})"
        )));
    }
    fields
        .get(1)
        .cloned()
        .ok_or_else(|| bad("the TSA granted the request but sent no token"))
}

/// The answer of a TSA that grants: `TimeStampResp { status granted, token }` (a TSA's half, for the
/// development TSA).
pub fn granted_response(token: &der::Any) -> Result<Vec<u8>, SignatureError> {
    let status = vec![der::Any::encode_from(&0u8).map_err(bad)?];
    let fields = vec![der::Any::encode_from(&status).map_err(bad)?, token.clone()];
    fields.to_der().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_its_digest_and_a_refusal_is_an_error() {
        let digest = [7u8; 32];
        let req = time_stamp_request(&digest, u64::MAX).expect("request");
        let imprint = imprint_of_request(&req).expect("imprint");
        assert_eq!(imprint.hashed_message.as_bytes(), &digest);
        assert_eq!(imprint.hash_algorithm.oid, oids::SHA256);
        assert!(time_stamp_request(&[1u8; 20], 1).is_err());
        // PKIStatus 2 = rejection.
        let status = vec![der::Any::encode_from(&2u8).expect("int")];
        let resp = vec![der::Any::encode_from(&status).expect("seq")]
            .to_der()
            .expect("der");
        let e = token_of_response(&resp).expect_err("refused");
        assert!(e.to_string().contains("PKIStatus 2"), "{e}");
        let token =
            der::Any::encode_from(&der::asn1::OctetString::new([1u8]).expect("o")).expect("any");
        assert_eq!(
            token_of_response(&granted_response(&token).expect("resp")).expect("token"),
            token
        );
    }
}
