//! A referral: one person's social prescribing episode.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "referrals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub referring_organisation_id: Uuid,
    pub referred_by_user_id: Option<Uuid>,
    pub link_worker_service_id: Uuid,
    pub assigned_to_user_id: Option<Uuid>,
    pub status: String,
    pub closure_reason: Option<String>,
    pub needs: String,
    pub reason: String,
    pub urgency: String,
    pub consent_to_share: bool,
    pub consent_recorded_by: String,
    pub consent_recorded_at: DateTimeUtc,
    pub version: i64,
    pub contact_due_at: DateTimeUtc,
    pub flag: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The person referred.
    #[sea_orm(belongs_to = "super::person::Entity", from = "Column::PersonId", to = "super::person::Column::Id")]
    Person,
    /// The person as this referral holds them.
    #[sea_orm(
        belongs_to = "super::referral_demographics::Entity",
        from = "Column::Id",
        to = "super::referral_demographics::Column::ReferralId"
    )]
    Demographics,
}

impl ActiveModelBehavior for ActiveModel {}
