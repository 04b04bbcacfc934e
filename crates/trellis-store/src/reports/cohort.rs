//! The period and filters of a report as one SQL condition over `referrals r`, written once for both
//! databases, and the few places where their SQL differs.

use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, Value};
use trellis_domain::report::{Period, ReportFilters};

use crate::{Store, StoreError};

/// The referrals a report counts.
pub(super) struct Cohort {
    pub backend: DatabaseBackend,
    /// `r.created_at >= ? AND …`, with `?` placeholders.
    pub condition: String,
    /// The values of its placeholders, in order.
    pub values: Vec<Value>,
    /// The provider filter, which also narrows the offers counted.
    pub provider: Option<uuid::Uuid>,
}

impl Cohort {
    pub fn new(backend: DatabaseBackend, period: Period, filters: ReportFilters) -> Cohort {
        let mut condition = String::from("r.created_at >= ? AND r.created_at < ?");
        let mut values = vec![Value::from(period.start()), Value::from(period.end())];
        if let Some(practice) = filters.practice {
            condition.push_str(" AND r.referring_organisation_id = ?");
            values.push(practice.0.into());
        }
        if let Some(service) = filters.link_worker_service {
            condition.push_str(" AND r.link_worker_service_id = ?");
            values.push(service.0.into());
        }
        if let Some(provider) = filters.provider {
            condition.push_str(
                " AND EXISTS (SELECT 1 FROM offers fo WHERE fo.referral_id = r.id AND fo.provider_organisation_id = ?)",
            );
            values.push(provider.0.into());
        }
        if let Some(need) = filters.need {
            // Needs are stored as a JSON array of fixed snake_case names, none of which is part of another
            // in quotes: a pattern finds exactly the referrals naming it, on both databases.
            condition.push_str(" AND r.needs LIKE ?");
            values.push(format!("%\"{}\"%", need.as_str()).into());
        }
        Cohort { backend, condition, values, provider: filters.provider.map(|p| p.0) }
    }

    /// The cohort's offers: `AND o.provider_organisation_id = ?` when a provider is asked for, and the
    /// values with its own appended.
    pub fn offer_condition(&self) -> (String, Vec<Value>) {
        let mut values = self.values.clone();
        match self.provider {
            Some(provider) => {
                values.push(provider.into());
                (format!("{} AND o.provider_organisation_id = ?", self.condition), values)
            }
            None => (self.condition.clone(), values),
        }
    }

    /// Seconds from `earlier` to `later`, both timestamp columns, as a double.
    pub fn seconds_between(&self, later: &str, earlier: &str) -> String {
        match self.backend {
            DatabaseBackend::Postgres => format!("CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION)"),
            _ => format!("((julianday({later}) - julianday({earlier})) * 86400.0)"),
        }
    }

    /// The median and 90th percentile (nearest rank) of `v` per `g`, over `values_sql` (a query with
    /// columns `g` and `v`): rows of `g`, the count, the median and the 90th percentile. PostgreSQL has
    /// ordered-set aggregates (`percentile_disc` is the nearest rank); SQLite numbers the rows, and takes
    /// rank ⌈n/2⌉ and ⌈9n/10⌉.
    pub fn spread_sql(&self, values_sql: &str) -> String {
        match self.backend {
            DatabaseBackend::Postgres => format!(
                "SELECT g, COUNT(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY v), \
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY v) FROM ({values_sql}) x GROUP BY g"
            ),
            _ => format!(
                "WITH x AS ({values_sql}), ranked AS (SELECT g, v, \
                   ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) AS rn, COUNT(*) OVER (PARTITION BY g) AS n FROM x) \
                 SELECT g, MAX(n), MAX(CASE WHEN rn = (n + 1) / 2 THEN v END), \
                   MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END) FROM ranked GROUP BY g"
            ),
        }
    }
}

impl Store {
    /// Runs `sql` (with `?` placeholders) with `values`.
    pub(super) async fn report_rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = if backend == DatabaseBackend::Postgres { numbered(sql) } else { sql.to_owned() };
        Ok(self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?)
    }
}

/// A count read from a row: never negative.
pub(super) fn count(row: &QueryResult, index: usize) -> Result<u64, StoreError> {
    let n: Option<i64> = row.try_get_by_index(index)?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
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
