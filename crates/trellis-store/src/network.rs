//! The network view: the locality as one graph. Nodes are link worker services, providers and their
//! services, with live capacity, open offers, acceptance rate, decline reasons and median time to
//! respond; edges are referral flows (link worker service → provider) and onward flows (provider →
//! provider), weighted by the number of offers.
//!
//! Everything is aggregated in SQL (GROUP BY and window functions), so what comes back grows with the
//! number of services and organisations, not with the number of offers; the database still reads every
//! offer of the period, from a covering index. The offer statistics ([`NetworkStatistics`]) are apart
//! from the services and their live capacity, so that a caller may reuse them for a while.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, Value};
use trellis_domain::directory::CapacityStatus;
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::{OrganisationId, ServiceId};

use crate::convert::stored;
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
    pub decline_reasons: Vec<DeclineCount>,
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

/// How many of a service's offers were declined for one reason.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclineCount {
    /// The reason (`Other` for a declined offer that gave none).
    pub reason: DeclineReason,
    /// How many offers.
    pub count: i64,
}

/// A service's live capacity as the graph draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCapacity {
    /// Places free.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// Whether it takes people now.
    pub status: CapacityStatus,
    /// When the provider last said so.
    pub updated_at: DateTime<Utc>,
}

/// A service in the network.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceNode {
    /// The service.
    pub id: ServiceId,
    /// Its provider.
    pub organisation: OrganisationId,
    /// Its name.
    pub name: String,
    /// Its capacity, if it has said.
    pub capacity: Option<NodeCapacity>,
    /// Its offers in the period.
    pub stats: OfferStats,
}

/// An organisation in the network.
#[derive(Clone, Debug, PartialEq)]
pub struct OrganisationNode {
    /// The organisation.
    pub id: OrganisationId,
    /// A link worker service or a provider.
    pub kind: OrganisationKind,
    /// Its name.
    pub name: String,
}

/// What a flow of offers is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    /// From a link worker service to a provider.
    Referral,
    /// From one provider to another (an onward offer).
    Onward,
}

impl FlowKind {
    /// Its name in the API and on the page (`referral`, `onward`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Referral => "referral",
            FlowKind::Onward => "onward",
        }
    }
}

/// A flow of offers between two organisations.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Where offers came from (a link worker service, or a provider for onward offers).
    pub from: OrganisationId,
    /// The provider they went to.
    pub to: OrganisationId,
    /// Referral or onward.
    pub kind: FlowKind,
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

/// What a graph counts about offers for a period: each service's statistics and the flows. Unlike the
/// services' capacity, which a graph always reads live, these can be computed once and reused for a
/// while ([`NetworkGraph::assemble`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkStatistics {
    /// Offers made from this instant (inclusive).
    pub from: DateTime<Utc>,
    /// Offers made before this instant.
    pub until: DateTime<Utc>,
    /// When they were computed.
    pub computed_at: DateTime<Utc>,
    /// Offer statistics by service id (services with no offers in the period are absent).
    pub services: HashMap<ServiceId, OfferStats>,
    /// Offer flows between organisations.
    pub flows: Vec<Flow>,
}

impl NetworkGraph {
    /// The graph of `services` (live capacity, no statistics yet) with `statistics` and those of
    /// `organisations` that have a service or a flow in it.
    pub fn assemble(
        mut services: Vec<ServiceNode>,
        organisations: Vec<crate::accounts::Organisation>,
        statistics: &NetworkStatistics,
    ) -> NetworkGraph {
        for service in &mut services {
            if let Some(stats) = statistics.services.get(&service.id) {
                service.stats = stats.clone();
            }
        }
        let flows = statistics.flows.clone();
        let mut wanted: HashSet<OrganisationId> = services.iter().map(|s| s.organisation).collect();
        wanted.extend(flows.iter().flat_map(|f| [f.from, f.to]));
        let organisations = organisations
            .into_iter()
            .filter(|o| wanted.contains(&o.id))
            .map(|o| OrganisationNode { id: o.id, kind: o.kind, name: o.name })
            .collect();
        NetworkGraph { organisations, services, flows }
    }
}

/// Services of a category: `AND <column> IN (…)` and its parameter, or nothing.
fn in_category(column: &str, category: Option<&str>) -> (String, Vec<Value>) {
    match category {
        Some(code) => (
            format!(
                " AND {column} IN (SELECT st.service_id FROM service_taxonomies st \
                 JOIN taxonomy_terms t ON t.id = st.taxonomy_term_id WHERE t.code = ?)"
            ),
            vec![code.into()],
        ),
        None => (String::new(), vec![]),
    }
}

