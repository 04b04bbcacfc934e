//! Indexes found missing by the load benchmark (`crates/trellis-bench`, `docs/benchmarks.md`).
//!
//! Referral lists are keyset-paginated newest first (`ORDER BY id DESC`, `id < cursor`) within one link
//! worker service or one referring practice; the first migration's indexes on those columns end in
//! `status, updated_at` or `created_at`, so neither serves that order and a page meant a scan of the
//! whole scope and a sort. The network graph aggregates the offers made in a period (`created_at`),
//! which had no index at all.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns) of each index added.
const INDEXES: [(&str, &str, &[&str]); 3] = [
    ("ix_referrals_service_id", "referrals", &["link_worker_service_id", "id"]),
    ("ix_referrals_referrer_id", "referrals", &["referring_organisation_id", "id"]),
    ("ix_offers_created", "offers", &["created_at"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut stmt = Index::create().name(name).table(Alias::new(table)).take();
            for c in columns {
                stmt.col(Alias::new(*c));
            }
            manager.create_index(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES.into_iter().rev() {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
