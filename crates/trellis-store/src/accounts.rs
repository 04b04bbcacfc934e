//! Organisations, users and their API keys; turning a bearer token into an actor.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    Statement, TransactionTrait,
};
use trellis_domain::access::KeyManagement;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::values::{EmailAddress, ValueError};
use trellis_domain::{Actor, OrganisationId, Role, UserId};
use uuid::Uuid;

use crate::convert::stored;
use crate::entity::{api_key, organisation, user, web_session};
use crate::ids::ApiKeyId;
use crate::tokens::{hash_secret, new_secret};
use crate::{Store, StoreError};

/// Prefix of every API token, so a leaked one is recognisable in a secret scanner.
pub const API_TOKEN_PREFIX: &str = "trellis_";

/// How long a key works when the caller does not say: a year, after which its user needs a new one.
pub const DEFAULT_API_KEY_LIFETIME_DAYS: i64 = 365;

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
    /// Its MESH mailbox id, where the message back to a GP practice is delivered.
    pub mesh_mailbox: Option<String>,
    /// For a link worker service: whether the referring practice also gets a message back at first
    /// contact, saying the person has been contacted (it always gets one at closure).
    pub gp_message_at_first_contact: bool,
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
    /// Its MESH mailbox id (already parsed), where the message back to a GP practice is delivered.
    pub mesh_mailbox: Option<String>,
    /// For a link worker service: a message back to the practice at first contact too.
    pub gp_message_at_first_contact: bool,
}

/// What an administrator changes about an organisation; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct OrganisationChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new email address, or `Some(None)` to remove it.
    pub email: Option<Option<EmailAddress>>,
    /// A new MESH mailbox id (parsed), or `Some(None)` to remove it.
    pub mesh_mailbox: Option<Option<String>>,
    /// For a link worker service: turn the message back at first contact on or off.
    pub gp_message_at_first_contact: Option<bool>,
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
    /// Since when it may not sign in (offboarded); `None` while it may.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl User {
    /// The user as the rule for who may be assigned a referral sees them
    /// ([`trellis_domain::access::may_be_assigned`]).
    pub fn as_assignee(&self) -> trellis_domain::access::Assignee {
        trellis_domain::access::Assignee {
            user: self.id,
            role: self.role,
            organisation: self.organisation,
            active: self.disabled_at.is_none(),
        }
    }
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
    pub api_key: ApiKeyId,
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
    pub id: ApiKeyId,
    /// Its owner.
    pub user: UserId,
    /// What it is for.
    pub label: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// After when it is refused. `None` only for a row written outside Trellis; such a key is refused.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request, to within [`crate::principals::LAST_USED_RESOLUTION`].
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKey {
    fn from(m: api_key::Model) -> Self {
        ApiKey {
            id: ApiKeyId(m.id),
            user: UserId(m.user_id),
            label: m.label,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
        }
    }
}

/// A newly issued key: the token is shown once and never stored.
#[derive(Clone)]
pub struct IssuedKey {
    /// The key's id, for revoking it.
    pub id: ApiKeyId,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("id", &self.id).field("token", &"[redacted]").finish()
    }
}

