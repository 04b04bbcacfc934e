//! What the network page shows, worked out in Rust (positions, widths, words) so the templates only
//! place it, escaped by askama.

use std::collections::HashMap;

use askama::Template;

use trellis_domain::OrganisationId;

use crate::console::Shell;
use crate::network::graphql::{Network, NetworkService};

/// What the person chose, and the link worker services they may choose from.
pub(in crate::network) struct PageChoices<'a> {
    /// Every link worker service: (id, name).
    pub services: &'a [(OrganisationId, String)],
    /// The one whose locality is shown, if one is.
    pub area: Option<OrganisationId>,
    /// The last this many days.
    pub days: i64,
    /// A kind of service, if one.
    pub category: Option<&'a str>,
}

/// One option of a list.
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A flow of offers as a curve: from a link worker service to a provider, or onward between providers.
pub(super) struct FlowLine {
    /// `referral` or `onward`.
    pub kind: &'static str,
    /// The SVG path.
    pub d: String,
    /// Thicker for more offers.
    pub width: String,
    /// "From → to: n offers".
    pub title: String,
}

/// An organisation as a circle with its name beside it.
pub(super) struct Node {
    pub x: f64,
    pub y: f64,
    /// Where its label starts (or ends, for a link worker service).
    pub label_x: f64,
    pub label_y: f64,
    pub label: String,
    /// The circle's colour: the service's, or a provider's capacity.
    pub fill: &'static str,
    /// A provider's places and offers, for its tooltip; none for a link worker service.
    pub title: Option<String>,
}

/// A row of the capacity table.
pub(super) struct ServiceRow {
    pub name: String,
    pub provider: String,
    pub places: String,
    pub status: String,
    pub open: i64,
    pub accepted: i64,
    pub declined: i64,
    pub acceptance: String,
    pub median_response: String,
    pub reasons: String,
}

/// The network page.
#[derive(Template)]
#[template(path = "network_page.html")]
pub(super) struct NetworkPage {
    pub shell: Option<Shell>,
    pub areas: Vec<Choice>,
    /// Whether a locality is shown (otherwise the page asks for one).
    pub shown: bool,
    /// The next page of providers, as a link, if more follow.
    pub next: Option<String>,
    pub periods: Vec<Choice>,
    pub categories: Vec<Choice>,
    pub width: f64,
    pub height: f64,
    pub flows: Vec<FlowLine>,
    pub sources: Vec<Node>,
    pub providers: Vec<Node>,
    pub rows: Vec<ServiceRow>,
    pub organisations: usize,
    pub services: usize,
    pub offers: i64,
}

/// Where the link worker services stand, and the providers.
const SOURCES_X: f64 = 260.0;
const PROVIDERS_X: f64 = 620.0;

impl NetworkPage {
    /// The page that asks which locality to show.
    pub(in crate::network) fn choose(shell: Shell, choices: &PageChoices<'_>) -> Self {
        let (areas, periods, categories) = filters(choices);
        NetworkPage {
            shell: Some(shell),
            areas,
            shown: false,
            next: None,
            periods,
            categories,
            width: 980.0,
            height: 0.0,
            flows: vec![],
            sources: vec![],
            providers: vec![],
            rows: vec![],
            organisations: 0,
            services: 0,
            offers: 0,
        }
    }

