//! Server-side sessions for pages people sign in to in a browser (`/network` today; the staff web
//! console's email sign-in links tomorrow).
//!
//! The cookie holds a random session id; only its SHA-256 is stored (`id_hash`), as for API keys and
//! links, so a copy of the database cannot be used to sign in. A session belongs to a user, and to the
//! API key it was opened with when there was one (`api_key_id`, null for other ways of signing in): it
//! ends when either is disabled or revoked. `last_seen_at` drives the idle limit and `expires_at` is the
//! absolute one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebSessions {
    Table,
    Id,
    IdHash,
    UserId,
    ApiKeyId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebSessions::Table)
                    .col(pk_uuid(WebSessions::Id))
                    .col(string_uniq(WebSessions::IdHash))
                    .col(uuid(WebSessions::UserId))
                    .col(uuid_null(WebSessions::ApiKeyId))
                    .col(timestamp_with_time_zone(WebSessions::CreatedAt))
                    .col(timestamp_with_time_zone(WebSessions::LastSeenAt))
                    .col(timestamp_with_time_zone(WebSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebSessions::Table, WebSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebSessions::Table, WebSessions::ApiKeyId)
                            .to(ApiKeys::Table, ApiKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_web_sessions_user").table(WebSessions::Table).col(WebSessions::UserId).take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_web_sessions_expires_at")
                    .table(WebSessions::Table)
                    .col(WebSessions::ExpiresAt)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WebSessions::Table).take()).await
    }
}
