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
use serde::Deserialize;
use trellis_domain::access::may_see_the_network;

use super::cache::Period;
use super::graphql::network_from;
use crate::AppState;
use crate::console::{Shell, Staff, failure, form_token, page as console_page, problem};
use crate::link_pages::kit::with_page_headers;
use view::NetworkPage;

/// The `/network` route, with the console's headers.
pub fn routes() -> Router<AppState> {
    with_page_headers(Router::new().route("/network", get(page)))
}

/// Filters a person can choose on the page.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    days: Option<i64>,
    category: Option<String>,
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
    // The turn is kept until the page is rendered; the page is far smaller than the graph.
    let turn = state.network.turn().await;
    match state.network.graph(&state.store, Period::LastDays(days), category.clone()).await {
        Ok((graph, statistics)) => {
            let network = network_from(graph, &statistics);
            drop(turn);
            console_page(StatusCode::OK, &NetworkPage::new(&network, shell, days, category.as_deref()), cookie)
        }
        Err(e) => failure(&e),
    }
}