    /// The page for `network`, in the console's frame `shell`, as chosen.
    pub(in crate::network) fn new(network: &Network, shell: Shell, choices: &PageChoices<'_>) -> Self {
        let mut services_by_org: HashMap<&str, Vec<&NetworkService>> = HashMap::new();
        for s in network.services.iter() {
            services_by_org.entry(s.organisation_id.as_str()).or_default().push(s);
        }
        let sources: Vec<_> = network.organisations.iter().filter(|o| o.kind == "link_worker_service").collect();
        let providers: Vec<_> = network.organisations.iter().filter(|o| o.kind == "provider").collect();
        let rows = sources.len().max(providers.len()).max(1);
        let height = 80.0 + rows as f64 * 56.0;
        let spread = |i: usize, n: usize| 50.0 + (i as f64 + 0.5) * (height - 80.0) / n.max(1) as f64;
        let mut at: HashMap<&str, (f64, f64)> = HashMap::new();
        for (i, o) in sources.iter().enumerate() {
            at.insert(o.id.as_str(), (SOURCES_X, spread(i, sources.len())));
        }
        for (i, o) in providers.iter().enumerate() {
            at.insert(o.id.as_str(), (PROVIDERS_X, spread(i, providers.len())));
        }
        let name_of = |id: &str| {
            network.organisations.iter().find(|o| o.id.as_str() == id).map(|o| o.name.as_str()).unwrap_or("?")
        };

        let flows = network
            .flows
            .iter()
            .filter_map(|flow| {
                let (&(ax, ay), &(bx, by)) = (at.get(flow.from_id.as_str())?, at.get(flow.to_id.as_str())?);
                let plural = if flow.count == 1 { "" } else { "s" };
                let title =
                    format!("{} → {}: {} offer{plural}", name_of(&flow.from_id), name_of(&flow.to_id), flow.count);
                let width = format!("{:.1}", 1.5 + (flow.count as f64).sqrt() * 2.0);
                Some(if flow.kind == "onward" {
                    // Onward arcs bow to the left of the providers, clear of their labels.
                    let bulge = ax - 60.0 - (ay - by).abs() * 0.35;
                    let d = format!("M {} {ay} C {bulge} {ay} {bulge} {by} {} {by}", ax - 14.0, bx - 14.0);
                    FlowLine { kind: "onward", d, width, title }
                } else {
                    let mid = (ax + bx) / 2.0;
                    let d = format!("M {} {ay} C {mid} {ay} {mid} {by} {} {by}", ax + 14.0, bx - 14.0);
                    FlowLine { kind: "referral", d, width, title }
                })
            })
            .collect();

        let sources = sources
            .iter()
            .map(|o| {
                let (x, y) = at[o.id.as_str()];
                Node { x, y, label_x: x - 20.0, label_y: y + 4.0, label: o.name.clone(), fill: "#005eb8", title: None }
            })
            .collect();
        let providers = providers
            .iter()
            .map(|o| {
                let (x, y) = at[o.id.as_str()];
                let services = services_by_org.get(o.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                let (free, total) = services
                    .iter()
                    .fold((0, 0), |(f, t), s| (f + s.available.unwrap_or(0), t + s.maximum.unwrap_or(0)));
                let (fill, status) = provider_capacity(services);
                let open_offers: i64 = services.iter().map(|s| s.offers.open).sum();
                Node {
                    x,
                    y,
                    label_x: x + 20.0,
                    label_y: y + 4.0,
                    label: format!("{} ({free}/{total})", o.name),
                    fill,
                    title: Some(format!(
                        "{}: {free} of {total} places free ({status}), {open_offers} open offers",
                        o.name
                    )),
                }
            })
            .collect();

        let rows = network
            .services
            .iter()
            .map(|s| ServiceRow {
                name: s.name.clone(),
                provider: name_of(&s.organisation_id).to_owned(),
                places: match (s.available, s.maximum) {
                    (Some(a), Some(m)) => format!("{a} of {m}"),
                    _ => "not given".into(),
                },
                status: s.capacity_status.clone().unwrap_or_else(|| "unknown".into()),
                open: s.offers.open,
                accepted: s.offers.accepted,
                declined: s.offers.declined,
                acceptance: s
                    .offers
                    .acceptance_rate
                    .map(|r| format!("{:.0}%", r * 100.0))
                    .unwrap_or_else(|| "–".into()),
                median_response: s.offers.median_response_hours.map(hours).unwrap_or_else(|| "–".into()),
                reasons: s
                    .offers
                    .decline_reasons
                    .iter()
                    .map(|d| format!("{} ×{}", d.reason.replace('_', " "), d.count))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();

        let (areas, periods, categories) = filters(choices);
        let next = match (network.has_next_page, &network.end_cursor, choices.area) {
            (true, Some(after), Some(area)) => Some(format!(
                "/network?area={area}&days={}&category={}&after={after}",
                choices.days,
                choices.category.unwrap_or("")
            )),
            _ => None,
        };
        NetworkPage {
            shell: Some(shell),
            areas,
            shown: true,
            next,
            periods,
            categories,
            width: 980.0,
            height,
            flows,
            sources,
            providers,
            rows,
            organisations: network.organisations.len(),
            services: network.services.len(),
            offers: network.flows.iter().map(|f| f.count).sum(),
        }
    }
}

/// The choices of locality, period and kind of service, the chosen ones selected.
fn filters(choices: &PageChoices<'_>) -> (Vec<Choice>, Vec<Choice>, Vec<Choice>) {
    let areas = choices
        .services
        .iter()
        .map(|(id, name)| Choice { value: id.to_string(), label: name.clone(), selected: Some(*id) == choices.area })
        .collect();
    let periods = [30, 90, 365]
        .into_iter()
        .map(|d| Choice { value: d.to_string(), label: format!("Last {d} days"), selected: d == choices.days })
        .collect();
    let categories = std::iter::once(("", "All kinds of service"))
        .chain(trellis_store::directory::TAXONOMY.iter().copied())
        .map(|(code, label)| Choice {
            value: code.into(),
            label: label.into(),
            selected: Some(code) == choices.category,
        })
        .collect();
    (areas, periods, categories)
}

/// A provider's colour and word for its capacity: open if any service has a place free now, waitlist if
/// any takes names, closed otherwise.
fn provider_capacity(services: &[&NetworkService]) -> (&'static str, &'static str) {
    if services.iter().any(|s| s.capacity_status.as_deref() == Some("open") && s.available.unwrap_or(0) > 0) {
        ("#007f3b", "open")
    } else if services.iter().any(|s| matches!(s.capacity_status.as_deref(), Some("open" | "waitlist"))) {
        ("#ffb81c", "waitlist")
    } else {
        ("#d5281b", "closed")
    }
}

/// Hours as people read them: `5.5 h` under two days, `3.2 days` beyond.
fn hours(h: f64) -> String {
    if h < 48.0 { format!("{h:.1} h") } else { format!("{:.1} days", h / 24.0) }
}
