//! Open Referral UK import runs and the feeds kept in sync.
//!
//! - `import_runs`: one row per run (a file, a URL, a feed sync): when, from where, how it ended, the
//!   counts, and the warnings and rejections with their reasons (directory data only, never a person's).
//! - `import_feeds`: per feed, the `ETag` and `Last-Modified` of its first page, sent back as
//!   `If-None-Match` / `If-Modified-Since` so an unchanged feed costs one 304.
//! - `import_records`: which services a source last listed, with a hash of what it said, so an unchanged
//!   record is not rewritten and a service gone from a complete feed can be marked inactive.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ImportRuns {
    Table,
    Id,
    Source,
    StartedAt,
    FinishedAt,
    Outcome,
    Pages,
    Created,
    Updated,
    Unchanged,
    Warned,
    Rejected,
    Deactivated,
    Notes,
    Error,
}

#[derive(DeriveIden)]
enum ImportFeeds {
    Table,
    Source,
    Etag,
    LastModified,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ImportRecords {
    Table,
    Source,
    ExternalId,
    ServiceId,
    ContentHash,
    LastRunId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImportRuns::Table)
                    .col(pk_uuid(ImportRuns::Id))
                    .col(text(ImportRuns::Source))
                    .col(timestamp_with_time_zone(ImportRuns::StartedAt))
                    .col(timestamp_with_time_zone(ImportRuns::FinishedAt))
                    .col(string(ImportRuns::Outcome))
                    .col(integer(ImportRuns::Pages))
                    .col(integer(ImportRuns::Created))
                    .col(integer(ImportRuns::Updated))
                    .col(integer(ImportRuns::Unchanged))
                    .col(integer(ImportRuns::Warned))
                    .col(integer(ImportRuns::Rejected))
                    .col(integer(ImportRuns::Deactivated))
                    .col(text(ImportRuns::Notes))
                    .col(text_null(ImportRuns::Error))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_import_runs_started_at")
                    .table(ImportRuns::Table)
                    .col(ImportRuns::StartedAt)
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportFeeds::Table)
                    .col(text(ImportFeeds::Source).primary_key())
                    .col(text_null(ImportFeeds::Etag))
                    .col(text_null(ImportFeeds::LastModified))
                    .col(timestamp_with_time_zone(ImportFeeds::UpdatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportRecords::Table)
                    .col(text(ImportRecords::Source))
                    .col(string(ImportRecords::ExternalId))
                    .col(uuid(ImportRecords::ServiceId))
                    .col(string(ImportRecords::ContentHash))
                    .col(uuid(ImportRecords::LastRunId))
                    .primary_key(Index::create().col(ImportRecords::Source).col(ImportRecords::ExternalId))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_import_records_service")
                    .table(ImportRecords::Table)
                    .col(ImportRecords::ServiceId)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ImportRecords::Table).take()).await?;
        manager.drop_table(Table::drop().table(ImportFeeds::Table).take()).await?;
        manager.drop_table(Table::drop().table(ImportRuns::Table).take()).await
    }
}
