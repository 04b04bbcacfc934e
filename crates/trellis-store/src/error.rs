//! The store's one error type at its boundary.

use sea_orm::{DbErr, SqlErr};
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
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
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
