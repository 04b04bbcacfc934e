//! A real SMTP server for the tests: maildev (installed under `tests/js/node_modules` by
//! `scripts/ensure-prereqs`), started on loopback on ports of its own, and read back through its HTTP API.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use trellis_notifier::{Mailer, MailerSettings, SmtpSecurity, SmtpSettings, TransportSettings};

use crate::repo_root;

/// A port nothing listens on at the moment.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A mailer sending as Trellis, over plain SMTP, to `127.0.0.1:port` (where there may be no server).
pub fn smtp_mailer(port: u16) -> Mailer {
    Mailer::from_settings(&MailerSettings {
        from: "Trellis <noreply@trellis.test>".into(),
        transport: TransportSettings::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::None,
            credentials: None,
            timeout: Duration::from_secs(10),
        }),
    })
    .expect("smtp mailer")
}

/// maildev on loopback, killed (the node process itself) when dropped or stopped.
pub struct MailDev {
    child: Option<Child>,
    smtp_port: u16,
    web_url: String,
    dir: PathBuf,
    http: reqwest::Client,
}

impl MailDev {
    /// Starts maildev on fresh ports, and waits until it takes mail.
    pub async fn start() -> MailDev {
        MailDev::start_on(free_port(), free_port()).await
    }

    /// Starts maildev on the given ports (to bring a server back where a mailer already points), and
    /// waits until it takes mail.
    pub async fn start_on(smtp_port: u16, web_port: u16) -> MailDev {
        let bin = repo_root().join("tests/js/node_modules/.bin/maildev");
        assert!(bin.exists(), "{} is missing: run scripts/ensure-prereqs, or `cd tests/js && npm ci`", bin.display());
        let dir = std::env::temp_dir().join(format!("trellis-maildev-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("mail")).expect("maildev folder");
        let log = std::fs::File::create(dir.join("maildev.log")).expect("maildev log");
        let child = Command::new(&bin)
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1", "-s", &smtp_port.to_string()])
            .args(["-w", &web_port.to_string(), "--mail-directory"])
            .arg(dir.join("mail"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("maildev log"))
            .stderr(log)
            .spawn()
            .expect("start maildev");
        let mut maildev = MailDev {
            child: Some(child),
            smtp_port,
            web_url: format!("http://127.0.0.1:{web_port}"),
            dir,
            http: reqwest::Client::new(),
        };
        maildev.wait_until_ready().await;
        maildev
    }

    async fn wait_until_ready(&mut self) {
        for _ in 0..300 {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("maildev exited with {status}:\n{}", self.log());
            }
            let healthy = self
                .http
                .get(format!("{}/api/healthz", self.web_url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy && TcpStream::connect(("127.0.0.1", self.smtp_port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("maildev did not become ready:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maildev.log")).unwrap_or_default()
    }

    /// The port it takes mail on.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// Its web interface and API, `http://127.0.0.1:PORT`.
    pub fn web_url(&self) -> &str {
        &self.web_url
    }

    /// A mailer that sends to it (see [`smtp_mailer`]).
    pub fn mailer(&self) -> Mailer {
        smtp_mailer(self.smtp_port)
    }

    /// Every message received, in arrival order.
    pub async fn emails(&self) -> Vec<Value> {
        let url = format!("{}/api/email", self.web_url);
        let response = self.http.get(url).send().await.expect("maildev API");
        response.json::<Vec<Value>>().await.expect("maildev emails")
    }

    /// Waits until at least `n` messages have arrived, then returns all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..300 {
            let emails = self.emails().await;
            if emails.len() >= n {
                return emails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} emails at the SMTP server, got {}:\n{}", self.emails().await.len(), self.log());
    }

    /// The raw message as received, transfer encodings undone.
    pub async fn source(&self, email: &Value) -> String {
        let id = email["id"].as_str().expect("maildev email id");
        let url = format!("{}/api/email/{id}/source", self.web_url);
        let raw = self.http.get(url).send().await.expect("maildev source").text().await.expect("source text");
        decode_quoted_printable(&raw)
    }

    /// Stops the server (a mailer's next attempts fail to connect).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MailDev {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Undoes quoted-printable (soft line breaks and `=XX`), enough to search ASCII text in a raw message.
pub fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
