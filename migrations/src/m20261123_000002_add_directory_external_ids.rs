//! The directory's links to other directories, and the indexes matching needs.
//!
//! `directory_external_ids` remembers which Open Referral UK id an imported organisation, service or
//! location had, so a re-import updates rather than duplicates. The indexes let `findServices` filter in
//! SQL (a latitude/longitude box, taxonomy terms, status) before it scores the few candidates left.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DirectoryExternalIds {
    Table,
    Kind,
    ExternalId,
    InternalId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Locations {
    Table,
}

#[derive(DeriveIden)]
enum Services {
    Table,
}

#[derive(DeriveIden)]
enum ServiceAtLocations {
    Table,
}

#[derive(DeriveIden)]
enum ServiceTaxonomies {
    Table,
}

/// (name, table, columns) of each index added.
fn indexes() -> [(&'static str, DynIden, &'static [&'static str]); 6] {
    [
        ("ix_directory_external_ids_internal", DirectoryExternalIds::Table.into_iden(), &["kind", "internal_id"]),
        ("ix_locations_latitude_longitude", Locations::Table.into_iden(), &["latitude", "longitude"]),
        ("ix_locations_postcode", Locations::Table.into_iden(), &["postcode"]),
        ("ix_service_at_locations_service", ServiceAtLocations::Table.into_iden(), &["service_id"]),
        ("ix_service_at_locations_location", ServiceAtLocations::Table.into_iden(), &["location_id"]),
        ("ix_service_taxonomies_term", ServiceTaxonomies::Table.into_iden(), &["taxonomy_term_id", "service_id"]),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirectoryExternalIds::Table)
                    .col(string(DirectoryExternalIds::Kind))
                    .col(string(DirectoryExternalIds::ExternalId))
                    .col(uuid(DirectoryExternalIds::InternalId))
                    .col(timestamp_with_time_zone(DirectoryExternalIds::CreatedAt))
                    .primary_key(Index::create().col(DirectoryExternalIds::Kind).col(DirectoryExternalIds::ExternalId))
                    .take(),
            )
            .await?;
        for (name, table, columns) in indexes() {
            let mut stmt = Index::create().name(name).table(table).take();
            for c in columns {
                stmt.col(Alias::new(*c));
            }
            manager.create_index(stmt).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_services_status_name")
                    .table(Services::Table)
                    .col(Alias::new("status"))
                    .col(Alias::new("name"))
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_services_status_name").table(Services::Table).to_owned()).await?;
        for (name, table, _) in indexes().into_iter().skip(1) {
            manager.drop_index(Index::drop().name(name).table(table).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(DirectoryExternalIds::Table).take()).await?;
        Ok(())
    }
}
