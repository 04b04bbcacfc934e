//! The person as one referral holds them: the demographics it was submitted with, one row per referral.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "referral_demographics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub referral_id: Uuid,
    pub nhs_number: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: Date,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub postcode: Option<String>,
    pub preferred_contact: String,
    pub recorded_at: DateTimeUtc,
    pub sex: Option<String>,
    pub ethnic_category: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
