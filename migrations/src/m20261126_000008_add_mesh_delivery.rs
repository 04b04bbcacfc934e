//! An outbox row that carries the message back to a GP practice over MESH records MESH's id for the
//! message, and what MESH last said of its delivery (`accepted`, then `acknowledged` or `failed`).
//! Each column is added on its own: SQLite alters one column per statement.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    MeshMessageId,
    MeshStatus,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [EmailOutbox::MeshMessageId, EmailOutbox::MeshStatus] {
            manager
                .alter_table(Table::alter().table(EmailOutbox::Table).add_column(string_null(column)).take())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [EmailOutbox::MeshStatus, EmailOutbox::MeshMessageId] {
            manager.alter_table(Table::alter().table(EmailOutbox::Table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
