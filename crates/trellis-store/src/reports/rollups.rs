//! A report's counts as `(figure, key, num, n)` rows, from the rollups (the whole network, or one
//! need: the months the period covers whole and the days at its edges) or, for a report narrowed to a
//! practice, link worker service or provider, from those few fact rows. The figures are the same either
//! way ([`trellis_migration::report_rollups`]); [`Counted`] reads them into the domain's [`Figures`].

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, Value};
use trellis_domain::OrganisationId;
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::referral::{ClosureReason, ReferralStatus};
use trellis_domain::report::figures::{AttendanceFigures, ProviderFigures, Source, Spread, WellbeingFigures};
use trellis_domain::report::{EthnicCategory, Figures, Period, ReportFilters, Sex};
use trellis_domain::values::Need;
use trellis_domain::wellbeing::{Direction, Instrument, InstrumentCode, ScoreChange, item_change, total_change};
use trellis_migration::report_rollups::{Grain, MEASURE_FACTS, OFFER_FACTS, REFERRAL_FACTS, figure_rows};
use uuid::Uuid;

use super::cohort::count;
use crate::convert::stored;
use crate::entity::organisation;
use crate::{Store, StoreError};

/// One summed figure.
struct Counted {
    figure: String,
    key: String,
    num: i64,
    n: u64,
}

/// A value written into SQL text: only dates, UUIDs and fixed need names, never a person's input.
fn date_literal(day: NaiveDate) -> String {
    format!("'{day}'")
}

fn uuid_literal(b: DatabaseBackend, id: Uuid) -> String {
    match b {
        DatabaseBackend::Postgres => format!("'{id}'"),
        _ => format!("X'{}'", id.simple()),
    }
}

/// The fact rows of a report: the referral facts' and the offer facts' conditions over `f`.
fn fact_filters(b: DatabaseBackend, period: Period, filters: &ReportFilters) -> (String, String) {
    let mut common = format!("f.day >= {} AND f.day <= {}", date_literal(period.from()), date_literal(period.to()));
    if let Some(practice) = filters.practice {
        common.push_str(&format!(" AND f.practice_id = {}", uuid_literal(b, practice.0)));
    }
    if let Some(service) = filters.link_worker_service {
        common.push_str(&format!(" AND f.lws_id = {}", uuid_literal(b, service.0)));
    }
    if let Some(need) = filters.need {
        // Needs are a JSON array of fixed snake_case names, none part of another in quotes.
        common.push_str(&format!(" AND f.needs LIKE '%\"{}\"%'", need.as_str()));
    }
    let (mut referrals, mut offers) = (common.clone(), common);
    if let Some(provider) = filters.provider {
        let provider = uuid_literal(b, provider.0);
        referrals.push_str(&format!(
            " AND f.referral_id IN (SELECT p.referral_id FROM report_offers p WHERE p.provider_id = {provider} \
             AND p.day >= {} AND p.day <= {})",
            date_literal(period.from()),
            date_literal(period.to())
        ));
        offers.push_str(&format!(" AND f.provider_id = {provider}"));
    }
    (referrals, offers)
}

/// The first day of the month after `day`'s.
fn next_month(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).unwrap_or(day);
    first.checked_add_months(chrono::Months::new(1)).unwrap_or(first)
}

/// The period as whole months `[from, until)` and the days before and after them, `[from, until)` each.
fn spans(period: Period) -> [(NaiveDate, NaiveDate); 3] {
    let (from, after) = (period.from(), period.to() + Duration::days(1));
    let months_from = if from.day() == 1 { from } else { next_month(from) };
    let months_until = after.with_day(1).unwrap_or(after);
    if months_from >= months_until {
        return [(from, from), (from, after), (after, after)];
    }
    [(months_from, months_until), (from, months_from), (months_until, after)]
}

