//! Wellbeing change for the cohort: per instrument and score, the people with a baseline and a
//! follow-up, the sum of their changes and how many improved. The database picks each referral's first
//! and last measure with each instrument (window functions); the domain scores them, as it does for one
//! referral, since scores are derived and never stored. Only the sums leave the store.

use trellis_domain::report::figures::WellbeingFigures;
use trellis_domain::wellbeing::{Direction, Instrument, InstrumentCode, change_between};

use super::cohort::Cohort;
use crate::{Store, StoreError};

fn corrupt(column: &'static str) -> StoreError {
    StoreError::Corrupt(column)
}

/// One stored measure, scored.
fn scored(row: &sea_orm::QueryResult) -> Result<trellis_domain::wellbeing::Scores, StoreError> {
    let code: String = row.try_get_by_index(1)?;
    let version: i32 = row.try_get_by_index(2)?;
    let answers: String = row.try_get_by_index(3)?;
    let code = InstrumentCode::parse(&code).map_err(|_| corrupt("wellbeing_measures.instrument"))?;
    let version = u32::try_from(version).map_err(|_| corrupt("wellbeing_measures.instrument_version"))?;
    let instrument = Instrument::find(code, version).map_err(|_| corrupt("wellbeing_measures.instrument_version"))?;
    let answers: Vec<Option<u8>> = serde_json::from_str(&answers).map_err(|_| corrupt("wellbeing_measures.answers"))?;
    instrument.score(&answers).map_err(|_| corrupt("wellbeing_measures.answers"))
}

impl Store {
    pub(super) async fn wellbeing_change(&self, c: &Cohort) -> Result<Vec<WellbeingFigures>, StoreError> {
        let sql = format!(
            "WITH m AS (SELECT m.referral_id, m.instrument, m.instrument_version, m.answers, \
               ROW_NUMBER() OVER (PARTITION BY m.referral_id, m.instrument ORDER BY m.taken_at, m.id) AS first_rank, \
               ROW_NUMBER() OVER (PARTITION BY m.referral_id, m.instrument ORDER BY m.taken_at DESC, m.id DESC) \
                 AS last_rank \
               FROM wellbeing_measures m JOIN referrals r ON r.id = m.referral_id WHERE {}) \
             SELECT referral_id, instrument, instrument_version, answers FROM m \
             WHERE (first_rank = 1 OR last_rank = 1) AND NOT (first_rank = 1 AND last_rank = 1) \
             ORDER BY referral_id, instrument, first_rank",
            c.condition
        );
        let rows = self.report_rows(&sql, c.values.clone()).await?;
        let mut figures: Vec<WellbeingFigures> = Vec::new();
        // Rows come in pairs: each referral's baseline, then its follow-up, with one instrument.
        for pair in rows.chunks_exact(2) {
            let (baseline, follow_up) = (scored(&pair[0])?, scored(&pair[1])?);
            let changes =
                change_between(&baseline, &follow_up).map_err(|_| corrupt("wellbeing_measures.instrument"))?;
            for change in changes {
                let instrument = follow_up.instrument.code;
                let improved = change.direction == Direction::Improved && change.meaningful != Some(false);
                let entry = match figures.iter_mut().position(|f| f.instrument == instrument && f.score == change.key) {
                    Some(i) => &mut figures[i],
                    None => {
                        figures.push(WellbeingFigures {
                            instrument,
                            score: change.key,
                            people: 0,
                            change_sum: 0.0,
                            improved: 0,
                        });
                        let last = figures.len() - 1;
                        &mut figures[last]
                    }
                };
                entry.people += 1;
                entry.change_sum += change.change;
                entry.improved += u64::from(improved);
            }
        }
        Ok(figures)
    }
}
