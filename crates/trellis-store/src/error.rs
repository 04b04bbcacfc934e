//! The store's one error type at its boundary.

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use trellis_domain::DomainError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// There is no such thing, or the caller may not know that there is.
    #[error("not found")]
    NotFound,
    /// Someone else changed it first: the expected version is stale.
    #[error("conflict: expected version {expected}, current version {current}")]
    Conflict {
        /// The version the caller acted on.
        expected: u32,
        /// The version now stored.
        current: u32,
    },
    /// The domain refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// An idempotency key was reused with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    /// A unique value is already taken (an email, an ODS code).
    #[error("{0} is already taken")]
    Duplicate(&'static str),
    /// A reference to another record does not resolve (an organisation, a service).
    #[error("{0} does not exist")]
    UnknownReference(&'static str),
    /// Stored data no longer parses: a bug or manual tampering. It names the column, never the value
    /// (which may be personal data, and errors are logged).
    #[error("corrupt stored data in {0}")]
    Corrupt(&'static str),
    /// Another transaction was saving a change to the same rows at the same moment and the database
    /// stopped this one to let it finish (a deadlock, or a serialization failure): nothing of this one
    /// was saved, and trying again will most likely work.
    #[error("another change to the same records was being saved at the same moment")]
    Contended,
    /// The database failed.
    #[error("database error: {0}")]
    Database(DbErr),
}

/// PostgreSQL's codes for a transaction stopped because of another one: `serialization_failure` and
/// `deadlock_detected` (class 40, "transaction rollback").
const CONTENTION: [&str; 2] = ["40001", "40P01"];

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if sqlstate(&e).is_some_and(|code| CONTENTION.contains(&code.as_str())) {
            StoreError::Contended
        } else {
            StoreError::Database(e)
        }
    }
}

/// The SQLSTATE the database answered with, if `e` is the database's own refusal.
fn sqlstate(e: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = e
    else {
        return None;
    };
    Some(e.as_database_error()?.code()?.into_owned())
}

impl StoreError {
    /// Whether a database error is a unique-key violation.
    pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
        matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
    }
}

impl From<trellis_domain::values::ValueError> for StoreError {
    fn from(e: trellis_domain::values::ValueError) -> Self {
        StoreError::Domain(DomainError::Invalid(e))
    }
}
