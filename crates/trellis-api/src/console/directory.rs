//! Directory management in the console, for the network lead: the services a page at a time with their
//! provider, whether they are listed and their capacity (`GET /directory`); adding one
//! (`GET/POST /directory/services/new`); and one service's details and capacity, each saved against the
//! version it was read at (`GET/POST /directory/services/{id}`, `POST /directory/services/{id}/capacity`).
//!
//! The text goes through the parser the API uses ([`crate::service_input`]) and then the store functions
//! GraphQL calls (`Store::add_service`, `update_service`, `update_service_capacity`), which hold who may
//! manage what. This module only reads the form's fields, and words the parser's, the domain's and the
//! store's refusals for a person (GOV.UK error summary and an error by each field). A change made from an
//! older version is refused by the store; the page then keeps what was typed and offers to reload.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use trellis_domain::directory::{self as rules, CapacityStatus, ServiceStatus, TAXONOMY};
use trellis_domain::values::ValueError;
use trellis_domain::{DomainError, OrganisationId, ServiceId};
use trellis_store::StoreError;
use trellis_store::accounts::Organisation;
use trellis_store::directory::{Capacity, CapacityUpdate, Service, ServiceChanges, ServiceDetails};
use trellis_store::directory_list::ServiceListFilter;
use trellis_store::sessions::SessionPrincipal;

use super::pages::{Shell, day};
use super::{Posted, Staff, checked_form, failure, form_token, page, problem, see_other};
use crate::AppState;
use crate::service_input::{self as input, CapacityText, PlaceText, ServiceText};

/// Services on one page of the list.
const PAGE_SIZE: u64 = 50;

// A form is posted as field name to value ([`Posted`]): each kind of support is a checkbox of its own,
// `taxonomy_<code>`.

/// Whether a service is listed.
fn is_listed(s: &Service) -> bool {
    s.status == ServiceStatus::Active
}

fn capacity_label(s: CapacityStatus) -> &'static str {
    match s {
        CapacityStatus::Open => "Open",
        CapacityStatus::Waitlist => "Waiting list",
        CapacityStatus::Closed => "Closed",
    }
}

/// The list's search, filter and paging.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    provider: Option<String>,
    after: Option<String>,
}

/// What a service page says after a save.
#[derive(Deserialize, Default)]
pub struct ShowQuery {
    saved: Option<String>,
}

/// One option of a select.
pub(crate) struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One radio or checkbox.
pub(crate) struct Choice {
    pub id: String,
    pub name: String,
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// An error in the summary: the link to its field and the words.
pub(crate) struct Problem {
    pub href: String,
    pub message: String,
}

/// One service in the list.
pub(crate) struct ServiceRow {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub listed: bool,
    pub places: String,
    pub status: &'static str,
    pub stale: bool,
    pub confirmed: String,
}

/// `GET /directory`.
#[derive(Template)]
#[template(path = "console/directory_list.html")]
pub(crate) struct DirectoryListPage {
    pub shell: Option<Shell>,
    pub rows: Vec<ServiceRow>,
    pub q: String,
    pub providers: Vec<SelectOption>,
    /// The link to the next page, if there is one.
    pub next: Option<String>,
    /// The link back to the first page, on a later one.
    pub first: Option<String>,
    pub may_add: bool,
    /// Whether to link to the import reports.
    pub may_see_imports: bool,
    pub stale_days: i64,
}

/// The fields both service forms share, as typed, with their errors.
pub(crate) struct Fields {
    pub typed: Posted,
    pub errors: HashMap<&'static str, String>,
    pub kinds: Vec<Choice>,
}

impl Fields {
    fn new(typed: Posted, errors: HashMap<&'static str, String>) -> Fields {
        let kinds = TAXONOMY
            .iter()
            .enumerate()
            .map(|(i, (code, label))| {
                let name = format!("taxonomy_{code}");
                Choice {
                    // The first box has the group's id, so the error summary can link to it.
                    id: if i == 0 { "taxonomy".into() } else { name.clone() },
                    checked: typed.get(&name).is_some_and(|v| v == "yes"),
                    name,
                    value: "yes",
                    label,
                }
            })
            .collect();
        Fields { typed, errors, kinds }
    }

