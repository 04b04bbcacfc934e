//! Services get a version, so that a change made from a stale view is refused (`CONFLICT`) instead of
//! silently overwriting another one; and idempotency keys get an index on their age, so that the worker
//! can forget the expired ones cheaply.
//!
//! Every service starts at version 1. The version counts every change to the service, its capacity
//! included: a provider's absolute "places free" is only written against the version it was read at, and
//! an accepted offer taking a place bumps it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Services {
    Table,
    Version,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    CreatedAt,
}

const CREATED_INDEX: &str = "ix_idempotency_keys_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Services::Table)
                    .add_column(ColumnDef::new(Services::Version).big_integer().not_null().default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(CREATED_INDEX)
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(CREATED_INDEX).table(IdempotencyKeys::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Services::Table).drop_column(Services::Version).to_owned()).await
    }
}
