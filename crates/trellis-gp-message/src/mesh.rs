//! A client for NHS England's MESH API v2: handshake, send, and tracking.
//!
//! Every request carries the `Authorization: NHSMESH` header: the mailbox, a nonce, a nonce count, the
//! time to the minute, and an HMAC-SHA256 over the same with the mailbox password, keyed by the
//! environment's shared key. On the real network MESH needs mutual TLS (client certificate, key and the
//! environment's CA); plain HTTP is refused unless the server is on a loopback address (tests, the
//! sandbox).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The MIME type of MESH API v2 responses.
const ACCEPT: &str = "application/vnd.mesh.v2+json";

/// Where and as whom to reach MESH.
#[derive(Clone)]
pub struct MeshSettings {
    /// The MESH server's base URL (`https://msg.intspineservices.nhs.uk`, or a loopback sandbox).
    pub url: String,
    /// Trellis's own mailbox id.
    pub mailbox: String,
    /// The mailbox password.
    pub password: String,
    /// The environment's shared key.
    pub shared_key: String,
    /// The client certificate (PEM), for mutual TLS.
    pub client_certificate: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub client_key: Option<PathBuf>,
    /// The environment's CA bundle (PEM), trusted instead of the public roots.
    pub ca_certificate: Option<PathBuf>,
}

impl std::fmt::Debug for MeshSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshSettings")
            .field("url", &self.url)
            .field("mailbox", &self.mailbox)
            .field("password", &"[redacted]")
            .field("shared_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Why a MESH call failed.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The settings cannot work (plain HTTP to a remote host, unreadable certificates).
    #[error("MESH settings: {0}")]
    Settings(String),
    /// MESH refused our credentials (wrong password or shared key, or an unknown mailbox).
    #[error("MESH refused the mailbox's credentials (HTTP {0})")]
    Unauthorised(u16),
    /// MESH refused the message itself (an unknown recipient, a workflow not allowed).
    #[error("MESH refused the message (HTTP {status}): {detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// MESH's error text.
        detail: String,
    },
    /// MESH could not be reached, timed out, or failed on its side: worth retrying.
    #[error("MESH is unavailable: {0}")]
    Unavailable(String),
}

impl MeshError {
    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, MeshError::Unavailable(_))
    }
}

/// What MESH says about a sent message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Tracking {
    /// MESH's id for it.
    pub message_id: String,
    /// Its status (`Accepted`, `Acknowledged`, `Undeliverable`, …).
    pub status: Option<String>,
    /// Whether delivery succeeded, once known.
    pub status_success: Option<bool>,
}

/// One message to send.
#[derive(Clone, Debug)]
pub struct Outgoing<'a> {
    /// The recipient's mailbox.
    pub to: &'a str,
    /// The workflow (`GPCONNECT_SEND_DOCUMENT`).
    pub workflow_id: &'a str,
    /// A subject line.
    pub subject: &'a str,
    /// Our own id for it, so a retry can be recognised.
    pub local_id: &'a str,
    /// The file name the recipient sees.
    pub filename: &'a str,
    /// The payload.
    pub body: Vec<u8>,
}