    /// A typed field's value, or empty.
    pub(crate) fn value(&self, name: &str) -> &str {
        self.typed.get(name).map_or("", String::as_str)
    }

    /// The error by a field, if any.
    pub(crate) fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// `name-hint name-error` as a field's `aria-describedby`, as far as it has them.
    pub(crate) fn described(&self, name: &str, hint: bool) -> String {
        let mut ids = Vec::new();
        if hint {
            ids.push(format!("{name}-hint"));
        }
        if self.errors.contains_key(name) {
            ids.push(format!("{name}-error"));
        }
        ids.join(" ")
    }

    fn radios(&self, name: &str, options: &[(&'static str, &'static str)]) -> Vec<Choice> {
        options
            .iter()
            .enumerate()
            .map(|(i, (value, label))| Choice {
                id: if i == 0 { name.to_owned() } else { format!("{name}-{value}") },
                name: name.to_owned(),
                value,
                label,
                checked: self.value(name) == *value,
            })
            .collect()
    }

    /// The capacity status radios.
    pub(crate) fn capacity_statuses(&self) -> Vec<Choice> {
        let options: Vec<(&'static str, &'static str)> =
            CapacityStatus::ALL.iter().map(|s| (s.as_str(), capacity_label(*s))).collect();
        self.radios("capacity_status", &options)
    }

    /// The listed radios.
    pub(crate) fn listed(&self) -> Vec<Choice> {
        self.radios(
            "listed",
            &[("active", "Listed: link workers can find it and offer people to it"), ("inactive", "Not listed")],
        )
    }
}

/// `GET/POST /directory/services/new`.
#[derive(Template)]
#[template(path = "console/directory_new.html")]
pub(crate) struct NewServicePage {
    pub shell: Option<Shell>,
    pub problems: Vec<Problem>,
    pub f: Fields,
    pub providers: Vec<SelectOption>,
}

/// A field the person changed that someone else had changed meanwhile.
pub(crate) struct Difference {
    pub field: &'static str,
    pub saved: String,
    pub typed: String,
}

/// A save refused because the service changed since the page was read.
pub(crate) struct Conflict {
    pub differences: Vec<Difference>,
}

/// `GET/POST /directory/services/{id}`.
#[derive(Template)]
#[template(path = "console/directory_service.html")]
pub(crate) struct ServicePage {
    pub shell: Option<Shell>,
    pub id: String,
    /// The version the forms were read at (kept from the first reading after a conflict).
    pub version: u32,
    pub name: String,
    pub provider: String,
    pub saved: Option<&'static str>,
    pub conflict: Option<Conflict>,
    /// Which form the problems are about (`details` or `capacity`).
    pub problems: Vec<Problem>,
    pub f: Fields,
    /// Whether this person may change where offers are emailed (the domain's rule); if not, it is shown.
    pub email_editable: bool,
    pub email_now: String,
    /// More places than the form holds: shown, and left as they are.
    pub other_places: Vec<String>,
    pub capacity_now: String,
}

/// The labels of the fields, for the summary of differences.
const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("description", "Description"),
    ("email", "Email for offers"),
    ("url", "Web page"),
    ("listed", "Listed"),
    ("taxonomy", "Kinds of support"),
    ("min_age", "Youngest age"),
    ("max_age", "Oldest age"),
    ("eligibility", "Who it is for"),
    ("schedule", "When it runs"),
    ("place_name", "Place"),
    ("place_postcode", "Postcode"),
    ("place_latitude", "Latitude"),
    ("place_longitude", "Longitude"),
    ("available", "Places free"),
    ("maximum", "Places in all"),
    ("unit", "What a place is"),
    ("capacity_status", "Taking people"),
];

const DETAIL_FIELDS: &[&str] = &[
    "name",
    "description",
    "email",
    "url",
    "listed",
    "taxonomy",
    "min_age",
    "max_age",
    "eligibility",
    "schedule",
    "place_name",
    "place_postcode",
    "place_latitude",
    "place_longitude",
];
const CAPACITY_FIELDS: &[&str] = &["available", "maximum", "unit", "capacity_status"];

