//! The network view, one area and one page at a time: the link worker services of an area, a page of
//! the providers they offer to, those providers' services with live capacity, open offers, acceptance
//! rate, decline reasons and median time to respond, and the flows of offers into the page's providers
//! (from the area's link worker services, and onward from other providers).
//!
//! The figures come from `offer_rollups` (migration `m20261126_000016_create_offer_rollups`), which
//! triggers keep as offers change: offer counts per UTC day, service, source, status, decline reason and
//! whole hours to the first answer. A page reads its providers' rows of the period, so what it costs
//! grows with the page and the period's days, not with every offer in the network; and no response is
//! ever the whole network.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, Value};
use trellis_domain::directory::CapacityStatus;
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::{OrganisationId, ServiceId};

use crate::convert::stored;
use crate::{Store, StoreError};

/// The most link worker services an area may name.
pub const MAX_AREA: usize = 50;

/// Where the network is looked at: a locality, named by the link worker services it holds. Its
/// providers are those its link worker services' people were offered to in the period, by a link
/// worker or onward by a provider (`docs/domain.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkArea {
    /// The link worker services: at least one, at most [`MAX_AREA`].
    pub link_worker_services: Vec<OrganisationId>,
}

/// Which offers to count: those made on the UTC days `from` to `until`, both included.
#[derive(Clone, Debug)]
pub struct NetworkFilter {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub until: NaiveDate,
    /// Only services carrying this taxonomy code.
    pub category: Option<String>,
}

/// Which providers of the area: `first` of them by name, after the provider `after`.
#[derive(Clone, Copy, Debug)]
pub struct NetworkPageRequest {
    /// How many providers.
    pub first: u64,
    /// The last provider of the previous page.
    pub after: Option<OrganisationId>,
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

/// A page of the network as a graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkGraph {
    /// The area's link worker services, the page's providers, and the providers onward flows into them
    /// come from.
    pub organisations: Vec<OrganisationNode>,
    /// The page's providers' active services, with capacity and offer statistics.
    pub services: Vec<ServiceNode>,
    /// Offer flows into the page's providers.
    pub flows: Vec<Flow>,
}

/// One page of an area's network, and where the next begins.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkPage {
    /// The page.
    pub graph: NetworkGraph,
    /// The last provider of the page: the next page's `after`.
    pub end_cursor: Option<OrganisationId>,
    /// Whether more providers follow.
    pub has_next_page: bool,
    /// When it was read.
    pub read_at: DateTime<Utc>,
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

/// `?, ?, …`: one placeholder per value.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn ids(ids: &[OrganisationId]) -> Vec<Value> {
    ids.iter().map(|id| Value::from(id.0)).collect()
}

/// The median of whole-hour counts `(hours, offers)` sorted by hours: the middle one, or the mean of the
/// middle two.
fn median_hours(histogram: &BTreeMap<i32, i64>) -> Option<f64> {
    let n: i64 = histogram.values().sum();
    if n <= 0 {
        return None;
    }
    let at = |rank: i64| {
        let mut seen = 0;
        histogram.iter().find_map(|(hours, count)| {
            seen += count;
            (seen > rank).then_some(f64::from(*hours))
        })
    };
    Some((at((n - 1) / 2)? + at(n / 2)?) / 2.0)
}

/// The SQL a page's statistics and flows are read with: the period's rollup rows of the providers
/// (`?` for each), summed over the days. Parameters: the providers, the first and last day, then the
/// category's.
pub fn rollup_sql(providers: usize, category: bool) -> String {
    let (clause, _) = in_category("r.service_id", category.then_some(""));
    format!(
        "SELECT r.service_id, r.to_organisation_id, r.from_organisation_id, r.onward, r.status, r.decline_reason, \
         r.response_hours, CAST(SUM(r.offers) AS BIGINT) FROM offer_rollups r \
         WHERE r.to_organisation_id IN ({}) AND r.day >= ? AND r.day <= ?{clause} \
         GROUP BY r.service_id, r.to_organisation_id, r.from_organisation_id, r.onward, r.status, \
         r.decline_reason, r.response_hours",
        placeholders(providers)
    )
}

