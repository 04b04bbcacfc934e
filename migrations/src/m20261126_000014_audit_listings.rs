//! One audit entry per listing: a caseload page writes one `audit_log` row naming every referral it
//! showed, instead of one row (with its four index entries) per referral.
//!
//! `audit_log.referral_ids` holds the referrals a listing showed. On PostgreSQL it is a `uuid[]` with a
//! GIN index, so "who saw this person" is `referral_ids @> ARRAY[id]` through the index. The index is
//! built with `fastupdate = off`: with a pending list, entries wait unsorted until a page's insert (or
//! a vacuum) flushes megabytes of them at once, every "who saw" scans the list, and the planner, costing
//! that scan, chose a sequential scan of the log instead (measured); without it each listing adds its
//! entries to the tree as it is written. SQLite has no
//! arrays and cannot index inside a JSON value, so there the column is a JSON array of the ids (read
//! back with the entry) and a narrow `WITHOUT ROWID` table `audit_log_referrals (referral_id, audit_id)`,
//! written in the same transaction, is the index: one B-tree, clustered on the referral, so the
//! question is a range scan. Rows written before stay as they were (`referral_id` set, no list) and are
//! still found by referral.
//!
//! `down` keeps what a listing recorded: each listing's ids move into its `detail` as
//! `{"listed": [...]}` before the column and the table go.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE audit_log ADD COLUMN referral_ids uuid[]").await?;
                db.execute_unprepared(
                    "CREATE INDEX ix_audit_referral_ids ON audit_log USING GIN (referral_ids) WITH (fastupdate = off)",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared("ALTER TABLE audit_log ADD COLUMN referral_ids text").await?;
                db.execute_unprepared(
                    "CREATE TABLE audit_log_referrals (referral_id blob NOT NULL, audit_id blob NOT NULL, \
                     PRIMARY KEY (referral_id, audit_id)) WITHOUT ROWID",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "UPDATE audit_log SET detail = json_build_object('listed', referral_ids)::text \
                     WHERE referral_ids IS NOT NULL",
                )
                .await?;
                db.execute_unprepared("DROP INDEX ix_audit_referral_ids").await?;
            }
            _ => {
                db.execute_unprepared(
                    "UPDATE audit_log SET detail = json_object('listed', json(referral_ids)) \
                     WHERE referral_ids IS NOT NULL",
                )
                .await?;
                db.execute_unprepared("DROP TABLE audit_log_referrals").await?;
            }
        }
        db.execute_unprepared("ALTER TABLE audit_log DROP COLUMN referral_ids").await?;
        Ok(())
    }
}
