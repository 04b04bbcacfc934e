//! Importing ORUK pages: each record read, then written in its own transaction (its organisation
//! matched or added, its service created, updated or left alone when unchanged), so a bad record is
//! reported and the rest import.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::Value;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::{OrganisationId, ServiceId};
use uuid::Uuid;

use super::external_id::{LOCATION, ORGANISATION, SERVICE, lookup, remember};
use super::feeds::{known_record, remember_record};
use super::parse::{ParsedOrganisation, ParsedService, read_record};
use super::report::ImportRejection;
use super::runs::ImportRun;
use crate::directory::{
    Capacity, ServiceRow, insert_service_row, set_capacity, set_locations, set_taxonomy, update_service_row,
};
use crate::entity::{organisation, service};
use crate::{Store, StoreError};

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

/// What writing a record did.
enum Written {
    Created,
    Updated,
    Unchanged,
}

/// A hash of what a record said, to tell an unchanged record from a changed one.
fn content_hash(p: &ParsedService) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("{p:?}").as_bytes()))
}

impl Store {
    /// Imports one page of ORUK records into `run`: each service created, updated if this ORUK id was
    /// imported before, or left alone if its record says what it said last time from this source. Each
    /// record is written in its own transaction, whole or not at all; a record that cannot be read or
    /// stored is counted as rejected with why, and one with bad parts is imported without them, with a
    /// warning for each. Fails only when the database does.
    pub async fn import_oruk_page(
        &self,
        run: &mut ImportRun,
        records: &[Value],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        run.pages += 1;
        for value in records {
            let index = run.records;
            run.records += 1;
            let (parsed, warnings) = match read_record(value, index) {
                Ok(read) => read,
                Err(rejection) => {
                    run.report.reject(rejection);
                    continue;
                }
            };
            let record = parsed.id.clone();
            match self.write_record(&run.source, run.id, parsed, now).await {
                Ok(Written::Created) => run.report.created += 1,
                Ok(Written::Updated) => run.report.updated += 1,
                Ok(Written::Unchanged) => run.report.unchanged += 1,
                Err(StoreError::Database(e)) if !StoreError::is_unique_violation(&e) => {
                    return Err(StoreError::Database(e));
                }
                Err(e) => {
                    run.report.reject(ImportRejection { record, reason: format!("could not be stored: {e}") });
                    continue;
                }
            }
            run.report.warn(warnings);
        }
        Ok(())
    }

    /// Writes one record in its own transaction.
    async fn write_record(
        &self,
        source: &str,
        run: Uuid,
        p: ParsedService,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let hash = content_hash(&p);
        let txn = self.db.begin().await?;
        if let Some((service_id, last_hash)) = known_record(&txn, source, &p.id).await?
            && last_hash == hash
            && service::Entity::find_by_id(service_id).one(&txn).await?.is_some()
        {
            remember_record(&txn, source, &p.id, service_id, &hash, run).await?;
            txn.commit().await?;
            return Ok(Written::Unchanged);
        }
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
        remember_record(&txn, source, &p.id, id, &hash, run).await?;
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
        let capacity = p.capacity.map(|c| Capacity {
            available: c.available,
            maximum: c.maximum,
            unit: c.unit,
            status: c.status,
            updated_at: c.updated.unwrap_or(now),
        });
        set_capacity(&txn, id, capacity.as_ref()).await?;
        txn.commit().await?;
        Ok(if exists { Written::Updated } else { Written::Created })
    }
}
