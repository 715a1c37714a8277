//! A small client of the API, used by the demo seeding, the benchmarks and the integration tests, so
//! that all of them go through real HTTP exactly as an external client would.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qoljetim_devca::{PrivateKey, sign_cms};
use serde_json::{Value, json};
use x509_cert::Certificate;

use crate::AnyError;

#[derive(Clone)]
pub struct ApiClient {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
    pub lang: String,
}

/// A certificate and its key, as a person holds them.
#[derive(Clone)]
pub struct KeyPair {
    pub cert: Certificate,
    pub key: PrivateKey,
}

impl KeyPair {
    pub fn sign(&self, content: &[u8]) -> Result<String, AnyError> {
        Ok(STANDARD.encode(sign_cms(
            content,
            &self.cert,
            &self.key,
            Some(jiff::Timestamp::now()),
        )?))
    }
}

impl ApiClient {
    pub fn new(base: &str) -> Self {
        ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            token: None,
            lang: "en".into(),
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Accept-Language", &self.lang);
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    async fn send(r: reqwest::RequestBuilder) -> Result<(u16, Value), AnyError> {
        let resp = r.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, v))
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Value), AnyError> {
        Self::send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn get_bytes(&self, path: &str) -> Result<(u16, Vec<u8>), AnyError> {
        let resp = self.req(reqwest::Method::GET, path).send().await?;
        Ok((resp.status().as_u16(), resp.bytes().await?.to_vec()))
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), AnyError> {
        Self::send(self.req(reqwest::Method::POST, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<(u16, Value), AnyError> {
        Self::send(self.req(reqwest::Method::PUT, path).json(body)).await
    }

    /// Order 270 §13 and §15, as a user does it: passes the current lesson of each system with the
    /// right answers (from the lesson files) and accepts the duties of each of the caller's live
    /// grants that waits for them. Answers the grants that are then ready to read.
    pub async fn pass_training(
        &self,
        lessons: &[qoljetim_service::LessonFile],
    ) -> Result<Vec<i64>, AnyError> {
        for f in lessons {
            let l = qoljetim_domain::training::Lesson::parse(&f.name, &f.text)?;
            let answers: Vec<usize> = l.questions.iter().map(|q| q.correct + 1).collect();
            let (s, v) = self
                .post(
                    &format!("/api/v1/lessons/{}/attempts", l.id),
                    &serde_json::json!({"version": l.version, "answers": answers}),
                )
                .await?;
            if s != 201 || v["passed"] != Value::Bool(true) {
                return Err(format!("lesson {}: {s} {v}", l.id).into());
            }
        }
        let (s, grants) = self.get("/api/v1/grants?own=true").await?;
        if s != 200 {
            return Err(format!("own grants: {s} {grants}").into());
        }
        let (_, duties) = self.get("/api/v1/duties").await?;
        let mut ready = vec![];
        for g in grants.as_array().into_iter().flatten() {
            let id = g["id"].as_i64().unwrap_or_default();
            if g["status"] != "active" {
                continue;
            }
            if g["duties_required"] == true && g["duties_accepted_at"].is_null() {
                let (s, v) = self
                    .post(
                        &format!("/api/v1/grants/{id}/duties"),
                        &serde_json::json!({"version": duties["version"], "accept": true}),
                    )
                    .await?;
                if s != 200 {
                    return Err(format!("duties of grant {id}: {s} {v}").into());
                }
            }
            ready.push(id);
        }
        Ok(ready)
    }

    /// The same client asking for answers in `lang` (Accept-Language).
    pub fn with_lang(&self, lang: &str) -> ApiClient {
        ApiClient {
            lang: lang.to_owned(),
            ..self.clone()
        }
    }

    pub async fn challenge(&self) -> Result<String, AnyError> {
        let (status, v) = self.get("/api/v1/auth/challenge").await?;
        match (status, v["challenge"].as_str()) {
            (200, Some(c)) => Ok(c.to_owned()),
            _ => Err(format!("challenge: {status} {v}").into()),
        }
    }

    /// Signs in with an authentication key; keeps the session token.
    pub async fn login(&mut self, auth: &KeyPair) -> Result<(u16, Value), AnyError> {
        let challenge = self.challenge().await?;
        let signed = auth.sign(challenge.as_bytes())?;
        let (status, v) = self
            .post("/api/v1/auth/login", &json!({"signed_cms": signed}))
            .await?;
        if status == 200 {
            self.token = v["token"].as_str().map(str::to_owned);
        }
        Ok((status, v))
    }

    /// `login`, waiting as the server asks when this address has signed in too often
    /// (`429` with a wait in seconds; issue 15), up to a minute in all: for scripts that sign many
    /// people in from one machine (the demo's seeding, `qoljetim dev-token`).
    pub async fn login_patiently(&mut self, auth: &KeyPair) -> Result<(u16, Value), AnyError> {
        let mut waited = 0u64;
        loop {
            let r = match self.login(auth).await {
                Ok(r) => r,
                // The challenge itself may be the step that is refused.
                Err(e) if e.to_string().starts_with("challenge: 429") => (429, json!({})),
                Err(e) => return Err(e),
            };
            if r.0 != 429 || waited >= 60 {
                return Ok(r);
            }
            // Long enough for both steps (a challenge and the sign-in) to be allowed again.
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            waited += 5;
        }
    }

    pub async fn submit(
        &self,
        signer: &KeyPair,
        application: &Value,
    ) -> Result<(u16, Value), AnyError> {
        let signed = signer.sign(application.to_string().as_bytes())?;
        self.post("/api/v1/applications", &json!({"signed_cms": signed}))
            .await
    }
}

/// One line of the appendix form.
pub struct FormLine<'a> {
    pub iin: &'a str,
    pub surname: &'a str,
    pub name: &'a str,
    pub patronymic: Option<&'a str>,
    /// None: the form gives no until-date (the appendix form has no such column; one full year).
    pub access_until: Option<&'a str>,
}

/// The application JSON of DESIGN.md §8.
pub fn application_json(
    bin: &str,
    date: &str,
    head: (&str, &str, Option<&str>),
    systems: &[&str],
    lines: &[FormLine<'_>],
) -> Value {
    json!({
        "applicant_bin": bin,
        "date": date,
        "head": {"surname": head.0, "name": head.1, "patronymic": head.2},
        "systems": systems,
        "lines": lines.iter().map(|l| {
            let mut line = json!({
                "surname": l.surname, "name": l.name, "patronymic": l.patronymic, "iin": l.iin,
                "position": "Бас маман / главный специалист", "unit": "Бюджет бөлімі / отдел бюджета",
                "phone": "+7 7172 000000", "email": format!("u{}@{}.example.kz", l.iin, bin),
                "purpose": "Мемлекеттік аудит / государственный аудит",
                "eqyzmet_qr": format!("EQYZMET:{}:{}", l.iin, bin),
            });
            if let Some(until) = l.access_until {
                line["access_until"] = json!(until);
            }
            line
        }).collect::<Vec<_>>(),
    })
}
