use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::ValueError;

/// The oldest age Trellis accepts; anything older is taken as a typing mistake.
const MAX_AGE_YEARS: i32 = 120;

/// A date of birth that is not in the future and gives a plausible age.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    /// Accepts `date` if it is on or before `today` and no more than 120 years before it.
    pub fn parse(date: NaiveDate, today: NaiveDate) -> Result<Self, ValueError> {
        let err = |reason| ValueError::new("dateOfBirth", date.to_string(), reason);
        if date > today {
            return Err(err("is in the future"));
        }
        if age_on(date, today) > MAX_AGE_YEARS {
            return Err(err("gives an implausible age"));
        }
        Ok(Self(date))
    }

    /// Parses an ISO 8601 date (`1956-03-14`).
    pub fn parse_iso(input: &str, today: NaiveDate) -> Result<Self, ValueError> {
        let date = NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
            .map_err(|_| ValueError::new("dateOfBirth", input, "must be a date as YYYY-MM-DD"))?;
        Self::parse(date, today)
    }

    /// The date.
    pub fn date(&self) -> NaiveDate {
        self.0
    }

    /// Age in whole years on `today`.
    pub fn age_on(&self, today: NaiveDate) -> i32 {
        age_on(self.0, today)
    }

    /// An age band a provider may see before accepting (`18-24`, `25-34`, …, `85+`), never the date.
    pub fn age_band(&self, today: NaiveDate) -> &'static str {
        match self.age_on(today) {
            ..=17 => "under 18",
            18..=24 => "18-24",
            25..=34 => "25-34",
            35..=44 => "35-44",
            45..=54 => "45-54",
            55..=64 => "55-64",
            65..=74 => "65-74",
            75..=84 => "75-84",
            _ => "85+",
        }
    }
}

fn age_on(born: NaiveDate, today: NaiveDate) -> i32 {
    let had_birthday = (today.month(), today.day()) >= (born.month(), born.day());
    today.year() - born.year() - i32::from(!had_birthday)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn age_counts_whole_years_and_turns_on_the_birthday() {
        let dob = DateOfBirth::parse(d("1956-03-14"), d("2026-11-23")).unwrap();
        assert_eq!(dob.age_on(d("2026-03-13")), 69);
        assert_eq!(dob.age_on(d("2026-03-14")), 70);
        assert_eq!(dob.age_band(d("2026-11-23")), "65-74");
    }

    #[test]
    fn a_date_of_birth_in_the_future_is_refused() {
        let e = DateOfBirth::parse(d("2026-11-24"), d("2026-11-23")).unwrap_err();
        assert_eq!((e.field, e.reason, e.value.as_str()), ("dateOfBirth", "is in the future", "2026-11-24"));
    }

    #[test]
    fn an_implausible_age_is_refused_but_today_is_accepted() {
        assert_eq!(
            DateOfBirth::parse(d("1900-01-01"), d("2026-11-23")).unwrap_err().reason,
            "gives an implausible age"
        );
        assert!(DateOfBirth::parse(d("2026-11-23"), d("2026-11-23")).is_ok());
    }

    #[test]
    fn text_that_is_not_an_iso_date_is_refused() {
        for input in ["14/03/1956", "1956-02-30", "yesterday", ""] {
            assert_eq!(
                DateOfBirth::parse_iso(input, d("2026-11-23")).unwrap_err().reason,
                "must be a date as YYYY-MM-DD",
                "{input}"
            );
        }
    }
}
