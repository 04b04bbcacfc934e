//! The end-to-end suite as one test binary (one link of the whole stack instead of one per file): the
//! real server on SQLite and PostgreSQL, real SMTP, real clients and a real browser.
//!
//! `logs.rs` stays a binary of its own: it installs a process-wide log subscriber and runs every journey
//! of `journeys.rs` under it (which is why that file takes `on_both_databases!` from `#[macro_use]`).

#[macro_use(on_both_databases)]
extern crate trellis_tests;

mod accounts;
mod api_errors;
mod authorization;
mod capacity_check;
mod closing;
mod console;
mod console_actions;
mod console_caseload;
mod console_directory;
mod console_referral_form;
mod console_sessions;
mod directory;
mod email_delivery;
mod explorer;
mod gp_message_delivery;
mod hostile_input;
mod journeys;
mod network;
mod oruk;
mod oruk_import;
mod provider_page;
mod query_count;
mod request_cost;
mod schema;
mod service_versions;
mod web_edge;
mod wellbeing;
