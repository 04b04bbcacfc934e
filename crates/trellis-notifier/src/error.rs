//! The notifier's one error type at its boundary.

use std::path::PathBuf;

use trellis_store::StoreError;

/// Why composing or sending an email (or a GP message) failed, or why the mailer could not be set up.
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
    /// A recipient or sender address does not parse.
    #[error("invalid email address {value:?}: {source}")]
    Address {
        /// The address.
        value: String,
        /// Why it does not parse.
        source: lettre::address::AddressError,
    },
    /// MESH refused or could not take the message back to the GP.
    #[error(transparent)]
    Mesh(#[from] trellis_gp_message::mesh::MeshError),
    /// A GP message row whose referral has no message to send (it is not closed): a bug or tampering.
    #[error("the referral has no message back to send")]
    NoGpMessage,
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

impl NotifierError {
    /// Whether trying again cannot help, so the row is given up at once: MESH refused the credentials or
    /// the message itself, or there is no message to send. Everything else (SMTP, the store, MESH being
    /// unreachable) is retried with backoff.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Mesh(e) => !e.is_temporary(),
            Self::NoGpMessage => true,
            _ => false,
        }
    }
}
