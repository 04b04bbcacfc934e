//! Transports: SMTP for real deployments, `.eml` files for the embedded default and the offline demo.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::NotifierError;

/// How the notifier sends mail.
#[derive(Clone, Debug)]
pub struct MailerSettings {
    /// The sender, as `Name <address>` or a bare address (`Trellis <noreply@trellis.example>`). Offer
    /// emails keep the address but show the link worker service's name.
    pub from: String,
    /// Where messages go.
    pub transport: TransportSettings,
}

/// Where messages go.
#[derive(Clone, Debug)]
pub enum TransportSettings {
    /// An SMTP server.
    Smtp(SmtpSettings),
    /// No mail server: each message is written to `dir` as an `.eml` file (the demo, or a deployment
    /// that says so explicitly). The link inside is reached by opening the file; it is never logged.
    Files {
        /// The folder, created if missing.
        dir: PathBuf,
    },
}

/// An SMTP server.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// Its host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Its port: usually 587 with STARTTLS, 465 with TLS, 25 or a test port with none.
    pub port: u16,
    /// How the connection is protected.
    pub security: SmtpSecurity,
    /// Login, if the server wants one.
    pub credentials: Option<SmtpCredentials>,
    /// How long one SMTP command may take.
    pub timeout: Duration,
}

/// How an SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text: only for a server on the same machine or a test.
    None,
    /// Upgraded with STARTTLS, which is required: a server that does not offer it gets nothing.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl FromStr for SmtpSecurity {
    type Err = NotifierError;
    fn from_str(s: &str) -> Result<Self, NotifierError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            _ => Err(NotifierError::InvalidSetting {
                setting: "smtp security",
                value: s.into(),
                reason: "expected none, starttls or tls".into(),
            }),
        }
    }
}

/// An SMTP login. The password never prints.
#[derive(Clone)]
pub struct SmtpCredentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials").field("username", &self.username).field("password", &"[redacted]").finish()
    }
}

/// A rendered email, ready for a transport. Its `Debug` shows neither the bodies nor the link.
#[derive(Clone)]
pub struct OutgoingEmail {
    /// The stable `Message-ID` (with its angle brackets) that every attempt carries.
    pub message_id: String,
    /// The recipient's address.
    pub to: String,
    /// The display name to send as, instead of the configured one.
    pub sender_name: Option<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("message_id", &self.message_id)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Sends mail through one transport.
#[derive(Clone)]
pub enum Mailer {
    /// Through an SMTP server (pooled connections).
    Smtp {
        /// The pooled transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The server, for logs.
        server: String,
        /// The configured sender.
        from: Mailbox,
    },
    /// Into `.eml` files, one per outbox row, named by its Message-ID (a resend overwrites the file).
    Files {
        /// The folder.
        dir: PathBuf,
        /// The configured sender.
        from: Mailbox,
    },
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smtp { server, from, .. } => {
                f.debug_struct("Mailer::Smtp").field("server", server).field("from", &from.to_string()).finish()
            }
            Self::Files { dir, from } => {
                f.debug_struct("Mailer::Files").field("dir", dir).field("from", &from.to_string()).finish()
            }
        }
    }
}

fn mailbox(value: &str) -> Result<Mailbox, NotifierError> {
    value.trim().parse().map_err(|source| NotifierError::Address { value: value.into(), source })
}

impl Mailer {
    /// Builds the transport. Nothing is contacted until the first message.
    pub fn from_settings(settings: &MailerSettings) -> Result<Mailer, NotifierError> {
        let from = mailbox(&settings.from)?;
        match &settings.transport {
            TransportSettings::Files { dir } => Ok(Mailer::Files { dir: dir.clone(), from }),
            TransportSettings::Smtp(smtp) => {
                let builder = match smtp.security {
                    SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str()),
                    SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
                };
                let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
                if let Some(c) = &smtp.credentials {
                    builder = builder.credentials(Credentials::new(c.username.clone(), c.password.clone()));
                }
                Ok(Mailer::Smtp {
                    transport: builder.build(),
                    server: format!("{}:{} ({:?})", smtp.host, smtp.port, smtp.security),
                    from,
                })
            }
        }
    }

    fn from(&self) -> &Mailbox {
        match self {
            Self::Smtp { from, .. } | Self::Files { from, .. } => from,
        }
    }

    /// Builds the `multipart/alternative` message (text, then HTML) with the email's own Message-ID.
    pub fn message(&self, email: &OutgoingEmail) -> Result<Message, NotifierError> {
        let configured = self.from();
        let from = match &email.sender_name {
            Some(name) => Mailbox::new(Some(name.clone()), configured.email.clone()),
            None => configured.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(mailbox(&email.to)?)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))?;
        Ok(message)
    }

    /// Sends one email.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), NotifierError> {
        let message = self.message(email)?;
        match self {
            Self::Smtp { transport, .. } => {
                transport.send(message).await?;
                Ok(())
            }
            Self::Files { dir, .. } => {
                let path = write_eml(dir, &email.message_id, &message.formatted()).await?;
                // The file name and subject only: the body holds a live link (a bearer secret), and the
                // recipient may be a person's address. Whoever needs the link opens the file.
                tracing::info!(subject = %email.subject, file = %path.display(), "email written to a file");
                Ok(())
            }
        }
    }
}

