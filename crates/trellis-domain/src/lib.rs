//! The Trellis domain: who may do what to a social prescribing referral, and when.
//!
//! Everything here is pure: no I/O, no async runtime, no ORM, no web framework. Time and ids are passed
//! in by the caller, so every rule can be tested as a table and replayed from its events.
//!
//! # Layout
//! - [`access`]: who may read which referrals.
//! - [`calendar`]: working-day arithmetic for timers.
//! - [`directory`]: service and capacity states, which support meets which need, and matching.
//! - [`disclosure`]: small-number suppression for impact reports.
//! - [`organisation`]: kinds of organisation and the roles each may hold.
//! - [`actor`]: roles and the acting party (a user, a provider acting through an email link, the system).
//! - [`ids`]: typed identifiers over time-ordered UUIDs.
//! - [`values`]: parse-don't-validate value types (NHS number, postcode, email, phone, date of birth, needs).
//! - [`person`]: the person as one referral holds them, and when a submission's details differ.
//! - [`referral`]: the referral lifecycle referred → contacted → attending → closed.
//! - [`offer`]: the offer lifecycle, modelled on the FHIR R4 Task of the Gravity Project SDOH referral.
//! - [`report`]: impact reports: periods, filters, equity groups, and counts turned into protected tables.
//! - [`policy`]: the service levels (offer expiry and reminder, first contact, capacity staleness) as one value.
//! - [`plan`]: the co-produced personal plan (PRSB care and support plan) and who sees what of it.
//! - [`wellbeing`]: wellbeing instruments (ONS4, SWEMWBS) as versioned data, scoring, bands and change.
//! - [`error`]: why a command was refused.

pub mod access;
pub mod actor;
pub mod calendar;
pub mod directory;
pub mod disclosure;
pub mod error;
pub mod ids;
pub mod offer;
pub mod organisation;
pub mod person;
pub mod plan;
pub mod policy;
pub mod referral;
pub mod report;
pub mod values;
pub mod wellbeing;

pub use actor::{Actor, Role};
pub use error::DomainError;
pub use ids::{AuditEntryId, OfferId, OrganisationId, PersonId, ReferralId, ServiceId, UserId};
