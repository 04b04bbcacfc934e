//! Accounts: the caller, organisations, users and their API keys.

mod inputs;
mod types;

use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{Duration, Utc};
use trellis_domain::Role;
use trellis_domain::access::KeyManagement;
use trellis_domain::values::{self as v, ValueError};
use trellis_store::Store;
use trellis_store::accounts::{NewOrganisation, NewUser};

use self::inputs::*;
pub use self::types::{ApiKey, Me, Organisation, User};
use super::common::{self, organisation_id, page_cost, parse_id, user_id};
use crate::ApiSettings;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// Reading accounts.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The caller: user, role and organisation.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Me> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        Ok(Me { user: p.user.clone().into(), organisation: p.organisation.clone().into() })
    }

    /// Every organisation (network lead, admin), or the caller's own.
    #[graphql(complexity = "page_cost(None, child_complexity)")]
    async fn organisations(&self, ctx: &Context<'_>) -> ApiResult<Vec<Organisation>> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        if matches!(p.user.role, Role::NetworkLead | Role::Admin) {
            Ok(ctx.data::<Store>()?.organisations().await.api()?.into_iter().map(Into::into).collect())
        } else {
            Ok(vec![p.organisation.clone().into()])
        }
    }

    /// The users of an organisation: an admin's or network lead's view of any, anyone else's of their own.
    #[graphql(complexity = "page_cost(None, child_complexity)")]
    async fn users(&self, ctx: &Context<'_>, organisation_id: Option<ID>) -> ApiResult<Vec<User>> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        let org = match organisation_id {
            Some(id) => common::organisation_id("organisationId", &id).api()?,
            None => p.organisation.id,
        };
        if org != p.organisation.id && !matches!(p.user.role, Role::NetworkLead | Role::Admin) {
            return Err(ApiError::NotFound.extend());
        }
        Ok(ctx.data::<Store>()?.users_of(org).await.api()?.into_iter().map(Into::into).collect())
    }
}

/// The new organisation.
#[derive(SimpleObject)]
pub struct CreateOrganisationPayload {
    /// It.
    pub organisation: Organisation,
}

/// The changed organisation.
#[derive(SimpleObject)]
pub struct UpdateOrganisationPayload {
    /// It, as it is now.
    pub organisation: Organisation,
}

/// The new user and their API token.
#[derive(SimpleObject)]
pub struct CreateUserPayload {
    /// The user.
    pub user: User,
    /// Their bearer token. Shown once: only its hash is stored.
    pub api_token: String,
}

/// A new key and its token.
#[derive(SimpleObject)]
pub struct IssueApiKeyPayload {
    /// The key as `apiKeys` lists it.
    pub api_key: ApiKey,
    /// The bearer token. Shown once: only its hash is stored.
    pub api_token: String,
    /// The key this one replaced, now revoked, when a user rotated its own key.
    pub replaced_api_key_id: Option<ID>,
}

/// The disabled user.
#[derive(SimpleObject)]
pub struct DisableUserPayload {
    /// The user, with `disabledAt` set.
    pub user: User,
}

/// The enabled user.
#[derive(SimpleObject)]
pub struct EnableUserPayload {
    /// The user, with `disabledAt` cleared.
    pub user: User,
}

/// The user with its new address.
#[derive(SimpleObject)]
pub struct ChangeUserEmailPayload {
    /// The user.
    pub user: User,
}

/// The revoked key.
#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    /// The key, with its revocation time.
    pub api_key: ApiKey,
}

/// When a key issued now stops working.
fn key_expiry(ctx: &Context<'_>, now: chrono::DateTime<Utc>) -> ApiResult<chrono::DateTime<Utc>> {
    let days = ctx.data::<std::sync::Arc<ApiSettings>>()?.api_key_expiry_days;
    Ok(now + Duration::days(days.max(1)))
}

