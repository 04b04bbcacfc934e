//! Facts that cannot change once true, remembered so that hot paths skip a lookup.
//!
//! An organisation's kind is fixed when it is created and organisations are never deleted (every
//! referral, user and offer refers to one), so an organisation once seen to be a link worker service
//! stays one for the life of the database.

use std::collections::HashSet;
use std::sync::Mutex;

use sea_orm::EntityTrait;
use trellis_domain::OrganisationId;
use trellis_domain::organisation::OrganisationKind;
use uuid::Uuid;

use crate::entity::organisation;
use crate::{Store, StoreError};

/// Organisations seen to be link worker services.
#[derive(Debug, Default)]
pub(crate) struct KnownOrganisations {
    link_worker_services: Mutex<HashSet<Uuid>>,
}

impl Store {
    /// Whether `id` is a link worker service: asked of the database until the answer is yes.
    pub(crate) async fn is_link_worker_service(&self, id: OrganisationId) -> Result<bool, StoreError> {
        if self.known.link_worker_services.lock().is_ok_and(|known| known.contains(&id.0)) {
            return Ok(true);
        }
        let row = organisation::Entity::find_by_id(id.0).one(&self.db).await?;
        let is_service = row.is_some_and(|o| o.kind == OrganisationKind::LinkWorkerService.as_str());
        if is_service && let Ok(mut known) = self.known.link_worker_services.lock() {
            known.insert(id.0);
        }
        Ok(is_service)
    }
}
