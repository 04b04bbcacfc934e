//! Trellis notifier: drains the transactional email outbox that the store writes, and keeps the offer
//! timers running.
//!
//! A change that should tell someone writes an outbox row in its own transaction, holding ids only. The
//! [`Worker`] claims due rows (several workers may share a database: each row has one claimant at a
//! time), renders them from the store's notices, which carry no personal data, and sends them through a
//! [`Mailer`]. Every attempt of a row carries the row's stable `Message-ID`. A failure is retried with
//! exponential backoff and jitter; after `max_attempts` the row is dead and, in the same transaction,
//! its referral is flagged and the link worker is emailed.
//!
//! The message back to the GP goes through the same outbox (kind `gp_message`) but over MESH: built
//! from the committed referral when sent, delivered with [`Worker::with_mesh`]'s client, and tracked until
//! the practice acknowledges it. MESH refusing the credentials or the message is permanent: the row is
//! given up at once. Without MESH such rows are skipped as "not sent".
//!
//! An offer email's link is minted when the email is rendered, so the raw token exists only in the
//! email; the store keeps its hash. Tokens are never logged, except by the files transport, whose whole
//! purpose is the offline demo: it logs the provider's link, since there is no inbox to find it in.
//!
//! ```no_run
//! # async fn run(store: trellis_store::Store) -> Result<(), trellis_notifier::NotifierError> {
//! use trellis_notifier::{Mailer, MailerSettings, TransportSettings, Worker, WorkerSettings};
//!
//! let mailer = Mailer::from_settings(&MailerSettings {
//!     from: "Trellis <noreply@trellis.example>".into(),
//!     transport: TransportSettings::Files { dir: "mail".into() },
//! })?;
//! let settings = WorkerSettings::new("host-1:4242", "https://trellis.example");
//! Worker::new(store, mailer, settings).run_until(async { tokio::signal::ctrl_c().await.ok(); }).await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`worker`]: [`Worker`], its [`WorkerSettings`] and the [`TickReport`] of one pass; retry backoff.
//! - [`mailer`]: [`Mailer`] (SMTP through lettre, or `.eml` files), [`MailerSettings`], [`OutgoingEmail`].
//! - [`templates`]: one askama template pair (text and HTML) per [`JobKind`], under `templates/`.
//! - [`NotifierError`]: why composing or sending failed.
//!
//! [`JobKind`]: trellis_store::outbox::JobKind

mod error;
mod gp_delivery;
pub mod mailer;
pub mod templates;
pub mod worker;

pub use error::NotifierError;
pub use mailer::{
    Mailer, MailerSettings, OutgoingEmail, SmtpCredentials, SmtpSecurity, SmtpSettings, TransportSettings,
};
pub use worker::{TickReport, Worker, WorkerSettings};
