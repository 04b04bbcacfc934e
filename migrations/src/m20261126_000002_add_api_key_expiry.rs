//! Keys that expire, and one counter that tells every server process a key or user was cut off.
//!
//! - `api_keys.expires_at`: a key is refused after it. Keys issued before this migration get a year from
//!   the day it runs (the default lifetime), so no key is left without an end. The column stays nullable
//!   for that reason only; the store refuses a key whose `expires_at` is `NULL` (fails closed).
//! - `auth_revocations`: one row whose `epoch` grows by one, in the same transaction, with every
//!   revocation of a key and every disabling of a user. Each server process trusts its cache of signed-in
//!   principals only while it has read this epoch within the last fraction of a second and seen it
//!   unchanged: a single-row primary-key read, where a `LISTEN` connection per process would be one more
//!   connection to keep alive and a missed notification would go unnoticed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuthRevocations {
    Table,
    Id,
    Epoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(ColumnDef::new(ApiKeys::ExpiresAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // The text form sqlx writes on SQLite (RFC 3339), so comparisons with bound values hold.
        let backfill = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                "UPDATE api_keys SET expires_at = CURRENT_TIMESTAMP + INTERVAL '365 days' WHERE expires_at IS NULL"
            }
            _ => {
                "UPDATE api_keys SET expires_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '+365 days') \
                 WHERE expires_at IS NULL"
            }
        };
        db.execute_unprepared(backfill).await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthRevocations::Table)
                    .col(integer(AuthRevocations::Id).primary_key())
                    .col(big_integer(AuthRevocations::Epoch))
                    .take(),
            )
            .await?;
        db.execute_unprepared("INSERT INTO auth_revocations (id, epoch) VALUES (1, 0)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuthRevocations::Table).take()).await?;
        manager.alter_table(Table::alter().table(ApiKeys::Table).drop_column(ApiKeys::ExpiresAt).to_owned()).await?;
        Ok(())
    }
}
