//! The MESH client against NHS England's own MESH sandbox (`mesh-sandbox`, run with uvicorn on a loopback
//! port), read back with NHS England's own client (`mesh-client`): both from `tests/py/.venv`, which
//! `scripts/ensure-prereqs` installs.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use trellis_gp_message::WORKFLOW_ID;
use trellis_gp_message::mesh::{MeshClient, MeshError, MeshSettings, Outgoing};

fn venv(tool: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/py/.venv/bin").join(tool)
}

/// A MESH sandbox of its own, on a free loopback port, with its own store; stopped on drop.
struct Sandbox {
    child: Child,
    url: String,
    _store: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Sandbox {
    async fn start() -> Sandbox {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = TempDir(std::env::temp_dir().join(format!("mesh-sandbox-{}", uuid::Uuid::new_v4())));
        std::fs::create_dir_all(&store.0).unwrap();
        let child = Command::new(venv("uvicorn"))
            .args([
                "mesh_sandbox.api:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "warning",
            ])
            .env("STORE_MODE", "file")
            .env("FILE_STORE_DIR", &store.0)
            .env("AUTH_MODE", "full")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} (run scripts/ensure-prereqs): {e}", venv("uvicorn").display()));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reqwest::get(format!("{url}/health")).await.map(|r| r.status().is_success()).unwrap_or(false) {
            assert!(Instant::now() < deadline, "the MESH sandbox did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Sandbox { child, url, _store: store }
    }

    fn client(&self, mailbox: &str, password: &str, shared_key: &str) -> MeshClient {
        MeshClient::new(MeshSettings {
            url: self.url.clone(),
            mailbox: mailbox.into(),
            password: password.into(),
            shared_key: shared_key.into(),
            client_certificate: None,
            client_key: None,
            ca_certificate: None,
        })
        .unwrap()
    }

    /// The practice's inbox, read and acknowledged with NHS England's `mesh-client`.
    fn inbox(&self, mailbox: &str) -> Vec<Value> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/py/mesh_inbox.py");
        let out = Command::new(venv("python")).arg(script).args([&self.url, mailbox, "--ack"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_message_sent_from_trellis_arrives_once_in_the_practice_mailbox_as_sent() {
    let sandbox = Sandbox::start().await;
    let trellis = sandbox.client("X26ABC1", "password", "Banana");
    trellis.handshake().await.expect("handshake");
    let body = b"{\"resourceType\":\"Bundle\"}".to_vec();
    let id = trellis
        .send(Outgoing {
            to: "X26ABC2",
            workflow_id: WORKFLOW_ID,
            subject: "Social prescribing: outcome of referral",
            local_id: "trellis-msg-1",
            filename: "message-back.json",
            body: body.clone(),
        })
        .await
        .expect("send");
    let tracking = trellis.track(&id).await.expect("tracking");
    assert_eq!(tracking.message_id, id);
    assert_eq!(tracking.status_success, Some(true));

    let inbox = sandbox.inbox("X26ABC2");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let message = &inbox[0];
    assert_eq!(message["id"], id.as_str());
    assert_eq!((message["sender"].as_str(), message["workflow_id"].as_str()), (Some("X26ABC1"), Some(WORKFLOW_ID)));
    assert_eq!(message["local_id"], "trellis-msg-1");
    let received = base64::engine::general_purpose::STANDARD.decode(message["body_b64"].as_str().unwrap()).unwrap();
    assert_eq!(received, body);
    assert!(sandbox.inbox("X26ABC2").is_empty(), "acknowledged, so gone");
}

#[tokio::test]
async fn a_wrong_shared_key_or_password_is_refused_as_unauthorised_and_not_retried() {
    let sandbox = Sandbox::start().await;
    for client in [sandbox.client("X26ABC1", "password", "NotTheKey"), sandbox.client("X26ABC1", "wrong", "Banana")] {
        let refused = client.handshake().await.unwrap_err();
        assert!(matches!(refused, MeshError::Unauthorised(_)), "{refused:?}");
        assert!(!refused.is_temporary());
    }
}

#[tokio::test]
async fn a_sandbox_that_is_down_is_a_temporary_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = MeshClient::new(MeshSettings {
        url: format!("http://127.0.0.1:{port}"),
        mailbox: "X26ABC1".into(),
        password: "password".into(),
        shared_key: "Banana".into(),
        client_certificate: None,
        client_key: None,
        ca_certificate: None,
    })
    .unwrap();
    let down = client.handshake().await.unwrap_err();
    assert!(down.is_temporary(), "{down:?}");
}
