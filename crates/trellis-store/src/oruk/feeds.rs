//! What Trellis remembers of each source between runs: a feed's validators (`ETag`, `Last-Modified`)
//! and, per record, the service it became, a hash of what it said and the last run that listed it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};
use trellis_domain::directory::ServiceStatus;
use uuid::Uuid;

use crate::directory::bump_service_version;
use crate::entity::service;
use crate::{Store, StoreError};

mod feed {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_feeds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        pub etag: Option<String>,
        pub last_modified: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub external_id: String,
        pub service_id: Uuid,
        pub content_hash: String,
        pub last_run_id: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a feed's first page said of its version last time it was read in full, sent back so an
/// unchanged feed answers 304.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedValidators {
    /// Its `ETag`, sent as `If-None-Match`.
    pub etag: Option<String>,
    /// Its `Last-Modified`, sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

impl Store {
    /// The validators stored for `source` (none before its first complete run).
    pub async fn feed_validators(&self, source: &str) -> Result<FeedValidators, StoreError> {
        let row = feed::Entity::find_by_id(source.to_owned()).one(&self.db).await?;
        Ok(row.map(|r| FeedValidators { etag: r.etag, last_modified: r.last_modified }).unwrap_or_default())
    }
}

pub(super) async fn save_validators(
    conn: &impl ConnectionTrait,
    source: &str,
    v: &FeedValidators,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = feed::Model {
        source: source.to_owned(),
        etag: v.etag.clone(),
        last_modified: v.last_modified.clone(),
        updated_at: now,
    };
    feed::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(feed::Column::Source)
                .update_columns([feed::Column::Etag, feed::Column::LastModified, feed::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The service `source` last made of `external`, and the hash of what it said then.
pub(super) async fn known_record(
    conn: &impl ConnectionTrait,
    source: &str,
    external: &str,
) -> Result<Option<(Uuid, String)>, StoreError> {
    let row = record::Entity::find_by_id((source.to_owned(), external.to_owned())).one(conn).await?;
    Ok(row.map(|r| (r.service_id, r.content_hash)))
}

/// Remembers that run `run` of `source` listed `external` as `service`, saying what `hash` sums up.
pub(super) async fn remember_record(
    conn: &impl ConnectionTrait,
    source: &str,
    external: &str,
    service: Uuid,
    hash: &str,
    run: Uuid,
) -> Result<(), StoreError> {
    let row = record::Model {
        source: source.to_owned(),
        external_id: external.to_owned(),
        service_id: service,
        content_hash: hash.to_owned(),
        last_run_id: run,
    };
    record::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([record::Column::Source, record::Column::ExternalId])
                .update_columns([record::Column::ServiceId, record::Column::ContentHash, record::Column::LastRunId])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Marks inactive every active service that `source` listed before but not in run `run` (a complete
/// read of the feed), and forgets their hashes so a return is written again. Returns their ids. The
/// services stay, with their offers and history.
pub(super) async fn deactivate_missing(
    conn: &impl ConnectionTrait,
    source: &str,
    run: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let missing: Vec<Uuid> = record::Entity::find()
        .filter(record::Column::Source.eq(source))
        .filter(record::Column::LastRunId.ne(run))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.service_id)
        .collect();
    let active = service::Entity::find()
        .filter(service::Column::Id.is_in(missing.clone()))
        .filter(service::Column::Status.eq(ServiceStatus::Active.as_str()))
        .all(conn)
        .await?;
    let mut deactivated = Vec::with_capacity(active.len());
    for s in active {
        bump_service_version(conn, s.id, None).await?;
        service::Entity::update_many()
            .col_expr(service::Column::Status, Expr::value(ServiceStatus::Inactive.as_str()))
            .col_expr(service::Column::UpdatedAt, Expr::value(now))
            .filter(service::Column::Id.eq(s.id))
            .exec(conn)
            .await?;
        deactivated.push(s.id);
    }
    record::Entity::update_many()
        .col_expr(record::Column::ContentHash, Expr::value(""))
        .filter(record::Column::Source.eq(source))
        .filter(record::Column::LastRunId.ne(run))
        .exec(conn)
        .await?;
    Ok(deactivated)
}
