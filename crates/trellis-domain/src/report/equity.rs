//! What equity reporting counts referrals by: age band at referral, and the optional sex and ethnic
//! category a referrer may record (NHS Data Dictionary codes).

use chrono::{Datelike, NaiveDate};

use crate::values::needs::named_enum;

named_enum!(
    /// The person's sex as the referrer recorded it (NHS Data Dictionary PERSON STATED GENDER CODE:
    /// 1 male, 2 female, 9 indeterminate, X not known). Optional: not recorded is no value.
    Sex, "sex", "is not a recorded sex" {
        /// Female (code 2).
        Female => "female",
        /// Male (code 1).
        Male => "male",
        /// Indeterminate: unable to be classified as either (code 9).
        Indeterminate => "indeterminate",
        /// Asked, but not known (code X).
        NotKnown => "not_known",
    }
);

impl Sex {
    /// The NHS Data Dictionary code.
    pub fn nhs_code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::Indeterminate => "9",
            Sex::NotKnown => "X",
        }
    }

    /// As a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Female => "Female",
            Sex::Male => "Male",
            Sex::Indeterminate => "Indeterminate",
            Sex::NotKnown => "Not known",
        }
    }
}

named_enum!(
    /// The person's ethnic group as they stated it, by the NHS Data Dictionary's ETHNIC CATEGORY code
    /// (stored and exchanged as that code). Optional: not recorded is no value.
    EthnicCategory, "ethnicCategory", "is not an NHS ethnic category code" {
        /// A: White - British.
        WhiteBritish => "A",
        /// B: White - Irish.
        WhiteIrish => "B",
        /// C: White - Any other White background.
        WhiteOther => "C",
        /// D: Mixed - White and Black Caribbean.
        MixedWhiteBlackCaribbean => "D",
        /// E: Mixed - White and Black African.
        MixedWhiteBlackAfrican => "E",
        /// F: Mixed - White and Asian.
        MixedWhiteAsian => "F",
        /// G: Mixed - Any other mixed background.
        MixedOther => "G",
        /// H: Asian or Asian British - Indian.
        AsianIndian => "H",
        /// J: Asian or Asian British - Pakistani.
        AsianPakistani => "J",
        /// K: Asian or Asian British - Bangladeshi.
        AsianBangladeshi => "K",
        /// L: Asian or Asian British - Any other Asian background.
        AsianOther => "L",
        /// M: Black or Black British - Caribbean.
        BlackCaribbean => "M",
        /// N: Black or Black British - African.
        BlackAfrican => "N",
        /// P: Black or Black British - Any other Black background.
        BlackOther => "P",
        /// R: Other ethnic groups - Chinese.
        Chinese => "R",
        /// S: Other ethnic groups - Any other ethnic group.
        OtherEthnicGroup => "S",
        /// Z: Not stated (the person chose not to say).
        NotStated => "Z",
        /// 99: Not known.
        NotKnown => "99",
    }
);

impl EthnicCategory {
    /// The Data Dictionary's wording.
    pub fn label(self) -> &'static str {
        use EthnicCategory as E;
        match self {
            E::WhiteBritish => "White - British",
            E::WhiteIrish => "White - Irish",
            E::WhiteOther => "White - Any other White background",
            E::MixedWhiteBlackCaribbean => "Mixed - White and Black Caribbean",
            E::MixedWhiteBlackAfrican => "Mixed - White and Black African",
            E::MixedWhiteAsian => "Mixed - White and Asian",
            E::MixedOther => "Mixed - Any other mixed background",
            E::AsianIndian => "Asian or Asian British - Indian",
            E::AsianPakistani => "Asian or Asian British - Pakistani",
            E::AsianBangladeshi => "Asian or Asian British - Bangladeshi",
            E::AsianOther => "Asian or Asian British - Any other Asian background",
            E::BlackCaribbean => "Black or Black British - Caribbean",
            E::BlackAfrican => "Black or Black British - African",
            E::BlackOther => "Black or Black British - Any other Black background",
            E::Chinese => "Other Ethnic Groups - Chinese",
            E::OtherEthnicGroup => "Other Ethnic Groups - Any other ethnic group",
            E::NotStated => "Not stated",
            E::NotKnown => "Not known",
        }
    }
}