/// Writes the message whole or not at all (a temporary file renamed into place), named by its
/// Message-ID so that sending a row again replaces its file.
async fn write_eml(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<PathBuf, NotifierError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NotifierError::Io { path, source }
    };
    let name: String = message_id
        .trim_matches(|c| c == '<' || c == '>')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '@' | '_') { c } else { '_' })
        .collect();
    tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
    let path = dir.join(format!("{name}.eml"));
    let partial = dir.join(format!(".{name}.eml.partial"));
    tokio::fs::write(&partial, bytes).await.map_err(io(&partial))?;
    tokio::fs::rename(&partial, &path).await.map_err(io(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            message_id: "<0190f3a2-7b1c-7d4e-8f00-1c2b3f9a4d5e@outbox.trellis>".into(),
            to: "walks@greenspring.example".into(),
            sender_name: Some("Erewash PCN Link Workers".into()),
            subject: "New offer".into(),
            text: "Hello, answer at http://localhost/offers/tro_secret".into(),
            html: "<p>Hello</p>".into(),
        }
    }

    #[test]
    fn security_parses_from_its_setting_names_and_names_a_bad_value() {
        assert_eq!("STARTTLS".parse::<SmtpSecurity>().unwrap(), SmtpSecurity::StartTls);
        assert_eq!("none".parse::<SmtpSecurity>().unwrap(), SmtpSecurity::None);
        assert_eq!("tls".parse::<SmtpSecurity>().unwrap(), SmtpSecurity::Tls);
        let err = "ssl".parse::<SmtpSecurity>().unwrap_err();
        assert!(err.to_string().contains("\"ssl\""), "{err}");
    }

    #[test]
    fn secrets_and_bodies_never_print() {
        let creds = SmtpCredentials { username: "u".into(), password: "hunter2".into() };
        assert!(!format!("{creds:?}").contains("hunter2"));
        let shown = format!("{:?}", email());
        assert!(!shown.contains("tro_secret") && !shown.contains("Hello"), "{shown}");
    }

    #[test]
    fn a_message_is_multipart_alternative_with_the_rows_message_id_and_sender_name() {
        let mailer = Mailer::from_settings(&MailerSettings {
            from: "Trellis <noreply@trellis.example>".into(),
            transport: TransportSettings::Files { dir: std::env::temp_dir() },
        })
        .unwrap();
        let raw = String::from_utf8(mailer.message(&email()).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <0190f3a2-7b1c-7d4e-8f00-1c2b3f9a4d5e@outbox.trellis>"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("From: \"Erewash PCN Link Workers\" <noreply@trellis.example>"), "{raw}");
    }

    /// Everything a test subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_file_transport_writes_the_link_to_the_file_and_never_to_the_log() {
        let dir = std::env::temp_dir().join(format!("trellis-mailer-{}", uuid::Uuid::new_v4().simple()));
        let mailer = Mailer::from_settings(&MailerSettings {
            from: "Trellis <noreply@trellis.example>".into(),
            transport: TransportSettings::Files { dir: dir.clone() },
        })
        .unwrap();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(mailer.send(&email())).unwrap();
        });
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(logs.contains("email written to a file"), "the send was logged: {logs}");
        assert!(!logs.contains("tro_secret") && !logs.contains("/offers/"), "the log holds the link: {logs}");
        assert!(!logs.contains("walks@greenspring.example"), "the log holds the recipient: {logs}");
        let written: String = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        assert!(written.contains("tro_secret"), "the file holds the link");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_sender_address_is_refused_when_the_mailer_is_built() {
        let refused = Mailer::from_settings(&MailerSettings {
            from: "not an address".into(),
            transport: TransportSettings::Files { dir: std::env::temp_dir() },
        });
        assert!(matches!(refused, Err(NotifierError::Address { .. })));
    }
}
