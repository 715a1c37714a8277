//! Bounded work before anyone is authenticated (issue 15): a CMS SignedData is measured by a linear,
//! allocation-free walk over its DER tag-length headers before the full decoder or the path builder
//! sees it. A document with 58,000 embedded certificates, ten signers, thousands of attributes or a
//! thousand levels of nesting is refused naming the part and the limit, at the cost of reading its
//! headers once.
//!
//! DER (X.690 §8.1, §10.1): a tag byte (low tag numbers only in CMS), a definite length (short form, or
//! long form of 1–4 bytes here), the contents. Indefinite lengths are BER, not DER, and are refused as
//! the decoder would refuse them.

use crate::SignatureError;

/// The limits a signed document is held to before it is decoded. Defaults suit NCA signatures: one
/// signer, its certificate and at most a few intermediates, a handful of signed attributes, perhaps a
/// time-stamp token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmsLimits {
    /// The whole DER CMS.
    pub max_bytes: usize,
    /// Certificates embedded in `certificates` (RFC 5652 §5.1).
    pub max_certificates: usize,
    /// Each embedded certificate's DER size.
    pub max_certificate_bytes: usize,
    /// CRLs embedded in `crls`.
    pub max_crls: usize,
    /// Each embedded CRL's DER size.
    pub max_crl_bytes: usize,
    /// `signerInfos` (Qoljetim accepts exactly one; more are refused here, before their signatures).
    pub max_signer_infos: usize,
    /// `digestAlgorithms`.
    pub max_digest_algorithms: usize,
    /// Signed and unsigned attributes of one signer, each.
    pub max_attributes: usize,
    /// Nesting of constructed values anywhere in the document.
    pub max_depth: usize,
}

impl Default for CmsLimits {
    fn default() -> Self {
        CmsLimits {
            max_bytes: 6 * 1024 * 1024,
            max_certificates: 8,
            max_certificate_bytes: 16 * 1024,
            max_crls: 2,
            max_crl_bytes: 1024 * 1024,
            max_signer_infos: 1,
            max_digest_algorithms: 4,
            max_attributes: 32,
            max_depth: 32,
        }
    }
}

fn limit(what: &str, limit: usize) -> SignatureError {
    SignatureError::Limit {
        what: what.to_owned(),
        limit,
    }
}

fn malformed(why: &str) -> SignatureError {
    SignatureError::Malformed(why.to_owned())
}

/// One DER value: its tag, where its contents lie, and where it ends.
#[derive(Debug, Clone, Copy)]
struct Tlv {
    tag: u8,
    start: usize,
    end: usize,
}

impl Tlv {
    fn constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }
}

/// The value starting at `at` within `bytes[..end]`.
fn tlv(bytes: &[u8], at: usize, end: usize) -> Result<Tlv, SignatureError> {
    let tag = *bytes
        .get(at)
        .filter(|_| at < end)
        .ok_or_else(|| malformed("truncated DER"))?;
    if tag & 0x1f == 0x1f {
        return Err(malformed("high-tag-number form is not used in CMS"));
    }
    let first = *bytes
        .get(at + 1)
        .filter(|_| at + 1 < end)
        .ok_or_else(|| malformed("truncated DER length"))?;
    let (len, header) = match first {
        0x80 => return Err(malformed("indefinite length (BER) is not DER")),
        n if n < 0x80 => (usize::from(n), 2),
        n => {
            let count = usize::from(n & 0x7f);
            if count > 4 {
                return Err(malformed("DER length longer than 4 bytes"));
            }
            let mut len = 0usize;
            for i in 0..count {
                let b = *bytes
                    .get(at + 2 + i)
                    .filter(|_| at + 2 + i < end)
                    .ok_or_else(|| malformed("truncated DER length"))?;
                len = (len << 8) | usize::from(b);
            }
            (len, 2 + count)
        }
    };
    let start = at + header;
    let stop = start
        .checked_add(len)
        .filter(|s| *s <= end)
        .ok_or_else(|| malformed("a DER length runs past its container"))?;
    Ok(Tlv {
        tag,
        start,
        end: stop,
    })
}

/// The values inside a constructed one, in order.
fn children(bytes: &[u8], parent: Tlv) -> impl Iterator<Item = Result<Tlv, SignatureError>> + '_ {
    let mut at = parent.start;
    std::iter::from_fn(move || {
        if at >= parent.end {
            return None;
        }
        let r = tlv(bytes, at, parent.end);
        at = match &r {
            Ok(t) => t.end,
            Err(_) => parent.end,
        };
        Some(r)
    })
}

fn count_at_most(
    bytes: &[u8],
    set: Tlv,
    max: usize,
    what: &str,
) -> Result<Vec<Tlv>, SignatureError> {
    let mut out = vec![];
    for c in children(bytes, set) {
        out.push(c?);
        if out.len() > max {
            return Err(limit(what, max));
        }
    }
    Ok(out)
}

