//! Submitting a referral from the console (`GET/POST /referrals/new`): one page with every field of
//! GraphQL `submitReferral`, an error summary and an inline error by each field (NHS.UK / GOV.UK
//! pattern), what was typed kept, nothing stored on error.
//!
//! The text goes through the parser the API uses ([`crate::referral_input::parse_submission`]) and then
//! `Store::submit_referral`, so no rule is written here: this module only joins the form's date parts,
//! and words the parser's and the domain's refusals for a person. The form carries an idempotency key
//! minted when it is shown, so a double submission makes one referral.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use trellis_domain::DomainError;
use trellis_domain::access::ReferralScope;
use trellis_domain::referral::Consent;
use trellis_domain::report::{EthnicCategory, Sex};
use trellis_domain::values::{ContactMethod, Need, Urgency, ValueError};
use trellis_store::StoreError;
use trellis_store::sessions::SessionPrincipal;

use super::pages::Shell;
use super::{Posted, Staff, checked_form, failure, form_token, page, problem, see_other};
use crate::AppState;
use crate::referral_input::{ReferralText, parse_submission};

// The form is posted as field name to value ([`Posted`]): each need is a checkbox of its own,
// `need_<name>`.

/// One choice of a radio group or a checkbox list.
pub(crate) struct Choice {
    pub id: String,
    pub name: String,
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// One option of a drop-down list.
pub(crate) struct SelectOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// A drop-down's options: "Not recorded" (empty) first, then each of `all`, the typed one selected.
fn select_options<T: Copy>(
    all: &[T],
    typed: Option<&String>,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<SelectOption> {
    let typed = typed.map_or("", |t| t.as_str());
    let none = SelectOption { value: "", label: "Not recorded", selected: typed.is_empty() };
    std::iter::once(none)
        .chain(all.iter().map(|&t| SelectOption { value: value(t), label: label(t), selected: typed == value(t) }))
        .collect()
}

/// An error on the page: the summary's link to its field, and the words.
pub(crate) struct Problem {
    pub href: &'static str,
    pub message: String,
}

/// The errors shown next to each field.
#[derive(Default)]
pub(crate) struct FieldErrors {
    pub nhs_number: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub sex: Option<String>,
    pub ethnic_category: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub postcode: Option<String>,
    pub preferred_contact: Option<String>,
    pub needs: Option<String>,
    pub reason: Option<String>,
    pub urgency: Option<String>,
    pub consent: Option<String>,
    pub consent_recorded_by: Option<String>,
    pub consent_recorded_at: Option<String>,
    /// A refusal that belongs to no field (the practice has no link worker service).
    pub other: Option<String>,
}

/// The referral form, empty or as typed with its errors.
#[derive(askama::Template)]
#[template(path = "console/referral_form.html")]
pub(crate) struct ReferralFormPage {
    pub shell: Option<Shell>,
    /// The idempotency key minted when the form was first shown.
    pub key: String,
    pub problems: Vec<Problem>,
    pub e: FieldErrors,
    /// What was typed, by field name.
    pub typed: Posted,
    pub sexes: Vec<SelectOption>,
    pub ethnic_categories: Vec<SelectOption>,
    pub contact_methods: Vec<Choice>,
    pub needs: Vec<Choice>,
    pub urgencies: Vec<Choice>,
    pub consent_given: bool,
}

impl ReferralFormPage {
    /// A typed field's value, or empty.
    pub(crate) fn value(&self, name: &str) -> &str {
        self.typed.get(name).map_or("", String::as_str)
    }
}

fn contact_label(m: ContactMethod) -> &'static str {
    match m {
        ContactMethod::Phone => "Phone call",
        ContactMethod::Text => "Text message",
        ContactMethod::Email => "Email",
        ContactMethod::Letter => "Letter",
    }
}

fn choices<T: Copy>(
    all: &[T],
    name: impl Fn(T) -> String,
    id: &str,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
    checked: impl Fn(&str, &str) -> bool,
) -> Vec<Choice> {
    all.iter()
        .enumerate()
        .map(|(i, &t)| {
            let field = name(t);
            let v = value(t);
            Choice {
                // The first choice has the group's id, so the error summary can link to it.
                id: if i == 0 { id.to_owned() } else { format!("{id}-{}", v.replace('_', "-")) },
                checked: checked(&field, v),
                name: field,
                value: v,
                label: label(t),
            }
        })
        .collect()
}

fn form_page(shell: Shell, key: String, typed: Posted, problems: Vec<Problem>, e: FieldErrors) -> ReferralFormPage {
    let is = |field: &str, v: &str| typed.get(field).is_some_and(|t| t == v);
    let contact_methods = choices(
        &ContactMethod::ALL,
        |_| "preferred_contact".into(),
        "preferred-contact",
        ContactMethod::as_str,
        contact_label,
        is,
    );
    let needs =
        choices(Need::ALL, |n| format!("need_{}", n.as_str()), "needs", Need::as_str, Need::label, |f, _| is(f, "yes"));
    let urgencies = choices(
        Urgency::ALL,
        |_| "urgency".into(),
        "urgency",
        Urgency::as_str,
        |u| match u {
            Urgency::Routine => "Routine: first contact within the usual time",
            Urgency::Urgent => "Urgent: first contact by the next working day",
        },
        is,
    );
    let consent_given = is("consent", "yes");
    let sexes = select_options(Sex::ALL, typed.get("sex"), Sex::as_str, Sex::label);
    let ethnic_categories = select_options(
        EthnicCategory::ALL,
        typed.get("ethnic_category"),
        EthnicCategory::as_str,
        EthnicCategory::label,
    );
    ReferralFormPage {
        shell: Some(shell),
        key,
        problems,
        e,
        typed,
        sexes,
        ethnic_categories,
        contact_methods,
        needs,
        urgencies,
        consent_given,
    }
}

fn not_for_you(shell: Shell) -> Response {
    problem(
        StatusCode::FORBIDDEN,
        Some(shell),
        "Not available",
        "Referrals are submitted by GP practices and link workers.",
    )
}

/// `GET /referrals/new`: the empty form, with a fresh idempotency key and today as the consent date.
pub(super) async fn form(Staff(staff): Staff, State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    if ReferralScope::of(&staff.actor()).is_none() {
        return not_for_you(shell);
    }
    let today = Utc::now().date_naive();
    let typed = Posted::from([
        ("urgency".into(), "routine".into()),
        ("consent_recorded_by".into(), staff.user.name.clone()),
        ("consent_day".into(), today.format("%-d").to_string()),
        ("consent_month".into(), today.format("%-m").to_string()),
        ("consent_year".into(), today.format("%Y").to_string()),
    ]);
    let view = form_page(shell, uuid::Uuid::new_v4().to_string(), typed, Vec::new(), FieldErrors::default());
    page(StatusCode::OK, &view, cookie)
}

/// A date typed in three boxes, as `YYYY-M-D` for the shared parser (empty when all three are).
fn joined_date(typed: &Posted, prefix: &str) -> String {
    let part = |p: &str| typed.get(&format!("{prefix}_{p}")).map_or("", |s| s.trim()).to_owned();
    let (d, m, y) = (part("day"), part("month"), part("year"));
    if d.is_empty() && m.is_empty() && y.is_empty() { String::new() } else { format!("{y}-{m}-{d}") }
}

/// When consent was recorded: the start of the day typed (the form asks for the day, not the minute,
/// and a double submission must fingerprint the same).
fn consent_time(typed: &Posted) -> Result<DateTime<Utc>, ValueError> {
    let joined = joined_date(typed, "consent");
    let date = NaiveDate::parse_from_str(&joined, "%Y-%m-%d")
        .map_err(|_| ValueError::new("consent.recordedAt", joined.clone(), "must be a real date"))?;
    Ok(Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN)))
}

