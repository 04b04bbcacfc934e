//! The directory's import runs in the console, for the network lead (`GET /directory/imports`): each run's
//! source, outcome and counts, newest first, with its warnings and rejections. The same rows as the
//! `importRuns` query, from `Store::import_runs`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use trellis_domain::access::IMPORT_READERS;
use trellis_store::oruk::{ImportRunRecord, MAX_NOTES, RunOutcome};

use super::pages::Shell;
use super::{Staff, failure, form_token, page, problem};
use crate::AppState;

/// Runs on one page.
const PAGE_SIZE: u64 = 20;

/// The page's paging.
#[derive(Deserialize, Default)]
pub struct RunsQuery {
    after: Option<String>,
}

/// One run as the page shows it.
pub(crate) struct RunRow {
    pub started: String,
    pub source: String,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub counts: Vec<(&'static str, usize)>,
    pub warnings: Vec<(String, String, String, String)>,
    pub rejections: Vec<(String, String)>,
    pub more_notes: bool,
}

/// `GET /directory/imports`.
#[derive(Template)]
#[template(path = "console/directory_imports.html")]
pub(crate) struct ImportRunsPage {
    pub shell: Option<Shell>,
    pub runs: Vec<RunRow>,
    pub next: Option<String>,
    pub first: bool,
}

fn row(r: ImportRunRecord) -> RunRow {
    let report = r.report;
    RunRow {
        started: r.started_at.format("%-d %B %Y %H:%M UTC").to_string(),
        source: r.source,
        outcome: match r.outcome {
            RunOutcome::Imported => "Imported",
            RunOutcome::NotModified => "Not modified",
            RunOutcome::Failed => "Failed",
        },
        error: r.error,
        counts: vec![
            ("Created", report.created),
            ("Updated", report.updated),
            ("Unchanged", report.unchanged),
            ("Warned about", report.warned),
            ("Rejected", report.rejected),
            ("Marked inactive", report.deactivated),
        ],
        more_notes: report.warnings.len() >= MAX_NOTES || report.rejections.len() < report.rejected,
        warnings: report.warnings.into_iter().map(|w| (w.record, w.field, w.value, w.reason)).collect(),
        rejections: report.rejections.into_iter().map(|x| (x.record, x.reason)).collect(),
    }
}

pub(super) async fn list(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<RunsQuery>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    if !IMPORT_READERS.contains(&staff.user.role) {
        let message = "Import reports are for the network lead, who manages the directory.";
        return problem(StatusCode::FORBIDDEN, Some(shell), "You cannot see this page", message);
    }
    let after = query.after.as_deref().and_then(|a| a.parse::<uuid::Uuid>().ok());
    let mut runs = match state.store.import_runs(after, PAGE_SIZE + 1).await {
        Ok(runs) => runs,
        Err(e) => return failure(&e),
    };
    let has_next = runs.len() as u64 > PAGE_SIZE;
    runs.truncate(PAGE_SIZE as usize);
    let next = has_next.then(|| runs.last().map(|r| format!("/directory/imports?after={}", r.id))).flatten();
    let view =
        ImportRunsPage { shell: Some(shell), runs: runs.into_iter().map(row).collect(), next, first: after.is_some() };
    page(StatusCode::OK, &view, cookie)
}