/// The form field a refusal belongs to, and the words for it.
fn worded(e: &ValueError) -> (&'static str, String) {
    let too_long = |label: &str, max: usize| format!("{label} must be {max} characters or fewer");
    let empty = e.reason == "must not be empty";
    match e.field {
        "name" if empty => ("name", "Enter the service's name".into()),
        "name" => ("name", too_long("Name", input::MAX_NAME)),
        "description" if empty => ("description", "Enter what the service is".into()),
        "description" => ("description", too_long("Description", input::MAX_DESCRIPTION)),
        "email" => ("email", "Enter an email address in the correct format, like offers@example.org".into()),
        "url" => ("url", "Enter a web address that starts with https:// or http://".into()),
        "eligibility" => ("eligibility", too_long("Who it is for", input::MAX_WORDS)),
        "schedule" => ("schedule", too_long("When it runs", input::MAX_WORDS)),
        "taxonomy" => ("taxonomy", "Choose kinds of support from the list".into()),
        "locations.name" if empty => ("place_name", "Enter the name of the place where it happens".into()),
        "locations.name" => ("place_name", too_long("The place's name", input::MAX_PLACE_NAME)),
        "postcode" => ("place_postcode", "Enter a real postcode, like NG10 1AA".into()),
        "locations" => ("place_latitude", "Enter both a latitude and a longitude, or neither".into()),
        "latitude" => ("place_latitude", "Enter a latitude between -90 and 90, like 52.9".into()),
        "longitude" => ("place_longitude", "Enter a longitude between -180 and 180, like -1.3".into()),
        "minAge" if e.reason == "must not be above maxAge" => {
            ("min_age", "Youngest age must be the same as or less than the oldest age".into())
        }
        "minAge" => ("min_age", "Youngest age must be a whole number from 0 to 120".into()),
        "maxAge" => ("max_age", "Oldest age must be a whole number from 0 to 120".into()),
        "available" if empty => ("available", "Enter how many places are free".into()),
        "available" => ("available", "Places free must be a whole number, 0 or more".into()),
        "maximum" if empty => ("maximum", "Enter how many places there are in all".into()),
        "maximum" if e.reason == "must be a whole number" => ("maximum", "Places in all must be a whole number".into()),
        "maximum" => ("maximum", "Places in all must be at least the places free".into()),
        "unit" => ("unit", too_long("What a place is", input::MAX_UNIT)),
        "capacity_status" | "status" => ("capacity_status", "Select whether the service is taking people".into()),
        "organisation" | "organisationId" => ("provider", "Select the provider that runs the service".into()),
        other => ("name", format!("{other} {}", e.reason)),
    }
}

/// The summary and the errors by each field, in the order of the refusals, one per field.
fn place_errors(errors: &[ValueError]) -> (Vec<Problem>, HashMap<&'static str, String>) {
    let mut problems = Vec::new();
    let mut by_field = HashMap::new();
    for e in errors {
        let (field, message) = worded(e);
        if by_field.contains_key(field) {
            continue;
        }
        problems.push(Problem { href: format!("#{field}"), message: message.clone() });
        by_field.insert(field, message);
    }
    (problems, by_field)
}

fn missing(field: &'static str) -> ValueError {
    ValueError::new(field, "", "must not be empty")
}

fn typed<'a>(p: &'a Posted, name: &str) -> &'a str {
    p.get(name).map_or("", String::as_str)
}

fn given<'a>(p: &'a Posted, name: &str) -> Option<&'a str> {
    Some(typed(p, name)).filter(|s| !s.trim().is_empty())
}

/// The kinds of support ticked, in the taxonomy's order.
fn ticked(p: &Posted) -> Vec<String> {
    TAXONOMY
        .iter()
        .filter(|(code, _)| p.get(&format!("taxonomy_{code}")).is_some_and(|v| v == "yes"))
        .map(|(code, _)| (*code).to_owned())
        .collect()
}

