//! `offer_rollups`: the network view's offer statistics, kept as offers change instead of counted from
//! every offer of a period when the view is asked for.
//!
//! One row counts the offers made on one UTC day that share everything the network view tells apart:
//! the service (and its provider), the link worker service whose person it is (which names the
//! locality), where the offer came from (that link worker service, or, for an onward offer, the provider
//! of the offer it came from, `onward = 1`), its status, its decline
//! reason (`''` for none) and the whole hours from the offer to the provider's first answer
//! (`response_hours`, the floor of the hours; `-1` while there is none). The median time to respond is
//! taken from these whole-hour counts (a histogram per service), so it is a median of whole hours.
//!
//! Triggers on `offers` keep it, in the statement (and so the transaction) that writes the offer,
//! whatever writes it: an insert adds one to its row, an update that moves an offer to another row takes
//! one from the old row and adds one to the new, a delete takes one away. Rows are never deleted (a count
//! may fall to 0). Existing offers are counted here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OfferRollups {
    Table,
    Day,
    ServiceId,
    ToOrganisationId,
    FromOrganisationId,
    LinkWorkerServiceId,
    Onward,
    Status,
    DeclineReason,
    ResponseHours,
    Offers,
}

/// The columns that tell rows apart, in the primary key's order.
const KEY: &str =
    "day, service_id, from_organisation_id, link_worker_service_id, onward, status, decline_reason, response_hours";

/// The rollup key of offer `o` (`NEW`, `OLD`, or an alias in a query), then its provider: the values of
/// [`KEY`] and `to_organisation_id`. SQLite's timestamps are text; it counts hours from whole
/// milliseconds.
fn key(backend: DatabaseBackend, o: &str) -> [String; 9] {
    let (day, hours) = match backend {
        DatabaseBackend::Postgres => (
            format!("({o}.created_at AT TIME ZONE 'UTC')::date"),
            format!(
                "COALESCE(FLOOR(EXTRACT(EPOCH FROM ({o}.first_answered_at - {o}.created_at)) / 3600)::integer, -1)"
            ),
        ),
        _ => (
            format!("date({o}.created_at)"),
            format!(
                "COALESCE(CAST(ROUND((julianday({o}.first_answered_at) - julianday({o}.created_at)) * 86400000.0) \
                 AS INTEGER) / 3600000, -1)"
            ),
        ),
    };
    [
        day,
        format!("{o}.service_id"),
        format!(
            "CASE WHEN {o}.part_of_offer_id IS NULL THEN {o}.link_worker_service_id \
             ELSE (SELECT p.provider_organisation_id FROM offers p WHERE p.id = {o}.part_of_offer_id) END"
        ),
        format!("{o}.link_worker_service_id"),
        format!("CASE WHEN {o}.part_of_offer_id IS NULL THEN 0 ELSE 1 END"),
        format!("{o}.status"),
        format!("COALESCE({o}.decline_reason, '')"),
        hours,
        format!("{o}.provider_organisation_id"),
    ]
}

/// Adds `delta` to the row of offer `o`.
fn upsert(backend: DatabaseBackend, o: &str, delta: i32) -> String {
    format!(
        "INSERT INTO offer_rollups ({KEY}, to_organisation_id, offers) VALUES ({}, {delta}) \
         ON CONFLICT ({KEY}) DO UPDATE SET offers = offer_rollups.offers + excluded.offers",
        key(backend, o).join(", ")
    )
}

/// Every existing offer, counted.
fn backfill(backend: DatabaseBackend) -> String {
    let columns = KEY.split(", ").chain(["to_organisation_id"]);
    let select: Vec<String> = key(backend, "o").iter().zip(columns).map(|(e, c)| format!("{e} AS {c}")).collect();
    format!(
        "INSERT INTO offer_rollups ({KEY}, to_organisation_id, offers) \
         SELECT {KEY}, to_organisation_id, COUNT(*) FROM (SELECT {} FROM offers o) k \
         WHERE true GROUP BY {KEY}, to_organisation_id",
        select.join(", ")
    )
}

