//! Small conversions between stored columns and domain values.

use trellis_domain::{Actor, OrganisationId, Role, UserId};
use uuid::Uuid;

use crate::StoreError;

/// Parses a stored enum name, treating a failure as corrupt data.
pub(crate) fn stored<T, E>(column: &'static str, parsed: Result<T, E>) -> Result<T, StoreError> {
    parsed.map_err(unreadable(column))
}

/// Turns a stored value that no longer parses into [`StoreError::Corrupt`] naming `column` only: the
/// parser's own error carries the value (a `ValueError` shows the bad input), and a stored value may be
/// a person's name, NHS number or phone number, which must never reach a log.
pub(crate) fn unreadable<E>(column: &'static str) -> impl FnOnce(E) -> StoreError {
    move |_| StoreError::Corrupt(column)
}

/// A stored version number as the domain's `u32`.
pub(crate) fn version(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt("version"))
}

/// Rebuilds the actor recorded on an event or audit row.
pub(crate) fn actor(role: &str, organisation: Option<Uuid>, user: Option<Uuid>) -> Result<Actor, StoreError> {
    let role = Role::parse(role).ok_or_else(|| StoreError::Corrupt("actor_role"))?;
    Ok(Actor { role, organisation: organisation.map(OrganisationId), user: user.map(UserId) })
}
