//! The accounts' inputs.

use async_graphql::{ID, InputObject};

use super::types::OrganisationKind;
use crate::schema::common::Role;

/// Add an organisation.
#[derive(InputObject)]
pub struct CreateOrganisationInput {
    /// What it is.
    pub kind: OrganisationKind,
    /// Its name.
    pub name: String,
    /// ODS code (GP practices).
    pub ods_code: Option<String>,
    /// Where it receives email.
    pub email: Option<String>,
    /// For a GP practice, the link worker service that receives its referrals.
    pub link_worker_service_id: Option<ID>,
    /// Its MESH mailbox id (`X26ABC2`): where the message back to a GP practice is delivered.
    pub mesh_mailbox_id: Option<String>,
    /// For a link worker service: the referring practice also gets a message back at first contact,
    /// saying the person has been contacted (it always gets one at closure).
    #[graphql(default)]
    pub gp_message_at_first_contact: bool,
}

/// Change an organisation's name, email, MESH mailbox or message back at first contact (admin). An absent
/// field stays as it is; an empty `email` or `meshMailboxId` removes it.
#[derive(InputObject)]
pub struct UpdateOrganisationInput {
    /// The organisation.
    pub organisation_id: ID,
    /// A new name.
    pub name: Option<String>,
    /// A new email address; empty removes it.
    pub email: Option<String>,
    /// A new MESH mailbox id; empty removes it.
    pub mesh_mailbox_id: Option<String>,
    /// For a link worker service: turn the message back to the practice at first contact on or off.
    pub gp_message_at_first_contact: Option<bool>,
}

/// Add a user; the payload carries their API token, shown once.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// The organisation.
    pub organisation_id: ID,
    /// The role (must fit the organisation).
    pub role: Role,
    /// Email address.
    pub email: String,
    /// Name.
    pub name: String,
}

/// Revoke an API key.
#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    /// The key, from `apiKeys` on `Me` or `User`.
    pub api_key_id: ID,
}

/// Issue an API key: an admin for any user; any user for itself, replacing the key it calls with.
#[derive(InputObject)]
pub struct IssueApiKeyInput {
    /// Whose key; the caller when absent.
    pub user_id: Option<ID>,
    /// What it is for ("practice system", "laptop"), to tell keys apart in `apiKeys`.
    pub label: String,
}

/// Disable a user (offboarding): its keys stop working on every server at once.
#[derive(InputObject)]
pub struct DisableUserInput {
    /// The user.
    pub user_id: ID,
}

/// Let a disabled user sign in again with its live keys.
#[derive(InputObject)]
pub struct EnableUserInput {
    /// The user.
    pub user_id: ID,
}

/// Change the work address a user's console sign-in links go to.
#[derive(InputObject)]
pub struct ChangeUserEmailInput {
    /// The user.
    pub user_id: ID,
    /// The new work email address.
    pub email: String,
}
