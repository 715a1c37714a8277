//! E-mail through the configured SMTP relay (lettre). The outbox decides what to send and records the
//! outcome; this module only speaks SMTP and classifies the answer.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// What the relay said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Accepted,
    /// A 4xx answer, or no answer: try again later.
    Transient(String),
    /// A 5xx answer or an address that cannot be written: do not retry.
    Permanent(String),
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("smtp_url: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from: Mailbox = from.parse().map_err(|e| format!("smtp_from: {e}"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends one message with the outbox's Message-ID, so that a relay or a reader can tell a resend
    /// an operator asked for from a new message.
    pub async fn send(&self, to: &str, subject: &str, body: &str, message_id: &str) -> Delivery {
        let to: Mailbox = match to.parse() {
            Ok(m) => m,
            Err(e) => return Delivery::Permanent(format!("address {to}: {e}")),
        };
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.to_owned()))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned());
        let msg = match msg {
            Ok(m) => m,
            Err(e) => return Delivery::Permanent(format!("message: {e}")),
        };
        match self.transport.send(msg).await {
            Ok(_) => Delivery::Accepted,
            Err(e) if e.is_permanent() => Delivery::Permanent(e.to_string()),
            Err(e) => Delivery::Transient(e.to_string()),
        }
    }
}
