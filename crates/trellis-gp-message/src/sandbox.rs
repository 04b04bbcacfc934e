//! NHS England's MESH sandbox for tests (feature `testing`): `mesh-sandbox` run with uvicorn on a free
//! loopback port with a store of its own, and the practice's side read with NHS England's `mesh-client`
//! (`tests/py/mesh_inbox.py`). Both come from `tests/py/.venv`, which `scripts/ensure-prereqs` installs.
//! Its mailboxes: Trellis is `X26ABC1`, the demo practice `X26ABC2`; password `password`, shared key
//! `Banana`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test support fails loudly")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mesh::{MeshClient, MeshSettings};

/// Trellis's mailbox in the sandbox.
pub const TRELLIS_MAILBOX: &str = "X26ABC1";
/// The demo practice's mailbox in the sandbox.
pub const PRACTICE_MAILBOX: &str = "X26ABC2";
/// Every sandbox mailbox's password.
pub const PASSWORD: &str = "password";
/// The sandbox environment's shared key.
pub const SHARED_KEY: &str = "Banana";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tool from the test virtualenv.
pub fn venv(tool: &str) -> PathBuf {
    repo().join("tests/py/.venv/bin").join(tool)
}

/// A running MESH sandbox; stopped, and its store removed, on drop.
pub struct Sandbox {
    child: Option<Child>,
    port: u16,
    store: PathBuf,
}

impl Sandbox {
    /// Starts one on a free port and waits until it answers.
    pub async fn start() -> Sandbox {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = std::env::temp_dir().join(format!("mesh-sandbox-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&store).unwrap();
        let mut sandbox = Sandbox { child: None, port, store };
        sandbox.restart().await;
        sandbox
    }

    /// A sandbox that is not running yet, on a port of its own: clients get "connection refused" until
    /// [`Sandbox::restart`].
    pub fn stopped() -> Sandbox {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = std::env::temp_dir().join(format!("mesh-sandbox-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&store).unwrap();
        Sandbox { child: None, port, store }
    }

    /// (Re)starts it on its port with its store, and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new(venv("uvicorn"))
            .args(["mesh_sandbox.api:app", "--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--log-level", "warning"])
            .env("STORE_MODE", "file")
            .env("FILE_STORE_DIR", &self.store)
            .env("AUTH_MODE", "full")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} (run scripts/ensure-prereqs): {e}", venv("uvicorn").display()));
        self.child = Some(child);
        let url = self.url();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reqwest::get(format!("{url}/health")).await.map(|r| r.status().is_success()).unwrap_or(false) {
            assert!(Instant::now() < deadline, "the MESH sandbox did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops it (its store is kept, for a restart).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The settings of a client for `mailbox` with `password` and `shared_key`.
    pub fn settings(&self, mailbox: &str, password: &str, shared_key: &str) -> MeshSettings {
        MeshSettings {
            url: self.url(),
            mailbox: mailbox.into(),
            password: password.into(),
            shared_key: shared_key.into(),
            client_certificate: None,
            client_key: None,
            ca_certificate: None,
        }
    }

    /// A client for `mailbox` with `password` and `shared_key`.
    pub fn client(&self, mailbox: &str, password: &str, shared_key: &str) -> MeshClient {
        MeshClient::new(self.settings(mailbox, password, shared_key)).unwrap()
    }

    /// Trellis's own client, with the right credentials.
    pub fn trellis(&self) -> MeshClient {
        self.client(TRELLIS_MAILBOX, PASSWORD, SHARED_KEY)
    }

    /// `mailbox`'s inbox, read with NHS England's `mesh-client` and acknowledged: each message as
    /// `{id, subject, workflow_id, local_id, sender, body_b64}`.
    pub fn inbox(&self, mailbox: &str) -> Vec<serde_json::Value> {
        let script = repo().join("tests/py/mesh_inbox.py");
        let out = Command::new(venv("python")).arg(script).args([&self.url(), mailbox, "--ack"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
