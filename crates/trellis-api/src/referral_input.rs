//! A referral as a referrer typed it, parsed once for every way in: the GraphQL `submitReferral`
//! resolver and the console's referral form both hand their text to [`parse_submission`], so what a
//! valid NHS number, name, date of birth or contact route is, and when two submissions are the same
//! request ([`request_hash`]), is written here and nowhere else.
//!
//! Parsing reports every field that is wrong, in the order of the form, each as the domain's
//! [`ValueError`] naming its field (`nhsNumber`, `consent.recordedBy`, …): the form shows them all, the
//! API its first. Who may refer, consent and the due date are the domain's
//! (`NewReferral::accept`), asked by `Store::submit_referral` after parsing.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use trellis_domain::report::{EthnicCategory, Sex};
use trellis_domain::values::{self as v, ValueError};
use trellis_store::referrals::{Consent, IdempotencyKey, NewReferral, PersonDetails};

/// The longest idempotency key, name and reason, in characters.
const MAX_KEY: usize = 200;
const MAX_NAME: usize = 100;
const MAX_REASON: usize = 4000;
const MAX_RECORDED_BY: usize = 200;

/// What the referrer typed, as text: each way in turns its own transport (GraphQL enums, form fields)
/// into this and nothing more.
#[derive(Clone, Debug, Default)]
pub struct ReferralText<'a> {
    /// The client's key for safe retries.
    pub idempotency_key: &'a str,
    /// NHS number, spaces or dashes allowed.
    pub nhs_number: &'a str,
    /// Given name.
    pub given_name: &'a str,
    /// Family name.
    pub family_name: &'a str,
    /// Date of birth, `YYYY-MM-DD` (month and day may have one digit).
    pub date_of_birth: &'a str,
    /// UK phone number; empty is none.
    pub phone: Option<&'a str>,
    /// Email address; empty is none.
    pub email: Option<&'a str>,
    /// Postcode; empty is none.
    pub postcode: Option<&'a str>,
    /// How they like to be contacted (`phone`, `text`, `email`, `letter`).
    pub preferred_contact: &'a str,
    /// Their sex (`female`, `male`, `indeterminate`, `not_known`); empty or none is not recorded.
    pub sex: Option<&'a str>,
    /// Their NHS ethnic category code (`A` … `Z`, `99`); empty or none is not recorded.
    pub ethnic_category: Option<&'a str>,
    /// The needs' names (`loneliness`, …).
    pub needs: Vec<&'a str>,
    /// Why they are referred.
    pub reason: &'a str,
    /// `routine` or `urgent`.
    pub urgency: &'a str,
    /// Whether the person consented; the domain refuses a referral without it.
    pub consent_given: bool,
    /// Who recorded the consent (read only when it was given).
    pub consent_recorded_by: &'a str,
    /// When the consent was recorded (read only when it was given).
    pub consent_recorded_at: DateTime<Utc>,
}

/// A submission that parsed: the referral and its idempotency key, ready for `Store::submit_referral`.
#[derive(Clone, Debug)]
pub struct ParsedSubmission {
    /// The referral.
    pub referral: NewReferral,
    /// The key with the fingerprint of this request.
    pub key: IdempotencyKey,
}

/// Parses a submission at `now`, keeping idempotency keys for `key_days` days. Every field that does not
/// parse is reported, in the order of [`ReferralText`]'s fields.
pub fn parse_submission(
    text: &ReferralText<'_>,
    now: DateTime<Utc>,
    key_days: i64,
) -> Result<ParsedSubmission, Vec<ValueError>> {
    let mut errors = Vec::new();
    let key = keep(&mut errors, v::required_text("idempotencyKey", text.idempotency_key, MAX_KEY));
    let person = parse_person(text, now.date_naive());
    let person = match person {
        Ok(p) => Some(p),
        Err(mut e) => {
            errors.append(&mut e);
            None
        }
    };
    let needs = keep(&mut errors, v::Need::parse_list(text.needs.iter().copied()));
    let reason = keep(&mut errors, v::required_text("reason", text.reason, MAX_REASON));
    let urgency = keep(&mut errors, v::Urgency::parse(text.urgency));
    let consent = match text.consent_given {
        true => keep(&mut errors, v::required_text("consent.recordedBy", text.consent_recorded_by, MAX_RECORDED_BY))
            .map(|recorded_by| Some(Consent { recorded_by, recorded_at: text.consent_recorded_at })),
        false => Some(None),
    };
    match (key, person, needs, reason, urgency, consent) {
        (Some(key), Some(person), Some(needs), Some(reason), Some(urgency), Some(consent)) if errors.is_empty() => {
            let referral = NewReferral { person, needs, reason, urgency, consent };
            let forget_before = now - Duration::days(key_days.max(1));
            let key = IdempotencyKey { key, request_hash: request_hash(&referral), forget_before };
            Ok(ParsedSubmission { referral, key })
        }
        _ => Err(errors),
    }
}

