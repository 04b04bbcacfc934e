//! Wellbeing measures: the instruments as versioned data, how a set of answers is scored and banded, and
//! the change between a person's first and last measure.
//!
//! Two instruments, as link workers use them:
//! - **ONS4** (ONS personal wellbeing, version 1): four items answered 0–10, each reported on its own and
//!   never summed; any single item may be left unanswered. Lower is better for anxiety only.
//! - **SWEMWBS** (Short Warwick-Edinburgh Mental Wellbeing Scale, version 1): seven items answered 1–5, all
//!   needed; the raw sum 7–35 converts to a metric score by the published table. SNOMED CT 718466001.
//!   Its wording is licensed by its owners and is not shipped here: a deployment supplies it.

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// Which instrument a measure was taken with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentCode {
    /// ONS personal wellbeing (ONS4).
    Ons4,
    /// Short Warwick-Edinburgh Mental Wellbeing Scale.
    Swemwbs,
}

impl InstrumentCode {
    /// Every instrument.
    pub const ALL: [InstrumentCode; 2] = [InstrumentCode::Ons4, InstrumentCode::Swemwbs];

    /// The stable name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentCode::Ons4 => "ons4",
            InstrumentCode::Swemwbs => "swemwbs",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ValueError::new("instrument", s, "is not a known instrument"))
    }
}

/// Which way is better on an item's scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// A higher answer is better (life satisfaction, wellbeing).
    Higher,
    /// A lower answer is better (anxiety).
    Lower,
}

/// A named range of scores, inclusive at both ends.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Band {
    /// How the band reads: `low`, `medium`, `high`, `very high`, `very low`.
    pub label: &'static str,
    /// The lowest score in the band.
    pub from: f64,
    /// The highest score in the band.
    pub to: f64,
}

/// One question of an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Item {
    /// Its number, from 1.
    pub number: u8,
    /// A stable key for storage and reports (`life_satisfaction`, `item_3`).
    pub key: &'static str,
    /// Its wording, where the wording may be shipped (ONS4's is public); `None` for licensed wording.
    pub wording: Option<&'static str>,
    /// Which way is better.
    pub better: Better,
    /// Its bands, where the instrument bands single items (ONS4).
    pub bands: &'static [Band],
}

/// How an instrument's answers become scores.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// Each item is a score of its own; items are never summed; an item may be left unanswered.
    EachItem,
    /// Every item must be answered; the raw sum converts to a metric score by a table indexed from
    /// the lowest possible sum.
    ConvertedSum {
        /// Metric scores for raw sums from `items × min` upwards.
        table: &'static [f64],
        /// The smallest change of the metric score that is meaningful for one person.
        meaningful_change: f64,
    },
}

/// An instrument, as data: its items, response scale, scoring rule, bands and code.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Instrument {
    /// Which instrument.
    pub code: InstrumentCode,
    /// Its version: a stored measure names the version it was scored by.
    pub version: u32,
    /// Its full name.
    pub name: &'static str,
    /// Its questions, in order.
    pub items: &'static [Item],
    /// The lowest answer.
    pub min: u8,
    /// The highest answer.
    pub max: u8,
    /// How answers become scores.
    pub scoring: Scoring,
    /// The SNOMED CT code of its score, where one exists.
    pub snomed: Option<&'static str>,
}

const POSITIVE_BANDS: &[Band] = &[
    Band { label: "low", from: 0.0, to: 4.0 },
    Band { label: "medium", from: 5.0, to: 6.0 },
    Band { label: "high", from: 7.0, to: 8.0 },
    Band { label: "very high", from: 9.0, to: 10.0 },
];

const ANXIETY_BANDS: &[Band] = &[
    Band { label: "very low", from: 0.0, to: 1.0 },
    Band { label: "low", from: 2.0, to: 3.0 },
    Band { label: "medium", from: 4.0, to: 5.0 },
    Band { label: "high", from: 6.0, to: 10.0 },
];

