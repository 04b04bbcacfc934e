//! `/network`: a console page that shows the network to network leads and link workers — an SVG
//! picture of link worker services, providers and the flows of offers between them, and a capacity
//! table.
//!
//! It is one of the staff console's pages ([`crate::console`]): the same sign-in by emailed link, the
//! same server-side session, frame and headers. What the page draws is worked out in [`view`]; the
//! templates only place it.

mod view;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::{Duration, Utc};
use serde::Deserialize;
use trellis_domain::access::may_see_the_network;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::{OrganisationId, Role};
use trellis_store::network::{NetworkArea, NetworkFilter, NetworkPageRequest};

use super::graphql::{DEFAULT_PROVIDERS, network_from};
use crate::AppState;
use crate::console::{Shell, Staff, failure, form_token, page as console_page, problem};
use crate::link_pages::kit::with_page_headers;
use view::{NetworkPage, PageChoices};

/// The `/network` route, with the console's headers.
pub fn routes() -> Router<AppState> {
    with_page_headers(Router::new().route("/network", get(page)))
}

/// What a person can choose on the page: the link worker service whose locality to show, the period,
/// the kind of service, and the page of providers (after the one named).
#[derive(Deserialize, Default)]
pub struct PageQuery {
    area: Option<String>,
    days: Option<i64>,
    category: Option<String>,
    after: Option<String>,
}

async fn page(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    if !may_see_the_network(staff.user.role) {
        let message = "The network view is for network leads and link workers.";
        return problem(StatusCode::FORBIDDEN, Some(shell), "Not available", message);
    }
    let days = query.days.unwrap_or(90).clamp(1, 3650);
    let category = query.category.filter(|c| !c.trim().is_empty());
    let organisations = match state.store.organisations().await {
        Ok(organisations) => organisations,
        Err(e) => return failure(&e),
    };
    let services: Vec<_> = organisations
        .iter()
        .filter(|o| o.kind == OrganisationKind::LinkWorkerService)
        .map(|o| (o.id, o.name.clone()))
        .collect();
    let parse = |s: Option<&str>| {
        s.filter(|s| !s.trim().is_empty()).and_then(|s| uuid::Uuid::parse_str(s.trim()).ok()).map(OrganisationId)
    };
    // A link worker starts on their own service's locality, a network lead on the first by name; either
    // may choose another.
    let area = parse(query.area.as_deref())
        .or_else(|| (staff.user.role == Role::LinkWorker).then_some(staff.organisation.id))
        .filter(|id| services.iter().any(|(s, _)| s == id))
        .or_else(|| services.first().map(|(id, _)| *id));
    let choices = PageChoices { services: &services, area, days, category: category.as_deref() };
    let Some(area) = area else {
        return console_page(StatusCode::OK, &NetworkPage::choose(shell, &choices), cookie);
    };
    let until = Utc::now().date_naive();
    let filter = NetworkFilter { from: until - Duration::days(days - 1), until, category: category.clone() };
    let request = NetworkPageRequest { first: DEFAULT_PROVIDERS, after: parse(query.after.as_deref()) };
    let area_of = NetworkArea { link_worker_services: vec![area] };
    match state.store.network_page(&area_of, &filter, request).await {
        Ok(page) => {
            let network = network_from(page, &filter);
            console_page(StatusCode::OK, &NetworkPage::new(&network, shell, &choices), cookie)
        }
        Err(e) => failure(&e),
    }
}
