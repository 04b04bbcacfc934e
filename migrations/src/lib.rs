//! Trellis database migrations, run on SQLite (the embedded default) and PostgreSQL.
//!
//! Each migration lives in its own file named `mYYYYMMDD_HHMMSS_<verb>_<noun>.rs`, uses its own identifiers
//! rather than entity types, and is never edited once it has run anywhere.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_core;
mod m20261123_000002_add_directory_external_ids;
mod m20261123_000003_create_capacity_checks;
mod m20261123_000004_add_keyset_and_period_indexes;
mod m20261123_150000_add_network_indexes;
mod m20261126_000001_snapshot_referral_demographics;
mod m20261126_000002_add_api_key_expiry;
mod m20261126_000003_create_web_sessions;
mod m20261126_000004_add_service_versions;
mod m20261126_000005_add_link_limits;
mod m20261126_000006_create_plans_and_measures;
mod m20261126_000007_add_mesh_mailboxes;
mod m20261126_000008_add_mesh_delivery;
mod m20261126_000010_create_sign_in_links;
mod m20261126_000011_add_notes_for_gp;
mod m20261126_000012_add_gp_message_at_first_contact;
mod m20261126_000013_add_unique_outbox_message_ids;
mod m20261126_000014_audit_listings;
mod m20261126_000015_add_person_equity_fields;
mod m20261126_000016_create_offer_rollups;
mod m20261126_000017_create_import_runs;
mod m20261126_000018_create_report_rollups;
mod m20261126_000019_batch_listing_index_writes;
mod m20261126_000020_defer_rollup_triggers;
mod m20261127_000021_bin_listings;
pub mod report_rollups;

/// Every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_core::Migration),
            Box::new(m20261123_000002_add_directory_external_ids::Migration),
            Box::new(m20261123_000003_create_capacity_checks::Migration),
            Box::new(m20261123_000004_add_keyset_and_period_indexes::Migration),
            Box::new(m20261123_150000_add_network_indexes::Migration),
            Box::new(m20261126_000001_snapshot_referral_demographics::Migration),
            Box::new(m20261126_000002_add_api_key_expiry::Migration),
            Box::new(m20261126_000003_create_web_sessions::Migration),
            Box::new(m20261126_000004_add_service_versions::Migration),
            Box::new(m20261126_000005_add_link_limits::Migration),
            Box::new(m20261126_000006_create_plans_and_measures::Migration),
            Box::new(m20261126_000007_add_mesh_mailboxes::Migration),
            Box::new(m20261126_000008_add_mesh_delivery::Migration),
            Box::new(m20261126_000010_create_sign_in_links::Migration),
            Box::new(m20261126_000011_add_notes_for_gp::Migration),
            Box::new(m20261126_000012_add_gp_message_at_first_contact::Migration),
            Box::new(m20261126_000013_add_unique_outbox_message_ids::Migration),
            Box::new(m20261126_000014_audit_listings::Migration),
            Box::new(m20261126_000015_add_person_equity_fields::Migration),
            Box::new(m20261126_000016_create_offer_rollups::Migration),
            Box::new(m20261126_000017_create_import_runs::Migration),
            Box::new(m20261126_000018_create_report_rollups::Migration),
            Box::new(m20261126_000019_batch_listing_index_writes::Migration),
            Box::new(m20261126_000020_defer_rollup_triggers::Migration),
            Box::new(m20261127_000021_bin_listings::Migration),
        ]
    }
}
