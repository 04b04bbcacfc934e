//! Limits on what a provider's offer link shows: `offer_link_reveals` holds the short-lived grants that
//! let the browser which accepted an offer see the person's contact details again for a few minutes.
//!
//! A grant is a random value in a cookie of that browser; only its SHA-256 is stored, with the link it
//! belongs to and when it lapses, so it cannot be reused for another link or offer. Grants live in the
//! database, not in a process's memory, so that every `trellis serve` in front of one database honours
//! them alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OfferLinkReveals {
    Table,
    Id,
    LinkId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OfferLinks {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OfferLinkReveals::Table)
                    .col(pk_uuid(OfferLinkReveals::Id))
                    .col(uuid(OfferLinkReveals::LinkId))
                    .col(string_uniq(OfferLinkReveals::TokenHash))
                    .col(timestamp_with_time_zone(OfferLinkReveals::ExpiresAt))
                    .col(timestamp_with_time_zone(OfferLinkReveals::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OfferLinkReveals::Table, OfferLinkReveals::LinkId)
                            .to(OfferLinks::Table, OfferLinks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_offer_link_reveals_link")
                    .table(OfferLinkReveals::Table)
                    .col(OfferLinkReveals::LinkId)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OfferLinkReveals::Table).take()).await
    }
}
