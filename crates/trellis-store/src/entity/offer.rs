//! A referral handed to one provider's service.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "offers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub referral_id: Uuid,
    pub service_id: Uuid,
    pub provider_organisation_id: Uuid,
    pub link_worker_service_id: Uuid,
    pub part_of_offer_id: Option<Uuid>,
    pub status: String,
    pub decline_reason: Option<String>,
    pub note_for_provider: Option<String>,
    pub version: i64,
    pub expires_at: DateTimeUtc,
    pub remind_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
