//! What the network graph (`Store::network`) reads, kept where one index scan finds it. Found by
//! `EXPLAIN ANALYZE` on the 1 M-referral benchmark database (`docs/benchmarks.md`).
//!
//! - `offers.first_answered_at`: when the provider first answered the offer — the `occurred_at` of its
//!   second event (`version = 2`) when that event accepts, declines or waitlists it; `NULL` otherwise.
//!   The median time to respond used to join every offer of the period to `offer_events` for this (most
//!   of the query's time). A trigger on `offer_events` sets it in the same statement that inserts the
//!   event, whatever writes the event, and events are never updated or deleted; existing rows are
//!   backfilled here.
//! - `ix_offers_period_network`: every network query reads the offers made in a period and only these
//!   columns of them, so the period's slice of this index answers them without touching the table (on
//!   PostgreSQL once the visibility map is set, as vacuum leaves it). It starts with `created_at`, so it
//!   serves everything `ix_offers_created` did, which it replaces.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Offers {
    Table,
    FirstAnsweredAt,
}

const PERIOD_COLUMNS: [&str; 9] = [
    "created_at",
    "service_id",
    "status",
    "decline_reason",
    "link_worker_service_id",
    "provider_organisation_id",
    "part_of_offer_id",
    "first_answered_at",
    "id",
];

/// The condition on the inserted event (`NEW`) under which it is the offer's first answer.
const FIRST_ANSWER: &str = "NEW.version = 2 AND NEW.to_status IN ('accepted', 'declined', 'waitlisted')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Offers::Table)
                    .add_column(ColumnDef::new(Offers::FirstAnsweredAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE offers SET first_answered_at = (SELECT e.occurred_at FROM offer_events e \
             WHERE e.offer_id = offers.id AND e.version = 2 AND e.to_status IN ('accepted', 'declined', 'waitlisted'))",
        )
        .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION offers_first_answered() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN UPDATE offers SET first_answered_at = NEW.occurred_at WHERE id = NEW.offer_id; \
                     RETURN NULL; END $$",
                )
                .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER tr_offer_events_first_answer AFTER INSERT ON offer_events FOR EACH ROW \
                     WHEN ({FIRST_ANSWER}) EXECUTE FUNCTION offers_first_answered()"
                ))
                .await?;
            }
            _ => {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER tr_offer_events_first_answer AFTER INSERT ON offer_events FOR EACH ROW \
                     WHEN {FIRST_ANSWER} BEGIN \
                     UPDATE offers SET first_answered_at = NEW.occurred_at WHERE id = NEW.offer_id; END"
                ))
                .await?;
            }
        }
        let mut period = Index::create().name("ix_offers_period_network").table(Alias::new("offers")).take();
        for c in PERIOD_COLUMNS {
            period.col(Alias::new(c));
        }
        manager.create_index(period).await?;
        manager.drop_index(Index::drop().name("ix_offers_created").table(Alias::new("offers")).to_owned()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_offers_created")
                    .table(Alias::new("offers"))
                    .col(Alias::new("created_at"))
                    .take(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name("ix_offers_period_network").table(Alias::new("offers")).to_owned())
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER tr_offer_events_first_answer ON offer_events").await?;
                db.execute_unprepared("DROP FUNCTION offers_first_answered()").await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER tr_offer_events_first_answer").await?;
            }
        }
        manager
            .alter_table(Table::alter().table(Offers::Table).drop_column(Offers::FirstAnsweredAt).to_owned())
            .await?;
        Ok(())
    }
}
