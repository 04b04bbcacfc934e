//! Why the domain refused a command.

use crate::actor::Role;
use crate::values::ValueError;

/// A refusal, saying exactly why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The actor's role or organisation may not do this.
    #[error("{role:?} may not {action} here")]
    Forbidden {
        /// The acting role.
        role: Role,
        /// What it tried to do.
        action: &'static str,
    },
    /// The command does not apply in the current state.
    #[error("cannot {action} when {state}")]
    InvalidTransition {
        /// The current state.
        state: &'static str,
        /// What was tried.
        action: &'static str,
    },
    /// A value did not parse.
    #[error(transparent)]
    Invalid(#[from] ValueError),
}