/// ONS personal wellbeing, version 1. The questions are the ONS's public wording.
pub const ONS4_V1: Instrument = Instrument {
    code: InstrumentCode::Ons4,
    version: 1,
    name: "ONS personal wellbeing (ONS4)",
    items: &[
        Item {
            number: 1,
            key: "life_satisfaction",
            wording: Some("Overall, how satisfied are you with your life nowadays?"),
            better: Better::Higher,
            bands: POSITIVE_BANDS,
        },
        Item {
            number: 2,
            key: "worthwhile",
            wording: Some("Overall, to what extent do you feel that the things you do in your life are worthwhile?"),
            better: Better::Higher,
            bands: POSITIVE_BANDS,
        },
        Item {
            number: 3,
            key: "happiness",
            wording: Some("Overall, how happy did you feel yesterday?"),
            better: Better::Higher,
            bands: POSITIVE_BANDS,
        },
        Item {
            number: 4,
            key: "anxiety",
            wording: Some("Overall, how anxious did you feel yesterday?"),
            better: Better::Lower,
            bands: ANXIETY_BANDS,
        },
    ],
    min: 0,
    max: 10,
    scoring: Scoring::EachItem,
    snomed: None,
};

/// SWEMWBS raw score (7–35) to metric score, the published conversion table.
const SWEMWBS_METRIC: [f64; 29] = [
    7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36, 16.88, 17.43, 17.98, 18.59, 19.25, 19.98,
    20.73, 21.54, 22.35, 23.21, 24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70, 32.55, 35.00,
];

const fn swemwbs_item(number: u8, key: &'static str) -> Item {
    Item { number, key, wording: None, better: Better::Higher, bands: &[] }
}

/// SWEMWBS, version 1: scoring and item numbers only; the licensed wording comes from the deployment.
pub const SWEMWBS_V1: Instrument = Instrument {
    code: InstrumentCode::Swemwbs,
    version: 1,
    name: "Short Warwick-Edinburgh Mental Wellbeing Scale (SWEMWBS)",
    items: &[
        swemwbs_item(1, "item_1"),
        swemwbs_item(2, "item_2"),
        swemwbs_item(3, "item_3"),
        swemwbs_item(4, "item_4"),
        swemwbs_item(5, "item_5"),
        swemwbs_item(6, "item_6"),
        swemwbs_item(7, "item_7"),
    ],
    min: 1,
    max: 5,
    scoring: Scoring::ConvertedSum { table: &SWEMWBS_METRIC, meaningful_change: 3.0 },
    snomed: Some("718466001"),
};

/// Every instrument and version Trellis can score.
pub const INSTRUMENTS: [Instrument; 2] = [ONS4_V1, SWEMWBS_V1];

impl Instrument {
    /// The instrument `code` at `version`, or a refusal naming what was asked for.
    pub fn find(code: InstrumentCode, version: u32) -> Result<&'static Instrument, ValueError> {
        INSTRUMENTS
            .iter()
            .find(|i| i.code == code && i.version == version)
            .ok_or_else(|| ValueError::new("version", version.to_string(), "is not a known version of the instrument"))
    }

    /// The newest version of `code`.
    pub fn current(code: InstrumentCode) -> &'static Instrument {
        match code {
            InstrumentCode::Ons4 => &ONS4_V1,
            InstrumentCode::Swemwbs => &SWEMWBS_V1,
        }
    }

    /// Reads answers as a caller sends them (any integers), refusing one outside the response scale and
    /// naming its item; then [`Instrument::score`] scores them.
    pub fn parse_answers(&self, answers: &[Option<i64>]) -> Result<Vec<Option<u8>>, ValueError> {
        answers
            .iter()
            .enumerate()
            .map(|(i, answer)| match answer {
                None => Ok(None),
                Some(a) => {
                    u8::try_from(*a).ok().filter(|a| (self.min..=self.max).contains(a)).map(Some).ok_or_else(|| {
                        ValueError::new(answer_field(i), a.to_string(), "is out of the instrument's range")
                    })
                }
            })
            .collect()
    }

    /// The metric score of a raw sum, for an instrument that sums.
    pub fn metric_of(&self, raw: u32) -> Option<f64> {
        let Scoring::ConvertedSum { table, .. } = self.scoring else { return None };
        let lowest = u32::from(self.min) * self.items.len() as u32;
        table.get(usize::try_from(raw.checked_sub(lowest)?).ok()?).copied()
    }

    /// Scores a set of answers, one per item in order (`None` for an item left unanswered). Refuses a set
    /// of the wrong length, an answer out of range, or a missing answer where every item is needed.
    pub fn score(&'static self, answers: &[Option<u8>]) -> Result<Scores, ValueError> {
        if answers.len() != self.items.len() {
            return Err(ValueError::new("answers", answers.len().to_string(), "must have one answer per item"));
        }
        for (item, answer) in self.items.iter().zip(answers) {
            if let Some(a) = answer
                && !(self.min..=self.max).contains(a)
            {
                return Err(ValueError::new(
                    answer_field(usize::from(item.number) - 1),
                    a.to_string(),
                    "is out of the instrument's range",
                ));
            }
        }
        if answers.iter().all(Option::is_none) {
            return Err(ValueError::new("answers", "", "must answer at least one item"));
        }
        let total = match self.scoring {
            Scoring::EachItem => None,
            Scoring::ConvertedSum { .. } => {
                let mut raw = 0u32;
                for (item, answer) in self.items.iter().zip(answers) {
                    let a = answer.ok_or_else(|| {
                        ValueError::new(answer_field(usize::from(item.number) - 1), "", "must be answered")
                    })?;
                    raw += u32::from(a);
                }
                let metric = self
                    .metric_of(raw)
                    .ok_or_else(|| ValueError::new("answers", raw.to_string(), "has no metric score"))?;
                Some(Total { raw, metric })
            }
        };
        let items = self
            .items
            .iter()
            .zip(answers)
            .map(|(item, answer)| ItemScore { item: *item, answer: *answer, band: answer.and_then(|a| item.band(a)) })
            .collect();
        Ok(Scores { instrument: self, items, total })
    }
}

