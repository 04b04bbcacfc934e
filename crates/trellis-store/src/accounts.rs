//! Organisations, users and their API keys; turning a bearer token into an actor.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::values::EmailAddress;
use trellis_domain::{Actor, OrganisationId, Role, UserId};
use uuid::Uuid;

use crate::convert::stored;
use crate::entity::{api_key, organisation, user};
use crate::tokens::{hash_secret, new_secret};
use crate::{Store, StoreError};

/// Prefix of every API token, so a leaked one is recognisable in a secret scanner.
pub const API_TOKEN_PREFIX: &str = "trellis_";

/// An organisation in the locality.
#[derive(Clone, Debug, PartialEq)]
pub struct Organisation {
    /// Its id.
    pub id: OrganisationId,
    /// What it is.
    pub kind: OrganisationKind,
    /// Its name.
    pub name: String,
    /// Its ODS code, for GP practices.
    pub ods_code: Option<String>,
    /// Where it receives email.
    pub email: Option<String>,
    /// For a GP practice, the link worker service that receives its referrals.
    pub link_worker_service: Option<OrganisationId>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// What is needed to add an organisation.
#[derive(Clone, Debug)]
pub struct NewOrganisation {
    /// What it is.
    pub kind: OrganisationKind,
    /// Its name.
    pub name: String,
    /// Its ODS code, for GP practices.
    pub ods_code: Option<String>,
    /// Where it receives email.
    pub email: Option<EmailAddress>,
    /// For a GP practice, the link worker service that receives its referrals.
    pub link_worker_service: Option<OrganisationId>,
}

/// A user account.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its organisation.
    pub organisation: OrganisationId,
    /// Its role.
    pub role: Role,
    /// Its email address.
    pub email: String,
    /// The person's name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What is needed to add a user.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The organisation.
    pub organisation: OrganisationId,
    /// The role, which must fit the organisation's kind.
    pub role: Role,
    /// The email address.
    pub email: EmailAddress,
    /// The person's name.
    pub name: String,
}

/// The signed-in party behind a bearer token.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// The user.
    pub user: User,
    /// The user's organisation.
    pub organisation: Organisation,
    /// The API key used.
    pub api_key: Uuid,
}

impl Principal {
    /// The domain actor.
    pub fn actor(&self) -> Actor {
        Actor::user(self.user.id, self.user.role, self.organisation.id)
    }
}

/// An API key as listed (never its token).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    /// Its id.
    pub id: Uuid,
    /// Its owner.
    pub user: UserId,
    /// What it is for.
    pub label: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A newly issued key: the token is shown once and never stored.
#[derive(Clone)]
pub struct IssuedKey {
    /// The key's id, for revoking it.
    pub id: Uuid,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("id", &self.id).field("token", &"[redacted]").finish()
    }
}

impl TryFrom<organisation::Model> for Organisation {
    type Error = StoreError;
    fn try_from(m: organisation::Model) -> Result<Self, StoreError> {
        Ok(Organisation {
            id: OrganisationId(m.id),
            kind: stored("organisation kind", OrganisationKind::parse(&m.kind))?,
            name: m.name,
            ods_code: m.ods_code,
            email: m.email,
            link_worker_service: m.link_worker_service_id.map(OrganisationId),
            created_at: m.created_at,
        })
    }
}

impl TryFrom<user::Model> for User {
    type Error = StoreError;
    fn try_from(m: user::Model) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId(m.id),
            organisation: OrganisationId(m.organisation_id),
            role: Role::parse(&m.role).ok_or_else(|| StoreError::Corrupt("users.role"))?,
            email: m.email,
            name: m.name,
            created_at: m.created_at,
        })
    }
}

impl Store {
    /// Adds an organisation. A GP practice needs an ODS code and the link worker service it refers to.
    pub async fn create_organisation(
        &self,
        new: NewOrganisation,
        now: DateTime<Utc>,
    ) -> Result<Organisation, StoreError> {
        if let Some(service) = new.link_worker_service {
            let target =
                self.organisation(service).await.map_err(|_| StoreError::UnknownReference("linkWorkerService"))?;
            if target.kind != OrganisationKind::LinkWorkerService {
                return Err(StoreError::UnknownReference("linkWorkerService"));
            }
        }
        let model = organisation::Model {
            id: OrganisationId::new_at(now).0,
            kind: new.kind.as_str().into(),
            name: new.name,
            ods_code: new.ods_code,
            email: new.email.map(String::from),
            link_worker_service_id: new.link_worker_service.map(|o| o.0),
            created_at: now,
        };
        organisation::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(
                |e| if StoreError::is_unique_violation(&e) { StoreError::Duplicate("odsCode") } else { e.into() },
            )?;
        model.try_into()
    }