/// An update moves the offer only when one of these changed.
const MOVED: [&str; 8] = [
    "status",
    "decline_reason",
    "first_answered_at",
    "created_at",
    "service_id",
    "provider_organisation_id",
    "link_worker_service_id",
    "part_of_offer_id",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OfferRollups::Table)
                    .col(ColumnDef::new(OfferRollups::Day).date().not_null())
                    .col(ColumnDef::new(OfferRollups::ServiceId).uuid().not_null())
                    .col(ColumnDef::new(OfferRollups::ToOrganisationId).uuid().not_null())
                    .col(ColumnDef::new(OfferRollups::FromOrganisationId).uuid().not_null())
                    .col(ColumnDef::new(OfferRollups::LinkWorkerServiceId).uuid().not_null())
                    .col(ColumnDef::new(OfferRollups::Onward).integer().not_null())
                    .col(ColumnDef::new(OfferRollups::Status).string().not_null())
                    .col(ColumnDef::new(OfferRollups::DeclineReason).string().not_null())
                    .col(ColumnDef::new(OfferRollups::ResponseHours).integer().not_null())
                    .col(ColumnDef::new(OfferRollups::Offers).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(OfferRollups::Day)
                            .col(OfferRollups::ServiceId)
                            .col(OfferRollups::FromOrganisationId)
                            .col(OfferRollups::LinkWorkerServiceId)
                            .col(OfferRollups::Onward)
                            .col(OfferRollups::Status)
                            .col(OfferRollups::DeclineReason)
                            .col(OfferRollups::ResponseHours),
                    )
                    .to_owned(),
            )
            .await?;
        // A page of providers reads its providers' rows of the period; an area finds its providers from
        // its link worker services' rows of the period. Both are answered from the index alone.
        let mut by_provider = Index::create().name("ix_offer_rollups_provider_day").table(OfferRollups::Table).take();
        for c in ["to_organisation_id", "day", "service_id", "from_organisation_id", "onward", "status"] {
            by_provider.col(Alias::new(c));
        }
        for c in ["decline_reason", "response_hours", "offers"] {
            by_provider.col(Alias::new(c));
        }
        manager.create_index(by_provider).await?;
        let mut by_source = Index::create().name("ix_offer_rollups_source_day").table(OfferRollups::Table).take();
        for c in ["link_worker_service_id", "day", "to_organisation_id", "service_id"] {
            by_source.col(Alias::new(c));
        }
        manager.create_index(by_source).await?;

        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        db.execute_unprepared(&backfill(backend)).await?;
        let moved =
            |old: &str, new: &str, differ: &str| MOVED.map(|c| format!("{old}.{c} {differ} {new}.{c}")).join(" OR ");
        match backend {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION offer_rollups_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     IF TG_OP IN ('UPDATE', 'DELETE') THEN {}; END IF; \
                     IF TG_OP IN ('INSERT', 'UPDATE') THEN {}; END IF; \
                     RETURN NULL; END $$",
                    upsert(backend, "OLD", -1),
                    upsert(backend, "NEW", 1),
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER tr_offers_rollup_insert AFTER INSERT ON offers FOR EACH ROW \
                     EXECUTE FUNCTION offer_rollups_count()",
                )
                .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER tr_offers_rollup_update AFTER UPDATE ON offers FOR EACH ROW \
                     WHEN ({}) EXECUTE FUNCTION offer_rollups_count()",
                    moved("OLD", "NEW", "IS DISTINCT FROM")
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER tr_offers_rollup_delete AFTER DELETE ON offers FOR EACH ROW \
                     EXECUTE FUNCTION offer_rollups_count()",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER tr_offers_rollup_insert AFTER INSERT ON offers FOR EACH ROW BEGIN {}; END",
                    upsert(backend, "NEW", 1)
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER tr_offers_rollup_update AFTER UPDATE ON offers FOR EACH ROW WHEN {} \
                     BEGIN {}; {}; END",
                    moved("OLD", "NEW", "IS NOT"),
                    upsert(backend, "OLD", -1),
                    upsert(backend, "NEW", 1)
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER tr_offers_rollup_delete AFTER DELETE ON offers FOR EACH ROW BEGIN {}; END",
                    upsert(backend, "OLD", -1)
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                for t in ["insert", "update", "delete"] {
                    db.execute_unprepared(&format!("DROP TRIGGER tr_offers_rollup_{t} ON offers")).await?;
                }
                db.execute_unprepared("DROP FUNCTION offer_rollups_count()").await?;
            }
            _ => {
                for t in ["insert", "update", "delete"] {
                    db.execute_unprepared(&format!("DROP TRIGGER tr_offers_rollup_{t}")).await?;
                }
            }
        }
        manager.drop_table(Table::drop().table(OfferRollups::Table).to_owned()).await?;
        Ok(())
    }
}