/// Only a link worker service makes first contact, so only one can turn on the message back at first contact.
fn not_a_link_worker_service() -> trellis_domain::DomainError {
    ValueError::new("gpMessageAtFirstContact", "true", "only a link worker service makes first contact").into()
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
            mesh_mailbox: m.mesh_mailbox_id,
            gp_message_at_first_contact: m.gp_message_at_first_contact,
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
            disabled_at: m.disabled_at,
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
        if new.gp_message_at_first_contact && new.kind != OrganisationKind::LinkWorkerService {
            return Err(not_a_link_worker_service().into());
        }
        let model = organisation::Model {
            id: OrganisationId::new_at(now).0,
            kind: new.kind.as_str().into(),
            name: new.name,
            ods_code: new.ods_code,
            email: new.email.map(String::from),
            link_worker_service_id: new.link_worker_service.map(|o| o.0),
            mesh_mailbox_id: new.mesh_mailbox,
            gp_message_at_first_contact: new.gp_message_at_first_contact,
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

    /// Changes an organisation's name, email or MESH mailbox: an administrator's task.
    pub async fn update_organisation(
        &self,
        actor: &Actor,
        id: OrganisationId,
        changes: OrganisationChanges,
    ) -> Result<Organisation, StoreError> {
        if actor.role != Role::Admin {
            return Err(StoreError::Domain(trellis_domain::DomainError::Forbidden {
                role: actor.role,
                action: "manage organisations",
            }));
        }
        let current = organisation::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let current_kind = current.kind.clone();
        let mut row = current.into_active_model();
        if let Some(name) = changes.name {
            row.name = sea_orm::ActiveValue::Set(name);
        }
        if let Some(email) = changes.email {
            row.email = sea_orm::ActiveValue::Set(email.map(String::from));
        }
        if let Some(mailbox) = changes.mesh_mailbox {
            row.mesh_mailbox_id = sea_orm::ActiveValue::Set(mailbox);
        }
        if let Some(on) = changes.gp_message_at_first_contact {
            let kind = stored("organisation kind", OrganisationKind::parse(&current_kind))?;
            if on && kind != OrganisationKind::LinkWorkerService {
                return Err(not_a_link_worker_service().into());
            }
            row.gp_message_at_first_contact = sea_orm::ActiveValue::Set(on);
        }
        let saved = sea_orm::ActiveModelTrait::update(row, &self.db).await?;
        tracing::info!(organisation = %id.0, "organisation updated");
        saved.try_into()
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
        self.create_user_in(&self.db, new, now).await
    }

    /// Adds a user and issues its first key in one transaction: either both exist or neither does, so a
    /// failure never leaves an account nobody holds a token for (and whose email is then taken).
    pub async fn create_user_with_key(
        &self,
        new: NewUser,
        label: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(User, IssuedKey), StoreError> {
        let txn = self.db.begin().await?;
        let user = self.create_user_in(&txn, new, now).await?;
        let key = insert_key(&txn, user.id, label, expires_at, now).await?;
        txn.commit().await?;
        Ok((user, key))
    }

    async fn create_user_in(
        &self,
        db: &impl ConnectionTrait,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let org = organisation::Entity::find_by_id(new.organisation.0)
            .one(db)
            .await?
            .ok_or(StoreError::UnknownReference("organisation"))
            .and_then(Organisation::try_from)?;
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
        user::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(db)
            .await
            .map_err(|e| if StoreError::is_unique_violation(&e) { StoreError::Duplicate("email") } else { e.into() })?;
        model.try_into()
    }

    /// One user.
    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        user::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?.try_into()
    }

    /// The user with this email address, written as it was when the user was created (its domain is
    /// kept in lower case).
    pub async fn user_by_email(&self, email: &EmailAddress) -> Result<User, StoreError> {
        user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()
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

    /// Issues a new API key for a user, working for [`DEFAULT_API_KEY_LIFETIME_DAYS`]; the token is
    /// returned once.
    pub async fn issue_api_key(&self, user: UserId, label: &str, now: DateTime<Utc>) -> Result<IssuedKey, StoreError> {
        let expires_at = now + chrono::Duration::days(DEFAULT_API_KEY_LIFETIME_DAYS);
        self.issue_api_key_until(user, label, expires_at, None, now).await
    }

    /// Issues a new API key for a user, working until `expires_at`. With `replacing`, that key of the same
    /// user is revoked in the same transaction (a rotation: the user holds no more keys than before).
    pub async fn issue_api_key_until(
        &self,
        user: UserId,
        label: &str,
        expires_at: DateTime<Utc>,
        replacing: Option<ApiKeyId>,
        now: DateTime<Utc>,
    ) -> Result<IssuedKey, StoreError> {
        let txn = self.db.begin().await?;
        user::Entity::find_by_id(user.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let key = insert_key(&txn, user, label, expires_at, now).await?;
        if let Some(old) = replacing {
            let revoked = api_key::Entity::update_many()
                .col_expr(api_key::Column::RevokedAt, Expr::value(now))
                .filter(api_key::Column::Id.eq(old.0))
                .filter(api_key::Column::UserId.eq(user.0))
                .filter(api_key::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
            if revoked.rows_affected == 0 {
                return Err(StoreError::NotFound);
            }
            bump_revocation_epoch(&txn).await?;
        }
        txn.commit().await?;
        if let Some(old) = replacing {
            self.principals.forget_key(old);
        }
        Ok(key)
    }

    /// The keys of a user, oldest first, without their tokens.
    pub async fn api_keys_of(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::UserId.eq(user.0))
            .order_by_asc(api_key::Column::CreatedAt)
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    /// The key with this id, without its token.
    pub async fn api_key(&self, id: ApiKeyId) -> Result<ApiKey, StoreError> {
        Ok(api_key::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?.into())
    }

    /// Revokes a key; revoking twice keeps the first time. Every server process on this database
    /// refuses it within [`crate::principals::EPOCH_CHECK_EVERY`], this one at once, and the sessions
    /// opened with it end; its user's other sessions live on (see [`Store::revoke_api_key_as`] for an
    /// administrator's revocation, which ends them too).
    pub async fn revoke_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> Result<ApiKey, StoreError> {
        self.revoke_key(id, false, now).await
    }

    /// Revokes a key for `actor`, who may manage its owner's keys ([`KeyManagement`]): any key for an
    /// administrator, its own for a user; another's is [`StoreError::NotFound`], like a key that does
    /// not exist. An administrator's revocation also ends the owner's sessions
    /// ([`KeyManagement::revoking_ends_sessions`]).
    pub async fn revoke_api_key_as(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, StoreError> {
        let key = self.api_key(id).await?;
        match KeyManagement::of(actor, key.user) {
            KeyManagement::None => Err(StoreError::NotFound),
            may => self.revoke_key(id, may.revoking_ends_sessions(), now).await,
        }
    }

    async fn revoke_key(&self, id: ApiKeyId, end_sessions: bool, now: DateTime<Utc>) -> Result<ApiKey, StoreError> {
        let txn = self.db.begin().await?;
        let key = api_key::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let revoked = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(id.0))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if revoked.rows_affected > 0 {
            bump_revocation_epoch(&txn).await?;
        }
        if end_sessions {
            let ended = web_session::Entity::delete_many()
                .filter(web_session::Column::UserId.eq(key.user_id))
                .exec(&txn)
                .await?;
            tracing::info!(user = %key.user_id, sessions = ended.rows_affected, "sessions ended by a key's revocation");
        }
        txn.commit().await?;
        self.principals.forget_key(id);
        self.api_key(id).await
    }

    /// Disables a user (offboarding): none of its keys authenticates any more, on this process at once
    /// and on every other within [`crate::principals::EPOCH_CHECK_EVERY`]. Disabling twice keeps the
    /// first time. Its keys are kept, revoked or not, so that enabling it again needs no new token.
    pub async fn disable_user(&self, id: UserId, now: DateTime<Utc>) -> Result<User, StoreError> {
        let txn = self.db.begin().await?;
        let changed = user::Entity::update_many()
            .col_expr(user::Column::DisabledAt, Expr::value(now))
            .filter(user::Column::Id.eq(id.0))
            .filter(user::Column::DisabledAt.is_null())
            .exec(&txn)
            .await?;
        if changed.rows_affected > 0 {
            bump_revocation_epoch(&txn).await?;
        }
        let user = user::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
        txn.commit().await?;
        self.principals.forget_user(id);
        user.try_into()
    }

    /// Lets a disabled user sign in again with its keys that are neither revoked nor expired.
    pub async fn enable_user(&self, id: UserId) -> Result<User, StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::DisabledAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.db)
            .await?;
        self.user(id).await
    }

    /// The principal behind a bearer token, if the token is live (not revoked, not expired) and its user
    /// enabled. A principal found is trusted for [`crate::PRINCIPAL_TTL`] without asking the database
    /// again, but only while no key was revoked and no user disabled since, anywhere: see
    /// [`crate::principals`]. Records the key's use, at most once a minute.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        if !token.starts_with(API_TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let token_hash = hash_secret(token);
        if !self.principals.epoch_is_fresh() {
            self.read_revocation_epoch().await?;
        }
        let now = Utc::now();
        let principal = match self.principals.get(&token_hash, now) {
            Some(principal) => principal,
            None => {
                let generation = self.principals.generation();
                let Some((principal, expires_at)) = self.look_up_token(&token_hash, now).await? else {
                    return Ok(None);
                };
                self.principals.put(generation, token_hash, principal.clone(), expires_at);
                principal
            }
        };
        if self.principals.claim_last_used_write(principal.api_key) {
            self.record_key_use(principal.api_key, now).await;
        }
        Ok(Some(principal))
    }

    /// One round trip: the live key with its user and the user's organisation.
    async fn look_up_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Principal, DateTime<Utc>)>, StoreError> {
        let found = api_key::Entity::find()
            .find_also_related(user::Entity)
            .and_also_related(organisation::Entity)
            .filter(api_key::Column::TokenHash.eq(token_hash))
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(api_key::Column::ExpiresAt.gt(now))
            .filter(user::Column::DisabledAt.is_null())
            .one(&self.db)
            .await?;
        let Some((key, Some(user_row), Some(organisation_row))) = found else {
            return Ok(None);
        };
        let Some(expires_at) = key.expires_at else { return Ok(None) };
        let user = User::try_from(user_row)?;
        let organisation = Organisation::try_from(organisation_row)?;
        Ok(Some((Principal { user, organisation, api_key: ApiKeyId(key.id) }, expires_at)))
    }

    /// Reads the revocation epoch, dropping the cached principals if it moved.
    async fn read_revocation_epoch(&self) -> Result<(), StoreError> {
        let sent_at = Instant::now();
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(backend, "SELECT epoch FROM auth_revocations WHERE id = 1"))
            .await?
            .ok_or_else(|| StoreError::Corrupt("auth_revocations"))?;
        let epoch: i64 = row.try_get_by_index(0)?;
        self.principals.observe_epoch(epoch, sent_at);
        Ok(())
    }

    /// Writes `last_used_at` unless another process did within the last minute. A failure is logged,
    /// not returned: the request it belongs to was authenticated all the same.
    async fn record_key_use(&self, key: ApiKeyId, now: DateTime<Utc>) {
        let resolution = chrono::Duration::from_std(crate::principals::LAST_USED_RESOLUTION)
            .unwrap_or_else(|_| chrono::Duration::minutes(1));
        let written = api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(key.0))
            .filter(
                sea_orm::Condition::any()
                    .add(api_key::Column::LastUsedAt.is_null())
                    .add(api_key::Column::LastUsedAt.lte(now - resolution)),
            )
            .exec(&self.db)
            .await;
        if let Err(e) = written {
            tracing::warn!(api_key = %key, error = %e, "could not record when an API key was last used");
        }
    }
}

/// Inserts a key; the token exists only in the returned value.
async fn insert_key(
    db: &DatabaseTransaction,
    user: UserId,
    label: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IssuedKey, StoreError> {
    let (token, token_hash) = new_secret(API_TOKEN_PREFIX);
    let id = ApiKeyId(Uuid::now_v7());
    let model = api_key::Model {
        id: id.0,
        user_id: user.0,
        token_hash,
        label: label.into(),
        created_at: now,
        revoked_at: None,
        last_used_at: None,
        expires_at: Some(expires_at),
    };
    api_key::Entity::insert(model.into_active_model()).exec_without_returning(db).await?;
    Ok(IssuedKey { id, token })
}

/// Tells every server process, through the database, that a key or user was cut off. Runs in the
/// transaction of the change, so no process sees the new epoch before the change itself.
async fn bump_revocation_epoch(txn: &DatabaseTransaction) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_string(backend, "UPDATE auth_revocations SET epoch = epoch + 1 WHERE id = 1"))
        .await?;
    Ok(())
}