    /// One organisation.
    pub async fn organisation(&self, id: OrganisationId) -> Result<Organisation, StoreError> {
        organisation::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?.try_into()
    }

    /// Every organisation, by name.
    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows = organisation::Entity::find().order_by_asc(organisation::Column::Name).all(&self.db).await?;
        rows.into_iter().map(Organisation::try_from).collect()
    }

    /// Adds a user whose role fits its organisation.
    pub async fn create_user(&self, new: NewUser, now: DateTime<Utc>) -> Result<User, StoreError> {
        let org =
            self.organisation(new.organisation).await.map_err(|_| StoreError::UnknownReference("organisation"))?;
        if !org.kind.roles().contains(&new.role) {
            return Err(trellis_domain::values::ValueError::new(
                "role",
                new.role.as_str(),
                "does not fit the organisation's kind",
            )
            .into());
        }
        let model = user::Model {
            id: UserId::new_at(now).0,
            organisation_id: org.id.0,
            role: new.role.as_str().into(),
            email: new.email.into(),
            name: new.name,
            created_at: now,
            disabled_at: None,
        };
        user::Entity::insert(model.clone().into_active_model()).exec_without_returning(&self.db).await.map_err(
            |e| {
                if StoreError::is_unique_violation(&e) { StoreError::Duplicate("email") } else { e.into() }
            },
        )?;
        model.try_into()
    }

    /// One user.
    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        user::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?.try_into()
    }

    /// The users of an organisation.
    pub async fn users_of(&self, organisation: OrganisationId) -> Result<Vec<User>, StoreError> {
        let rows = user::Entity::find()
            .filter(user::Column::OrganisationId.eq(organisation.0))
            .order_by_asc(user::Column::Name)
            .all(&self.db)
            .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// Issues a new API key for a user; the token is returned once.
    pub async fn issue_api_key(&self, user: UserId, label: &str, now: DateTime<Utc>) -> Result<IssuedKey, StoreError> {
        self.user(user).await?;
        let (token, token_hash) = new_secret(API_TOKEN_PREFIX);
        let id = Uuid::now_v7();
        let model = api_key::Model {
            id,
            user_id: user.0,
            token_hash,
            label: label.into(),
            created_at: now,
            revoked_at: None,
            last_used_at: None,
        };
        api_key::Entity::insert(model.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(IssuedKey { id, token })
    }

    /// The keys of a user, without their tokens.
    pub async fn api_keys_of(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::UserId.eq(user.0))
            .order_by_asc(api_key::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| ApiKey {
                id: m.id,
                user: UserId(m.user_id),
                label: m.label,
                created_at: m.created_at,
                revoked_at: m.revoked_at,
            })
            .collect())
    }

    /// The key with this id, without its token.
    pub async fn api_key(&self, id: Uuid) -> Result<ApiKey, StoreError> {
        let m = api_key::Entity::find_by_id(id).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        Ok(ApiKey {
            id: m.id,
            user: UserId(m.user_id),
            label: m.label,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        })
    }

    /// Revokes a key; revoking twice keeps the first time.
    pub async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<ApiKey, StoreError> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        self.principals.forget_key(id);
        self.api_key(id).await
    }

    /// The principal behind a bearer token, if the token is live and its user enabled. A principal found
    /// is trusted for [`crate::PRINCIPAL_TTL`] without asking the database again; revoking its key through
    /// this store ends that at once.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        if !token.starts_with(API_TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let token_hash = hash_secret(token);
        if let Some(principal) = self.principals.get(&token_hash) {
            return Ok(Some(principal));
        }
        // One round trip: the key with its user and the user's organisation.
        let found = api_key::Entity::find()
            .find_also_related(user::Entity)
            .and_also_related(organisation::Entity)
            .filter(api_key::Column::TokenHash.eq(token_hash.as_str()))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?;
        let Some((key, Some(user_row), Some(organisation_row))) = found else {
            return Ok(None);
        };
        if user_row.disabled_at.is_some() {
            return Ok(None);
        }
        let user = User::try_from(user_row)?;
        let organisation = Organisation::try_from(organisation_row)?;
        let principal = Principal { user, organisation, api_key: key.id };
        self.principals.put(token_hash, principal.clone());
        Ok(Some(principal))
    }
}
