//! One entry in an offer's history.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "offer_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub offer_id: Uuid,
    pub version: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    pub decline_reason: Option<String>,
    pub actor_role: String,
    pub actor_organisation_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub note: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
