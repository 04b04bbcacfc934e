//! One entry in a referral's append-only history.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "referral_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub referral_id: Uuid,
    pub version: i64,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_role: String,
    pub actor_organisation_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub note: Option<String>,
    pub note_for_gp: bool,
    pub data: String,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