/// The words for a refusal of a field, and the id of the field the summary links to.
fn wording(e: &ValueError, typed: &Posted) -> (&'static str, String) {
    let empty = |name: &str| typed.get(name).is_none_or(|v| v.trim().is_empty());
    let text = |href: &'static str, s: &str| (href, s.to_owned());
    match (e.field, e.reason) {
        ("nhsNumber", _) if empty("nhs_number") => text("#nhs-number", "Enter the person's NHS number"),
        ("nhsNumber", "has the wrong check digit") => {
            text("#nhs-number", "Enter a valid NHS number: the check digit does not match")
        }
        ("nhsNumber", "must be 10 digits") => text("#nhs-number", "Enter a valid NHS number: it has 10 digits"),
        ("nhsNumber", _) => text("#nhs-number", "Enter a valid NHS number: no NHS number starts with these digits"),
        ("givenName", "must not be empty") => text("#given-name", "Enter the person's given name"),
        ("givenName", _) => {
            text("#given-name", "Given name must be 100 characters or fewer, with no control characters")
        }
        ("familyName", "must not be empty") => text("#family-name", "Enter the person's family name"),
        ("familyName", _) => {
            text("#family-name", "Family name must be 100 characters or fewer, with no control characters")
        }
        ("dateOfBirth", _) if joined_date(typed, "dob").is_empty() => {
            text("#dob-day", "Enter the person's date of birth")
        }
        ("dateOfBirth", "is in the future") => text("#dob-day", "Date of birth must be in the past"),
        ("dateOfBirth", "gives an implausible age") => {
            text("#dob-day", "Date of birth must be within the last 120 years")
        }
        ("dateOfBirth", _) => text("#dob-day", "Date of birth must be a real date, like 14 3 1956"),
        ("sex", _) => text("#sex", "Select the person's sex from the list, or Not recorded"),
        ("ethnicCategory", _) => {
            text("#ethnic-category", "Select the person's ethnic group from the list, or Not recorded")
        }
        ("phone", _) => text("#phone", "Enter a UK phone number, like 01632 960 001 or 07700 900 982"),
        ("email", _) => text("#email", "Enter an email address in the correct format, like name@example.com"),
        ("postcode", _) => text("#postcode", "Enter a real postcode, like LS1 4AP"),
        ("preferredContact", "needs the matching phone, email or postcode") => match e.value.as_str() {
            "email" => {
                text("#preferred-contact", "Enter an email address to contact them by email, or choose another way")
            }
            "letter" => text("#preferred-contact", "Enter a postcode to contact them by letter, or choose another way"),
            _ => text(
                "#preferred-contact",
                "Enter a phone number to contact them by phone or text, or choose another way",
            ),
        },
        ("preferredContact", _) => text("#preferred-contact", "Select how the person would like to be contacted"),
        ("needs", _) => text("#needs", "Select at least one thing that matters to the person"),
        ("reason", "must not be empty") => text("#reason", "Enter the reason for the referral"),
        ("reason", _) => text("#reason", "Reason must be 4,000 characters or fewer, with no control characters"),
        ("urgency", _) => text("#urgency", "Select how soon the person should be contacted"),
        ("consent", _) => text("#consent", "Confirm the person has consented to share their referral with the network"),
        ("consent.recordedBy", "must not be empty") => {
            text("#consent-recorded-by", "Enter who recorded the person's consent")
        }
        ("consent.recordedBy", _) => {
            text("#consent-recorded-by", "Who recorded consent must be 200 characters or fewer")
        }
        ("consent.recordedAt", "is in the future") => {
            text("#consent-day", "The date consent was recorded must be today or in the past")
        }
        ("consent.recordedAt", _) => text("#consent-day", "The date consent was recorded must be a real date"),
        ("idempotencyKey", _) => text("#main", "This form was incomplete: check the details and submit it again"),
        ("organisation", reason) => ("#main", format!("Your organisation {reason}: ask your administrator")),
        (field, reason) => ("#main", format!("{field} {reason}")),
    }
}

