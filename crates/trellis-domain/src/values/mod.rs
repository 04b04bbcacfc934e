//! Value types that parse, not validate: once constructed, a value is known good.
//!
//! Every parser returns a [`ValueError`] that names the field and carries the rejected input, so callers
//! can report exactly what was wrong.

mod contact;
mod date_of_birth;
pub(crate) mod needs;
mod nhs_number;
mod postcode;

pub use contact::{ContactMethod, EmailAddress, PhoneNumber};
pub use date_of_birth::DateOfBirth;
pub use needs::{Need, Urgency};
pub use nhs_number::NhsNumber;
pub use postcode::Postcode;

/// A value that did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason} (got {value:?})")]
pub struct ValueError {
    /// The field, as the API names it (`nhsNumber`, `postcode`, …).
    pub field: &'static str,
    /// The rejected input.
    pub value: String,
    /// Why it was rejected, for a person to read.
    pub reason: &'static str,
}

impl ValueError {
    /// A rejection of `value` for `field`.
    pub fn new(field: &'static str, value: impl Into<String>, reason: &'static str) -> Self {
        Self { field, value: value.into(), reason }
    }
}

/// A short, non-empty, trimmed piece of free text such as a name (at most `max` characters).
pub fn required_text(field: &'static str, value: &str, max: usize) -> Result<String, ValueError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ValueError::new(field, value, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(ValueError::new(field, truncate(value), "is too long"));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ValueError::new(field, truncate(value), "contains control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Optional free text: empty becomes `None`; otherwise as [`required_text`].
pub fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>, ValueError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
}

/// Keeps error messages small when someone sends a megabyte of text.
fn truncate(value: &str) -> String {
    value.chars().take(64).collect()
}
