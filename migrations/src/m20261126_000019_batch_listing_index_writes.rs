//! The GIN index of listed referrals (`ix_audit_referral_ids`, PostgreSQL only) takes its entries in
//! small batches: `fastupdate = on` with a 64 kB pending list.
//!
//! Built with `fastupdate = off`, each caseload page added its 50 entries to the index tree itself, and
//! the pages of one caseload, which list the same people, all wrote into the same posting trees: as
//! costly as the page's own read (`docs/benchmarks.md`: 2 800 listings a second on their own from 16
//! connections). With a pending list a listing appends its entries, and whoever fills the list merges
//! it, sorted, into the tree (5 200 a second). The list is kept small (64 kB, about 40 listings, against
//! the 4 MB default): every "who saw" scans it, and with megabytes pending PostgreSQL once chose to scan
//! the whole log instead. SQLite has no such index; nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER INDEX ix_audit_referral_ids SET (fastupdate = on, gin_pending_list_limit = 64)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            // Entries still pending go into the tree before the index stops reading its list.
            db.execute_unprepared("SELECT gin_clean_pending_list('ix_audit_referral_ids'::regclass)").await?;
            db.execute_unprepared("ALTER INDEX ix_audit_referral_ids SET (fastupdate = off)").await?;
            db.execute_unprepared("ALTER INDEX ix_audit_referral_ids RESET (gin_pending_list_limit)").await?;
        }
        Ok(())
    }
}
