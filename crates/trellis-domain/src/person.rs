//! The person a referral is for, as one referral holds them.
//!
//! Each referral keeps the demographics it was submitted with (as the PRSB referral does): one
//! organisation's submission never changes what another organisation's referral shows. The NHS number
//! still links a person's referrals. When a new submission's details differ from what the same link
//! worker service already holds for that NHS number, the referral is flagged and the link worker chooses
//! which details stand ([`DetailsChoice`]); [`PersonDetails::differs_from`] is the rule that decides it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::report::{EthnicCategory, Sex};
use crate::values::needs::named_enum;
use crate::values::{ContactMethod, EmailAddress, NhsNumber, PhoneNumber, Postcode};

/// The flag a referral carries while its person's details differ from those its link worker service
/// already holds for the same NHS number, until the link worker resolves it.
pub const DETAILS_DIFFER_FLAG: &str = "details_differ";

/// The person as one referral holds them: the demographics it was submitted with (or that its link
/// worker chose to keep).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDetails {
    /// NHS number: what links a person's referrals.
    pub nhs_number: NhsNumber,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Phone.
    pub phone: Option<PhoneNumber>,
    /// Email.
    pub email: Option<EmailAddress>,
    /// Home postcode.
    pub postcode: Option<Postcode>,
    /// How they like to be contacted.
    pub preferred_contact: ContactMethod,
    /// Their sex, if recorded (for equity reporting only).
    #[serde(default)]
    pub sex: Option<Sex>,
    /// Their ethnic category, if recorded (for equity reporting only).
    #[serde(default)]
    pub ethnic_category: Option<EthnicCategory>,
}

impl PersonDetails {
    /// Whether these details tell a link worker something different from `held` about the same person:
    /// another name (ignoring case and surrounding space), date of birth, phone, email, postcode or
    /// contact preference. Values are compared parsed, so the same phone written with spaces is the same.
    /// Sex and ethnic category are for equity reporting, not for reaching the person, and do not count.
    pub fn differs_from(&self, held: &PersonDetails) -> bool {
        let name = |s: &str| s.trim().to_lowercase();
        name(&self.given_name) != name(&held.given_name)
            || name(&self.family_name) != name(&held.family_name)
            || self.date_of_birth != held.date_of_birth
            || self.phone != held.phone
            || self.email != held.email
            || self.postcode != held.postcode
            || self.preferred_contact != held.preferred_contact
    }
}

named_enum!(
    /// Which details stand when a referral's were flagged as differing from those its service holds.
    DetailsChoice, "keep", "is not a choice of details" {
        /// The details this referral was submitted with.
        Submitted => "submitted",
        /// The details the link worker service already held for the NHS number (its latest other
        /// referral); they replace this referral's.
        Held => "held",
    }
);

/// A person's details for the domain's tests.
#[cfg(test)]
pub(crate) fn example() -> PersonDetails {
    tests::details()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn details() -> PersonDetails {
        PersonDetails {
            nhs_number: NhsNumber::parse("9434765919").unwrap(),
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1950, 12, 10).unwrap(),
            phone: Some(PhoneNumber::parse("07700 900123").unwrap()),
            email: None,
            postcode: Some(Postcode::parse("NG1 1AA").unwrap()),
            preferred_contact: ContactMethod::Phone,
            sex: None,
            ethnic_category: None,
        }
    }

    #[test]
    fn the_same_details_written_differently_do_not_differ() {
        let mut again = details();
        again.given_name = " ada ".into();
        again.phone = Some(PhoneNumber::parse("07700900123").unwrap());
        assert!(!again.differs_from(&details()));
    }

    #[test]
    fn another_name_phone_email_birth_date_postcode_or_contact_method_differs() {
        let changes: Vec<fn(&mut PersonDetails)> = vec![
            |d| d.given_name = "Eve".into(),
            |d| d.family_name = "Byron".into(),
            |d| d.date_of_birth = NaiveDate::from_ymd_opt(1951, 1, 1).unwrap(),
            |d| d.phone = Some(PhoneNumber::parse("07700 900999").unwrap()),
            |d| d.phone = None,
            |d| d.email = Some(EmailAddress::parse("eve@example.com").unwrap()),
            |d| d.postcode = Some(Postcode::parse("NG7 2RD").unwrap()),
            |d| d.preferred_contact = ContactMethod::Letter,
        ];
        for (i, change) in changes.into_iter().enumerate() {
            let mut other = details();
            change(&mut other);
            assert!(other.differs_from(&details()), "change {i}");
        }
    }
}
