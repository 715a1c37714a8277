//! A development stand-in for NCALayer, the national certification authority's signing program that a
//! web page reaches over a WebSocket on the user's own machine. It cannot be installed here, so this
//! speaks its published protocol — the `kz.gov.pki.knca.basics` module's `sign`, as the
//! `ncalayer-js-client` package (sigex-kz) sends it — and signs with development keys. Used by
//! `qoljetim dev-ncalayer` and the tests; never by the server.
//!
//! On connect it greets with `{"result":{"version":"1.4"}}`. A `sign` request with `format: "cms"`
//! answers `{"status":true,"body":{"result":["<base64 CMS>", …]}}`, one attached CMS per document,
//! signed with the key whose extended key usage the request names (`1.3.6.1.5.5.7.3.2` authentication,
//! `1.3.6.1.5.5.7.3.4` signing); a cancelled dialog is `{"status":true,"body":{}}`; an error is
//! `{"status":false,"code":…,"message":…,"details":…}`; other modules
//! (`kz.digiflow.mobile.extensions`) get an error, as real NCALayer without KAZTOKEN answers.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use x509_cert::Certificate;

use crate::{PrivateKey, sign_cms};

pub const AUTHENTICATION_EKU: &str = "1.3.6.1.5.5.7.3.2";
pub const SIGNING_EKU: &str = "1.3.6.1.5.5.7.3.4";

/// A certificate and its private key, as a token or a PKCS#12 file holds them.
pub struct StoredKey {
    pub cert: Certificate,
    pub key: PrivateKey,
}

/// The keys the fake signs with, and how its "dialog" ends.
pub struct FakeNcaLayer {
    pub authentication: Option<StoredKey>,
    pub signing: Option<StoredKey>,
    /// Every dialog is cancelled by the "user".
    pub cancel: bool,
}

fn error(code: &str, message: &str, details: &str) -> String {
    json!({"status": false, "code": code, "message": message, "details": details}).to_string()
}

impl FakeNcaLayer {
    /// What NCALayer sends first on a new connection.
    pub fn greeting() -> String {
        json!({"result": {"version": "1.4"}}).to_string()
    }

    /// The answer to one request.
    pub fn answer(&self, request: &str) -> String {
        let Ok(r) = serde_json::from_str::<Value>(request) else {
            return error("400", "not JSON", "");
        };
        let module = r["module"].as_str().unwrap_or_default();
        if module != "kz.gov.pki.knca.basics" || r["method"] != "sign" {
            return error("500", "module not found", module);
        }
        let args = &r["args"];
        if args["format"] != "cms" {
            return error(
                "400",
                "only format cms is supported by the development NCALayer",
                "",
            );
        }
        if args["signingParams"]["encapsulate"] != true {
            return error("400", "only attached signatures (encapsulate: true)", "");
        }
        if self.cancel {
            return json!({"status": true, "body": {}}).to_string();
        }
        let ekus: Vec<&str> = args["signerParams"]["extKeyUsageOids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let stored = if ekus.contains(&SIGNING_EKU) {
            self.signing.as_ref()
        } else if ekus.contains(&AUTHENTICATION_EKU) {
            self.authentication.as_ref()
        } else {
            self.signing.as_ref().or(self.authentication.as_ref())
        };
        let Some(stored) = stored else {
            return error(
                "404",
                "no certificate with the requested key usage",
                &ekus.join(","),
            );
        };
        let documents: Vec<&str> = match &args["data"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => return error("400", "data must be a string or an array of strings", ""),
        };
        let decode = args["signingParams"]["decode"] == true;
        let mut result = vec![];
        for d in documents {
            let content = if decode {
                match STANDARD.decode(d) {
                    Ok(c) => c,
                    Err(e) => return error("400", "data is not base64", &e.to_string()),
                }
            } else {
                d.as_bytes().to_vec()
            };
            match sign_cms(
                &content,
                &stored.cert,
                &stored.key,
                Some(jiff::Timestamp::now()),
            ) {
                Ok(cms) => result.push(STANDARD.encode(cms)),
                Err(e) => return error("500", "signing failed", &e.to_string()),
            }
        }
        json!({"status": true, "body": {"result": result}}).to_string()
    }
}

