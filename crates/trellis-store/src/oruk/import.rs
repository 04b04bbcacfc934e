//! Importing ORUK pages: each record read, then written in its own transaction (its organisation
//! matched or added, its service created or updated), so a bad record is reported and the rest import.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait};
use serde::Serialize;
use serde_json::Value;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::{OrganisationId, ServiceId};
use uuid::Uuid;

use super::external_id::{LOCATION, ORGANISATION, SERVICE, lookup, remember};
use super::parse::{ParsedOrganisation, ParsedService, parse_record};
use super::wire_v1::*;
use crate::directory::{ServiceRow, insert_service_row, set_capacity, set_locations, set_taxonomy, update_service_row};
use crate::entity::{organisation, service};
use crate::{Store, StoreError};

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Services added.
    pub created: usize,
    /// Services already known (by their ORUK id) and updated.
    pub updated: usize,
    /// Records refused: (their id, or `#n` for the n-th record of a page without one; why).
    pub rejected: Vec<(String, String)>,
}

impl ImportReport {
    /// Adds another page's report to this one.
    pub fn merge(&mut self, other: ImportReport) {
        self.created += other.created;
        self.updated += other.updated;
        self.rejected.extend(other.rejected);
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} created, {} updated, {} rejected", self.created, self.updated, self.rejected.len())?;
        for (id, reason) in &self.rejected {
            write!(f, "\n  {id}: {reason}")?;
        }
        Ok(())
    }
}

/// The provider organisation a record belongs to: the one this ORUK id was imported as, else the one
/// with this id, else a provider of the same name, else a new provider. An organisation already in
/// Trellis is matched, not overwritten: only a missing email is filled in.
async fn resolve_organisation(
    conn: &impl ConnectionTrait,
    org: &ParsedOrganisation,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let provider = OrganisationKind::Provider.as_str();
    let known = match lookup(conn, ORGANISATION, &org.id).await? {
        Some(id) => Some(id),
        None => Uuid::parse_str(&org.id).ok(),
    };
    let matched = match known {
        Some(id) => organisation::Entity::find_by_id(id).one(conn).await?.filter(|row| row.kind == provider),
        None => None,
    };
    let matched = match matched {
        Some(row) => Some(row),
        None => {
            organisation::Entity::find()
                .filter(organisation::Column::Kind.eq(provider))
                .filter(
                    Expr::expr(Func::lower(Expr::col((organisation::Entity, organisation::Column::Name))))
                        .eq(org.name.to_lowercase()),
                )
                .order_by_asc(organisation::Column::Id)
                .one(conn)
                .await?
        }
    };
    if let Some(row) = matched {
        if row.email.is_none()
            && let Some(email) = &org.email
        {
            organisation::Entity::update_many()
                .col_expr(organisation::Column::Email, Expr::value(email.clone()))
                .filter(organisation::Column::Id.eq(row.id))
                .exec(conn)
                .await?;
        }
        remember(conn, ORGANISATION, &org.id, row.id, now).await?;
        return Ok(row.id);
    }
    let id = match known {
        Some(id) if organisation::Entity::find_by_id(id).one(conn).await?.is_none() => id,
        _ => OrganisationId::new_at(now).0,
    };
    organisation::Entity::insert(
        organisation::Model {
            id,
            kind: provider.into(),
            name: org.name.clone(),
            ods_code: None,
            email: org.email.clone(),
            link_worker_service_id: None,
            created_at: now,
            mesh_mailbox_id: None,
            gp_message_at_first_contact: false,
        }
        .into_active_model(),
    )
    .exec_without_returning(conn)
    .await?;
    remember(conn, ORGANISATION, &org.id, id, now).await?;
    Ok(id)
}

/// The label a rejected record is reported under.
fn record_label(value: &Value, index: usize) -> String {
    match value.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("#{}", index + 1),
    }
}

impl Store {
    /// Imports one page of an ORUK `/services` response: each service is created, or updated if this
    /// ORUK id was imported before; a record that cannot be read or stored is reported and skipped.
    /// Fails only when the database does.
    pub async fn import_oruk(&self, page: &Page<Value>, now: DateTime<Utc>) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        for (i, value) in page.content.iter().enumerate() {
            let label = record_label(value, i);
            let parsed = serde_json::from_value::<OrukService>(value.clone())
                .map_err(|e| format!("is not an Open Referral service: {e}"))
                .and_then(|s| parse_record(s, now));
            let parsed = match parsed {
                Ok(p) => p,
                Err(reason) => {
                    report.rejected.push((label, reason));
                    continue;
                }
            };
            match self.write_record(parsed, now).await {
                Ok(true) => report.created += 1,
                Ok(false) => report.updated += 1,
                Err(StoreError::Database(e)) if !StoreError::is_unique_violation(&e) => {
                    return Err(StoreError::Database(e));
                }
                Err(e) => report.rejected.push((label, format!("could not be stored: {e}"))),
            }
        }
        Ok(report)
    }

    /// Writes one record in its own transaction; `true` when the service is new.
    async fn write_record(&self, p: ParsedService, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let organisation = resolve_organisation(&txn, &p.organisation, now).await?;
        let known = match lookup(&txn, SERVICE, &p.id).await? {
            Some(id) => Some(id),
            None => Uuid::parse_str(&p.id).ok(),
        };
        let (id, exists) = match known {
            Some(id) => (id, service::Entity::find_by_id(id).one(&txn).await?.is_some()),
            None => (ServiceId::new_at(now).0, false),
        };
        let row = ServiceRow {
            organisation,
            name: p.name,
            description: p.description,
            email: p.email,
            url: p.url,
            status: p.status,
            min_age: p.min_age,
            max_age: p.max_age,
            eligibility: p.eligibility,
            schedule: p.schedule,
        };
        if exists {
            update_service_row(&txn, id, &row, None, now).await?;
        } else {
            insert_service_row(&txn, id, &row, now).await?;
        }
        remember(&txn, SERVICE, &p.id, id, now).await?;
        set_taxonomy(&txn, id, &p.terms).await?;
        let mut locations = Vec::with_capacity(p.locations.len());
        for (external, link, mut l) in p.locations {
            l.id = match lookup(&txn, LOCATION, &external).await? {
                Some(known) => known,
                None => Uuid::parse_str(&external).unwrap_or_else(|_| Uuid::now_v7()),
            };
            l.link_id = Uuid::parse_str(&link).ok();
            remember(&txn, LOCATION, &external, l.id, now).await?;
            locations.push(l);
        }
        set_locations(&txn, id, organisation, &locations).await?;
        set_capacity(&txn, id, p.capacity.as_ref()).await?;
        txn.commit().await?;
        Ok(!exists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_label_is_its_id_or_its_place_in_the_page() {
        assert_eq!(record_label(&serde_json::json!({ "id": "abc" }), 0), "abc");
        assert_eq!(record_label(&serde_json::json!({ "id": 7 }), 0), "7");
        assert_eq!(record_label(&serde_json::json!({ "name": "x" }), 2), "#3");
    }
}
