//! Signing in to the staff web console by a link emailed to the user's work address.
//!
//! - Asking for a link ([`Store::request_sign_in`]) writes an outbox row naming the user, never a secret;
//!   the worker mints the link when it composes the email ([`Store::create_sign_in_link`]), so the raw
//!   secret exists only in that email. An unknown or disabled address writes nothing, and the caller
//!   answers the same either way.
//! - A link is 256 random bits ([`SIGN_IN_PREFIX`]), stored only as its SHA-256, good for
//!   [`SIGN_IN_LINK_LIFETIME`] and for one use.
//! - Opening it ([`Store::sign_in_link_user`]) changes nothing, so a mail scanner that follows links does
//!   not spend it; confirming ([`Store::redeem_sign_in_link`]) spends it in one atomic update, so two
//!   confirmations cannot both sign in.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, TransactionTrait};
use trellis_domain::values::EmailAddress;
use trellis_domain::{Actor, UserId};
use uuid::Uuid;

use crate::accounts::User;
use crate::audit::Audit;
use crate::entity::{sign_in_link, user};
use crate::outbox::{NewEmail, OutboxJob};
use crate::tokens::{hash_secret, new_secret};
use crate::{Store, StoreError};

/// Prefix of every sign-in link's secret.
pub const SIGN_IN_PREFIX: &str = "tsi_";

/// How long a sign-in link works after its email is composed.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Links this long past their end are deleted when a new one is minted.
const KEEP_ENDED_LINKS: chrono::Duration = chrono::Duration::days(1);

impl Store {
    /// Asks for a sign-in link for whoever has the work address `email`. Returns whether an email was
    /// queued, for the log and the tests; a page must answer the same either way.
    pub async fn request_sign_in(&self, email: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Ok(address) = EmailAddress::parse(email) else { return Ok(false) };
        let user = match self.user_by_email(&address).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Ok(false),
            Err(e) => return Err(e),
        };
        if user.disabled_at.is_some() {
            return Ok(false);
        }
        NewEmail {
            job: OutboxJob::SignInLink { user: user.id },
            recipient: user.email.clone(),
            offer: None,
            referral: None,
            due_at: now,
        }
        .write(&self.db, now)
        .await?;
        Ok(true)
    }

    /// Mints a sign-in link for `user` that works until `expires_at`; the secret is returned once.
    pub async fn create_sign_in_link(
        &self,
        user: UserId,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        sign_in_link::Entity::delete_many()
            .filter(sign_in_link::Column::ExpiresAt.lt(now - KEEP_ENDED_LINKS))
            .exec(&self.db)
            .await?;
        let (secret, token_hash) = new_secret(SIGN_IN_PREFIX);
        let model = sign_in_link::Model {
            id: Uuid::now_v7(),
            token_hash,
            user_id: user.0,
            created_at: now,
            expires_at,
            used_at: None,
        };
        sign_in_link::Entity::insert(model.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(secret)
    }

    /// The enabled user a live, unused link belongs to; changes nothing.
    pub async fn sign_in_link_user(&self, token: &str, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
        let Some(link) = sign_in_link::Entity::find()
            .filter(sign_in_link::Column::TokenHash.eq(hash_secret(token)))
            .filter(sign_in_link::Column::UsedAt.is_null())
            .filter(sign_in_link::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        self.enabled_user(UserId(link.user_id)).await
    }

    /// Spends a live, unused link and returns its enabled user; `None` (and nothing spent by this call)
    /// when the link is unknown, used, expired, or its user disabled.
    pub async fn redeem_sign_in_link(&self, token: &str, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
        let hash = hash_secret(token);
        let spent = sign_in_link::Entity::update_many()
            .col_expr(sign_in_link::Column::UsedAt, Expr::value(now))
            .filter(sign_in_link::Column::TokenHash.eq(hash.clone()))
            .filter(sign_in_link::Column::UsedAt.is_null())
            .filter(sign_in_link::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        if spent.rows_affected != 1 {
            return Ok(None);
        }
        let link = sign_in_link::Entity::find()
            .filter(sign_in_link::Column::TokenHash.eq(hash))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.enabled_user(UserId(link.user_id)).await
    }

    async fn enabled_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let user = self.user(id).await?;
        Ok(user.disabled_at.is_none().then_some(user))
    }

    /// Changes the work address a user's sign-in links go to (an administrator's act, audited as
    /// `user.email_changed` without the addresses). Links already minted for the old address stop working.
    pub async fn change_user_email(
        &self,
        actor: &Actor,
        id: UserId,
        email: EmailAddress,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let txn = self.db.begin().await?;
        let changed = user::Entity::update_many()
            .col_expr(user::Column::Email, Expr::value(email.as_str()))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(|e| if StoreError::is_unique_violation(&e) { StoreError::Duplicate("email") } else { e.into() })?;
        if changed.rows_affected != 1 {
            return Err(StoreError::NotFound);
        }
        sign_in_link::Entity::delete_many()
            .filter(sign_in_link::Column::UserId.eq(id.0))
            .filter(sign_in_link::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        let detail = serde_json::json!({ "user": id.0 });
        Audit { actor, action: "user.email_changed", referral: None, offer: None, at: now }
            .write_detail(&txn, &detail)
            .await?;
        txn.commit().await?;
        self.principals.forget_user(id);
        self.user(id).await
    }
}