/// The details form's fields, parsed with the API's parser: every wrong field, including the domain's
/// checks on ages, so they are all shown at once. `email` is read only when the form shows it.
fn parse_details(p: &Posted, status: ServiceStatus, with_email: bool) -> Result<ServiceDetails, Vec<ValueError>> {
    let mut errors = Vec::new();
    let mut number = |field: &'static str, name: &str| {
        input::whole_number(field, typed(p, name)).unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    };
    let min_age = number("minAge", "min_age");
    let max_age = number("maxAge", "max_age");
    let mut decimal = |field: &'static str, name: &str| {
        input::decimal(field, typed(p, name)).unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    };
    let latitude = decimal("latitude", "place_latitude");
    let longitude = decimal("longitude", "place_longitude");
    let place = PlaceText { name: typed(p, "place_name"), postcode: given(p, "place_postcode"), latitude, longitude };
    let has_place =
        !place.name.trim().is_empty() || place.postcode.is_some() || latitude.is_some() || longitude.is_some();
    let text = ServiceText {
        name: typed(p, "name"),
        description: typed(p, "description"),
        email: if with_email { given(p, "email") } else { None },
        url: given(p, "url"),
        status,
        taxonomy: ticked(p),
        min_age,
        max_age,
        eligibility: given(p, "eligibility"),
        schedule: given(p, "schedule"),
        places: if has_place { vec![place] } else { Vec::new() },
    };
    let parsed = input::parse_details(&text);
    if errors.is_empty() {
        errors.extend(input::check_whole(min_age, max_age, None));
    }
    match parsed {
        Ok(details) if errors.is_empty() => Ok(details),
        Ok(_) => Err(errors),
        Err(mut more) => {
            more.append(&mut errors);
            Err(more)
        }
    }
}

/// Whether any capacity was entered (on a new service it may be left for later).
fn capacity_entered(p: &Posted) -> bool {
    given(p, "available").is_some() || given(p, "maximum").is_some() || given(p, "capacity_status").is_some()
}

/// The capacity fields, parsed with the API's parser and checked by the domain's rule, every wrong field
/// reported.
fn parse_capacity(p: &Posted) -> Result<CapacityUpdate, Vec<ValueError>> {
    let mut errors = Vec::new();
    let mut count = |field: &'static str| match input::whole_number(field, typed(p, field)) {
        Ok(Some(n)) => Some(n),
        Ok(None) => {
            errors.push(missing(field));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let available = count("available");
    let maximum = count("maximum");
    let status_text = typed(p, "capacity_status");
    let status = CapacityStatus::parse(status_text)
        .map_err(|_| errors.push(ValueError::new("capacity_status", status_text, "must be chosen")))
        .ok();
    if let (Some(available), Some(maximum)) = (available, maximum) {
        errors.extend(input::check_whole(None, None, Some((available, maximum))));
    }
    let parsed = match (available, maximum, status) {
        (Some(available), Some(maximum), Some(status)) => {
            input::parse_capacity(&CapacityText { available, maximum, unit: given(p, "unit"), status })
                .map_err(|e| errors.push(e))
                .ok()
        }
        // The unit is still checked, so its error shows with the others.
        _ => input::unit(given(p, "unit")).map_err(|e| errors.push(e)).ok().and(None),
    };
    match parsed {
        Some(update) if errors.is_empty() => Ok(update),
        _ => Err(errors),
    }
}

/// A store refusal that belongs to a field (the domain's checks, an unknown provider), as one.
fn field_refusal(e: &StoreError) -> Option<ValueError> {
    match e {
        StoreError::Domain(DomainError::Invalid(v)) => Some(v.clone()),
        StoreError::UnknownReference(field) => Some(ValueError::new(field, "", "does not exist")),
        _ => None,
    }
}

fn not_found(shell: Shell) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        Some(shell),
        "Service not found",
        "There is no service at this address. Check the link, or go back to the directory.",
    )
}

fn not_yours(shell: Shell) -> Response {
    problem(
        StatusCode::FORBIDDEN,
        Some(shell),
        "You cannot change this service",
        "Services are managed by the network lead, and each provider manages its own.",
    )
}

fn provider_options(providers: &[Organisation], chosen: &str) -> Vec<SelectOption> {
    providers
        .iter()
        .map(|o| {
            let value = o.id.0.to_string();
            SelectOption { selected: value == chosen, label: o.name.clone(), value }
        })
        .collect()
}

fn places_text(c: &Capacity) -> String {
    format!("{} of {} {} free", c.available, c.maximum, c.unit)
}

