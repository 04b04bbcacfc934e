//! Each outbox row's message id is unique. An email's is made from the row's own id; a message back to
//! the GP's is derived from its referral, occasion and version, so two link workers correcting the same
//! message at once would otherwise queue two different documents under one id (and one MESH local id):
//! with the index, the second correction is refused as a conflict.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    MessageId,
}

const INDEX: &str = "ux_outbox_message_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name(INDEX).table(EmailOutbox::Table).col(EmailOutbox::MessageId).unique().take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(EmailOutbox::Table).to_owned()).await
    }
}