/// A MESH API client for one mailbox.
#[derive(Clone, Debug)]
pub struct MeshClient {
    http: reqwest::Client,
    settings: MeshSettings,
    nonce_count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The `NHSMESH` authorisation value for `mailbox` at `at`.
pub fn authorization(
    mailbox: &str,
    password: &str,
    shared_key: &str,
    nonce: &str,
    count: u64,
    at: DateTime<Utc>,
) -> String {
    let timestamp = at.format("%Y%m%d%H%M");
    let public = format!("{mailbox}:{nonce}:{count}:{timestamp}");
    let private = format!("{mailbox}:{nonce}:{count}:{password}:{timestamp}");
    let hash = match Hmac::<Sha256>::new_from_slice(shared_key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(private.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes a key of any length; this arm cannot be reached.
        Err(_) => String::new(),
    };
    format!("NHSMESH {public}:{hash}")
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl MeshClient {
    /// A client for `settings`. Refuses plain HTTP to anything but a loopback address, and reads the
    /// certificates for mutual TLS where they are given.
    pub fn new(settings: MeshSettings) -> Result<MeshClient, MeshError> {
        let url = reqwest::Url::parse(&settings.url).map_err(|e| MeshError::Settings(format!("bad URL: {e}")))?;
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(MeshError::Settings("plain HTTP is allowed only to a loopback address".into()));
        }
        let mut builder =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).connect_timeout(Duration::from_secs(5));
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| MeshError::Settings(format!("cannot read {}: {e}", path.display())))
        };
        match (&settings.client_certificate, &settings.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| MeshError::Settings(format!("client certificate or key: {e}")))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err(MeshError::Settings("give both the client certificate and its key".into())),
        }
        if let Some(ca) = &settings.ca_certificate {
            for cert in reqwest::Certificate::from_pem_bundle(&read(ca)?)
                .map_err(|e| MeshError::Settings(format!("CA certificate: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
            builder = builder.tls_built_in_root_certs(false);
        }
        let http = builder.build().map_err(|e| MeshError::Settings(e.to_string()))?;
        Ok(MeshClient { http, settings, nonce_count: Default::default() })
    }

    /// The mailbox it sends from (the sender named in the ITK3 message header).
    pub fn mailbox(&self) -> &str {
        &self.settings.mailbox
    }

    fn mailbox_url(&self) -> String {
        format!("{}/messageexchange/{}", self.settings.url.trim_end_matches('/'), self.settings.mailbox)
    }

    fn auth(&self) -> String {
        let nonce = uuid::Uuid::new_v4().to_string();
        let count = self.nonce_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let s = &self.settings;
        authorization(&s.mailbox, &s.password, &s.shared_key, &nonce, count, Utc::now())
    }

    async fn check(response: Result<reqwest::Response, reqwest::Error>) -> Result<reqwest::Response, MeshError> {
        let response = response.map_err(|e| MeshError::Unavailable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(response),
            401 | 403 => Err(MeshError::Unauthorised(status)),
            408 | 429 | 500..=599 => Err(MeshError::Unavailable(format!("HTTP {status}"))),
            _ => {
                let detail: String = response.text().await.unwrap_or_default().chars().take(300).collect();
                Err(MeshError::Refused { status, detail })
            }
        }
    }

    /// Checks that MESH accepts the mailbox's credentials.
    pub async fn handshake(&self) -> Result<(), MeshError> {
        let request = self
            .http
            .post(self.mailbox_url())
            .header("Authorization", self.auth())
            .header("Accept", ACCEPT)
            .header("mex-ClientVersion", concat!("trellis==", env!("CARGO_PKG_VERSION")))
            .header("mex-OSName", std::env::consts::OS)
            .header("mex-OSVersion", "N/A")
            .header("mex-OSArchitecture", std::env::consts::ARCH)
            .header("mex-JavaVersion", "N/A");
        Self::check(request.send().await).await.map(drop)
    }

    /// Sends one message (a single chunk), returning MESH's message id.
    pub async fn send(&self, message: Outgoing<'_>) -> Result<String, MeshError> {
        #[derive(serde::Deserialize)]
        struct Sent {
            message_id: String,
        }
        let request = self
            .http
            .post(format!("{}/outbox", self.mailbox_url()))
            .header("Authorization", self.auth())
            .header("Accept", ACCEPT)
            .header("Content-Type", "application/octet-stream")
            .header("mex-From", &self.settings.mailbox)
            .header("mex-To", message.to)
            .header("mex-WorkflowID", message.workflow_id)
            .header("mex-Subject", message.subject)
            .header("mex-LocalID", message.local_id)
            .header("mex-FileName", message.filename)
            .header("mex-Chunk-Range", "1:1")
            .body(message.body);
        let response = Self::check(request.send().await).await?;
        let sent: Sent =
            response.json().await.map_err(|e| MeshError::Unavailable(format!("unreadable answer: {e}")))?;
        Ok(sent.message_id)
    }

    /// What MESH knows of a message sent from this mailbox.
    pub async fn track(&self, message_id: &str) -> Result<Tracking, MeshError> {
        let mut url = reqwest::Url::parse(&format!("{}/outbox/tracking", self.mailbox_url()))
            .map_err(|e| MeshError::Settings(e.to_string()))?;
        url.query_pairs_mut().append_pair("messageID", message_id);
        let request = self.http.get(url).header("Authorization", self.auth()).header("Accept", ACCEPT);
        let response = Self::check(request.send().await).await?;
        response.json().await.map_err(|e| MeshError::Unavailable(format!("unreadable answer: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_authorization_header_is_the_hmac_that_mesh_checks() {
        // Computed independently: HMAC-SHA256(key "Banana", "X26ABC1:nonce-1:0:password:202611260930").
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, 12).unwrap();
        let header = authorization("X26ABC1", "password", "Banana", "nonce-1", 0, at);
        let (public, hash) = header.rsplit_once(':').unwrap();
        assert_eq!(public, "NHSMESH X26ABC1:nonce-1:0:202611260930");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Banana").unwrap();
        mac.update(b"X26ABC1:nonce-1:0:password:202611260930");
        assert_eq!(hash, hex::encode(mac.finalize().into_bytes()));
        assert_eq!(hash.len(), 64);
    }

    #[test]
    fn plain_http_is_refused_except_to_a_loopback_address() {
        let settings = |url: &str| MeshSettings {
            url: url.into(),
            mailbox: "X26ABC1".into(),
            password: "password".into(),
            shared_key: "Banana".into(),
            client_certificate: None,
            client_key: None,
            ca_certificate: None,
        };
        assert!(MeshClient::new(settings("http://127.0.0.1:8700")).is_ok());
        assert!(MeshClient::new(settings("http://localhost:8700")).is_ok());
        assert!(matches!(MeshClient::new(settings("http://mesh.example.nhs.uk")), Err(MeshError::Settings(_))));
        assert!(MeshClient::new(settings("https://msg.intspineservices.nhs.uk")).is_ok());
    }

    #[test]
    fn settings_never_print_their_secrets() {
        let s = MeshSettings {
            url: "http://127.0.0.1:1".into(),
            mailbox: "X26ABC1".into(),
            password: "hunter2".into(),
            shared_key: "Banana".into(),
            client_certificate: None,
            client_key: None,
            ca_certificate: None,
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("Banana"), "{printed}");
    }
}
