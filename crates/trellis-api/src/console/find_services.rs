//! Finding a service for a referral (`/referrals/{id}/services`) and the form that offers the referral
//! to one (`/referrals/{id}/offer`).
//!
//! The search is the store's `find_services`, as GraphQL's `findServices` calls it: needs, near the
//! person's postcode (placed by the directory's own locations), a radius, the person's age, and "only
//! with places". Each result says why it matched, how far it is and what capacity it has.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::directory::MatchRequest;
use trellis_domain::referral::ReferralStatus;
use trellis_domain::values::{Need, Postcode};
use trellis_domain::{OrganisationId, ReferralId, ServiceId};
use trellis_store::StoreError;
use trellis_store::directory::{ServiceMatch, ServiceSearch};
use trellis_store::notices::referral_reference;
use trellis_store::sessions::SessionPrincipal;

use super::casework::{Choice, FormError};
use super::{Shell, Staff, failure, form_token, page, problem};
use crate::AppState;

/// Results on the page at most.
const RESULTS: usize = 20;
/// The radius offered before the link worker changes it, in kilometres.
const DEFAULT_RADIUS_KM: &str = "10";

/// The offer form's address: the service chosen.
#[derive(Deserialize, Default)]
pub struct OfferQuery {
    pub(crate) service: Option<String>,
}

/// One service found.
pub(crate) struct ResultCard {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub description: String,
    pub why: Vec<String>,
    pub distance: String,
    pub capacity: String,
    pub capacity_stale: bool,
    pub schedule: Option<String>,
}

/// The search form and what it found.
#[derive(Template)]
#[template(path = "console/find_services.html")]
pub(crate) struct FindServicesPage {
    pub shell: Option<Shell>,
    pub id: String,
    pub name: String,
    pub reference: String,
    pub age: u32,
    pub closed: bool,
    pub needs: Vec<Choice>,
    pub postcode: String,
    pub radius: String,
    pub only_with_places: bool,
    pub errors: Vec<FormError>,
    pub results: Option<Vec<ResultCard>>,
}

impl FindServicesPage {
    /// The error at the field with element id `field`, if any.
    pub(crate) fn error_at(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

fn not_found(shell: Shell) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        Some(shell),
        "Referral not found",
        "There is no referral at this address that you can see. Check the link, or go back to your referrals.",
    )
}

fn refusal(e: &StoreError, shell: Shell) -> Response {
    match e {
        StoreError::NotFound => not_found(shell),
        other => failure(other),
    }
}

fn capacity_words(m: &ServiceMatch, stale: bool) -> String {
    match &m.service.capacity {
        None => "Not known: the provider has not said".into(),
        Some(c) => {
            let status = match c.status.as_str() {
                "open" => "open",
                "waitlist" => "waiting list only",
                "closed" => "closed",
                other => other,
            };
            let confirmed = if stale {
                format!(", not confirmed since {}", super::pages::day(c.updated_at))
            } else {
                String::new()
            };
            format!("{} of {} {} free ({status}){confirmed}", c.available, c.maximum, c.unit)
        }
    }
}

