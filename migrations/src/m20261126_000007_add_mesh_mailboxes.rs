//! Each organisation can have a MESH mailbox id: where GP Connect Send Document messages for it (the message
//! back to a GP practice) are delivered.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    MeshMailboxId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Organisations::Table).add_column(string_null(Organisations::MeshMailboxId)).take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Organisations::Table).drop_column(Organisations::MeshMailboxId).take())
            .await
    }
}