impl Item {
    /// The band an answer falls in, where this item is banded.
    pub fn band(&self, answer: u8) -> Option<&'static str> {
        let a = f64::from(answer);
        self.bands.iter().find(|b| b.from <= a && a <= b.to).map(|b| b.label)
    }
}

/// The field an answer is reported under: `answers[2]` for the third item, as the API's list is indexed.
fn answer_field(index: usize) -> &'static str {
    const FIELDS: [&str; 7] =
        ["answers[0]", "answers[1]", "answers[2]", "answers[3]", "answers[4]", "answers[5]", "answers[6]"];
    FIELDS.get(index).copied().unwrap_or("answers")
}

/// One item's answer and band.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemScore {
    /// The item.
    pub item: Item,
    /// The answer, if given.
    pub answer: Option<u8>,
    /// Its band, where the item is banded and answered.
    pub band: Option<&'static str>,
}

/// A summed score: the raw sum and its metric conversion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Total {
    /// The sum of the answers.
    pub raw: u32,
    /// The converted score.
    pub metric: f64,
}

/// A scored set of answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// The instrument (and version) it was scored by.
    pub instrument: &'static Instrument,
    /// Each item.
    pub items: Vec<ItemScore>,
    /// The total, for instruments that sum.
    pub total: Option<Total>,
}

/// Which way a score moved, judged by what is better on its scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Better than at the baseline.
    Improved,
    /// The same.
    Unchanged,
    /// Worse than at the baseline.
    Worse,
}

impl Direction {
    fn of(change: f64, better: Better) -> Direction {
        let towards_better = match better {
            Better::Higher => change,
            Better::Lower => -change,
        };
        if towards_better > 0.0 {
            Direction::Improved
        } else if towards_better < 0.0 {
            Direction::Worse
        } else {
            Direction::Unchanged
        }
    }

    /// The stable name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Improved => "improved",
            Direction::Unchanged => "unchanged",
            Direction::Worse => "worse",
        }
    }
}

/// How one score changed between the baseline and the follow-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreChange {
    /// What changed: an item's key, or `total` for a summed score.
    pub key: &'static str,
    /// At the baseline.
    pub baseline: f64,
    /// At the follow-up.
    pub follow_up: f64,
    /// Follow-up minus baseline.
    pub change: f64,
    /// Better, the same or worse.
    pub direction: Direction,
    /// Whether the change is meaningful for one person, where the instrument says what is.
    pub meaningful: Option<bool>,
}

