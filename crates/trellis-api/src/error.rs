//! GraphQL errors with a stable `extensions.code`, so clients can act on them without parsing text.
//! Internal causes are logged here and never sent to the client.

use async_graphql::ErrorExtensions;
use trellis_domain::DomainError;
use trellis_domain::values::ValueError;
use trellis_store::StoreError;

/// Why a request was refused, as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid bearer token.
    #[error("sign in with a bearer token")]
    Unauthenticated,
    /// The caller's role or organisation may not do this.
    #[error("you may not {0}")]
    Forbidden(String),
    /// No such thing, or not the caller's to see.
    #[error("not found")]
    NotFound,
    /// An input did not parse.
    #[error("{0}")]
    Validation(ValueError),
    /// Someone else changed it first.
    #[error("this was changed by someone else (you had version {expected}, it is now {current}); reload and try again")]
    Conflict {
        /// The caller's version.
        expected: u32,
        /// The stored version.
        current: u32,
    },
    /// Another change to the same records was being saved at the same moment: nothing was saved.
    #[error("another change to the same records was being saved at the same moment; nothing was saved, try again")]
    Contended,
    /// Not possible in the current state.
    #[error("cannot {action} when {state}")]
    InvalidTransition {
        /// The current state.
        state: String,
        /// What was tried.
        action: String,
    },
    /// An idempotency key was reused with a different request.
    #[error("this idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// Something went wrong on our side; the cause is in the logs.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::Validation(_) => "VALIDATION",
            ApiError::Conflict { .. } | ApiError::Contended => "CONFLICT",
            ApiError::InvalidTransition { .. } => "INVALID_TRANSITION",
            ApiError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ApiError::Internal => "INTERNAL",
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            match self {
                ApiError::Validation(v) => {
                    e.set("field", v.field);
                    e.set("reason", v.reason);
                }
                ApiError::Conflict { expected, current } => {
                    e.set("expectedVersion", *expected);
                    e.set("currentVersion", *current);
                }
                _ => {}
            }
        })
    }
}

impl From<ValueError> for ApiError {
    fn from(e: ValueError) -> Self {
        ApiError::Validation(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Forbidden { action, .. } => ApiError::Forbidden(action.into()),
            DomainError::InvalidTransition { state, action } => {
                ApiError::InvalidTransition { state: state.into(), action: action.into() }
            }
            DomainError::Invalid(v) => ApiError::Validation(v),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict { expected, current } => ApiError::Conflict { expected, current },
            StoreError::Contended => ApiError::Contended,
            StoreError::Domain(d) => d.into(),
            StoreError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            StoreError::Duplicate(field) => ApiError::Validation(ValueError::new(field, "", "is already taken")),
            StoreError::UnknownReference(field) => ApiError::Validation(ValueError::new(field, "", "does not exist")),
            StoreError::Corrupt(_) | StoreError::Database(_) => {
                tracing::error!(error = %e, "store failure");
                ApiError::Internal
            }
        }
    }
}

/// The result type of resolvers.
pub type ApiResult<T> = Result<T, async_graphql::Error>;

/// Converts a store result into a resolver result with a typed error.
pub trait OrApiError<T> {
    /// Maps the error.
    fn api(self) -> ApiResult<T>;
}

impl<T, E: Into<ApiError>> OrApiError<T> for Result<T, E> {
    fn api(self) -> ApiResult<T> {
        self.map_err(|e| e.into().extend())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_the_database_stopped_for_another_is_a_conflict_without_versions_that_says_to_try_again() {
        let error = ApiError::from(StoreError::Contended);
        assert_eq!(error.code(), "CONFLICT");
        assert!(error.to_string().contains("nothing was saved, try again"), "{error}");
        let extended = error.extend();
        let extensions = extended.extensions.expect("extensions");
        assert!(extensions.get("expectedVersion").is_none() && extensions.get("currentVersion").is_none());
    }
}
