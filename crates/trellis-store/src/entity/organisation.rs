//! An organisation: GP practice, link worker service, community provider or locality.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub ods_code: Option<String>,
    pub email: Option<String>,
    pub link_worker_service_id: Option<Uuid>,
    pub mesh_mailbox_id: Option<String>,
    pub gp_message_at_first_contact: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
