//! The PRSB "message back to GP": what it holds, the document a practice files, and its delivery as a GP
//! Connect Send Document over MESH.
//!
//! Pure builders and a transport, apart from the store: the store assembles a [`content::MessageBack`]
//! from a referral; this crate turns it into a PDF ([`pdf`]) and an ITK3 FHIR STU3 bundle ([`bundle`]), and
//! sends the bundle with [`mesh::MeshClient`].
//!
//! # Layout
//! - [`content`]: the message's content, the PRSB set and nothing beyond it.
//! - [`pdf`]: the plain document a practice files.
//! - [`bundle`]: the ITK3 message bundle carrying the FHIR STU3 document bundle, SNOMED CT coded.
//! - [`mesh`]: MESH API v2 (handshake, send, tracking) with its HMAC authorisation and mutual TLS.
//! - `sandbox` (feature `testing`): NHS England's MESH sandbox and client, for tests.

pub mod bundle;
pub mod content;
pub mod mesh;
pub mod pdf;
#[cfg(feature = "testing")]
pub mod sandbox;

/// The MESH workflow of GP Connect Send Document.
pub const WORKFLOW_ID: &str = "GPCONNECT_SEND_DOCUMENT";
