//! A listing is found by one bin of the id range it showed, not by a GIN entry for each person
//! (PostgreSQL).
//!
//! "Who saw this person's record" was answered through a GIN index over every listing's `referral_ids`:
//! fifty index entries for each caseload page, about 0.2 ms of PostgreSQL's CPU a page, more than the
//! page's own read (`docs/benchmarks.md`). A caseload page shows a contiguous stretch of its scope's
//! referrals in id order, so a listing is now indexed once, by its scope (`actor_organisation_id`: the
//! practice or link worker service whose referrals it listed) and `listed_bin`: the smallest aligned
//! power-of-two block of id places holding every id it showed (a referral id's place is its first 48
//! bits, a version 7 UUID's millisecond). A referral lies in exactly one block of each of the 49 sizes,
//! so the listings that may have shown it are found by 49 bins of each of its two organisations in one
//! B-tree, and `referral_ids @> …` keeps those that did. A listing's bin holds every id it showed
//! whatever their order; contiguity only keeps the bins, and so the entries checked, small.
//!
//! Listings written before are given their bin here, and the GIN index goes. `down` builds the GIN index
//! again (with migration `m20261126_000019`'s settings) and drops the bin. SQLite keeps its
//! `audit_log_referrals` index table; nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A referral id's place (its first 48 bits, a version 7 UUID's millisecond), and a listing's bin from
/// the lowest and highest ids it showed: the number of low bits in which their places differ (the
/// level) above the lowest place with those bits shifted off. Simple expressions, so PostgreSQL inlines
/// them. The store looks listings up by the same bins (`trellis-store`'s `audit::listing::bins_holding`).
const FUNCTIONS: [&str; 2] = [
    "CREATE FUNCTION audit_id_place(id uuid) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE \
     AS $$ SELECT ('x' || left(replace(id::text, '-', ''), 12))::bit(48)::bigint $$",
    "CREATE FUNCTION audit_listed_bin(lowest uuid, highest uuid) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE \
     AS $$ SELECT (length(ltrim(((audit_id_place(lowest) # audit_id_place(highest))::bit(48))::text, '0'))::bigint << 48) \
     | (audit_id_place(lowest) >> length(ltrim(((audit_id_place(lowest) # audit_id_place(highest))::bit(48))::text, '0'))) $$",
];

/// Every listing written before is given its bin.
const BACKFILL: &str = "UPDATE audit_log SET listed_bin = audit_listed_bin(\
    (SELECT r FROM unnest(referral_ids) AS r ORDER BY r LIMIT 1), \
    (SELECT r FROM unnest(referral_ids) AS r ORDER BY r DESC LIMIT 1)) \
    WHERE cardinality(referral_ids) > 0";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE audit_log ADD COLUMN listed_bin bigint").await?;
        for function in FUNCTIONS {
            db.execute_unprepared(function).await?;
        }
        db.execute_unprepared(BACKFILL).await?;
        db.execute_unprepared(
            "CREATE INDEX ix_audit_listed_bin ON audit_log (actor_organisation_id, listed_bin) \
             WHERE listed_bin IS NOT NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ix_audit_referral_ids").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX ix_audit_referral_ids ON audit_log USING GIN (referral_ids) \
             WITH (fastupdate = on, gin_pending_list_limit = 64)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ix_audit_listed_bin").await?;
        db.execute_unprepared("ALTER TABLE audit_log DROP COLUMN listed_bin").await?;
        db.execute_unprepared("DROP FUNCTION audit_listed_bin(uuid, uuid)").await?;
        db.execute_unprepared("DROP FUNCTION audit_id_place(uuid)").await?;
        Ok(())
    }
}