pub(super) async fn search(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let Some(id) = raw.parse().ok().map(ReferralId) else { return not_found(shell) };
    let actor = staff.actor();
    let now = Utc::now();
    let record = match state.store.referral(&actor, id, now).await {
        Ok(record) => record,
        Err(e) => return refusal(&e, shell),
    };
    let p = &record.person.details;
    let value = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
    let submitted = value("search").is_some();
    let (needs, postcode, radius, only_with_places) = if submitted {
        let needs: Vec<Need> =
            pairs.iter().filter(|(k, _)| k == "needs").filter_map(|(_, v)| Need::parse(v).ok()).collect();
        (needs, value("postcode").unwrap_or_default(), value("radius").unwrap_or_default(), value("only").is_some())
    } else {
        let postcode = p.postcode.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default();
        let radius = if postcode.is_empty() { String::new() } else { DEFAULT_RADIUS_KM.to_owned() };
        (record.needs.clone(), postcode, radius, false)
    };
    let age = now.date_naive().years_since(p.date_of_birth).unwrap_or_default();

    let mut errors = Vec::new();
    let error = |field: &str, message: String| FormError { field: field.into(), message };
    if needs.is_empty() {
        errors.push(error("needs", "Choose at least one need".into()));
    }
    let radius_km = match radius.as_str() {
        "" => None,
        r => match r.parse::<f64>() {
            Ok(km) if km.is_finite() && km > 0.0 && km <= 500.0 => Some(km),
            _ => {
                errors.push(error("radius", "Enter a distance in kilometres, more than 0 and at most 500".into()));
                None
            }
        },
    };
    let near = match postcode.as_str() {
        "" => {
            if radius_km.is_some() {
                errors.push(error("postcode", "Enter a postcode to search within a distance of it".into()));
            }
            None
        }
        typed => match Postcode::parse(typed) {
            Err(_) => {
                errors.push(error("postcode", "Enter a full UK postcode, like NG10 1AB".into()));
                None
            }
            Ok(postcode) => match state.store.locate_postcode(&postcode).await {
                Ok(Some(point)) => Some(point),
                Ok(None) => {
                    errors.push(error(
                        "postcode",
                        format!(
                            "No place in the directory is at or near {}: try a nearby postcode, or leave it empty",
                            postcode.as_str()
                        ),
                    ));
                    None
                }
                Err(e) => return failure(&e),
            },
        },
    };
    let results = if errors.is_empty() {
        let search = ServiceSearch {
            request: MatchRequest {
                needs: needs.clone(),
                radius_km,
                age: i32::try_from(age).ok(),
                only_with_capacity: only_with_places,
            },
            near,
            now,
            limit: RESULTS,
        };
        let found = match state.store.find_services(&search).await {
            Ok(found) => found,
            Err(e) => return failure(&e),
        };
        let mut providers: HashMap<OrganisationId, String> = HashMap::new();
        let mut cards = Vec::new();
        for m in found {
            let org = m.service.organisation;
            if let Entry::Vacant(slot) = providers.entry(org) {
                slot.insert(match state.store.organisation(org).await {
                    Ok(o) => o.name,
                    Err(e) => return failure(&e),
                });
            }
            let stale =
                m.service.capacity.as_ref().is_some_and(|c| state.store.policy().capacity_stale(c.updated_at, now));
            let mut why: Vec<String> = m.reasons.clone();
            if why.is_empty() {
                why = m.needs_met.iter().map(|n| format!("Helps with {}", n.label().to_lowercase())).collect();
            }
            cards.push(ResultCard {
                id: m.service.id.to_string(),
                name: m.service.name.clone(),
                provider: providers.get(&org).cloned().unwrap_or_default(),
                description: m.service.description.clone(),
                why,
                distance: m.distance_km.map(|d| format!("{d:.1} km")).unwrap_or_else(|| "Not known".into()),
                capacity: capacity_words(&m, stale),
                capacity_stale: stale,
                schedule: m.service.schedule.clone(),
            });
        }
        Some(cards)
    } else {
        None
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let view = FindServicesPage {
        shell: Some(shell),
        id: id.to_string(),
        name: format!("{} {}", p.given_name, p.family_name),
        reference: referral_reference(id),
        age,
        closed: record.state.status == ReferralStatus::Closed,
        needs: Need::ALL
            .iter()
            .map(|n| Choice { value: n.as_str().into(), label: n.label().into(), checked: needs.contains(n) })
            .collect(),
        postcode,
        radius,
        only_with_places,
        errors,
        results,
    };
    page(status, &view, cookie)
}

/// The form that offers the referral to one service, with the note for the provider.
#[derive(Template)]
#[template(path = "console/offer_form.html")]
pub(crate) struct OfferFormPage {
    pub shell: Option<Shell>,
    pub id: String,
    pub version: u32,
    pub name: String,
    pub first_name: String,
    pub reference: String,
    pub needs: Vec<&'static str>,
    pub service_id: String,
    pub service: String,
    pub provider: String,
    pub note: String,
    pub error: Option<FormError>,
}

/// The offer form for referral `id` and `service`, read as `staff` may (the referral read is audited).
pub(crate) async fn offer_form_page(
    state: &AppState,
    staff: &SessionPrincipal,
    shell: Shell,
    id: ReferralId,
    service: ServiceId,
    note: Option<String>,
    error: Option<FormError>,
) -> Result<OfferFormPage, StoreError> {
    let record = state.store.referral(&staff.actor(), id, Utc::now()).await?;
    let svc = state.store.service(service).await?;
    let provider = state.store.organisation(svc.organisation).await?.name;
    let p = &record.person.details;
    Ok(OfferFormPage {
        shell: Some(shell),
        id: id.to_string(),
        version: record.state.version,
        name: format!("{} {}", p.given_name, p.family_name),
        first_name: p.given_name.clone(),
        reference: referral_reference(id),
        needs: record.needs.iter().map(|n| n.label()).collect(),
        service_id: svc.id.to_string(),
        service: svc.name,
        provider,
        note: note.unwrap_or_default(),
        error,
    })
}
