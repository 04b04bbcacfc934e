//! The network view: the locality as one graph. Nodes are link worker services, providers and their
//! services, with live capacity, open offers, acceptance rate, decline reasons and median time to
//! respond; edges are referral flows (link worker service → provider) and onward flows (provider →
//! provider), weighted by the number of offers.
//!
//! Everything is aggregated in SQL (GROUP BY and window functions), so the cost grows with the number of
//! services and organisations, not with the number of offers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use crate::{Store, StoreError};

/// Which offers to count.
#[derive(Clone, Debug)]
pub struct NetworkFilter {
    /// Offers made from this instant (inclusive).
    pub from: DateTime<Utc>,
    /// Offers made before this instant.
    pub until: DateTime<Utc>,
    /// Only services carrying this taxonomy code.
    pub category: Option<String>,
}

/// Offer counts for one service (or summed for an organisation).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OfferStats {
    /// Offers made in the period.
    pub offered: i64,
    /// Still waiting for the provider (offered or waitlisted).
    pub open: i64,
    /// Accepted (including those since started or finished).
    pub accepted: i64,
    /// Declined.
    pub declined: i64,
    /// Expired unanswered.
    pub expired: i64,
    /// Decline reasons and their counts.
    pub decline_reasons: Vec<(String, i64)>,
    /// Median hours from offer to the provider's first answer.
    pub median_response_hours: Option<f64>,
}

impl OfferStats {
    /// Accepted among answered offers (accepted + declined + expired), if any were answered.
    pub fn acceptance_rate(&self) -> Option<f64> {
        let answered = self.accepted + self.declined + self.expired;
        (answered > 0).then(|| self.accepted as f64 / answered as f64)
    }
}

/// A service in the network.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceNode {
    /// The service.
    pub id: Uuid,
    /// Its provider.
    pub organisation: Uuid,
    /// Its name.
    pub name: String,
    /// Places free, places in all, status and when last updated.
    pub capacity: Option<(i32, i32, String, DateTime<Utc>)>,
    /// Its offers in the period.
    pub stats: OfferStats,
}

/// An organisation in the network.
#[derive(Clone, Debug, PartialEq)]
pub struct OrganisationNode {
    /// The organisation.
    pub id: Uuid,
    /// `link_worker_service` or `provider`.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// A flow of offers between two organisations.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Where offers came from (a link worker service, or a provider for onward offers).
    pub from: Uuid,
    /// The provider they went to.
    pub to: Uuid,
    /// `referral` or `onward`.
    pub kind: &'static str,
    /// How many.
    pub count: i64,
}

/// The locality as a graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkGraph {
    /// Link worker services and providers.
    pub organisations: Vec<OrganisationNode>,
    /// Services, with capacity and offer statistics.
    pub services: Vec<ServiceNode>,
    /// Offer flows between organisations.
    pub flows: Vec<Flow>,
}

fn uuid(row: &QueryResult, col: &str) -> Result<Uuid, StoreError> {
    Ok(row.try_get::<Uuid>("", col)?)
}