/// The fields in the order the form shows them, so the summary lists errors in that order too.
const FORM_ORDER: [&str; 16] = [
    "nhsNumber",
    "givenName",
    "familyName",
    "dateOfBirth",
    "sex",
    "ethnicCategory",
    "phone",
    "email",
    "postcode",
    "preferredContact",
    "needs",
    "reason",
    "urgency",
    "consent",
    "consent.recordedBy",
    "consent.recordedAt",
];

/// The errors, each in the summary and by its field.
fn place(errors: &[ValueError], typed: &Posted) -> (Vec<Problem>, FieldErrors) {
    let mut e = FieldErrors::default();
    let mut problems = Vec::new();
    let mut errors: Vec<&ValueError> = errors.iter().collect();
    errors.sort_by_key(|e| FORM_ORDER.iter().position(|f| *f == e.field).unwrap_or(FORM_ORDER.len()));
    for error in errors {
        let (href, message) = wording(error, typed);
        let slot = match error.field {
            "nhsNumber" => &mut e.nhs_number,
            "givenName" => &mut e.given_name,
            "familyName" => &mut e.family_name,
            "dateOfBirth" => &mut e.date_of_birth,
            "sex" => &mut e.sex,
            "ethnicCategory" => &mut e.ethnic_category,
            "phone" => &mut e.phone,
            "email" => &mut e.email,
            "postcode" => &mut e.postcode,
            "preferredContact" => &mut e.preferred_contact,
            "needs" => &mut e.needs,
            "reason" => &mut e.reason,
            "urgency" => &mut e.urgency,
            "consent" => &mut e.consent,
            "consent.recordedBy" => &mut e.consent_recorded_by,
            "consent.recordedAt" => &mut e.consent_recorded_at,
            _ => &mut e.other,
        };
        if slot.is_none() {
            *slot = Some(message.clone());
            problems.push(Problem { href, message });
        }
    }
    (problems, e)
}

