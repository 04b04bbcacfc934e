//! Open Referral UK import runs: what each run did, with its warnings and rejections (network lead).

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use trellis_domain::access::IMPORT_READERS;
use trellis_store::Store;
use trellis_store::oruk::{ImportRunRecord, RunOutcome};

use super::common::{self, page_cost, page_size};
use crate::auth::Caller;
use crate::error::{ApiResult, OrApiError};

/// Reading import runs.
#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// Directory import runs (files, feeds, syncs), newest first (network lead).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn import_runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, ImportRun, EmptyFields, EmptyFields>> {
        ctx.data::<Caller>()?.require(&IMPORT_READERS, "read import runs").api()?;
        let limit = page_size(ctx, first)?;
        let before = after.map(|c| common::parse_id::<uuid::Uuid>("after", &ID(c))).transpose().api()?;
        let mut rows = ctx.data::<Store>()?.import_runs(before, limit + 1).await.api()?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let mut connection = Connection::new(before.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|r| Edge::new(r.id.to_string(), ImportRun::from(r))));
        Ok(connection)
    }
}

/// How an import run ended.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ImportOutcome {
    /// It read what it was given.
    Imported,
    /// The feed answered that nothing had changed since the last complete read (HTTP 304).
    NotModified,
    /// It stopped early; `error` says why. Records imported before that stay, each whole.
    Failed,
}

/// One import run.
#[derive(SimpleObject)]
pub struct ImportRun {
    /// Its id.
    pub id: ID,
    /// The file or feed address it read (without credentials).
    pub source: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: ImportOutcome,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Pages read.
    pub pages: i32,
    /// Services added.
    pub created: i32,
    /// Services whose record had changed, updated.
    pub updated: i32,
    /// Services whose record was as last time: nothing written.
    pub unchanged: i32,
    /// Records imported with parts left out (see `warnings`).
    pub warned: i32,
    /// Records not imported (see `rejections`).
    pub rejected: i32,
    /// Services gone from a complete feed, marked inactive (kept, with their offers and history).
    pub deactivated: i32,
    /// Each part left out: the record, the field, its value and why (the first 500).
    pub warnings: Vec<ImportWarning>,
    /// Each record not imported and why (the first 500).
    pub rejections: Vec<ImportRejection>,
}

/// A part of a record left out.
#[derive(SimpleObject)]
pub struct ImportWarning {
    /// The record's id in the source.
    pub record: String,
    /// Where in the record (`service_at_locations[0].location.latitude`).
    pub field: String,
    /// The value found there, shortened.
    pub value: String,
    /// What was done and why.
    pub reason: String,
}

/// A record not imported.
#[derive(SimpleObject)]
pub struct ImportRejection {
    /// The record's id in the source, or `#n` for the n-th record of the run without one.
    pub record: String,
    /// Why.
    pub reason: String,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<ImportRunRecord> for ImportRun {
    fn from(r: ImportRunRecord) -> Self {
        let report = r.report;
        ImportRun {
            id: ID(r.id.to_string()),
            source: r.source,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: match r.outcome {
                RunOutcome::Imported => ImportOutcome::Imported,
                RunOutcome::NotModified => ImportOutcome::NotModified,
                RunOutcome::Failed => ImportOutcome::Failed,
            },
            error: r.error,
            pages: count(r.pages as usize),
            created: count(report.created),
            updated: count(report.updated),
            unchanged: count(report.unchanged),
            warned: count(report.warned),
            rejected: count(report.rejected),
            deactivated: count(report.deactivated),
            warnings: report
                .warnings
                .into_iter()
                .map(|w| ImportWarning { record: w.record, field: w.field, value: w.value, reason: w.reason })
                .collect(),
            rejections: report
                .rejections
                .into_iter()
                .map(|x| ImportRejection { record: x.record, reason: x.reason })
                .collect(),
        }
    }
}