/// `r`'s value, or `None` with its error kept.
fn keep<T>(errors: &mut Vec<ValueError>, r: Result<T, ValueError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// An optional field's text, `None` when empty.
fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The person's details, every wrong field reported.
fn parse_person(text: &ReferralText<'_>, today: NaiveDate) -> Result<PersonDetails, Vec<ValueError>> {
    let mut errors = Vec::new();
    let nhs_number = keep(&mut errors, v::NhsNumber::parse(text.nhs_number));
    let given_name = keep(&mut errors, v::required_text("givenName", text.given_name, MAX_NAME));
    let family_name = keep(&mut errors, v::required_text("familyName", text.family_name, MAX_NAME));
    let date_of_birth = keep(&mut errors, v::DateOfBirth::parse_iso(text.date_of_birth, today));
    let phone = keep(&mut errors, given(text.phone).map(v::PhoneNumber::parse).transpose());
    let email = keep(&mut errors, given(text.email).map(v::EmailAddress::parse).transpose());
    let postcode = keep(&mut errors, given(text.postcode).map(v::Postcode::parse).transpose());
    let preferred_contact = keep(&mut errors, v::ContactMethod::parse(text.preferred_contact));
    let sex = keep(&mut errors, given(text.sex).map(Sex::parse).transpose());
    let ethnic_category = keep(&mut errors, given(text.ethnic_category).map(EthnicCategory::parse).transpose());
    let (
        Some(nhs_number),
        Some(given_name),
        Some(family_name),
        Some(date_of_birth),
        Some(phone),
        Some(email),
        Some(postcode),
        Some(preferred_contact),
        Some(sex),
        Some(ethnic_category),
    ) = (
        nhs_number,
        given_name,
        family_name,
        date_of_birth,
        phone,
        email,
        postcode,
        preferred_contact,
        sex,
        ethnic_category,
    )
    else {
        // The contact route is checked against the details only once they parse: a phone number with a
        // typo is one error, not two.
        return Err(errors);
    };
    let reachable = match preferred_contact {
        v::ContactMethod::Phone | v::ContactMethod::Text => phone.is_some(),
        v::ContactMethod::Email => email.is_some(),
        v::ContactMethod::Letter => postcode.is_some(),
    };
    if !reachable {
        return Err(vec![ValueError::new(
            "preferredContact",
            preferred_contact.as_str(),
            "needs the matching phone, email or postcode",
        )]);
    }
    Ok(PersonDetails {
        nhs_number,
        given_name,
        family_name,
        date_of_birth: date_of_birth.date(),
        phone,
        email,
        postcode,
        preferred_contact,
        sex,
        ethnic_category,
    })
}

/// The fingerprint of a submission, taken over what it parses to rather than how it was typed: an NHS
/// number with spaces, a postcode in lower case, a name with a trailing space or needs in another order
/// are the same request as their tidy forms, so a client's retry that formats them differently replays
/// instead of being refused as a different request. The referring organisation is not in it: keys are
/// already kept per organisation.
pub fn request_hash(new: &NewReferral) -> String {
    let p = &new.person;
    let mut needs: Vec<&str> = new.needs.iter().map(|n| n.as_str()).collect();
    needs.sort_unstable();
    needs.dedup();
    let mut canonical = serde_json::json!({
        "person": {
            "nhsNumber": p.nhs_number.as_str(),
            "givenName": p.given_name,
            "familyName": p.family_name,
            "dateOfBirth": p.date_of_birth.to_string(),
            "phone": p.phone.as_ref().map(|x| x.as_str()),
            "email": p.email.as_ref().map(|x| x.as_str()),
            "postcode": p.postcode.as_ref().map(|x| x.as_str()),
            "preferredContact": p.preferred_contact.as_str(),
        },
        "needs": needs,
        "reason": new.reason,
        "urgency": new.urgency.as_str(),
        "consent": new.consent.as_ref().map(|c| serde_json::json!({
            "recordedBy": c.recorded_by,
            "recordedAt": c.recorded_at.timestamp_micros(),
        })),
    });
    // Only when recorded, so that a submission without them keeps the fingerprint it had before they
    // existed (a retry across an upgrade still replays).
    if let Some(sex) = p.sex {
        canonical["person"]["sex"] = sex.as_str().into();
    }
    if let Some(ethnic) = p.ethnic_category {
        canonical["person"]["ethnicCategory"] = ethnic.as_str().into();
    }
    hex::encode(Sha256::digest(canonical.to_string()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
    }

    fn typed() -> ReferralText<'static> {
        ReferralText {
            idempotency_key: "form-1",
            nhs_number: "943 476 5919",
            given_name: "Margaret",
            family_name: "Hughes",
            date_of_birth: "1956-3-14",
            phone: Some("01332 123456"),
            email: Some(""),
            postcode: None,
            preferred_contact: "phone",
            sex: None,
            ethnic_category: Some(""),
            needs: vec!["loneliness", "debt"],
            reason: "Would like company.",
            urgency: "routine",
            consent_given: true,
            consent_recorded_by: "Dr Patel",
            consent_recorded_at: now(),
        }
    }

    #[test]
    fn a_well_typed_submission_parses_to_tidy_values() {
        let parsed = parse_submission(&typed(), now(), 7).unwrap();
        let p = &parsed.referral.person;
        assert_eq!(p.nhs_number.as_str(), "9434765919");
        assert_eq!(p.date_of_birth, NaiveDate::from_ymd_opt(1956, 3, 14).unwrap());
        assert_eq!(p.email, None, "an empty field is no value");
        assert_eq!(parsed.key.key, "form-1");
        assert_eq!(parsed.key.forget_before, now() - Duration::days(7));
    }

    #[test]
    fn every_wrong_field_is_reported_in_the_order_of_the_form() {
        let text = ReferralText {
            nhs_number: "9434765918",
            family_name: " ",
            date_of_birth: "2030-01-01",
            needs: vec![],
            consent_recorded_by: "",
            ..typed()
        };
        let errors = parse_submission(&text, now(), 7).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.field, e.reason)).collect();
        assert_eq!(
            fields,
            [
                ("nhsNumber", "has the wrong check digit"),
                ("familyName", "must not be empty"),
                ("dateOfBirth", "is in the future"),
                ("needs", "must name at least one need"),
                ("consent.recordedBy", "must not be empty"),
            ]
        );
    }

    #[test]
    fn a_contact_route_without_its_detail_is_refused_once_the_details_parse() {
        let text = ReferralText { preferred_contact: "email", ..typed() };
        let errors = parse_submission(&text, now(), 7).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].field, errors[0].value.as_str()), ("preferredContact", "email"));
        let typo = ReferralText { preferred_contact: "email", email: Some("nobody"), ..typed() };
        let errors = parse_submission(&typo, now(), 7).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.field).collect::<Vec<_>>(), ["email"], "one mistake, one error");
    }

    #[test]
    fn the_same_request_typed_differently_has_the_same_fingerprint_and_a_different_one_does_not() {
        let tidy = parse_submission(&typed(), now(), 7).unwrap();
        let messy = ReferralText {
            nhs_number: "943-476-5919",
            given_name: " Margaret ",
            needs: vec!["debt", "loneliness"],
            ..typed()
        };
        assert_eq!(parse_submission(&messy, now(), 7).unwrap().key.request_hash, tidy.key.request_hash);
        let other = ReferralText { reason: "Another reason.", ..typed() };
        assert_ne!(parse_submission(&other, now(), 7).unwrap().key.request_hash, tidy.key.request_hash);
    }

    #[test]
    fn sex_and_ethnic_category_are_optional_and_parsed_by_their_nhs_codes() {
        let parsed = parse_submission(&typed(), now(), 7).unwrap();
        assert_eq!((parsed.referral.person.sex, parsed.referral.person.ethnic_category), (None, None));
        let recorded = ReferralText { sex: Some("female"), ethnic_category: Some("H"), ..typed() };
        let p = parse_submission(&recorded, now(), 7).unwrap().referral.person;
        assert_eq!((p.sex, p.ethnic_category), (Some(Sex::Female), Some(EthnicCategory::AsianIndian)));
        let wrong = ReferralText { sex: Some("f"), ethnic_category: Some("I"), ..typed() };
        let errors = parse_submission(&wrong, now(), 7).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.field).collect::<Vec<_>>(), ["sex", "ethnicCategory"]);
    }

    #[test]
    fn recording_sex_or_ethnic_category_makes_a_different_request_and_leaving_them_out_does_not() {
        let without = parse_submission(&typed(), now(), 7).unwrap().key.request_hash;
        let with = ReferralText { ethnic_category: Some("A"), ..typed() };
        assert_ne!(parse_submission(&with, now(), 7).unwrap().key.request_hash, without);
        let blank = ReferralText { sex: Some(" "), ..typed() };
        assert_eq!(parse_submission(&blank, now(), 7).unwrap().key.request_hash, without);
    }

    #[test]
    fn consent_not_given_parses_to_none_for_the_domain_to_refuse() {
        let text = ReferralText { consent_given: false, consent_recorded_by: "", ..typed() };
        assert_eq!(parse_submission(&text, now(), 7).unwrap().referral.consent, None);
    }
}