/// `POST /referrals/new`: parse, then submit; on error the form again with what was typed.
pub(super) async fn submit(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Posted>, FormRejection>,
) -> Response {
    let (typed, shell) = match checked_form(&state, &headers, &staff, form, "referral") {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let now = Utc::now();
    let key = typed.get("idempotency_key").map(|k| k.trim().to_owned()).unwrap_or_default();
    match parse_and_submit(&state, &staff, &typed, &key, now).await {
        Ok(Ok(id)) => see_other(&format!("/referrals/{id}")),
        Ok(Err(errors)) => {
            let (problems, e) = place(&errors, &typed);
            let mut view = form_page(shell, key, typed, problems, e);
            // A key the form lost (a hand-made request) is minted again, so the next try can succeed.
            if view.key.is_empty() {
                view.key = uuid::Uuid::new_v4().to_string();
            }
            page(StatusCode::UNPROCESSABLE_ENTITY, &view, None)
        }
        Err(StoreError::IdempotencyKeyReused) => problem(
            StatusCode::CONFLICT,
            Some(shell),
            "This form was already sent",
            "A referral was already submitted from this form with different details, so nothing more was \
             stored. Check your referrals, and start a new referral if another is needed.",
        ),
        Err(StoreError::Domain(DomainError::Forbidden { .. })) => not_for_you(shell),
        Err(e) => failure(&e),
    }
}

/// The referral's id, or the refusals to show on the form (`Ok(Err)`), or a failure the form cannot
/// mend.
async fn parse_and_submit(
    state: &AppState,
    staff: &SessionPrincipal,
    typed: &Posted,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Result<trellis_domain::ReferralId, Vec<ValueError>>, StoreError> {
    let field = |name: &str| typed.get(name).map_or("", String::as_str);
    let date_of_birth = joined_date(typed, "dob");
    let consent_given = field("consent") == "yes";
    let consent_at = consent_time(typed);
    let text = ReferralText {
        idempotency_key: key,
        nhs_number: field("nhs_number"),
        given_name: field("given_name"),
        family_name: field("family_name"),
        date_of_birth: &date_of_birth,
        phone: Some(field("phone")),
        email: Some(field("email")),
        postcode: Some(field("postcode")),
        preferred_contact: field("preferred_contact"),
        sex: Some(field("sex")),
        ethnic_category: Some(field("ethnic_category")),
        needs: Need::ALL
            .iter()
            .filter(|n| field(&format!("need_{}", n.as_str())) == "yes")
            .map(|n| n.as_str())
            .collect(),
        reason: field("reason"),
        urgency: field("urgency"),
        consent_given,
        consent_recorded_by: field("consent_recorded_by"),
        consent_recorded_at: consent_at.clone().unwrap_or(now),
    };
    let parsed = parse_submission(&text, now, state.settings.idempotency_key_days);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    // The domain's own consent rule, asked here as well so that every problem shows at once; the store
    // asks it again when submitting.
    match (&consent_at, consent_given) {
        (Err(e), true) => errors.push(e.clone()),
        (Ok(at), _) => {
            let consent = consent_given.then(|| Consent { recorded_by: String::new(), recorded_at: *at });
            if let Err(e) = Consent::required(consent.as_ref(), now) {
                errors.push(e);
            }
        }
        (Err(_), false) => {
            if let Err(e) = Consent::required(None, now) {
                errors.push(e);
            }
        }
    }
    let parsed = match parsed {
        Ok(parsed) if errors.is_empty() => parsed,
        _ => return Ok(Err(errors)),
    };
    match state.store.submit_referral(parsed.referral, Some(parsed.key), &staff.actor(), now).await {
        Ok(submission) => {
            tracing::info!(referral = %submission.referral.state.id, replayed = submission.replayed, "console: referral submitted");
            Ok(Ok(submission.referral.state.id))
        }
        Err(StoreError::Domain(DomainError::Invalid(e))) => Ok(Err(vec![e])),
        Err(e) => Err(e),
    }
}