/// The SQL that finds a page of an area's providers: the organisations its link worker services' people
/// (`?` for each service) were offered to in the period, directly or onward, by name, after a provider (when `after`), at most `?`.
/// Parameters: the link worker services, the first and last day, the category's, the `after`
/// provider three times, the limit.
pub fn area_providers_sql(link_worker_services: usize, category: bool, after: bool) -> String {
    let (clause, _) = in_category("r.service_id", category.then_some(""));
    let after = if after {
        " AND (o.name > (SELECT a.name FROM organisations a WHERE a.id = ?) \
          OR (o.name = (SELECT a.name FROM organisations a WHERE a.id = ?) AND o.id > ?))"
    } else {
        ""
    };
    format!(
        "SELECT o.id, o.name FROM organisations o WHERE o.id IN ( \
           SELECT r.to_organisation_id FROM offer_rollups r WHERE r.link_worker_service_id IN ({}) \
           AND r.day >= ? AND r.day <= ?{clause}){after} \
         ORDER BY o.name, o.id LIMIT ?",
        placeholders(link_worker_services)
    )
}

impl Store {
    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = if backend == DatabaseBackend::Postgres { numbered(sql) } else { sql.to_owned() };
        Ok(self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?)
    }

    /// One page of `area`'s network for the period and category of `filter`: its link worker services,
    /// `page.first` of the providers they offered to (by name), their services with live capacity and
    /// offer statistics, and the flows into them. An area naming something that is not a link worker
    /// service is `UnknownReference("area")`.
    pub async fn network_page(
        &self,
        area: &NetworkArea,
        filter: &NetworkFilter,
        page: NetworkPageRequest,
    ) -> Result<NetworkPage, StoreError> {
        let read_at = Utc::now();
        let mut wanted = area.link_worker_services.clone();
        wanted.sort_by_key(|id| id.0);
        wanted.dedup();
        let sources = self.organisations_named(&wanted).await?;
        if sources.len() != wanted.len() || sources.iter().any(|o| o.kind != OrganisationKind::LinkWorkerService) {
            return Err(StoreError::UnknownReference("area"));
        }
        let category = filter.category.as_deref();

        let mut values = ids(&wanted);
        values.extend([Value::from(filter.from), Value::from(filter.until)]);
        values.extend(in_category("", category).1);
        if let Some(after) = page.after {
            values.extend([Value::from(after.0), Value::from(after.0), Value::from(after.0)]);
        }
        let providers_sql = area_providers_sql(wanted.len(), category.is_some(), page.after.is_some());
        values.push(Value::from(i64::try_from(page.first.saturating_add(1)).unwrap_or(i64::MAX)));
        let rows = self.rows(&providers_sql, values).await?;
        let mut providers = Vec::with_capacity(rows.len());
        for row in &rows {
            providers.push(OrganisationNode {
                id: OrganisationId(row.try_get_by_index(0)?),
                kind: OrganisationKind::Provider,
                name: row.try_get_by_index(1)?,
            });
        }
        let has_next_page = providers.len() as u64 > page.first;
        providers.truncate(usize::try_from(page.first).unwrap_or(usize::MAX));
        let end_cursor = providers.last().map(|p| p.id);
        let page_ids: Vec<OrganisationId> = providers.iter().map(|p| p.id).collect();
        if page_ids.is_empty() {
            return Ok(NetworkPage {
                graph: NetworkGraph { organisations: sources, services: vec![], flows: vec![] },
                end_cursor,
                has_next_page,
                read_at,
            });
        }

        let (services, counted) =
            tokio::join!(self.network_services_of(&page_ids, category), self.counted(&page_ids, filter),);
        let mut services = services?;
        let (stats, flows) = counted?;
        let in_area: HashSet<OrganisationId> = wanted.iter().copied().collect();
        let flows: Vec<Flow> =
            flows.into_iter().filter(|f| f.kind == FlowKind::Onward || in_area.contains(&f.from)).collect();
        for service in &mut services {
            if let Some(s) = stats.get(&service.id) {
                service.stats = s.clone();
            }
        }
        let mut known: HashSet<OrganisationId> = sources.iter().chain(&providers).map(|o| o.id).collect();
        let mut onward_sources: Vec<OrganisationId> =
            flows.iter().map(|f| f.from).filter(|id| known.insert(*id)).collect();
        onward_sources.sort_by_key(|id| id.0);
        let onward_sources = self.organisations_named(&onward_sources).await?;
        let organisations = sources.into_iter().chain(providers).chain(onward_sources).collect();
        Ok(NetworkPage { graph: NetworkGraph { organisations, services, flows }, end_cursor, has_next_page, read_at })
    }

    /// The organisations with these ids, by name.
    async fn organisations_named(&self, wanted: &[OrganisationId]) -> Result<Vec<OrganisationNode>, StoreError> {
        if wanted.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, kind, name FROM organisations WHERE id IN ({}) ORDER BY name, id",
            placeholders(wanted.len())
        );
        let rows = self.rows(&sql, ids(wanted)).await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get_by_index(1)?;
                Ok(OrganisationNode {
                    id: OrganisationId(row.try_get_by_index(0)?),
                    kind: stored("organisations.kind", OrganisationKind::parse(&kind))?,
                    name: row.try_get_by_index(2)?,
                })
            })
            .collect()
    }

    /// The active services (of a category) of these providers, by name, with their live capacity and
    /// no statistics yet.
    async fn network_services_of(
        &self,
        providers: &[OrganisationId],
        category: Option<&str>,
    ) -> Result<Vec<ServiceNode>, StoreError> {
        let (clause, category) = in_category("s.id", category);
        let sql = format!(
            "SELECT s.id, s.organisation_id, s.name, c.available, c.maximum, c.status, c.updated_at \
             FROM services s LEFT JOIN service_capacities c ON c.service_id = s.id \
             WHERE s.status = 'active' AND s.organisation_id IN ({}){clause} ORDER BY s.name, s.id",
            placeholders(providers.len())
        );
        let mut values = ids(providers);
        values.extend(category);
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

    /// Each of these providers' services' offer statistics and the flows into the providers, from one
    /// read of their rollup rows in the period.
    async fn counted(
        &self,
        providers: &[OrganisationId],
        filter: &NetworkFilter,
    ) -> Result<(HashMap<ServiceId, OfferStats>, Vec<Flow>), StoreError> {
        let mut values = ids(providers);
        values.extend([Value::from(filter.from), Value::from(filter.until)]);
        values.extend(in_category("", filter.category.as_deref()).1);
        let rows = self.rows(&rollup_sql(providers.len(), filter.category.is_some()), values).await?;

        let mut stats: HashMap<ServiceId, OfferStats> = HashMap::new();
        let mut reasons: HashMap<(ServiceId, DeclineReason), i64> = HashMap::new();
        let mut answered: HashMap<ServiceId, BTreeMap<i32, i64>> = HashMap::new();
        let mut flows: BTreeMap<(OrganisationId, OrganisationId, bool), i64> = BTreeMap::new();
        for row in &rows {
            let service = ServiceId(row.try_get_by_index(0)?);
            let to = OrganisationId(row.try_get_by_index(1)?);
            let from = OrganisationId(row.try_get_by_index(2)?);
            let onward: i32 = row.try_get_by_index(3)?;
            let status: String = row.try_get_by_index(4)?;
            let reason: String = row.try_get_by_index(5)?;
            let hours: i32 = row.try_get_by_index(6)?;
            let n: i64 = row.try_get_by_index(7)?;
            if n == 0 {
                continue;
            }
            *flows.entry((from, to, onward != 0)).or_default() += n;
            if hours >= 0 {
                *answered.entry(service).or_default().entry(hours).or_default() += n;
            }
            let entry = stats.entry(service).or_default();
            entry.offered += n;
            match stored("offer_rollups.status", OfferStatus::parse(&status))? {
                OfferStatus::Offered | OfferStatus::Waitlisted => entry.open += n,
                OfferStatus::Accepted | OfferStatus::Started | OfferStatus::Finished | OfferStatus::EndedEarly => {
                    entry.accepted += n
                }
                OfferStatus::Declined => {
                    entry.declined += n;
                    let reason = match reason.as_str() {
                        "" => DeclineReason::Other,
                        r => stored("offer_rollups.decline_reason", DeclineReason::parse(r))?,
                    };
                    *reasons.entry((service, reason)).or_default() += n;
                }
                OfferStatus::Expired => entry.expired += n,
                OfferStatus::Withdrawn => {}
            }
        }
        let mut reasons: Vec<_> = reasons.into_iter().collect();
        reasons.sort_by(|((_, a), _), ((_, b), _)| a.as_str().cmp(b.as_str()));
        for ((service, reason), count) in reasons {
            stats.entry(service).or_default().decline_reasons.push(DeclineCount { reason, count });
        }
        for (service, histogram) in &answered {
            stats.entry(*service).or_default().median_response_hours = median_hours(histogram);
        }
        let flows = flows
            .into_iter()
            .filter(|(_, count)| *count != 0)
            .map(|((from, to, onward), count)| Flow {
                from,
                to,
                kind: if onward { FlowKind::Onward } else { FlowKind::Referral },
                count,
            })
            .collect();
        Ok((stats, flows))
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

#[cfg(test)]
mod rollup_tests;

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

    #[test]
    fn the_median_of_whole_hours_is_the_middle_one_or_the_mean_of_the_middle_two() {
        let histogram = |pairs: &[(i32, i64)]| pairs.iter().copied().collect::<BTreeMap<i32, i64>>();
        assert_eq!(median_hours(&histogram(&[])), None);
        assert_eq!(median_hours(&histogram(&[(3, 0)])), None);
        assert_eq!(median_hours(&histogram(&[(5, 1)])), Some(5.0));
        assert_eq!(median_hours(&histogram(&[(1, 1), (2, 1), (4, 1), (8, 1)])), Some(3.0));
        assert_eq!(median_hours(&histogram(&[(1, 3), (9, 1)])), Some(1.0));
        assert_eq!(median_hours(&histogram(&[(1, 2), (9, 2)])), Some(5.0));
        assert_eq!(median_hours(&histogram(&[(0, 1), (2, 5), (7, 1)])), Some(2.0));
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

            let area = NetworkArea { link_worker_services: vec![f.service.id] };
            let page = NetworkPageRequest { first: 10, after: None };
            let day = now.date_naive();
            let filter = NetworkFilter { from: day, until: day + Duration::days(1), category: None };
            let graph = store.network_page(&area, &filter, page).await.unwrap().graph;
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
            let graph = store.network_page(&area, &filter, page).await.unwrap().graph;
            let walking = graph.services.iter().find(|s| s.id == f.walking_group.id).unwrap();
            assert!((walking.stats.median_response_hours.unwrap() - 4.0).abs() < 1e-6, "{:?}", walking.stats);
            // Offers made outside the period are not counted, and their provider is not in the area then.
            let before =
                NetworkFilter { from: day - Duration::days(9), until: day - Duration::days(1), category: None };
            let graph = store.network_page(&area, &before, page).await.unwrap().graph;
            assert!(graph.services.is_empty(), "{graph:?}");
            // Nor does another link worker service's area hold it.
            let other = NetworkArea { link_worker_services: vec![f.other_service.id] };
            assert!(store.network_page(&other, &filter, page).await.unwrap().graph.services.is_empty());
            // An area naming a provider is no area.
            let wrong = NetworkArea { link_worker_services: vec![f.provider.id] };
            assert!(matches!(
                store.network_page(&wrong, &filter, page).await,
                Err(StoreError::UnknownReference("area"))
            ));
        }
    );
}
