//! Trellis persistence: sea-orm over SQLite (the embedded default) and PostgreSQL (production).
//!
//! The store speaks domain types. Every change is one transaction that re-checks the domain rules on the
//! current row, writes the row with optimistic concurrency (`UPDATE … WHERE id = ? AND version = ?`),
//! appends the event, the audit entry and any outbox email, and commits; a lost race is
//! [`StoreError::Conflict`], never a silent overwrite.
//!
//! # Layout
//! - [`Store`]: connecting, migrating, readiness, and the service levels ([`Store::policy`]).
//! - [`ids`]: the typed ids of the store's own records (API keys, sessions, links, outbox rows).
//! - [`accounts`]: organisations, users, API keys and authentication.
//! - [`principals`]: the cache of signed-in principals, and how revocations reach every process.
//! - [`referrals`]: submitting (idempotently), reading, listing and transitioning referrals.
//! - [`offers`]: making and transitioning offers, and the provider's view of them.
//! - [`directory`]: services, locations, taxonomy and capacity; managing them and matching people to them.
//! - [`directory_list`]: the directory a page at a time for those who manage it.
//! - [`oruk`]: the directory as Open Referral UK: import (idempotent, record by record) and export.
//! - [`network`]: the locality as a graph of organisations, services and offer flows.
//! - [`reports`]: the counts behind impact reports, aggregated in SQL.
//! - [`audit`]: the audit log: one entry per read or change of a record, one per listing (a page).
//! - [`links`]: provider links from offer emails.
//! - [`timers`]: reminders and expiry of unanswered offers.
//! - [`sessions`]: server-side browser sessions (`/network`, the coming staff console).
//! - [`capacity_checks`]: the periodic capacity-check email, its timer, and the capacity link.
//! - [`gp_messages`]: the message back to the referring practice, assembled from a closed referral.
//! - [`gp_delivery`]: the message back through the outbox: queued at closure, sent over MESH, tracked.
//! - [`outbox`]: the transactional email outbox that the notifier drains.
//! - [`wellbeing`]: the personal plan and wellbeing measures of a referral.
//! - [`testing`] (feature `testing`): a fresh database per test, on SQLite or PostgreSQL.

pub mod accounts;
pub mod audit;
pub mod capacity_checks;
mod contention;
mod convert;
pub mod directory;
pub mod directory_list;
mod entity;
mod error;
pub mod gp_delivery;
pub mod gp_messages;
pub mod ids;
mod known;
pub mod links;
pub mod network;
pub mod notices;
pub mod offers;
pub mod oruk;
pub mod outbox;
pub mod principals;
pub mod referrals;
pub mod reports;
mod rows;
pub mod sessions;
pub mod sign_in;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timers;
pub mod tokens;
pub mod wellbeing;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};
use trellis_domain::policy::Policy;
use trellis_migration::{Migrator, MigratorTrait};

pub use error::StoreError;
pub use principals::{EPOCH_CHECK_EVERY, LAST_USED_RESOLUTION, PRINCIPAL_TTL};
pub use rows::uuid_array;

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    /// `sqlite://trellis.db?mode=rwc` or `postgres://user@host/db`.
    pub url: String,
    /// Pool size for PostgreSQL. SQLite always uses one connection: it has one writer anyway, and a
    /// single connection makes every transaction serialisable without busy errors.
    pub max_connections: u32,
}

/// The database behind Trellis.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    principals: Arc<principals::PrincipalCache>,
    known: Arc<known::KnownOrganisations>,
    audits: Arc<audit::GroupCommit>,
    /// The service levels deadlines and staleness are derived from.
    policy: Policy,
    /// Every statement this store's pool runs, while a test asks for them (feature `testing`).
    #[cfg(feature = "testing")]
    statements: Arc<testing::StatementLog>,
}

impl Store {
    /// Connects; an SQLite file is created if it does not exist.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let mut options = ConnectOptions::new(settings.url.clone());
        let sqlite = settings.url.starts_with("sqlite:");
        options
            .max_connections(if sqlite { 1 } else { settings.max_connections.max(1) })
            .min_connections(if sqlite { 1 } else { 0 })
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings a connection on every release, and by default on every acquire too: a round
            // trip per statement. Pinging on acquire only after a second idle still catches connections
            // a database restart left dead, without the extra trip when the pool is busy.
            .test_before_acquire_if_idle_for(Duration::from_secs(1))
            .sqlx_logging(false);
        #[cfg_attr(not(feature = "testing"), allow(unused_mut))]
        let mut db = Database::connect(options).await?;
        // Installed before the connection is cloned anywhere: each clone keeps the callback it was made with.
        #[cfg(feature = "testing")]
        let statements = testing::StatementLog::install(&mut db);
        if sqlite {
            db.execute_unprepared("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;").await?;
        }
        Ok(Store {
            db,
            principals: Default::default(),
            known: Default::default(),
            audits: Default::default(),
            policy: Policy::default(),
            #[cfg(feature = "testing")]
            statements,
        })
    }

    /// This store with the deployment's service levels instead of the defaults.
    pub fn with_policy(mut self, policy: Policy) -> Store {
        self.policy = policy;
        self
    }

    /// The service levels this store's deadlines and staleness follow.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// The underlying connection, for migrations and tools.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The log of the statements this store runs, for tests that count what an operation costs.
    #[cfg(feature = "testing")]
    pub fn statements(&self) -> &testing::StatementLog {
        &self.statements
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await?;
        Ok(())
    }
}
