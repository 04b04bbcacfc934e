//! The notifier's one error type at its boundary.

use std::path::PathBuf;

use trellis_store::StoreError;
use trellis_store::outbox::EmailKind;

/// Why composing or sending an email failed, or why the mailer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// A setting has a value the notifier cannot use.
    #[error("invalid {setting}: {value:?} ({reason})")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An outbox row lacks the reference its kind of email needs: a bug or manual tampering.
    #[error("{kind:?} email {email} has no {what}")]
    MissingReference {
        /// The row's kind.
        kind: EmailKind,
        /// The row.
        email: uuid::Uuid,
        /// What is missing.
        what: &'static str,
    },
    /// A recipient or sender address does not parse.
    #[error("invalid email address {value:?}: {source}")]
    Address {
        /// The address.
        value: String,
        /// Why it does not parse.
        source: lettre::address::AddressError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template failed to render.
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// The message could not be built.
    #[error("message: {0}")]
    Message(#[from] lettre::error::Error),
    /// The SMTP server refused the message or could not be reached.
    #[error("smtp: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// The files transport could not write.
    #[error("cannot write {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