/// Serves the fake on `listener` (plain `ws://`) until the listener fails.
pub async fn serve(listener: TcpListener, fake: Arc<FakeNcaLayer>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let fake = fake.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            if ws
                .send(Message::text(FakeNcaLayer::greeting()))
                .await
                .is_err()
            {
                return;
            }
            while let Some(Ok(msg)) = ws.next().await {
                let reply = match msg {
                    Message::Text(t) => fake.answer(t.as_str()),
                    Message::Close(_) => break,
                    _ => continue,
                };
                if ws.send(Message::text(reply)).await.is_err() {
                    break;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DevCa, KeyKind, Subject};
    use qoljetim_signature::verify::{TrustAnchor, Verifier};
    use qoljetim_signature::{KeyPurpose, NcaRole};

    fn fake(cancel: bool) -> (FakeNcaLayer, Certificate) {
        use jiff::ToSpan;
        let now = jiff::Timestamp::now();
        let ca = DevCa::generate(KeyKind::P256, now - 1.hour(), now + 24.hours())
            .unwrap_or_else(|e| panic!("{e}"));
        let issue = |purpose| {
            let subject = Subject {
                surname: "СЕЙІТОВА".into(),
                name: "ДИНАРА".into(),
                patronymic: None,
                iin: "840315307490".into(),
                organization: Some(("940140000385".into(), "Мәслихат".into())),
                role: Some(NcaRole::FirstHead),
                purpose,
            };
            let (cert, key) = ca
                .issue(&subject, KeyKind::P256, now - 1.hour(), now + 24.hours())
                .unwrap_or_else(|e| panic!("{e}"));
            StoredKey { cert, key }
        };
        let f = FakeNcaLayer {
            authentication: Some(issue(KeyPurpose::Authentication)),
            signing: Some(issue(KeyPurpose::Signing)),
            cancel,
        };
        (f, ca.certificate.clone())
    }

    fn request(module: &str, ekus: &[&str], data: &str) -> String {
        json!({"module": module, "method": "sign", "args": {"allowedStorages": ["PKCS12"], "format": "cms",
            "data": data, "signingParams": {"decode": true, "encapsulate": true, "digested": false, "tsaProfile": {}},
            "signerParams": {"extKeyUsageOids": ekus}, "locale": "ru"}})
        .to_string()
    }

    /// The answer carries an attached CMS over the decoded data, signed by the key of the requested
    /// usage, and it verifies under the development CA.
    #[test]
    fn signs_with_the_key_of_the_requested_usage() {
        let (f, ca) = fake(false);
        for (eku, purpose) in [
            (AUTHENTICATION_EKU, KeyPurpose::Authentication),
            (SIGNING_EKU, KeyPurpose::Signing),
        ] {
            let a: Value = serde_json::from_str(&f.answer(&request(
                "kz.gov.pki.knca.basics",
                &[eku],
                &STANDARD.encode("challenge-1"),
            )))
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(a["status"], true, "{a}");
            let cms = STANDARD
                .decode(a["body"]["result"][0].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
            let verified = Verifier::new(vec![TrustAnchor {
                name: "dev".into(),
                certificate: ca.clone(),
                development: true,
                revocation: qoljetim_signature::Revocation::None,
            }])
            .verify_cms(&cms, jiff::Timestamp::now())
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(verified.content, b"challenge-1");
            assert_eq!(
                (
                    verified.signer.authentication_key,
                    verified.signer.signing_key
                ),
                (
                    purpose == KeyPurpose::Authentication,
                    purpose == KeyPurpose::Signing
                )
            );
        }
    }

    /// A cancelled dialog has no result; another module and a detached request are errors.
    #[test]
    fn cancel_and_errors_follow_the_protocol() {
        let (f, _) = fake(true);
        let a: Value = serde_json::from_str(&f.answer(&request(
            "kz.gov.pki.knca.basics",
            &[AUTHENTICATION_EKU],
            "YQ==",
        )))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, json!({"status": true, "body": {}}));
        let (f, _) = fake(false);
        let a: Value =
            serde_json::from_str(&f.answer(&request("kz.digiflow.mobile.extensions", &[], "YQ==")))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a["status"].clone(), a["code"].clone()),
            (json!(false), json!("500"))
        );
        assert_eq!(
            serde_json::from_str::<Value>(&FakeNcaLayer::greeting()).unwrap_or_default(),
            json!({"result": {"version": "1.4"}})
        );
    }
}
