//! A link worker service can choose to tell the referring practice at first contact as well as at closure:
//! the message back to the GP saying the person has been contacted. Off unless the service turns it on.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    GpMessageAtFirstContact,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(boolean(Organisations::GpMessageAtFirstContact).default(false))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Organisations::Table).drop_column(Organisations::GpMessageAtFirstContact).take(),
            )
            .await
    }
}