/// An age band at the time of referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AgeBand {
    /// 0 to 17.
    Under18,
    /// 18 to 24.
    From18To24,
    /// 25 to 34.
    From25To34,
    /// 35 to 44.
    From35To44,
    /// 45 to 54.
    From45To54,
    /// 55 to 64.
    From55To64,
    /// 65 to 74.
    From65To74,
    /// 75 to 84.
    From75To84,
    /// 85 and over.
    From85,
}

impl AgeBand {
    /// Every band, youngest first.
    pub const ALL: [AgeBand; 9] = [
        AgeBand::Under18,
        AgeBand::From18To24,
        AgeBand::From25To34,
        AgeBand::From35To44,
        AgeBand::From45To54,
        AgeBand::From55To64,
        AgeBand::From65To74,
        AgeBand::From75To84,
        AgeBand::From85,
    ];

    /// The band of someone `age` whole years old.
    pub fn of(age: u32) -> AgeBand {
        match age {
            0..=17 => AgeBand::Under18,
            18..=24 => AgeBand::From18To24,
            25..=34 => AgeBand::From25To34,
            35..=44 => AgeBand::From35To44,
            45..=54 => AgeBand::From45To54,
            55..=64 => AgeBand::From55To64,
            65..=74 => AgeBand::From65To74,
            75..=84 => AgeBand::From75To84,
            _ => AgeBand::From85,
        }
    }

    /// Its stable name in CSV and the API (`0-17`, …, `85+`).
    pub fn as_str(self) -> &'static str {
        match self {
            AgeBand::Under18 => "0-17",
            AgeBand::From18To24 => "18-24",
            AgeBand::From25To34 => "25-34",
            AgeBand::From35To44 => "35-44",
            AgeBand::From45To54 => "45-54",
            AgeBand::From55To64 => "55-64",
            AgeBand::From65To74 => "65-74",
            AgeBand::From75To84 => "75-84",
            AgeBand::From85 => "85+",
        }
    }
}

/// Whole years from `born` to `on` (0 for a date before birth).
pub fn age_on(born: NaiveDate, on: NaiveDate) -> u32 {
    let years = on.year() - born.year() - i32::from((on.month(), on.day()) < (born.month(), born.day()));
    u32::try_from(years).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_fall_in_their_bands_at_each_edge() {
        let bands: Vec<&str> = [0, 17, 18, 24, 25, 64, 65, 84, 85, 103].map(|a| AgeBand::of(a).as_str()).to_vec();
        assert_eq!(bands, ["0-17", "0-17", "18-24", "18-24", "25-34", "55-64", "65-74", "75-84", "85+", "85+"]);
    }

    #[test]
    fn age_counts_whole_years_up_to_the_birthday() {
        let born = NaiveDate::from_ymd_opt(1956, 3, 14).unwrap();
        assert_eq!(age_on(born, NaiveDate::from_ymd_opt(2026, 3, 13).unwrap()), 69);
        assert_eq!(age_on(born, NaiveDate::from_ymd_opt(2026, 3, 14).unwrap()), 70);
        assert_eq!(age_on(born, NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()), 0);
    }

    #[test]
    fn ethnic_categories_are_the_data_dictionary_codes() {
        let codes: Vec<&str> = EthnicCategory::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(codes, ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z", "99"]);
        assert_eq!(EthnicCategory::parse("99"), Ok(EthnicCategory::NotKnown));
        assert_eq!(EthnicCategory::parse("I").unwrap_err().field, "ethnicCategory");
        assert_eq!(Sex::parse("female").map(Sex::nhs_code), Ok("2"));
    }
}
