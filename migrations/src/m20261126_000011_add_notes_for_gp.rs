//! A referral event's note can be marked for the referring GP practice: only a marked note goes into the
//! message back to the GP. Every note written before this was for the record only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReferralEvents {
    Table,
    NoteForGp,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ReferralEvents::Table)
                    .add_column(boolean(ReferralEvents::NoteForGp).default(false))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(ReferralEvents::Table).drop_column(ReferralEvents::NoteForGp).take())
            .await
    }
}
