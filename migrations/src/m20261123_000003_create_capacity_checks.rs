//! The periodic capacity check: when each service is next asked to confirm its capacity, and the links
//! in those emails.
//!
//! `capacity_checks` holds one durable timer per service, apart from `services` so that the timer's
//! claims (a conditional `UPDATE` per row) never contend with edits to the directory. A service with no
//! row has never been scheduled; the worker schedules it on its next pass. `service_links` is to a
//! service what `offer_links` is to an offer: only the SHA-256 of the token is stored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CapacityChecks {
    Table,
    ServiceId,
    NextDueAt,
    LastQueuedAt,
}

#[derive(DeriveIden)]
enum ServiceLinks {
    Table,
    Id,
    ServiceId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Services {
    Table,
    Id,
}

fn fk_to_service(from: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(Services::Table, Services::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CapacityChecks::Table)
                    .col(pk_uuid(CapacityChecks::ServiceId))
                    .col(timestamp_with_time_zone(CapacityChecks::NextDueAt))
                    .col(timestamp_with_time_zone_null(CapacityChecks::LastQueuedAt))
                    .foreign_key(&mut fk_to_service((CapacityChecks::Table, CapacityChecks::ServiceId)))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_capacity_checks_next_due_at")
                    .table(CapacityChecks::Table)
                    .col(CapacityChecks::NextDueAt)
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceLinks::Table)
                    .col(pk_uuid(ServiceLinks::Id))
                    .col(uuid(ServiceLinks::ServiceId))
                    .col(string_uniq(ServiceLinks::TokenHash))
                    .col(timestamp_with_time_zone(ServiceLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ServiceLinks::UsedAt))
                    .col(timestamp_with_time_zone(ServiceLinks::CreatedAt))
                    .foreign_key(&mut fk_to_service((ServiceLinks::Table, ServiceLinks::ServiceId)))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_service_links_service")
                    .table(ServiceLinks::Table)
                    .col(ServiceLinks::ServiceId)
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ServiceLinks::Table).take()).await?;
        manager.drop_table(Table::drop().table(CapacityChecks::Table).take()).await?;
        Ok(())
    }
}
