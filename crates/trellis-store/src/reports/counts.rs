//! The cohort's counts, each one `GROUP BY` (or one aggregate) in the database.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseBackend, Value};
use trellis_domain::OrganisationId;
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::referral::{ClosureReason, ReferralStatus};
use trellis_domain::report::figures::{
    AttendanceFigures, ClosureFigures, ContactFigures, ProviderFigures, Source, Spread,
};
use trellis_domain::report::{EthnicCategory, Sex};
use trellis_domain::values::Need;

use super::cohort::{Cohort, count};
use crate::convert::stored;
use crate::{Store, StoreError};

/// `(key, count)` rows of `SELECT key, COUNT(*) … GROUP BY key`, each key parsed by `parse`.
fn keyed<K>(
    rows: &[sea_orm::QueryResult],
    column: &'static str,
    parse: impl Fn(&str) -> Result<K, trellis_domain::values::ValueError>,
) -> Result<Vec<(K, u64)>, StoreError> {
    rows.iter()
        .map(|row| {
            let key: String = row.try_get_by_index(0)?;
            Ok((stored(column, parse(&key))?, count(row, 1)?))
        })
        .collect()
}

/// `(optional key, count)` rows, `NULL` being "not recorded".
fn optional_keyed<K>(
    rows: &[sea_orm::QueryResult],
    column: &'static str,
    parse: impl Fn(&str) -> Result<K, trellis_domain::values::ValueError>,
) -> Result<Vec<(Option<K>, u64)>, StoreError> {
    rows.iter()
        .map(|row| {
            let key: Option<String> = row.try_get_by_index(0)?;
            Ok((key.as_deref().map(|k| stored(column, parse(k))).transpose()?, count(row, 1)?))
        })
        .collect()
}

impl Store {
    pub(super) async fn by_source(&self, c: &Cohort) -> Result<Vec<(Source, u64)>, StoreError> {
        let sql = format!(
            "SELECT org.id, org.name, org.ods_code, COUNT(*) FROM referrals r \
             JOIN organisations org ON org.id = r.referring_organisation_id \
             WHERE {} GROUP BY org.id, org.name, org.ods_code",
            c.condition
        );
        self.report_rows(&sql, c.values.clone())
            .await?
            .iter()
            .map(|row| {
                let source = Source {
                    id: OrganisationId(row.try_get_by_index(0)?),
                    name: row.try_get_by_index(1)?,
                    ods_code: row.try_get_by_index(2)?,
                };
                Ok((source, count(row, 3)?))
            })
            .collect()
    }

    pub(super) async fn by_need(&self, c: &Cohort) -> Result<Vec<(Need, u64)>, StoreError> {
        let sql = match c.backend {
            DatabaseBackend::Postgres => format!(
                "SELECT n.v, COUNT(*) FROM referrals r \
                 CROSS JOIN LATERAL jsonb_array_elements_text(CAST(r.needs AS jsonb)) AS n(v) \
                 WHERE {} GROUP BY n.v",
                c.condition
            ),
            _ => format!(
                "SELECT n.value, COUNT(*) FROM referrals r, json_each(r.needs) AS n WHERE {} GROUP BY n.value",
                c.condition
            ),
        };
        keyed(&self.report_rows(&sql, c.values.clone()).await?, "referrals.needs", Need::parse)
    }

    pub(super) async fn by_month(&self, c: &Cohort) -> Result<Vec<((i32, u32), u64)>, StoreError> {
        let month = match c.backend {
            DatabaseBackend::Postgres => "to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM')",
            _ => "substr(strftime('%Y-%m-%d', r.created_at), 1, 7)",
        };
        let sql = format!("SELECT {month} AS m, COUNT(*) FROM referrals r WHERE {} GROUP BY 1", c.condition);
        keyed(&self.report_rows(&sql, c.values.clone()).await?, "referrals.created_at", |m| {
            let bad = || trellis_domain::values::ValueError::new("month", m, "is not a year and month");
            let (y, mo) = m.split_once('-').ok_or_else(bad)?;
            Ok((y.parse().map_err(|_| bad())?, mo.parse().map_err(|_| bad())?))
        })
    }

    pub(super) async fn by_status(&self, c: &Cohort) -> Result<Vec<(ReferralStatus, u64)>, StoreError> {
        let sql = format!("SELECT r.status, COUNT(*) FROM referrals r WHERE {} GROUP BY r.status", c.condition);
        keyed(&self.report_rows(&sql, c.values.clone()).await?, "referrals.status", ReferralStatus::parse)
    }