impl Store {
    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = if backend == DatabaseBackend::Postgres { numbered(sql) } else { sql.to_owned() };
        Ok(self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?)
    }

    /// The network graph for a period, optionally for one category of service.
    pub async fn network(&self, filter: &NetworkFilter) -> Result<NetworkGraph, StoreError> {
        let category_clause = if filter.category.is_some() {
            " AND s.id IN (SELECT st.service_id FROM service_taxonomies st JOIN taxonomy_terms t ON t.id = st.taxonomy_term_id WHERE t.code = ?)"
        } else {
            ""
        };
        let with_category = |mut v: Vec<Value>| {
            if let Some(c) = &filter.category {
                v.push(c.clone().into());
            }
            v
        };
        let period = || vec![Value::from(filter.from), Value::from(filter.until)];

        let services = self
            .rows(
                &format!(
                    "SELECT s.id AS id, s.organisation_id AS organisation_id, s.name AS name, \
                     c.available AS available, c.maximum AS maximum, c.status AS cap_status, c.updated_at AS cap_updated \
                     FROM services s LEFT JOIN service_capacities c ON c.service_id = s.id \
                     WHERE s.status = 'active'{category_clause} ORDER BY s.name"
                ),
                with_category(vec![]),
            )
            .await?;

        let counts = self
            .rows(
                &format!(
                    "SELECT o.service_id AS service_id, o.status AS status, o.decline_reason AS reason, COUNT(*) AS n \
                     FROM offers o JOIN services s ON s.id = o.service_id \
                     WHERE o.created_at >= ? AND o.created_at < ?{category_clause} \
                     GROUP BY o.service_id, o.status, o.decline_reason"
                ),
                with_category(period()),
            )
            .await?;

        let seconds = match self.db.get_database_backend() {
            DatabaseBackend::Postgres => "EXTRACT(EPOCH FROM (e.occurred_at - o.created_at))",
            _ => "(julianday(e.occurred_at) - julianday(o.created_at)) * 86400.0",
        };
        let medians = self
            .rows(
                &format!(
                    "WITH r AS (SELECT o.service_id AS service_id, {seconds} AS secs \
                       FROM offers o JOIN offer_events e ON e.offer_id = o.id AND e.version = 2 \
                       JOIN services s ON s.id = o.service_id \
                       WHERE e.to_status IN ('accepted', 'declined', 'waitlisted') \
                       AND o.created_at >= ? AND o.created_at < ?{category_clause}), \
                     ranked AS (SELECT service_id, secs, \
                       ROW_NUMBER() OVER (PARTITION BY service_id ORDER BY secs) AS rn, \
                       COUNT(*) OVER (PARTITION BY service_id) AS n FROM r) \
                     SELECT service_id, CAST(AVG(secs) AS DOUBLE PRECISION) AS median FROM ranked \
                     WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY service_id"
                ),
                with_category(period()),
            )
            .await?;

        let referral_flows = self
            .rows(
                &format!(
                    "SELECT o.link_worker_service_id AS source, o.provider_organisation_id AS target, COUNT(*) AS n \
                     FROM offers o JOIN services s ON s.id = o.service_id \
                     WHERE o.part_of_offer_id IS NULL AND o.created_at >= ? AND o.created_at < ?{category_clause} \
                     GROUP BY o.link_worker_service_id, o.provider_organisation_id"
                ),
                with_category(period()),
            )
            .await?;
        let onward_flows = self
            .rows(
                &format!(
                    "SELECT p.provider_organisation_id AS source, o.provider_organisation_id AS target, COUNT(*) AS n \
                     FROM offers o JOIN offers p ON p.id = o.part_of_offer_id JOIN services s ON s.id = o.service_id \
                     WHERE o.created_at >= ? AND o.created_at < ?{category_clause} \
                     GROUP BY p.provider_organisation_id, o.provider_organisation_id"
                ),
                with_category(period()),
            )
            .await?;

        let mut stats: HashMap<Uuid, OfferStats> = HashMap::new();
        for row in &counts {
            let entry = stats.entry(uuid(row, "service_id")?).or_default();
            let n: i64 = row.try_get("", "n")?;
            let status: String = row.try_get("", "status")?;
            entry.offered += n;
            match status.as_str() {
                "offered" | "waitlisted" => entry.open += n,
                "accepted" | "started" | "finished" | "ended_early" => entry.accepted += n,
                "declined" => {
                    entry.declined += n;
                    let reason: Option<String> = row.try_get("", "reason")?;
                    entry.decline_reasons.push((reason.unwrap_or_else(|| "other".into()), n));
                }
                "expired" => entry.expired += n,
                _ => {}
            }
        }
        for row in &medians {
            let median: Option<f64> = row.try_get("", "median")?;
            stats.entry(uuid(row, "service_id")?).or_default().median_response_hours = median.map(|s| s / 3600.0);
        }

        let mut service_nodes = Vec::with_capacity(services.len());
        for row in &services {
            let id = uuid(row, "id")?;
            let available: Option<i32> = row.try_get("", "available")?;
            let capacity = match available {
                Some(available) => Some((
                    available,
                    row.try_get::<i32>("", "maximum")?,
                    row.try_get::<String>("", "cap_status")?,
                    row.try_get::<DateTime<Utc>>("", "cap_updated")?,
                )),
                None => None,
            };
            service_nodes.push(ServiceNode {
                id,
                organisation: uuid(row, "organisation_id")?,
                name: row.try_get("", "name")?,
                capacity,
                stats: stats.remove(&id).unwrap_or_default(),
            });
        }

        let mut flows = Vec::new();
        for (rows, kind) in [(&referral_flows, "referral"), (&onward_flows, "onward")] {
            for row in rows {
                flows.push(Flow {
                    from: uuid(row, "source")?,
                    to: uuid(row, "target")?,
                    kind,
                    count: row.try_get("", "n")?,
                });
            }
        }

        let mut wanted: Vec<Uuid> = service_nodes.iter().map(|s| s.organisation).collect();
        wanted.extend(flows.iter().flat_map(|f| [f.from, f.to]));
        wanted.sort();
        wanted.dedup();
        let organisations = self
            .organisations()
            .await?
            .into_iter()
            .filter(|o| wanted.contains(&o.id.0))
            .map(|o| OrganisationNode { id: o.id.0, kind: o.kind.as_str().into(), name: o.name })
            .collect();
        Ok(NetworkGraph { organisations, services: service_nodes, flows })
    }
}

/// Rewrites `?` placeholders as PostgreSQL's `$1, $2, …`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}
