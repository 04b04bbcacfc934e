//! Which Trellis row an ORUK id stands for (`directory_external_ids`), so importing again updates
//! rather than duplicates.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

use crate::StoreError;

/// Which row an ORUK id stands for.
mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_external_ids")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub external_id: String,
        pub internal_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(super) const ORGANISATION: &str = "organization";
pub(super) const SERVICE: &str = "service";
pub(super) const LOCATION: &str = "location";

pub(super) async fn lookup(
    conn: &impl ConnectionTrait,
    kind: &str,
    external: &str,
) -> Result<Option<Uuid>, StoreError> {
    Ok(entity::Entity::find_by_id((kind.to_owned(), external.to_owned())).one(conn).await?.map(|m| m.internal_id))
}

pub(super) async fn remember(
    conn: &impl ConnectionTrait,
    kind: &str,
    external: &str,
    internal: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if external.is_empty() {
        return Ok(());
    }
    match lookup(conn, kind, external).await? {
        Some(known) if known == internal => {}
        Some(_) => {
            entity::Entity::update_many()
                .col_expr(entity::Column::InternalId, Expr::value(internal))
                .filter(entity::Column::Kind.eq(kind))
                .filter(entity::Column::ExternalId.eq(external))
                .exec(conn)
                .await?;
        }
        None => {
            entity::Entity::insert(
                entity::Model {
                    kind: kind.to_owned(),
                    external_id: external.to_owned(),
                    internal_id: internal,
                    created_at: now,
                }
                .into_active_model(),
            )
            .exec_without_returning(conn)
            .await?;
        }
    }
    Ok(())
}