    pub(super) async fn contact(&self, c: &Cohort, now: DateTime<Utc>) -> Result<ContactFigures, StoreError> {
        let first = "(SELECT MIN(e.occurred_at) FROM referral_events e \
                     WHERE e.referral_id = r.id AND e.to_status = 'contacted')";
        let sql = format!(
            "WITH f AS (SELECT r.contact_due_at AS due_at, {first} AS first_at FROM referrals r WHERE {}) \
             SELECT COALESCE(SUM(CASE WHEN first_at IS NOT NULL OR due_at <= ? THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN first_at IS NOT NULL AND first_at <= due_at THEN 1 ELSE 0 END), 0) FROM f",
            c.condition
        );
        let mut values = c.values.clone();
        values.push(now.into());
        let rows = self.report_rows(&sql, values).await?;
        let (due, on_time) = match rows.first() {
            Some(row) => (count(row, 0)?, count(row, 1)?),
            None => (0, 0),
        };
        let days = format!(
            "SELECT CAST(0 AS BIGINT) AS g, {} / 86400.0 AS v FROM referrals r WHERE {} AND {first} IS NOT NULL",
            c.seconds_between(first, "r.created_at"),
            c.condition
        );
        let spread: Option<(i64, Spread)> = self.spreads(&c.spread_sql(&days), c.values.clone()).await?.pop();
        let spread = spread.map(|(_, s)| s);
        Ok(ContactFigures { days: spread.unwrap_or_default(), due, on_time })
    }