impl Store {
    /// Every figure of the report of `period` with `filters`, from its fact rows or the rollups (which
    /// know the whole network and each need, but no narrower filter).
    async fn report_counts(
        &self,
        period: Period,
        filters: &ReportFilters,
        from_facts: bool,
    ) -> Result<Vec<Counted>, StoreError> {
        let b = self.db.get_database_backend();
        let (sql, values) = if from_facts {
            let (referrals, offers) = fact_filters(b, period, filters);
            let rows = [
                figure_rows(b, &REFERRAL_FACTS, "report_referrals f", &referrals, Grain::Report, 1),
                figure_rows(b, &OFFER_FACTS, "report_offers f", &offers, Grain::Report, 1),
                figure_rows(b, &MEASURE_FACTS, "report_measures f", &referrals, Grain::Report, 1),
            ];
            (
                format!(
                    "SELECT figure, key, num, CAST(SUM(n) AS BIGINT) FROM ({}) x GROUP BY figure, key, num",
                    rows.join(" UNION ALL ")
                ),
                vec![],
            )
        } else {
            let [months, before, after] = spans(period);
            let need = filters.need.map(|n| n.as_str()).unwrap_or_default();
            let values: Vec<Value> = [months, before, after]
                .into_iter()
                .flat_map(|(from, until)| [need.into(), from.into(), until.into()])
                .collect();
            // One index range per span: PostgreSQL reads each from the key alone.
            let range = |span: &str| {
                format!(
                    "SELECT figure, key, num, n FROM report_rollups \
                     WHERE span = '{span}' AND need = ? AND bucket >= ? AND bucket < ?"
                )
            };
            let sql = format!(
                "SELECT figure, key, num, CAST(SUM(n) AS BIGINT) FROM ({} UNION ALL {} UNION ALL {}) x \
                 GROUP BY figure, key, num HAVING SUM(n) <> 0",
                range("m"),
                range("d"),
                range("d")
            );
            (sql, values)
        };
        self.summed_rows(&sql, values)
            .await?
            .iter()
            .map(|row| {
                let num: Option<i32> = row.try_get_by_index(2)?;
                Ok(Counted {
                    figure: row.try_get_by_index(0)?,
                    key: row.try_get_by_index(1)?,
                    num: i64::from(num.unwrap_or(0)),
                    n: count(row, 3)?,
                })
            })
            .collect()
    }

    /// The referrals of the report not yet contacted whose first contact fell due today, by `now`: the
    /// rollups count those due on earlier days, and no later ones are due.
    async fn due_today(&self, period: Period, filters: &ReportFilters, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let b = self.db.get_database_backend();
        let (referrals, _) = fact_filters(b, period, filters);
        let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        let sql = format!(
            "SELECT COUNT(*) FROM report_referrals f WHERE f.contact_days IS NULL AND f.due_at >= ? AND f.due_at <= ? \
             AND {referrals}"
        );
        let rows = self.report_rows(&sql, vec![today.into(), now.into()]).await?;
        rows.first().map(|row| count(row, 0)).transpose().map(Option::unwrap_or_default)
    }

    /// The report's counts: from the rollups, or from the fact
    /// rows when the report is narrowed to a practice, link worker service or provider.
    pub(super) async fn rolled_up_figures(
        &self,
        period: Period,
        filters: &ReportFilters,
        now: DateTime<Utc>,
    ) -> Result<Figures, StoreError> {
        let narrowed =
            filters.practice.is_some() || filters.link_worker_service.is_some() || filters.provider.is_some();
        self.figures_from(period, filters, now, narrowed).await
    }

