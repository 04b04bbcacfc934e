//! Accounts as they read: the caller, users, organisations and API keys (never their tokens).

use async_graphql::{ComplexObject, Context, Enum, ErrorExtensions, ID, SimpleObject};
use chrono::{DateTime, Utc};
use trellis_domain::access::KeyManagement;
use trellis_domain::organisation as domain_org;
use trellis_store::Store;
use trellis_store::accounts;

use crate::error::{ApiError, ApiResult, OrApiError};
use crate::schema::common::{Role, mirror_enum};

mirror_enum!(
    /// What an organisation is.
    OrganisationKind => domain_org::OrganisationKind { GpPractice, LinkWorkerService, Provider, Locality }
);

/// The signed-in caller.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Me {
    /// The user.
    pub user: User,
    /// Their organisation.
    pub organisation: Organisation,
}

/// A user account.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct User {
    /// Its id.
    pub id: ID,
    /// The person's name.
    pub name: String,
    /// Their email address.
    pub email: String,
    /// Their role.
    pub role: Role,
    /// Their organisation's id.
    pub organisation_id: ID,
    /// Since when they may not sign in (offboarded by `disableUser`); null while they may.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<accounts::User> for User {
    fn from(u: accounts::User) -> Self {
        User {
            id: ID(u.id.to_string()),
            name: u.name,
            email: u.email,
            role: u.role.into(),
            organisation_id: ID(u.organisation.to_string()),
            disabled_at: u.disabled_at,
        }
    }
}

#[ComplexObject]
impl User {
    /// Their API keys, oldest first, never the tokens: an admin reads anyone's, a user its own, and
    /// anyone else is refused (`FORBIDDEN`).
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let actor = ctx.data::<crate::auth::Caller>()?.actor().api()?;
        let owner = crate::schema::common::user_id("userId", &self.id).api()?;
        if KeyManagement::of(&actor, owner) == KeyManagement::None {
            return Err(ApiError::Forbidden("read another user's API keys".into()).extend());
        }
        api_keys_of(ctx, owner).await
    }
}

#[ComplexObject]
impl Me {
    /// Your own API keys, oldest first, never the tokens: what to revoke or rotate.
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let principal = ctx.data::<crate::auth::Caller>()?.principal().api()?;
        api_keys_of(ctx, principal.user.id).await
    }
}

async fn api_keys_of(ctx: &Context<'_>, owner: trellis_domain::UserId) -> ApiResult<Vec<ApiKey>> {
    let keys = ctx.data::<Store>()?.api_keys_of(owner).await.api()?;
    Ok(keys.into_iter().map(ApiKey::from).collect())
}

/// An organisation in the locality.
#[derive(SimpleObject, Clone)]
pub struct Organisation {
    /// Its id.
    pub id: ID,
    /// What it is.
    pub kind: OrganisationKind,
    /// Its name.
    pub name: String,
    /// Its ODS code (GP practices).
    pub ods_code: Option<String>,
    /// Where it receives email.
    pub email: Option<String>,
    /// For a GP practice, the link worker service that receives its referrals.
    pub link_worker_service_id: Option<ID>,
    /// Its MESH mailbox id: where the message back to a GP practice is delivered.
    pub mesh_mailbox_id: Option<String>,
    /// For a link worker service: whether the referring practice also gets a message back at first
    /// contact, saying the person has been contacted.
    pub gp_message_at_first_contact: bool,
}

impl From<accounts::Organisation> for Organisation {
    fn from(o: accounts::Organisation) -> Self {
        Organisation {
            id: ID(o.id.to_string()),
            kind: o.kind.into(),
            name: o.name,
            ods_code: o.ods_code,
            email: o.email,
            link_worker_service_id: o.link_worker_service.map(|s| ID(s.to_string())),
            mesh_mailbox_id: o.mesh_mailbox,
            gp_message_at_first_contact: o.gp_message_at_first_contact,
        }
    }
}

/// An API key as listed (its token is never shown again).
#[derive(SimpleObject)]
pub struct ApiKey {
    /// Its id.
    pub id: ID,
    /// Its owner.
    pub user_id: ID,
    /// What it is for.
    pub label: String,
    /// When issued.
    pub created_at: DateTime<Utc>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it was revoked (it never works again).
    pub revoked: bool,
    /// After when it is refused (`UNAUTHENTICATED`); a new key is issued with `issueApiKey`.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request, to within a minute; null if never. A key unused for long
    /// is one to revoke.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<accounts::ApiKey> for ApiKey {
    fn from(k: accounts::ApiKey) -> Self {
        ApiKey {
            id: ID(k.id.to_string()),
            user_id: ID(k.user.to_string()),
            label: k.label,
            created_at: k.created_at,
            revoked: k.revoked_at.is_some(),
            revoked_at: k.revoked_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
        }
    }
}