    /// Rows of [`Cohort::spread_sql`]: each group's key and spread.
    async fn spreads<K: sea_orm::TryGetable>(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<(K, Spread)>, StoreError> {
        self.report_rows(sql, values)
            .await?
            .iter()
            .map(|row| {
                let spread =
                    Spread { values: count(row, 1)?, median: row.try_get_by_index(2)?, p90: row.try_get_by_index(3)? };
                Ok((row.try_get_by_index(0)?, spread))
            })
            .collect()
    }

    /// Each provider's offers by status and hours to answer, and the hours to answer over all of them.
    pub(super) async fn providers(&self, c: &Cohort) -> Result<(Vec<ProviderFigures>, Spread), StoreError> {
        let (condition, values) = c.offer_condition();
        let sql = format!(
            "SELECT o.provider_organisation_id, org.name, o.status, COUNT(*) FROM offers o \
             JOIN referrals r ON r.id = o.referral_id JOIN organisations org ON org.id = o.provider_organisation_id \
             WHERE {condition} GROUP BY o.provider_organisation_id, org.name, o.status"
        );
        let mut providers: Vec<ProviderFigures> = Vec::new();
        for row in self.report_rows(&sql, values.clone()).await? {
            let id = OrganisationId(row.try_get_by_index(0)?);
            let status: String = row.try_get_by_index(2)?;
            let entry = (stored("offers.status", OfferStatus::parse(&status))?, count(&row, 3)?);
            match providers.iter_mut().find(|p| p.provider.id == id) {
                Some(p) => p.by_status.push(entry),
                None => providers.push(ProviderFigures {
                    provider: Source { id, name: row.try_get_by_index(1)?, ods_code: None },
                    by_status: vec![entry],
                    hours_to_answer: Spread::default(),
                }),
            }
        }
        let hours = |group: &str| {
            format!(
                "SELECT {group} AS g, {} / 3600.0 AS v FROM offers o JOIN referrals r ON r.id = o.referral_id \
                 WHERE {condition} AND o.first_answered_at IS NOT NULL",
                c.seconds_between("o.first_answered_at", "o.created_at")
            )
        };
        let per_provider: Vec<(uuid::Uuid, Spread)> =
            self.spreads(&c.spread_sql(&hours("o.provider_organisation_id")), values.clone()).await?;
        for (id, spread) in per_provider {
            if let Some(p) = providers.iter_mut().find(|p| p.provider.id.0 == id) {
                p.hours_to_answer = spread;
            }
        }
        let overall: Option<(i64, Spread)> =
            self.spreads(&c.spread_sql(&hours("CAST(0 AS BIGINT)")), values).await?.pop();
        Ok((providers, overall.map(|(_, s)| s).unwrap_or_default()))
    }

    pub(super) async fn decline_reasons(&self, c: &Cohort) -> Result<Vec<(DeclineReason, u64)>, StoreError> {
        let (condition, values) = c.offer_condition();
        let sql = format!(
            "SELECT COALESCE(o.decline_reason, 'other') AS decline, COUNT(*) FROM offers o \
             JOIN referrals r ON r.id = o.referral_id WHERE {condition} AND o.status = 'declined' GROUP BY 1"
        );
        keyed(&self.report_rows(&sql, values).await?, "offers.decline_reason", DeclineReason::parse)
    }

    pub(super) async fn attendance(&self, c: &Cohort) -> Result<AttendanceFigures, StoreError> {
        let (condition, values) = c.offer_condition();
        let ever = |status: &str| {
            format!("EXISTS (SELECT 1 FROM offer_events e WHERE e.offer_id = o.id AND e.to_status = '{status}')")
        };
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) FROM offers o \
             JOIN referrals r ON r.id = o.referral_id WHERE {condition} AND {}",
            ever("started"),
            ever("accepted")
        );
        let rows = self.report_rows(&sql, values).await?;
        Ok(match rows.first() {
            Some(row) => AttendanceFigures { accepted: count(row, 0)?, attended: count(row, 1)? },
            None => AttendanceFigures::default(),
        })
    }

    pub(super) async fn closures(&self, c: &Cohort) -> Result<ClosureFigures, StoreError> {
        let by_reason = format!(
            "SELECT r.closure_reason, COUNT(*) FROM referrals r \
             WHERE {} AND r.status = 'closed' AND r.closure_reason IS NOT NULL GROUP BY r.closure_reason",
            c.condition
        );
        let by_reason = keyed(
            &self.report_rows(&by_reason, c.values.clone()).await?,
            "referrals.closure_reason",
            ClosureReason::parse,
        )?;
        let with_outcome = format!(
            "SELECT COUNT(*) FROM referrals r WHERE {} AND r.status = 'closed' AND EXISTS \
             (SELECT 1 FROM wellbeing_measures m WHERE m.referral_id = r.id GROUP BY m.instrument HAVING COUNT(*) >= 2)",
            c.condition
        );
        let rows = self.report_rows(&with_outcome, c.values.clone()).await?;
        let with_outcome_measure = rows.first().map(|row| count(row, 0)).transpose()?.unwrap_or(0);
        Ok(ClosureFigures { by_reason, with_outcome_measure })
    }

    pub(super) async fn by_age(&self, c: &Cohort) -> Result<Vec<(u32, u64)>, StoreError> {
        let age = match c.backend {
            DatabaseBackend::Postgres => {
                "CAST(EXTRACT(YEAR FROM age(r.created_at AT TIME ZONE 'UTC', CAST(d.date_of_birth AS timestamp))) AS BIGINT)"
            }
            _ => {
                "(CAST(strftime('%Y', r.created_at) AS INTEGER) - CAST(strftime('%Y', d.date_of_birth) AS INTEGER) \
                 - (CASE WHEN strftime('%m-%d', r.created_at) < strftime('%m-%d', d.date_of_birth) THEN 1 ELSE 0 END))"
            }
        };
        let sql = format!(
            "SELECT {age} AS years, COUNT(*) FROM referrals r JOIN referral_demographics d ON d.referral_id = r.id \
             WHERE {} GROUP BY 1",
            c.condition
        );
        self.report_rows(&sql, c.values.clone())
            .await?
            .iter()
            .map(|row| {
                let age: i64 = row.try_get_by_index(0)?;
                Ok((u32::try_from(age).unwrap_or(0), count(row, 1)?))
            })
            .collect()
    }

    async fn by_demographic(&self, c: &Cohort, column: &str) -> Result<Vec<sea_orm::QueryResult>, StoreError> {
        let sql = format!(
            "SELECT d.{column}, COUNT(*) FROM referrals r JOIN referral_demographics d ON d.referral_id = r.id \
             WHERE {} GROUP BY d.{column}",
            c.condition
        );
        self.report_rows(&sql, c.values.clone()).await
    }

    pub(super) async fn by_sex(&self, c: &Cohort) -> Result<Vec<(Option<Sex>, u64)>, StoreError> {
        optional_keyed(&self.by_demographic(c, "sex").await?, "referral_demographics.sex", Sex::parse)
    }

    pub(super) async fn by_ethnic_category(
        &self,
        c: &Cohort,
    ) -> Result<Vec<(Option<EthnicCategory>, u64)>, StoreError> {
        optional_keyed(
            &self.by_demographic(c, "ethnic_category").await?,
            "referral_demographics.ethnic_category",
            EthnicCategory::parse,
        )
    }
}