fn row(
    s: &Service,
    providers: &HashMap<OrganisationId, String>,
    policy_stale: impl Fn(DateTime<Utc>) -> bool,
) -> ServiceRow {
    let (places, status, stale, confirmed) = match &s.capacity {
        Some(c) => (places_text(c), capacity_label(c.status), policy_stale(c.updated_at), day(c.updated_at)),
        None => ("Not given".into(), "Unknown", false, String::new()),
    };
    ServiceRow {
        id: s.id.0.to_string(),
        name: s.name.clone(),
        provider: providers.get(&s.organisation).cloned().unwrap_or_default(),
        listed: is_listed(s),
        places,
        status,
        stale,
        confirmed,
    }
}

/// A link to the list with these choices.
fn list_link(q: &str, provider: &str, after: Option<&str>) -> String {
    let mut parts = Vec::new();
    if !q.is_empty() {
        parts.push(format!("q={}", encode(q)));
    }
    if !provider.is_empty() {
        parts.push(format!("provider={}", encode(provider)));
    }
    if let Some(after) = after {
        parts.push(format!("after={after}"));
    }
    if parts.is_empty() { "/directory".into() } else { format!("/directory?{}", parts.join("&")) }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn list(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let q = query.q.unwrap_or_default().trim().chars().take(200).collect::<String>();
    let provider = query.provider.unwrap_or_default();
    let organisation = provider.parse().ok().map(OrganisationId);
    let after = query.after.as_deref().and_then(|a| a.parse().ok()).map(ServiceId);
    let filter =
        ServiceListFilter { search: Some(q.clone()).filter(|q| !q.is_empty()), organisation, after, limit: PAGE_SIZE };
    let store = &state.store;
    let actor = staff.actor();
    let (providers, managed, found) = match tokio::try_join!(
        store.provider_organisations(),
        store.providers_managed_by(&actor),
        store.service_list(&filter)
    ) {
        Ok(read) => read,
        Err(e) => return failure(&e),
    };
    let names: HashMap<OrganisationId, String> = providers.iter().map(|o| (o.id, o.name.clone())).collect();
    let now = Utc::now();
    let policy = store.policy();
    let rows = found.services.iter().map(|s| row(s, &names, |at| policy.capacity_stale(at, now))).collect();
    let next = found
        .has_next
        .then(|| found.services.last().map(|s| list_link(&q, &provider, Some(&s.id.0.to_string()))))
        .flatten();
    let view = DirectoryListPage {
        shell: Some(shell),
        rows,
        providers: provider_options(&providers, &provider),
        first: after.map(|_| list_link(&q, &provider, None)),
        q,
        next,
        may_add: !managed.is_empty(),
        may_see_imports: trellis_domain::access::IMPORT_READERS.contains(&staff.user.role),
        stale_days: policy.capacity_stale_after().num_days(),
    };
    page(StatusCode::OK, &view, cookie)
}

/// The providers `staff` may add services for, or the page saying they may not.
async fn managed_providers(
    state: &AppState,
    staff: &SessionPrincipal,
    shell: &Shell,
) -> Result<Vec<Organisation>, Response> {
    match state.store.providers_managed_by(&staff.actor()).await {
        Ok(p) if p.is_empty() => Err(problem(
            StatusCode::FORBIDDEN,
            Some(shell.clone()),
            "You cannot add services",
            "Services are added by the network lead, or by a provider for itself.",
        )),
        Ok(p) => Ok(p),
        Err(e) => Err(failure(&e)),
    }
}

pub(super) async fn new_form(Staff(staff): Staff, State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let providers = match managed_providers(&state, &staff, &shell).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let chosen = if providers.len() == 1 { providers[0].id.0.to_string() } else { String::new() };
    let mut typed = Posted::new();
    typed.insert("unit".into(), "places".into());
    let view = NewServicePage {
        shell: Some(shell),
        problems: Vec::new(),
        f: Fields::new(typed, HashMap::new()),
        providers: provider_options(&providers, &chosen),
    };
    page(StatusCode::OK, &view, cookie)
}

pub(super) async fn create(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Posted>, FormRejection>,
) -> Response {
    let (posted, csrf) = match checked_form(&state, &headers, form, "new service") {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let shell = Shell::of(&staff, csrf);
    let providers = match managed_providers(&state, &staff, &shell).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let chosen = typed(&posted, "provider").to_owned();
    let organisation = providers.iter().find(|o| o.id.0.to_string() == chosen).map(|o| o.id);
    let mut errors = Vec::new();
    if organisation.is_none() {
        errors.push(missing("organisationId"));
    }
    let details = parse_details(&posted, ServiceStatus::Active, true).map_err(|mut e| errors.append(&mut e)).ok();
    let capacity = match capacity_entered(&posted) {
        true => parse_capacity(&posted).map(Some).map_err(|mut e| errors.append(&mut e)).ok(),
        false => Some(None),
    };
    let refusal = match (organisation, details, capacity) {
        (Some(org), Some(details), Some(capacity)) if errors.is_empty() => {
            match state.store.add_service(&staff.actor(), org, details, capacity, Utc::now()).await {
                Ok(service) => return see_other(&format!("/directory/services/{}?saved=created", service.id.0)),
                Err(e) => match field_refusal(&e) {
                    Some(v) => v,
                    None if matches!(e, StoreError::Domain(DomainError::Forbidden { .. })) => {
                        return not_yours(shell);
                    }
                    None => return failure(&e),
                },
            }
        }
        _ => {
            let (problems, by_field) = place_errors(&errors);
            let view = NewServicePage {
                shell: Some(shell),
                problems,
                f: Fields::new(posted, by_field),
                providers: provider_options(&providers, &chosen),
            };
            return page(StatusCode::UNPROCESSABLE_ENTITY, &view, None);
        }
    };
    let (problems, by_field) = place_errors(&[refusal]);
    let view = NewServicePage {
        shell: Some(shell),
        problems,
        f: Fields::new(posted, by_field),
        providers: provider_options(&providers, &chosen),
    };
    page(StatusCode::UNPROCESSABLE_ENTITY, &view, None)
}

fn parse_id(raw: &str) -> Option<ServiceId> {
    raw.parse().ok().map(ServiceId)
}

/// The service's fields as the forms show them.
fn as_typed(s: &Service) -> Posted {
    let mut p = Posted::new();
    let mut put = |k: &str, v: String| {
        p.insert(k.to_owned(), v);
    };
    put("name", s.name.clone());
    put("description", s.description.clone());
    put("email", s.email.clone().unwrap_or_default());
    put("url", s.url.clone().unwrap_or_default());
    put("listed", if is_listed(s) { "active" } else { "inactive" }.into());
    for code in &s.taxonomy {
        put(&format!("taxonomy_{code}"), "yes".into());
    }
    put("min_age", s.min_age.map(|a| a.to_string()).unwrap_or_default());
    put("max_age", s.max_age.map(|a| a.to_string()).unwrap_or_default());
    put("eligibility", s.eligibility.clone().unwrap_or_default());
    put("schedule", s.schedule.clone().unwrap_or_default());
    if let Some(place) = s.places.first() {
        put("place_name", place.name.clone());
        put("place_postcode", place.postcode.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default());
        put("place_latitude", place.latitude.map(|l| l.to_string()).unwrap_or_default());
        put("place_longitude", place.longitude.map(|l| l.to_string()).unwrap_or_default());
    }
    match &s.capacity {
        Some(c) => {
            put("available", c.available.to_string());
            put("maximum", c.maximum.to_string());
            put("unit", c.unit.clone());
            put("capacity_status", c.status.as_str().into());
        }
        None => put("unit", "places".into()),
    }
    p
}

/// The service page, its forms showing `typed` over what is stored.
#[allow(clippy::too_many_arguments, reason = "one page, assembled in one place")]
async fn service_page(
    state: &AppState,
    staff: &SessionPrincipal,
    shell: Shell,
    service: &Service,
    version: u32,
    typed: Posted,
    errors: &[ValueError],
    conflict: Option<Conflict>,
    saved: Option<&'static str>,
) -> ServicePage {
    let provider = state.store.organisation(service.organisation).await.map(|o| o.name).unwrap_or_default();
    let (problems, by_field) = place_errors(errors);
    let email_editable = rules::may_change_service_email(&staff.actor(), service.organisation);
    ServicePage {
        shell: Some(shell),
        id: service.id.0.to_string(),
        version,
        name: service.name.clone(),
        provider,
        saved,
        conflict,
        problems,
        f: Fields::new(typed, by_field),
        email_editable,
        email_now: service.email.clone().unwrap_or_else(|| "The provider's own address".into()),
        other_places: if service.places.len() > 1 {
            service
                .places
                .iter()
                .map(|p| match &p.postcode {
                    Some(pc) => format!("{}, {}", p.name, pc.as_str()),
                    None => p.name.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        capacity_now: service.capacity.as_ref().map_or_else(
            || "Not given".into(),
            |c| format!("{}, {}, confirmed {}", places_text(c), capacity_label(c.status), day(c.updated_at)),
        ),
    }
}

/// Reads the service for its page, or the page saying why not.
async fn read_managed(
    state: &AppState,
    staff: &SessionPrincipal,
    shell: &Shell,
    raw: &str,
) -> Result<Service, Response> {
    let Some(id) = parse_id(raw) else { return Err(not_found(shell.clone())) };
    match state.store.service_to_manage(&staff.actor(), id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(not_found(shell.clone())),
        Err(StoreError::Domain(DomainError::Forbidden { .. })) => Err(not_yours(shell.clone())),
        Err(e) => Err(failure(&e)),
    }
}

pub(super) async fn show(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let service = match read_managed(&state, &staff, &shell, &raw).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let saved = match query.saved.as_deref() {
        Some("created") => Some("The service was added."),
        Some("details") => Some("The service's details were saved."),
        Some("capacity") => Some("The service's capacity was saved."),
        _ => None,
    };
    let view =
        service_page(&state, &staff, shell, &service, service.version, as_typed(&service), &[], None, saved).await;
    page(StatusCode::OK, &view, cookie)
}

/// What the person typed in one form, over what is stored for the other.
fn overlay(stored: Posted, posted: &Posted, fields: &[&str]) -> Posted {
    let mut typed = stored;
    for name in fields {
        if *name == "taxonomy" {
            typed.retain(|k, _| !k.starts_with("taxonomy_"));
            typed
                .extend(posted.iter().filter(|(k, _)| k.starts_with("taxonomy_")).map(|(k, v)| (k.clone(), v.clone())));
        } else if let Some(v) = posted.get(*name) {
            typed.insert((*name).to_owned(), v.clone());
        } else {
            typed.remove(*name);
        }
    }
    typed
}

/// The fields of one form that the person typed differently from what is stored now.
fn differences(now: &Posted, posted: &Posted, fields: &[&str]) -> Vec<Difference> {
    let label = |f: &str| LABELS.iter().find(|(k, _)| *k == f).map_or("", |(_, l)| l);
    fields
        .iter()
        .filter_map(|f| {
            let (saved, typed) = if *f == "taxonomy" {
                let names = |p: &Posted| {
                    TAXONOMY
                        .iter()
                        .filter(|(c, _)| p.get(&format!("taxonomy_{c}")).is_some_and(|v| v == "yes"))
                        .map(|(_, n)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (names(now), names(posted))
            } else {
                let get = |p: &Posted| shown(f, p.get(*f).map_or("", |v| v.trim()));
                (get(now), get(posted))
            };
            (saved != typed && (*f == "taxonomy" || posted.contains_key(*f))).then(|| Difference {
                field: label(f),
                saved,
                typed,
            })
        })
        .collect()
}

/// A field's value as the page words it.
fn shown(field: &str, value: &str) -> String {
    match (field, value) {
        ("listed", "active") => "Listed".into(),
        ("listed", "inactive") => "Not listed".into(),
        ("capacity_status", v) => CapacityStatus::parse(v).map_or_else(|_| v.to_owned(), |s| capacity_label(s).into()),
        (_, v) => v.to_owned(),
    }
}

/// The version a form was read at.
fn posted_version(posted: &Posted) -> Option<u32> {
    posted.get("version").and_then(|v| v.parse().ok())
}

/// What a refused save shows: the field errors, or the conflict with what was typed kept.
#[allow(clippy::too_many_arguments, reason = "one page, assembled in one place")]
async fn refused_save(
    state: &AppState,
    staff: &SessionPrincipal,
    shell: Shell,
    service: &Service,
    posted: &Posted,
    fields: &[&str],
    e: StoreError,
) -> Response {
    let version = posted_version(posted).unwrap_or(service.version);
    match e {
        StoreError::Conflict { .. } => {
            // Read again: the service as it is now, to show what changed beside what was typed.
            let now = match state.store.service(service.id).await {
                Ok(s) => s,
                Err(e) => return failure(&e),
            };
            let conflict = Conflict { differences: differences(&as_typed(&now), posted, fields) };
            // The other form shows the service as it is now; this one, what was typed.
            let typed = overlay(as_typed(&now), posted, fields);
            let view = service_page(state, staff, shell, &now, version, typed, &[], Some(conflict), None).await;
            page(StatusCode::CONFLICT, &view, None)
        }
        StoreError::NotFound => not_found(shell),
        StoreError::Domain(DomainError::Forbidden { .. }) => not_yours(shell),
        other => match field_refusal(&other) {
            Some(v) => {
                let typed = overlay(as_typed(service), posted, fields);
                let view = service_page(state, staff, shell, service, version, typed, &[v], None, None).await;
                page(StatusCode::UNPROCESSABLE_ENTITY, &view, None)
            }
            None => failure(&other),
        },
    }
}

pub(super) async fn save_details(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    form: Result<Form<Posted>, FormRejection>,
) -> Response {
    let (posted, csrf) = match checked_form(&state, &headers, form, "service details") {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let shell = Shell::of(&staff, csrf);
    let service = match read_managed(&state, &staff, &shell, &raw).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let Some(version) = posted_version(&posted) else {
        return problem(
            StatusCode::BAD_REQUEST,
            Some(shell),
            "This form could not be sent",
            "Reload the service and try again.",
        );
    };
    let email_editable = rules::may_change_service_email(&staff.actor(), service.organisation);
    let status = if typed(&posted, "listed") == "inactive" { ServiceStatus::Inactive } else { ServiceStatus::Active };
    let details = match parse_details(&posted, status, email_editable) {
        Ok(d) => d,
        Err(errors) => {
            let typed = overlay(as_typed(&service), &posted, DETAIL_FIELDS);
            let view = service_page(&state, &staff, shell, &service, version, typed, &errors, None, None).await;
            return page(StatusCode::UNPROCESSABLE_ENTITY, &view, None);
        }
    };
    // Kinds of support the form does not list (from another directory's taxonomy) stay as they are.
    let mut taxonomy = details.taxonomy;
    taxonomy.extend(service.taxonomy.iter().filter(|c| rules::term_name(c).is_none()).cloned());
    // The place is replaced only when it changed, and never when the service has more than the form shows.
    let places = (service.places.len() <= 1 && details.places != service.places).then_some(details.places);
    let changes = ServiceChanges {
        name: Some(details.name),
        description: Some(details.description),
        email: email_editable.then_some(details.email),
        url: Some(details.url),
        status: Some(details.status),
        taxonomy: Some(taxonomy),
        min_age: Some(details.min_age),
        max_age: Some(details.max_age),
        eligibility: Some(details.eligibility),
        schedule: Some(details.schedule),
        places,
    };
    match state.store.update_service(&staff.actor(), service.id, version, changes, Utc::now()).await {
        Ok(saved) => see_other(&format!("/directory/services/{}?saved=details", saved.id.0)),
        Err(e) => refused_save(&state, &staff, shell, &service, &posted, DETAIL_FIELDS, e).await,
    }
}

pub(super) async fn save_capacity(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    form: Result<Form<Posted>, FormRejection>,
) -> Response {
    let (posted, csrf) = match checked_form(&state, &headers, form, "service capacity") {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let shell = Shell::of(&staff, csrf);
    let service = match read_managed(&state, &staff, &shell, &raw).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let Some(version) = posted_version(&posted) else {
        return problem(
            StatusCode::BAD_REQUEST,
            Some(shell),
            "This form could not be sent",
            "Reload the service and try again.",
        );
    };
    let update = match parse_capacity(&posted) {
        Ok(u) => u,
        Err(errors) => {
            let typed = overlay(as_typed(&service), &posted, CAPACITY_FIELDS);
            let view = service_page(&state, &staff, shell, &service, version, typed, &errors, None, None).await;
            return page(StatusCode::UNPROCESSABLE_ENTITY, &view, None);
        }
    };
    match state.store.update_service_capacity(&staff.actor(), service.id, version, update, Utc::now()).await {
        Ok(saved) => see_other(&format!("/directory/services/{}?saved=capacity", saved.id.0)),
        Err(e) => refused_save(&state, &staff, shell, &service, &posted, CAPACITY_FIELDS, e).await,
    }
}
