//! A referred person, one row per NHS number: what links a person's referrals (the duplicate check).
//! Its name and contact columns hold the first submission's details and are read by nothing: each
//! referral's own are in [`super::referral_demographics`].

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub nhs_number: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: Date,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub postcode: Option<String>,
    pub preferred_contact: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
