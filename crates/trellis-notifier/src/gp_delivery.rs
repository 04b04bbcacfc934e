//! The message back to the GP over MESH: built from the committed referral when its outbox row is sent,
//! delivered as GP Connect Send Document, and tracked until the practice acknowledges it or MESH fails it.

use chrono::{DateTime, Utc};
use trellis_domain::ReferralId;
use trellis_gp_message::WORKFLOW_ID;
use trellis_gp_message::content::Occasion;
use trellis_gp_message::mesh::{MeshClient, Outgoing, Tracking};
use trellis_store::Store;
use trellis_store::outbox::{MeshStatus, OutboxEmail};

use crate::NotifierError;

/// Builds `version` of the message back for `row`'s referral and sends it to the practice's mailbox (the row's
/// recipient). Returns the subject and MESH's message id.
pub(crate) async fn send(
    store: &Store,
    mesh: &MeshClient,
    row: &OutboxEmail,
    referral: ReferralId,
    (occasion, version): (Occasion, u32),
    now: DateTime<Utc>,
) -> Result<(String, String), NotifierError> {
    let message =
        store.gp_message_to_send(referral, occasion, version, now).await?.ok_or(NotifierError::NoGpMessage)?;
    let pdf = trellis_gp_message::pdf::render(&message);
    let bundle = trellis_gp_message::bundle::message_bundle(&message, &pdf, mesh.mailbox());
    let subject = match message.replaces {
        Some(_) => format!("{} (correction, version {})", message.title(), message.version),
        None => message.title().to_owned(),
    };
    let filename = format!("{}.json", message.id);
    let mesh_id = mesh
        .send(Outgoing {
            to: &row.recipient,
            workflow_id: WORKFLOW_ID,
            subject: &subject,
            // The message's own id, the same on every attempt: a resend after a lost answer is recognisable.
            local_id: &row.message_id,
            filename: &filename,
            body: bundle.to_string().into_bytes(),
        })
        .await?;
    Ok((subject, mesh_id))
}

/// What MESH's tracking says, as the row records it, with the reason for a failure.
pub(crate) fn settled(tracking: &Tracking) -> (MeshStatus, Option<String>) {
    let status = tracking.status.as_deref().unwrap_or_default().to_ascii_lowercase();
    match status.as_str() {
        "acknowledged" => (MeshStatus::Acknowledged, None),
        "undeliverable" | "expired" | "error" | "failed" | "rejected" => {
            (MeshStatus::Failed, Some(format!("MESH reported the message {status}")))
        }
        _ if tracking.status_success == Some(false) => {
            (MeshStatus::Failed, Some(format!("MESH reported the message failed ({status})")))
        }
        _ => (MeshStatus::Accepted, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking(status: &str, success: Option<bool>) -> Tracking {
        Tracking { message_id: "m".into(), status: Some(status.into()), status_success: success }
    }

    #[test]
    fn tracking_settles_on_acknowledged_or_failed_and_otherwise_keeps_waiting() {
        assert_eq!(settled(&tracking("Acknowledged", Some(true))).0, MeshStatus::Acknowledged);
        assert_eq!(settled(&tracking("Accepted", Some(true))).0, MeshStatus::Accepted);
        assert_eq!(settled(&tracking("Undeliverable", None)).0, MeshStatus::Failed);
        assert_eq!(settled(&tracking("Accepted", Some(false))).0, MeshStatus::Failed);
        let (_, why) = settled(&tracking("Expired", None));
        assert_eq!(why.as_deref(), Some("MESH reported the message expired"));
    }
}
