//! sea-orm entities, one per table. They stay inside the store: callers get domain and record types.

pub mod api_key;
pub mod audit_log;
pub mod capacity_check;
pub mod email_outbox;
pub mod idempotency_key;
pub mod location;
pub mod missing_follow_up;
pub mod offer;
pub mod offer_event;
pub mod offer_link;
pub mod offer_link_reveal;
pub mod organisation;
pub mod person;
pub mod referral;
pub mod referral_demographics;
pub mod referral_event;
pub mod referral_plan;
pub mod service;
pub mod service_at_location;
pub mod service_capacity;
pub mod service_link;
pub mod service_taxonomy;
pub mod taxonomy_term;
pub mod user;
pub mod web_session;
pub mod wellbeing_measure;