/// The deepest nesting of constructed values under `v` is at most `max` (an explicit stack: no
/// recursion on attacker-chosen depth).
fn check_depth(bytes: &[u8], root: Tlv, max: usize) -> Result<(), SignatureError> {
    let mut stack: Vec<(Tlv, usize, usize)> = vec![(root, root.start, 1)];
    while let Some((parent, at, depth)) = stack.pop() {
        if at >= parent.end {
            continue;
        }
        let child = tlv(bytes, at, parent.end)?;
        stack.push((parent, child.end, depth));
        if child.constructed() {
            if depth + 1 > max {
                return Err(limit("nesting depth", max));
            }
            stack.push((child, child.start, depth + 1));
        }
    }
    Ok(())
}

/// Measures a DER CMS ContentInfo holding SignedData against `limits`, reading only headers.
pub fn check_cms_shape(bytes: &[u8], limits: &CmsLimits) -> Result<(), SignatureError> {
    if bytes.len() > limits.max_bytes {
        return Err(limit("the signed document (bytes)", limits.max_bytes));
    }
    let content_info = tlv(bytes, 0, bytes.len())?;
    if content_info.tag != 0x30 || content_info.end != bytes.len() {
        return Err(malformed("not one DER SEQUENCE (ContentInfo)"));
    }
    let mut ci = children(bytes, content_info);
    let _content_type = ci.next().ok_or_else(|| malformed("no content type"))??;
    let explicit = ci.next().ok_or_else(|| malformed("no content"))??;
    let signed_data = children(bytes, explicit)
        .next()
        .ok_or_else(|| malformed("empty content"))??;
    if signed_data.tag != 0x30 {
        return Err(malformed("SignedData is not a SEQUENCE"));
    }
    for part in children(bytes, signed_data) {
        let part = part?;
        match part.tag {
            // digestAlgorithms (SET OF AlgorithmIdentifier: SEQUENCEs that begin with an OID) and
            // signerInfos (SET OF SignerInfo: SEQUENCEs that begin with their version, an INTEGER).
            0x31 => {
                let signer_infos = children(bytes, part)
                    .next()
                    .and_then(Result::ok)
                    .and_then(|first| children(bytes, first).next())
                    .and_then(Result::ok)
                    .is_some_and(|v| v.tag == 0x02);
                if !signer_infos {
                    count_at_most(
                        bytes,
                        part,
                        limits.max_digest_algorithms,
                        "digest algorithms",
                    )?;
                    continue;
                }
                for si in count_at_most(bytes, part, limits.max_signer_infos, "signer infos")? {
                    for field in children(bytes, si) {
                        let field = field?;
                        match field.tag {
                            0xa0 => {
                                count_at_most(
                                    bytes,
                                    field,
                                    limits.max_attributes,
                                    "signed attributes",
                                )?;
                            }
                            0xa1 => {
                                count_at_most(
                                    bytes,
                                    field,
                                    limits.max_attributes,
                                    "unsigned attributes",
                                )?;
                            }
                            _ => {}
                        }
                    }
                }
            }
            // certificates [0] IMPLICIT SET OF CertificateChoices
            0xa0 => {
                for c in count_at_most(
                    bytes,
                    part,
                    limits.max_certificates,
                    "embedded certificates",
                )? {
                    if c.end - c.start > limits.max_certificate_bytes {
                        return Err(limit(
                            "an embedded certificate (bytes)",
                            limits.max_certificate_bytes,
                        ));
                    }
                }
            }
            // crls [1] IMPLICIT SET OF RevocationInfoChoice
            0xa1 => {
                for c in count_at_most(bytes, part, limits.max_crls, "embedded CRLs")? {
                    if c.end - c.start > limits.max_crl_bytes {
                        return Err(limit("an embedded CRL (bytes)", limits.max_crl_bytes));
                    }
                }
            }
            _ => {}
        }
    }
    // Last: the counts above stop a flood at its limit; this pass reads every header once.
    check_depth(bytes, content_info, limits.max_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of `tag` around `content`.
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else if n < 0x100 {
            out.extend([0x81, n as u8]);
        } else if n < 0x10000 {
            out.extend([0x82, (n >> 8) as u8, n as u8]);
        } else {
            out.extend([0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    /// A SignedData of the shape CMS has, with `certs` certificates of `cert_len` bytes, `signers`
    /// signer infos of `attrs` signed attributes each.
    fn cms(certs: usize, cert_len: usize, signers: usize, attrs: usize) -> Vec<u8> {
        let cert = der(0x30, &der(0x04, &vec![0; cert_len.saturating_sub(8)]));
        cms_with(&cert.repeat(certs), signers, attrs)
    }

    fn cms_with(certs: &[u8], signers: usize, attrs: usize) -> Vec<u8> {
        cms_full(certs, &[], 1, signers, attrs, 0)
    }

    fn cms_full(
        certs: &[u8],
        crls: &[u8],
        digests: usize,
        signers: usize,
        attrs: usize,
        unsigned: usize,
    ) -> Vec<u8> {
        let oid = der(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
        );
        let digest = der(
            0x31,
            &der(
                0x30,
                &der(
                    0x06,
                    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
                ),
            )
            .repeat(digests),
        );
        let encap = der(
            0x30,
            &der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
            ),
        );
        let certs = der(0xa0, certs);
        let attr = der(0x30, &der(0x06, &[0x2a, 0x03]));
        let si = der(
            0x30,
            &[
                der(0x02, &[1]),
                der(0x30, &[]),
                der(0xa0, &attr.repeat(attrs)),
                der(0x04, &[9; 8]),
                if unsigned > 0 {
                    der(0xa1, &attr.repeat(unsigned))
                } else {
                    vec![]
                },
            ]
            .concat(),
        );
        let sis = der(0x31, &si.repeat(signers));
        let crls = if crls.is_empty() {
            vec![]
        } else {
            der(0xa1, crls)
        };
        let sd = der(
            0x30,
            &[der(0x02, &[1]), digest, encap, certs, crls, sis].concat(),
        );
        der(0x30, &[oid, der(0xa0, &sd)].concat())
    }

    // Issue 15: each part a request can make the server parse is bounded before it is parsed.
    #[test]
    fn a_normal_signature_passes() {
        assert_eq!(
            check_cms_shape(&cms(2, 1500, 1, 4), &CmsLimits::default()),
            Ok(())
        );
    }

    #[test]
    fn too_many_certificates_are_refused_by_count() {
        let e = check_cms_shape(&cms(9, 200, 1, 1), &CmsLimits::default());
        assert_eq!(e, Err(limit("embedded certificates", 8)));
    }

    #[test]
    fn a_huge_certificate_is_refused_by_size() {
        let e = check_cms_shape(&cms(1, 20_000, 1, 1), &CmsLimits::default());
        assert_eq!(e, Err(limit("an embedded certificate (bytes)", 16 * 1024)));
    }

    #[test]
    fn extra_signers_and_attributes_are_refused() {
        assert_eq!(
            check_cms_shape(&cms(1, 200, 2, 1), &CmsLimits::default()),
            Err(limit("signer infos", 1))
        );
        assert_eq!(
            check_cms_shape(&cms(1, 200, 1, 33), &CmsLimits::default()),
            Err(limit("signed attributes", 32))
        );
    }

    #[test]
    fn crls_and_digest_algorithms_are_bounded() {
        let crl = der(0x30, &der(0x04, &[0; 64]));
        let one_cert = der(0x30, &der(0x04, &[0; 64]));
        let shape = |crls: &[u8], digests: usize| {
            check_cms_shape(
                &cms_full(&one_cert, crls, digests, 1, 1, 0),
                &CmsLimits::default(),
            )
        };
        assert_eq!(shape(&crl.repeat(2), 1), Ok(()));
        assert_eq!(shape(&crl.repeat(3), 1), Err(limit("embedded CRLs", 2)));
        let big = der(0x30, &der(0x04, &vec![0; 2 * 1024 * 1024]));
        assert_eq!(
            shape(&big, 1),
            Err(limit("an embedded CRL (bytes)", 1024 * 1024))
        );
        assert_eq!(shape(&[], 5), Err(limit("digest algorithms", 4)));
        let unsigned = |n: usize| {
            check_cms_shape(&cms_full(&one_cert, &[], 1, 1, 1, n), &CmsLimits::default())
        };
        assert_eq!(unsigned(32), Ok(()));
        assert_eq!(unsigned(33), Err(limit("unsigned attributes", 32)));
    }

    #[test]
    fn deep_nesting_and_oversize_are_refused() {
        let mut deep = der(0x04, b"x");
        for _ in 0..40 {
            deep = der(0x30, &deep);
        }
        assert_eq!(
            check_cms_shape(&cms_with(&deep, 1, 1), &CmsLimits::default()),
            Err(limit("nesting depth", 32))
        );
        let small = CmsLimits {
            max_bytes: 100,
            ..CmsLimits::default()
        };
        assert_eq!(
            check_cms_shape(&cms(1, 200, 1, 1), &small),
            Err(limit("the signed document (bytes)", 100))
        );
    }

    #[test]
    fn lengths_past_their_container_and_ber_are_malformed() {
        assert!(matches!(
            check_cms_shape(&[0x30, 0x05, 0x01], &CmsLimits::default()),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            check_cms_shape(&[0x30, 0x80, 0x00, 0x00], &CmsLimits::default()),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            check_cms_shape(&[], &CmsLimits::default()),
            Err(SignatureError::Malformed(_))
        ));
    }

    proptest::proptest! {
        // Any bytes: an answer, never a panic, and never more work than one pass over the headers.
        #[test]
        fn any_bytes_get_an_answer(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = check_cms_shape(&bytes, &CmsLimits::default());
        }
    }
}