/// Managing organisations, users and keys.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Add an organisation (admin; a network lead may add providers, as part of the directory).
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganisationInput,
    ) -> ApiResult<CreateOrganisationPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::NetworkLead, Role::Admin], "manage organisations").api()?;
        let kind: trellis_domain::organisation::OrganisationKind = input.kind.into();
        // docs/domain.md: the admin manages organisations; the network lead manages the directory, whose
        // organisations (Open Referral UK's `organization`) are the providers.
        if actor.role != Role::Admin && kind != trellis_domain::organisation::OrganisationKind::Provider {
            return Err(ApiError::Forbidden(format!("add {} organisations", kind.as_str())).extend());
        }
        let ods_code = input.ods_code.as_deref().map(trellis_domain::organisation::parse_ods_code).transpose().api()?;
        if kind == trellis_domain::organisation::OrganisationKind::GpPractice && ods_code.is_none() {
            return Err(ApiError::Validation(ValueError::new("odsCode", "", "is required for a GP practice")).extend());
        }
        let new = NewOrganisation {
            gp_message_at_first_contact: input.gp_message_at_first_contact,
            mesh_mailbox: input
                .mesh_mailbox_id
                .as_deref()
                .map(trellis_domain::organisation::parse_mesh_mailbox)
                .transpose()
                .api()?,
            kind,
            name: v::required_text("name", &input.name, 200).api()?,
            ods_code,
            email: input.email.as_deref().map(v::EmailAddress::parse).transpose().api()?,
            link_worker_service: input
                .link_worker_service_id
                .as_ref()
                .map(|id| organisation_id("linkWorkerServiceId", id))
                .transpose()
                .api()?,
        };
        let organisation = ctx.data::<Store>()?.create_organisation(new, Utc::now()).await.api()?;
        Ok(CreateOrganisationPayload { organisation: organisation.into() })
    }

    /// Change an organisation's name, email, MESH mailbox id or message back at first contact (admin).
    async fn update_organisation(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganisationInput,
    ) -> ApiResult<UpdateOrganisationPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Admin], "manage organisations").api()?;
        let id = organisation_id("organisationId", &input.organisation_id).api()?;
        let emptied = |v: Option<String>| v.map(|s| Some(s).filter(|s| !s.trim().is_empty()));
        let changes = trellis_store::accounts::OrganisationChanges {
            name: input.name.as_deref().map(|n| v::required_text("name", n, 200)).transpose().api()?,
            email: emptied(input.email)
                .map(|e| e.as_deref().map(v::EmailAddress::parse).transpose())
                .transpose()
                .api()?,
            mesh_mailbox: emptied(input.mesh_mailbox_id)
                .map(|m| m.as_deref().map(trellis_domain::organisation::parse_mesh_mailbox).transpose())
                .transpose()
                .api()?,
            gp_message_at_first_contact: input.gp_message_at_first_contact,
        };
        let organisation = ctx.data::<Store>()?.update_organisation(&actor, id, changes).await.api()?;
        Ok(UpdateOrganisationPayload { organisation: organisation.into() })
    }

    /// Add a user and issue their API token (admin).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> ApiResult<CreateUserPayload> {
        // Only the admin: whoever may mint a GP, link worker or provider token may read what that role
        // reads, and the network lead sees the network, not people (docs/domain.md).
        ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let role: Role = input.role.into();
        if role == Role::System {
            return Err(ApiError::Forbidden(format!("create {} users", role.as_str())).extend());
        }
        let new = NewUser {
            organisation: organisation_id("organisationId", &input.organisation_id).api()?,
            role,
            email: v::EmailAddress::parse(&input.email).api()?,
            name: v::required_text("name", &input.name, 200).api()?,
        };
        let store = ctx.data::<Store>()?;
        let now = Utc::now();
        let expires_at = key_expiry(ctx, now)?;
        let (user, key) = store.create_user_with_key(new, "issued at creation", expires_at, now).await.api()?;
        Ok(CreateUserPayload { user: user.into(), api_token: key.token })
    }

    /// Issue an API key. An admin issues one for any user. A user may issue one only for itself, and
    /// the new key then replaces the key it called with (revoked in the same transaction), so a user
    /// rotates without an admin but a stolen key can never be multiplied. The token is shown once.
    async fn issue_api_key(&self, ctx: &Context<'_>, input: IssueApiKeyInput) -> ApiResult<IssueApiKeyPayload> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        let owner = match &input.user_id {
            Some(id) => user_id("userId", id).api()?,
            None => p.user.id,
        };
        let label = v::required_text("label", &input.label, 100).api()?;
        let replacing = match KeyManagement::of(&p.actor(), owner) {
            KeyManagement::Any => None,
            KeyManagement::Own => Some(p.api_key),
            KeyManagement::None => return Err(ApiError::Forbidden("issue keys for another user".into()).extend()),
        };
        let store = ctx.data::<Store>()?;
        let now = Utc::now();
        let expires_at = key_expiry(ctx, now)?;
        let issued = store.issue_api_key_until(owner, &label, expires_at, replacing, now).await.api()?;
        let api_key = store.api_key(issued.id).await.api()?;
        Ok(IssueApiKeyPayload {
            api_key: api_key.into(),
            api_token: issued.token,
            replaced_api_key_id: replacing.map(|id| ID(id.to_string())),
        })
    }

    /// Disable a user (admin): offboarding. Every key of theirs is refused from now on, by every server
    /// on the database within a second; the keys are kept, so `enableUser` needs no new token. An admin
    /// cannot disable itself (another admin must), so the last one is never locked out by mistake.
    async fn disable_user(&self, ctx: &Context<'_>, input: DisableUserInput) -> ApiResult<DisableUserPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let id = user_id("userId", &input.user_id).api()?;
        if actor.user == Some(id) {
            return Err(ApiError::Validation(ValueError::new(
                "userId",
                id.to_string(),
                "is your own account: another administrator must disable it",
            ))
            .extend());
        }
        let user = ctx.data::<Store>()?.disable_user(id, Utc::now()).await.api()?;
        tracing::info!(user_id = %id, "user disabled");
        Ok(DisableUserPayload { user: user.into() })
    }

    /// Let a disabled user sign in again with its keys that are neither revoked nor expired (admin).
    async fn enable_user(&self, ctx: &Context<'_>, input: EnableUserInput) -> ApiResult<EnableUserPayload> {
        ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let id = user_id("userId", &input.user_id).api()?;
        let user = ctx.data::<Store>()?.enable_user(id).await.api()?;
        tracing::info!(user_id = %id, "user enabled");
        Ok(EnableUserPayload { user: user.into() })
    }

    /// Change the work address a user's console sign-in links go to (admin; audited). Sign-in links
    /// already sent to the old address stop working.
    async fn change_user_email(
        &self,
        ctx: &Context<'_>,
        input: ChangeUserEmailInput,
    ) -> ApiResult<ChangeUserEmailPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Admin], "manage users").api()?;
        let id = user_id("userId", &input.user_id).api()?;
        let email = v::EmailAddress::parse(&input.email).api()?;
        let user = ctx.data::<Store>()?.change_user_email(&actor, id, email, Utc::now()).await.api()?;
        tracing::info!(user_id = %id, "user's email changed");
        Ok(ChangeUserEmailPayload { user: user.into() })
    }

    /// Revoke an API key, by an id from `apiKeys` (an admin any key; anyone their own). Every server on
    /// the database refuses it within a second. When an admin revokes it, its user's web console
    /// sessions end too.
    async fn revoke_api_key(&self, ctx: &Context<'_>, input: RevokeApiKeyInput) -> ApiResult<RevokeApiKeyPayload> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        let id = parse_id::<trellis_store::ids::ApiKeyId>("apiKeyId", &input.api_key_id).api()?;
        let key = ctx.data::<Store>()?.revoke_api_key_as(&p.actor(), id, Utc::now()).await.api()?;
        Ok(RevokeApiKeyPayload { api_key: key.into() })
    }
}