    /// The report's counts, from the fact rows (`from_facts`) or the rollups.
    pub(crate) async fn figures_from(
        &self,
        period: Period,
        filters: &ReportFilters,
        now: DateTime<Utc>,
        from_facts: bool,
    ) -> Result<Figures, StoreError> {
        let counted = self.report_counts(period, filters, from_facts).await?;
        let today = now.date_naive().to_string();
        let mut f = Figures::default();
        let mut sources: Vec<(Uuid, u64)> = Vec::new();
        let mut offers: BTreeMap<Uuid, Vec<(OfferStatus, u64)>> = BTreeMap::new();
        let mut answers: BTreeMap<Uuid, Vec<(i64, u64)>> = BTreeMap::new();
        let mut contact_days = Vec::new();
        let mut wellbeing = Wellbeing::default();
        for Counted { figure, key, num, n } in counted {
            match figure.as_str() {
                "status" => f.by_status.push((stored("referrals.status", ReferralStatus::parse(&key))?, n)),
                "month" => f.by_month.push((month(&key)?, n)),
                "source" => sources.push((organisation_id(&key)?, n)),
                "need" => f.by_need.push((stored("referrals.needs", Need::parse(&key))?, n)),
                "closure" => {
                    let reason = stored("referrals.closure_reason", ClosureReason::parse(&key))?;
                    f.closures.by_reason.push((reason, n));
                }
                "outcome" => f.closures.with_outcome_measure += n,
                "contact" => {
                    contact_days.push((num, n));
                    f.contact.due += n;
                    if key == "on_time" {
                        f.contact.on_time += n;
                    }
                }
                "awaiting" if key < today => f.contact.due += n,
                "awaiting" => {}
                "age" => f.by_age.push((u32::try_from(num).unwrap_or(0), n)),
                "sex" => f.by_sex.push((optional(&key, Sex::parse, "referral_demographics.sex")?, n)),
                "ethnic" => f
                    .by_ethnic_category
                    .push((optional(&key, EthnicCategory::parse, "referral_demographics.ethnic_category")?, n)),
                "offer" => {
                    let (provider, status) = key.split_once(' ').ok_or(StoreError::Corrupt("offers.status"))?;
                    let status = stored("offers.status", OfferStatus::parse(status))?;
                    offers.entry(organisation_id(provider)?).or_default().push((status, n));
                }
                "decline" => f.decline_reasons.push((stored("offers.decline_reason", DeclineReason::parse(&key))?, n)),
                "answer" => answers.entry(organisation_id(&key)?).or_default().push((num, n)),
                "attendance" => {
                    let attended = u64::from(key == "attended") * n;
                    let AttendanceFigures { accepted, attended: so_far } = f.attendance;
                    f.attendance = AttendanceFigures { accepted: accepted + n, attended: so_far + attended };
                }
                "wellbeing_total" => wellbeing.add_total(&key, n)?,
                "wellbeing_item" => wellbeing.add_item(&key, n)?,
                _ => return Err(StoreError::Corrupt("report_rollups.figure")),
            }
        }
        f.wellbeing = wellbeing.figures;
        f.contact.due += self.due_today(period, filters, now).await?;
        f.contact.days = Spread::from_counts(contact_days);
        f.hours_to_answer = Spread::from_counts(answers.values().flatten().copied());
        let names = self.organisation_names(sources.iter().map(|(id, _)| *id).chain(offers.keys().copied())).await?;
        let source = |id: Uuid, ods: bool| {
            let (name, ods_code) = names.get(&id).cloned().unwrap_or_default();
            Source { id: OrganisationId(id), name, ods_code: if ods { ods_code } else { None } }
        };
        f.by_source = sources.into_iter().map(|(id, n)| (source(id, true), n)).collect();
        f.providers = offers
            .into_iter()
            .map(|(id, by_status)| ProviderFigures {
                provider: source(id, false),
                by_status,
                hours_to_answer: Spread::from_counts(answers.remove(&id).unwrap_or_default()),
            })
            .collect();
        Ok(f)
    }

    /// The names and ODS codes of organisations.
    async fn organisation_names(
        &self,
        ids: impl Iterator<Item = Uuid>,
    ) -> Result<BTreeMap<Uuid, (String, Option<String>)>, StoreError> {
        let ids: Vec<Uuid> = ids.collect();
        let mut names = BTreeMap::new();
        // A few thousand at a time: within either database's limit on a statement's values.
        for chunk in ids.chunks(5_000) {
            let found = organisation::Entity::find()
                .filter(organisation::Column::Id.is_in(chunk.to_vec()))
                .all(&self.db)
                .await?;
            names.extend(found.into_iter().map(|o| (o.id, (o.name, o.ods_code))));
        }
        Ok(names)
    }
}