/// The change between the first (baseline) and last (follow-up) measure with one instrument: per item for
/// ONS4 (items answered both times), and the metric total for SWEMWBS.
pub fn change_between(baseline: &Scores, follow_up: &Scores) -> Result<Vec<ScoreChange>, ValueError> {
    if baseline.instrument.code != follow_up.instrument.code {
        return Err(ValueError::new("instrument", follow_up.instrument.code.as_str(), "differs from the baseline's"));
    }
    match (baseline.total, follow_up.total) {
        (Some(b), Some(f)) => {
            Ok(total_change(baseline.instrument, b.raw, follow_up.instrument, f.raw).into_iter().collect())
        }
        _ => Ok(baseline
            .items
            .iter()
            .zip(&follow_up.items)
            .enumerate()
            .filter_map(|(i, (b, f))| item_change(follow_up.instrument, i, b.answer?, f.answer?))
            .collect()),
    }
}

/// The change of a summed score between a baseline and a follow-up with these raw sums (each converted
/// by its own version's table; the follow-up's version says what change is meaningful), or `None` for an
/// instrument that does not sum or a sum it cannot convert.
pub fn total_change(
    baseline: &Instrument,
    baseline_raw: u32,
    follow_up: &Instrument,
    follow_up_raw: u32,
) -> Option<ScoreChange> {
    let (Some(b), Some(f)) = (baseline.metric_of(baseline_raw), follow_up.metric_of(follow_up_raw)) else {
        return None;
    };
    let Scoring::ConvertedSum { meaningful_change, .. } = follow_up.scoring else { return None };
    let change = round2(f - b);
    Some(ScoreChange {
        key: "total",
        baseline: b,
        follow_up: f,
        change,
        direction: Direction::of(change, Better::Higher),
        meaningful: Some(change.abs() >= meaningful_change),
    })
}

/// The change of item `index` (from 0) of an instrument scored item by item, between these answers; `None`
/// for an instrument that sums or an item it does not have.
pub fn item_change(instrument: &Instrument, index: usize, baseline: u8, follow_up: u8) -> Option<ScoreChange> {
    if instrument.scoring != Scoring::EachItem {
        return None;
    }
    let item = instrument.items.get(index)?;
    let (b, f) = (f64::from(baseline), f64::from(follow_up));
    let change = f - b;
    Some(ScoreChange {
        key: item.key,
        baseline: b,
        follow_up: f,
        change,
        direction: Direction::of(change, item.better),
        meaningful: None,
    })
}

/// Metric scores are published to two decimals; differences are kept so, free of float noise.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Why no follow-up measure was taken before a referral closed as completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoFollowUpReason {
    /// The person declined to answer.
    Declined,
    /// The person was not able to answer.
    NotAble,
    /// It was not offered.
    NotOffered,
}

impl NoFollowUpReason {
    /// Every reason.
    pub const ALL: [NoFollowUpReason; 3] =
        [NoFollowUpReason::Declined, NoFollowUpReason::NotAble, NoFollowUpReason::NotOffered];

    /// The stable name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            NoFollowUpReason::Declined => "declined",
            NoFollowUpReason::NotAble => "not_able",
            NoFollowUpReason::NotOffered => "not_offered",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ValueError::new("noFollowUpReason", s, "is not a reason for a missing follow-up"))
    }
}

/// What a closure as completed records about the follow-up measure: nothing when one was taken; the
/// reason given when none was; and a refusal when none was taken and no reason given.
pub fn reason_for_no_follow_up(
    has_follow_up: bool,
    given: Option<NoFollowUpReason>,
) -> Result<Option<NoFollowUpReason>, ValueError> {
    match (has_follow_up, given) {
        (true, _) => Ok(None),
        (false, Some(reason)) => Ok(Some(reason)),
        (false, None) => Err(ValueError::new(
            "noFollowUpReason",
            "",
            "is required to close as completed without a follow-up measure",
        )),
    }
}

/// When a measure may be dated: not before the referral was made, not in the future.
pub fn check_taken_at(
    taken_at: chrono::DateTime<chrono::Utc>,
    referral_created: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ValueError> {
    if taken_at > now {
        return Err(ValueError::new("takenAt", taken_at.to_rfc3339(), "must not be in the future"));
    }
    if taken_at < referral_created {
        return Err(ValueError::new("takenAt", taken_at.to_rfc3339(), "must not be before the referral was made"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
