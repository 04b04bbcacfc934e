//! Server-side sessions for pages people use in a browser: `/network` today, the staff web console
//! (signed in from an emailed link) next. The same rules for both:
//!
//! - The browser holds only a random session id (256 bits, [`SESSION_PREFIX`]); the database holds its
//!   SHA-256, so neither a copy of the table nor a log line can be turned back into a session.
//! - A session belongs to a user, and to the API key it was opened with if there was one. It ends when
//!   it has been idle for [`SessionPolicy::idle`], when [`SessionPolicy::absolute`] has passed since it
//!   began, when it is closed (sign-out), as soon as its user is disabled, and as soon as its key is
//!   revoked. All of that is checked by the one query that looks a session up ([`Store::session`]), on
//!   every request: there is no cache to lag behind a revocation.
//! - Being seen is written at most once a minute per session ([`TOUCH_EVERY`]), so the idle limit is
//!   kept to within a minute without a write per request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter};
use trellis_domain::{Actor, UserId};
use uuid::Uuid;

use crate::accounts::{Organisation, User};
use crate::entity::{api_key, organisation, user, web_session};
use crate::ids::{ApiKeyId, SessionId};
use crate::tokens::{hash_secret, new_secret};
use crate::{Store, StoreError};

/// Prefix of every session id, so one found in a log or a bug report is recognisable.
pub const SESSION_PREFIX: &str = "trs_";

/// `last_seen_at` is written when it is older than this.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// How long sessions last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session not used for this long has ended.
    pub idle: Duration,
    /// A session has ended this long after it began, however busy.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 10 hours in all: a working day, signed in again after lunch.
    fn default() -> Self {
        SessionPolicy { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(10 * 3600) }
    }
}

/// A session as stored (never its id).
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Its row id (not the secret the browser holds), for the audit log and for closing it.
    pub id: SessionId,
    /// Whose it is.
    pub user: UserId,
    /// The API key it was opened with, if any: revoking the key ends the session.
    pub api_key: Option<ApiKeyId>,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to within [`TOUCH_EVERY`]).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
}

/// A session just opened: the secret for the cookie, shown once and never stored.
#[derive(Clone)]
pub struct OpenedSession {
    /// The session.
    pub session: Session,
    /// The value for the browser's cookie.
    pub secret: String,
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession").field("session", &self.session).field("secret", &"[redacted]").finish()
    }
}

/// Who is signed in through a live session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionPrincipal {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
    /// The user's organisation.
    pub organisation: Organisation,
}

impl SessionPrincipal {
    /// The domain actor.
    pub fn actor(&self) -> Actor {
        Actor::user(self.user.id, self.user.role, self.organisation.id)
    }
}

fn session_from(m: &web_session::Model) -> Session {
    Session {
        id: SessionId(m.id),
        user: UserId(m.user_id),
        api_key: m.api_key_id.map(ApiKeyId),
        created_at: m.created_at,
        last_seen_at: m.last_seen_at,
        expires_at: m.expires_at,
    }
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Store {
    /// Opens a session for `user`, signed in with `api_key` if it was a key. Sessions that have ended
    /// are swept away on the way.
    pub async fn open_session(
        &self,
        user: UserId,
        api_key: Option<ApiKeyId>,
        policy: SessionPolicy,
        now: DateTime<Utc>,
    ) -> Result<OpenedSession, StoreError> {
        self.purge_ended_sessions(policy, now).await?;
        let (secret, id_hash) = new_secret(SESSION_PREFIX);
        let model = web_session::Model {
            id: Uuid::now_v7(),
            id_hash,
            user_id: user.0,
            api_key_id: api_key.map(|k| k.0),
            created_at: now,
            last_seen_at: now,
            expires_at: now + chrono(policy.absolute),
        };
        web_session::Entity::insert(model.clone().into_active_model()).exec_without_returning(&self.db).await?;
        Ok(OpenedSession { session: session_from(&model), secret })
    }

    /// Who is signed in with the session `secret`, if it is live: not idle too long, not past its end,
    /// its user enabled and its key (if any) neither revoked nor expired. One query; a live session's `last_seen_at` is
    /// moved on when it is older than [`TOUCH_EVERY`].
    pub async fn session(
        &self,
        secret: &str,
        policy: SessionPolicy,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionPrincipal>, StoreError> {
        if !secret.starts_with(SESSION_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let live_key = Condition::any().add(web_session::Column::ApiKeyId.is_null()).add(
            web_session::Column::ApiKeyId.in_subquery(
                Query::select()
                    .column(api_key::Column::Id)
                    .from(api_key::Entity)
                    .and_where(api_key::Column::RevokedAt.is_null())
                    .cond_where(
                        Condition::any()
                            .add(api_key::Column::ExpiresAt.is_null())
                            .add(api_key::Column::ExpiresAt.gt(now)),
                    )
                    .to_owned(),
            ),
        );
        let found = web_session::Entity::find()
            .find_also_related(user::Entity)
            .and_also_related(organisation::Entity)
            .filter(web_session::Column::IdHash.eq(hash_secret(secret)))
            .filter(web_session::Column::ExpiresAt.gt(now))
            .filter(web_session::Column::LastSeenAt.gt(now - chrono(policy.idle)))
            .filter(live_key)
            .one(&self.db)
            .await?;
        let Some((row, Some(user_row), Some(organisation_row))) = found else {
            return Ok(None);
        };
        if user_row.disabled_at.is_some() {
            return Ok(None);
        }
        if row.last_seen_at < now - chrono(TOUCH_EVERY) {
            web_session::Entity::update_many()
                .col_expr(web_session::Column::LastSeenAt, Expr::value(now))
                .filter(web_session::Column::Id.eq(row.id))
                .exec(&self.db)
                .await?;
        }
        let mut session = session_from(&row);
        session.last_seen_at = session.last_seen_at.max(now);
        Ok(Some(SessionPrincipal {
            session,
            user: User::try_from(user_row)?,
            organisation: Organisation::try_from(organisation_row)?,
        }))
    }

    /// Closes the session `secret` (sign-out). Whether there was one.
    pub async fn close_session(&self, secret: &str) -> Result<bool, StoreError> {
        let deleted = web_session::Entity::delete_many()
            .filter(web_session::Column::IdHash.eq(hash_secret(secret)))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    /// Closes every session of `user` (sign out everywhere; offboarding). How many there were.
    pub async fn close_sessions_of(&self, user: UserId) -> Result<u64, StoreError> {
        let deleted =
            web_session::Entity::delete_many().filter(web_session::Column::UserId.eq(user.0)).exec(&self.db).await?;
        Ok(deleted.rows_affected)
    }

    /// Deletes sessions that have ended by time. How many.
    pub async fn purge_ended_sessions(&self, policy: SessionPolicy, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = web_session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(web_session::Column::ExpiresAt.lte(now))
                    .add(web_session::Column::LastSeenAt.lte(now - chrono(policy.idle))),
            )
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }
}