/// Wellbeing change summed from counts of `instrument first_version last_version` and a pair of sums
/// of answers, or an item (from 0) and its pair of answers: the domain scores each pair once.
#[derive(Default)]
struct Wellbeing {
    figures: Vec<WellbeingFigures>,
}

impl Wellbeing {
    /// `key` is `instrument first_version last_version` and then `rest` more numbers.
    fn parse<const N: usize>(key: &str) -> Result<(&'static Instrument, &'static Instrument, [u32; N]), StoreError> {
        let bad = || StoreError::Corrupt("report_measures");
        let mut parts = key.split(' ');
        let code = InstrumentCode::parse(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
        let mut number = || parts.next().and_then(|p| p.parse::<u32>().ok()).ok_or_else(bad);
        let (first, last) = (number()?, number()?);
        let mut rest = [0; N];
        for r in &mut rest {
            *r = number()?;
        }
        let find = |version| Instrument::find(code, version).map_err(|_| bad());
        Ok((find(first)?, find(last)?, rest))
    }

    fn add(&mut self, instrument: InstrumentCode, change: ScoreChange, n: u64) {
        let improved = change.direction == Direction::Improved && change.meaningful != Some(false);
        let at = self.figures.iter().position(|f| f.instrument == instrument && f.score == change.key);
        let entry = match at {
            Some(i) => &mut self.figures[i],
            None => {
                self.figures.push(WellbeingFigures {
                    instrument,
                    score: change.key,
                    people: 0,
                    change_sum: 0.0,
                    improved: 0,
                });
                let last = self.figures.len() - 1;
                &mut self.figures[last]
            }
        };
        entry.people += n;
        entry.change_sum += change.change * n as f64;
        entry.improved += u64::from(improved) * n;
    }

    fn add_total(&mut self, key: &str, n: u64) -> Result<(), StoreError> {
        let (first, last, [from, to]) = Self::parse(key)?;
        if let Some(change) = total_change(first, from, last, to) {
            self.add(last.code, change, n);
        }
        Ok(())
    }

    fn add_item(&mut self, key: &str, n: u64) -> Result<(), StoreError> {
        let (_, last, [index, from, to]) = Self::parse(key)?;
        let answer = |a: u32| u8::try_from(a).map_err(|_| StoreError::Corrupt("report_measures"));
        if let Some(change) = item_change(last, index as usize, answer(from)?, answer(to)?) {
            self.add(last.code, change, n);
        }
        Ok(())
    }
}

fn organisation_id(key: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(key).map_err(|_| StoreError::Corrupt("report_rollups.key"))
}

fn month(key: &str) -> Result<(i32, u32), StoreError> {
    let bad = || StoreError::Corrupt("referrals.created_at");
    let (y, m) = key.split_once('-').ok_or_else(bad)?;
    Ok((y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?))
}

/// `''` is "not recorded".
fn optional<K, E>(
    key: &str,
    parse: impl Fn(&str) -> Result<K, E>,
    column: &'static str,
) -> Result<Option<K>, StoreError> {
    if key.is_empty() { Ok(None) } else { stored(column, parse(key)).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_period_is_read_as_its_whole_months_and_the_days_at_either_edge() {
        let period = Period::new(day("2025-11-27"), day("2026-11-26")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            spans(period),
            [
                (day("2025-12-01"), day("2026-11-01")),
                (day("2025-11-27"), day("2025-12-01")),
                (day("2026-11-01"), day("2026-11-27"))
            ]
        );
        let months = Period::new(day("2026-01-01"), day("2026-03-31")).unwrap_or_else(|e| panic!("{e}"));
        let [whole, before, after] = spans(months);
        assert_eq!(whole, (day("2026-01-01"), day("2026-04-01")));
        assert!(before.0 == before.1 && after.0 == after.1, "no edge days: {before:?} {after:?}");
        let inside = Period::new(day("2026-02-03"), day("2026-02-20")).unwrap_or_else(|e| panic!("{e}"));
        let [whole, days, none] = spans(inside);
        assert_eq!(whole.0, whole.1);
        assert_eq!(days, (day("2026-02-03"), day("2026-02-21")));
        assert_eq!(none.0, none.1);
    }
}
