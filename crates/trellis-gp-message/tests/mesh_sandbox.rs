//! The MESH client against NHS England's own MESH sandbox (`mesh-sandbox`, run with uvicorn on a loopback
//! port), read back with NHS England's own client (`mesh-client`): both from `tests/py/.venv`, which
//! `scripts/ensure-prereqs` installs, and started by `trellis_gp_message::sandbox` (shared with the
//! end-to-end suite).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use base64::Engine as _;
use trellis_gp_message::WORKFLOW_ID;
use trellis_gp_message::mesh::{MeshClient, MeshError, MeshSettings, Outgoing};
use trellis_gp_message::sandbox::Sandbox;

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