impl Store {
    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = if backend == DatabaseBackend::Postgres { numbered(sql) } else { sql.to_owned() };
        Ok(self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?)
    }

    /// The network graph for a period, optionally for one category of service, all of it read now.
    pub async fn network(&self, filter: &NetworkFilter) -> Result<NetworkGraph, StoreError> {
        let category = filter.category.as_deref();
        let (services, organisations, statistics) = tokio::join!(
            self.network_services(category),
            self.organisations(),
            self.network_statistics(filter, Utc::now()),
        );
        Ok(NetworkGraph::assemble(services?, organisations?, &statistics?))
    }

    /// The active services (of a category), by name, with their live capacity and no statistics.
    pub async fn network_services(&self, category: Option<&str>) -> Result<Vec<ServiceNode>, StoreError> {
        let (clause, values) = in_category("s.id", category);
        let sql = format!(
            "SELECT s.id, s.organisation_id, s.name, c.available, c.maximum, c.status, c.updated_at \
             FROM services s LEFT JOIN service_capacities c ON c.service_id = s.id \
             WHERE s.status = 'active'{clause} ORDER BY s.name"
        );
        let rows = self.rows(&sql, values).await?;
        rows.iter()
            .map(|row| {
                let available: Option<i32> = row.try_get_by_index(3)?;
                let capacity = match available {
                    Some(available) => {
                        let status: String = row.try_get_by_index(5)?;
                        Some(NodeCapacity {
                            available,
                            maximum: row.try_get_by_index(4)?,
                            status: stored("service_capacities.status", CapacityStatus::parse(&status))?,
                            updated_at: row.try_get_by_index(6)?,
                        })
                    }
                    None => None,
                };
                Ok(ServiceNode {
                    id: ServiceId(row.try_get_by_index(0)?),
                    organisation: OrganisationId(row.try_get_by_index(1)?),
                    name: row.try_get_by_index(2)?,
                    capacity,
                    stats: OfferStats::default(),
                })
            })
            .collect()
    }

    /// Each service's offer statistics and the flows between organisations, for offers made in the
    /// period, as of `now`.
    ///
    /// Four independent aggregate queries, run concurrently (each on its own pooled connection; on SQLite
    /// they queue for its one). They read only the period's slice of the covering index
    /// `ix_offers_period_network` (with each offer's `first_answered_at`, kept by a trigger, instead of a
    /// join to its events) and never join `services` unless a category is asked for (every offer's
    /// service exists: `offers.service_id` is a foreign key).
    pub async fn network_statistics(
        &self,
        filter: &NetworkFilter,
        now: DateTime<Utc>,
    ) -> Result<NetworkStatistics, StoreError> {
        let (offer_clause, category) = in_category("o.service_id", filter.category.as_deref());
        let period = || {
            let mut values = vec![Value::from(filter.from), Value::from(filter.until)];
            values.extend(category.iter().cloned());
            values
        };
        let counts_sql = format!(
            "SELECT o.service_id, o.status, o.decline_reason, COUNT(*) FROM offers o \
             WHERE o.created_at >= ? AND o.created_at < ?{offer_clause} \
             GROUP BY o.service_id, o.status, o.decline_reason"
        );
        // The median of each service's seconds from offer to first answer: the middle one, or the mean of
        // the middle two. PostgreSQL takes them with ordered-set aggregates (the lower middle ascending,
        // the upper descending; the same one when the count is odd); SQLite, which has none, numbers the
        // rows. Each takes the mean of the two as before.
        let medians_sql = match self.db.get_database_backend() {
            DatabaseBackend::Postgres => format!(
                "SELECT service_id, CAST((lo + hi) / 2 AS DOUBLE PRECISION) FROM ( \
                   SELECT o.service_id AS service_id, \
                   EXTRACT(EPOCH FROM percentile_disc(0.5) WITHIN GROUP \
                     (ORDER BY o.first_answered_at - o.created_at)) AS lo, \
                   EXTRACT(EPOCH FROM percentile_disc(0.5) WITHIN GROUP \
                     (ORDER BY o.first_answered_at - o.created_at DESC)) AS hi \
                   FROM offers o \
                   WHERE o.first_answered_at IS NOT NULL AND o.created_at >= ? AND o.created_at < ?{offer_clause} \
                   GROUP BY o.service_id) m"
            ),
            _ => format!(
                "WITH r AS (SELECT o.service_id AS service_id, \
                   (julianday(o.first_answered_at) - julianday(o.created_at)) * 86400.0 AS secs \
                   FROM offers o \
                   WHERE o.first_answered_at IS NOT NULL AND o.created_at >= ? AND o.created_at < ?{offer_clause}), \
                 ranked AS (SELECT service_id, secs, \
                   ROW_NUMBER() OVER (PARTITION BY service_id ORDER BY secs) AS rn, \
                   COUNT(*) OVER (PARTITION BY service_id) AS n FROM r) \
                 SELECT service_id, CAST(AVG(secs) AS DOUBLE PRECISION) FROM ranked \
                 WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY service_id"
            ),
        };
        let referral_flows_sql = format!(
            "SELECT o.link_worker_service_id, o.provider_organisation_id, COUNT(*) FROM offers o \
             WHERE o.part_of_offer_id IS NULL AND o.created_at >= ? AND o.created_at < ?{offer_clause} \
             GROUP BY o.link_worker_service_id, o.provider_organisation_id"
        );
        let onward_flows_sql = format!(
            "SELECT p.provider_organisation_id, o.provider_organisation_id, COUNT(*) \
             FROM offers o JOIN offers p ON p.id = o.part_of_offer_id \
             WHERE o.part_of_offer_id IS NOT NULL AND o.created_at >= ? AND o.created_at < ?{offer_clause} \
             GROUP BY p.provider_organisation_id, o.provider_organisation_id"
        );
        let [counts, medians, referral_flows, onward_flows] = all([
            Box::pin(self.rows(&counts_sql, period())),
            Box::pin(self.rows(&medians_sql, period())),
            Box::pin(self.rows(&referral_flows_sql, period())),
            Box::pin(self.rows(&onward_flows_sql, period())),
        ])
        .await?;

        let mut stats: HashMap<ServiceId, OfferStats> = HashMap::new();
        for row in &counts {
            let entry = stats.entry(ServiceId(row.try_get_by_index(0)?)).or_default();
            let status: String = row.try_get_by_index(1)?;
            let n: i64 = row.try_get_by_index(3)?;
            entry.offered += n;
            match stored("offers.status", OfferStatus::parse(&status))? {
                OfferStatus::Offered | OfferStatus::Waitlisted => entry.open += n,
                OfferStatus::Accepted | OfferStatus::Started | OfferStatus::Finished | OfferStatus::EndedEarly => {
                    entry.accepted += n
                }
                OfferStatus::Declined => {
                    entry.declined += n;
                    let reason: Option<String> = row.try_get_by_index(2)?;
                    let reason = match reason {
                        Some(r) => stored("offers.decline_reason", DeclineReason::parse(&r))?,
                        None => DeclineReason::Other,
                    };
                    entry.decline_reasons.push(DeclineCount { reason, count: n });
                }
                OfferStatus::Expired => entry.expired += n,
                OfferStatus::Withdrawn => {}
            }
        }
        drop(counts);
        for row in &medians {
            let median: Option<f64> = row.try_get_by_index(1)?;
            stats.entry(ServiceId(row.try_get_by_index(0)?)).or_default().median_response_hours =
                median.map(|s| s / 3600.0);
        }
        drop(medians);

        let mut flows = Vec::with_capacity(referral_flows.len() + onward_flows.len());
        for (rows, kind) in [(&referral_flows, FlowKind::Referral), (&onward_flows, FlowKind::Onward)] {
            for row in rows {
                flows.push(Flow {
                    from: OrganisationId(row.try_get_by_index(0)?),
                    to: OrganisationId(row.try_get_by_index(1)?),
                    kind,
                    count: row.try_get_by_index(2)?,
                });
            }
        }
        Ok(NetworkStatistics { from: filter.from, until: filter.until, computed_at: now, services: stats, flows })
    }
}

type RowsFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<QueryResult>, StoreError>> + Send + 'a>>;

/// Runs the queries concurrently; the first error wins.
async fn all<const N: usize>(mut queries: [RowsFuture<'_>; N]) -> Result<[Vec<QueryResult>; N], StoreError> {
    let mut done: [Option<Vec<QueryResult>>; N] = std::array::from_fn(|_| None);
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (query, slot) in queries.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match query.as_mut().poll(cx) {
                    Poll::Ready(Ok(rows)) => *slot = Some(rows),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(Ok(())) }
    })
    .await?;
    Ok(done.map(Option::unwrap_or_default))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

    use chrono::{Duration, DurationRound};
    use trellis_domain::offer::{DeclineReason, OfferCommand};
    use trellis_domain::referral::ReferralCommand;
    use trellis_domain::values::NhsNumber;
    use trellis_domain::{Actor, OfferId};

    use super::*;
    use crate::offers::{OfferRequest, OfferTimers};
    use crate::testing::Fixture;

    fn nhs(i: u32) -> String {
        (i * 10..i * 10 + 10)
            .flat_map(|stem| (0..10).map(move |c| format!("9992{stem:05}{c}")))
            .find(|n| NhsNumber::parse(n).is_ok())
            .unwrap()
    }

    /// `offers.first_answered_at`, as the trigger kept it.
    async fn first_answered(store: &Store, id: OfferId) -> Option<DateTime<Utc>> {
        let rows = store
            .rows("SELECT first_answered_at AS at FROM offers WHERE id = ?", vec![Value::from(id.0)])
            .await
            .unwrap();
        rows[0].try_get("", "at").unwrap()
    }

    crate::both_databases!(
        the_median_time_to_respond_counts_each_offers_first_answer_only,
        |store: Store| async move {
            let f = Fixture::create(&store).await;
            // Whole seconds: PostgreSQL keeps microseconds.
            let now = (Utc::now() - Duration::days(1)).duration_trunc(Duration::seconds(1)).unwrap();
            let lw = Fixture::actor(&f.link_worker);
            let provider = Actor::provider_link(f.provider.id);
            let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
            let mut offers = vec![];
            for i in 0..6 {
                let referral = store
                    .submit_referral(f.referral(&nhs(i)), None, &Fixture::actor(&f.gp), now)
                    .await
                    .unwrap()
                    .referral
                    .state
                    .id;
                store
                    .transition_referral(referral, 1, ReferralCommand::RecordContact { note: None }, &lw, now)
                    .await
                    .unwrap();
                let offer = store
                    .make_offer(OfferRequest::new(referral, f.walking_group.id, timers).at_version(2), &lw, now)
                    .await
                    .unwrap();
                offers.push(offer.state.id);
            }
            let hours = |h: i64| now + Duration::hours(h);
            let decline = OfferCommand::Decline { reason: DeclineReason::AtCapacity, note: None };
            // Answers after 1, 4, 2 and 8 hours; a withdrawal is no answer; one offer stays open.
            store.transition_offer(offers[0], 1, OfferCommand::Accept, &provider, hours(1)).await.unwrap();
            store.transition_offer(offers[1], 1, decline, &provider, hours(4)).await.unwrap();
            store.transition_offer(offers[2], 1, OfferCommand::Waitlist, &provider, hours(2)).await.unwrap();
            store.transition_offer(offers[3], 1, OfferCommand::Accept, &provider, hours(8)).await.unwrap();
            store.transition_offer(offers[4], 1, OfferCommand::Withdraw { note: None }, &lw, hours(3)).await.unwrap();
            // Later events do not move the first answer.
            store.transition_offer(offers[0], 2, OfferCommand::Start, &provider, hours(30)).await.unwrap();
            store.transition_offer(offers[2], 2, OfferCommand::Accept, &provider, hours(40)).await.unwrap();

            let expected = [Some(1), Some(4), Some(2), Some(8), None, None];
            for (offer, h) in offers.iter().zip(expected) {
                let at = first_answered(&store, *offer).await;
                assert_eq!(at.map(|a| (a - now).num_seconds()), h.map(|h| h * 3600), "{offer:?}");
            }

            let filter =
                NetworkFilter { from: now - Duration::hours(1), until: now + Duration::hours(1), category: None };
            let graph = store.network(&filter).await.unwrap();
            let walking = graph.services.iter().find(|s| s.id == f.walking_group.id).unwrap();
            // The middle two of 1, 2, 4, 8 hours (SQLite's julianday arithmetic is good to a millisecond).
            assert!((walking.stats.median_response_hours.unwrap() - 3.0).abs() < 1e-6, "{:?}", walking.stats);
            assert_eq!(
                (walking.stats.offered, walking.stats.open, walking.stats.accepted, walking.stats.declined),
                (6, 1, 3, 1)
            );
            assert_eq!(
                walking.stats.decline_reasons,
                vec![DeclineCount { reason: DeclineReason::AtCapacity, count: 1 }]
            );

            // An odd count: the middle one.
            store.transition_offer(offers[5], 1, OfferCommand::Accept, &provider, hours(16)).await.unwrap();
            let graph = store.network(&filter).await.unwrap();
            let walking = graph.services.iter().find(|s| s.id == f.walking_group.id).unwrap();
            assert!((walking.stats.median_response_hours.unwrap() - 4.0).abs() < 1e-6, "{:?}", walking.stats);
            // Offers made outside the period are not counted.
            let before = NetworkFilter { from: now - Duration::days(9), until: now, category: None };
            let graph = store.network(&before).await.unwrap();
            let walking = graph.services.iter().find(|s| s.id == f.walking_group.id).unwrap();
            assert_eq!(walking.stats, OfferStats::default());
        }
    );
}
