//! Import runs: one kept per run, however it ended, with its counts, warnings and rejections, and
//! audited as the system actor. A complete read of a feed also marks the services gone from it inactive
//! and keeps its validators for the next conditional request.

use chrono::{DateTime, Utc};
use sea_orm::{EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde::{Deserialize, Serialize};
use trellis_domain::Actor;
use uuid::Uuid;

use super::feeds::{FeedValidators, deactivate_missing, save_validators};
use super::report::{ImportRejection, ImportReport, ImportWarning};
use crate::audit::Audit;
use crate::{Store, StoreError};

mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub source: String,
        pub started_at: DateTimeUtc,
        pub finished_at: DateTimeUtc,
        pub outcome: String,
        pub pages: i32,
        pub created: i32,
        pub updated: i32,
        pub unchanged: i32,
        pub warned: i32,
        pub rejected: i32,
        pub deactivated: i32,
        pub notes: String,
        pub error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A run under way: records are imported into it page by page ([`Store::import_oruk_page`]), then it is
/// finished and kept ([`Store::finish_oruk_import`]).
#[derive(Clone, Debug)]
pub struct ImportRun {
    /// Its id.
    pub id: Uuid,
    /// Where its records come from: a file path or a feed's address (without credentials).
    pub source: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Pages read so far.
    pub pages: u32,
    /// Records read so far, across pages (numbers the ones without an id).
    pub(super) records: usize,
    /// What it has done so far.
    pub report: ImportReport,
}

impl ImportRun {
    /// A run from `source` (a path or an address; any user name, password or key in an address is
    /// dropped, since the report is shown to network leads).
    pub fn new(source: &str, now: DateTime<Utc>) -> ImportRun {
        ImportRun {
            id: Uuid::now_v7(),
            source: without_credentials(source),
            started_at: now,
            pages: 0,
            records: 0,
            report: ImportReport::default(),
        }
    }
}

/// An address without its user name and password, and with the values of query parameters that look
/// like secrets (`key`, `token`, `secret`, `password`, `signature`) replaced by `***`.
fn without_credentials(source: &str) -> String {
    let Some((scheme, rest)) = source.split_once("://") else { return source.to_owned() };
    let (authority_end, _) =
        rest.char_indices().find(|(_, c)| matches!(c, '/' | '?' | '#')).unwrap_or((rest.len(), ' '));
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let query = query.map(|q| {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _))
                    if ["key", "token", "secret", "password", "signature"]
                        .iter()
                        .any(|s| k.to_ascii_lowercase().contains(s)) =>
                {
                    format!("{k}=***")
                }
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(q) => format!("{scheme}://{host}{path}?{q}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnding {
    /// Every record it was given was read, but not necessarily a whole feed (a file, say): nothing is
    /// marked inactive.
    Partial,
    /// A whole feed was read, every page: services it listed before and no longer does are marked
    /// inactive, and its validators are kept for the next run.
    Complete(FeedValidators),
    /// The feed answered 304: nothing has changed since the last complete run.
    NotModified,
    /// It stopped early for this reason; what it imported before stays (each record was written whole).
    Failed(String),
}

/// How a kept run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// It read what it was given.
    Imported,
    /// The feed had not changed.
    NotModified,
    /// It stopped early (see the run's error).
    Failed,
}

impl RunOutcome {
    fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Imported => "imported",
            RunOutcome::NotModified => "not_modified",
            RunOutcome::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<RunOutcome, StoreError> {
        match s {
            "imported" => Ok(RunOutcome::Imported),
            "not_modified" => Ok(RunOutcome::NotModified),
            "failed" => Ok(RunOutcome::Failed),
            _ => Err(StoreError::Corrupt("import_runs.outcome")),
        }
    }
}

/// A run as kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRunRecord {
    /// Its id.
    pub id: Uuid,
    /// Where from.
    pub source: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Pages read.
    pub pages: u32,
    /// What it did.
    pub report: ImportReport,
}

/// The warnings and rejections as stored in `import_runs.notes`.
#[derive(Serialize, Deserialize)]
struct Notes {
    warnings: Vec<ImportWarning>,
    rejections: Vec<ImportRejection>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl TryFrom<entity::Model> for ImportRunRecord {
    type Error = StoreError;

    fn try_from(m: entity::Model) -> Result<Self, StoreError> {
        let notes: Notes = serde_json::from_str(&m.notes).map_err(|_| StoreError::Corrupt("import_runs.notes"))?;
        let n = |v: i32| usize::try_from(v).unwrap_or(0);
        Ok(ImportRunRecord {
            id: m.id,
            source: m.source,
            started_at: m.started_at,
            finished_at: m.finished_at,
            outcome: RunOutcome::parse(&m.outcome)?,
            error: m.error,
            pages: u32::try_from(m.pages).unwrap_or(0),
            report: ImportReport {
                created: n(m.created),
                updated: n(m.updated),
                unchanged: n(m.unchanged),
                warned: n(m.warned),
                rejected: n(m.rejected),
                deactivated: n(m.deactivated),
                warnings: notes.warnings,
                rejections: notes.rejections,
            },
        })
    }
}

impl Store {
    /// Ends `run` as `ending` says and keeps it, in one transaction with what ending it changes (the
    /// services gone from a complete feed, the feed's validators) and an audit entry by the system actor.
    pub async fn finish_oruk_import(
        &self,
        mut run: ImportRun,
        ending: RunEnding,
        now: DateTime<Utc>,
    ) -> Result<ImportRunRecord, StoreError> {
        let txn = self.db.begin().await?;
        let (outcome, error) = match ending {
            RunEnding::Partial => (RunOutcome::Imported, None),
            RunEnding::Complete(validators) => {
                let gone = deactivate_missing(&txn, &run.source, run.id, now).await?;
                run.report.deactivated = gone.len();
                for service in gone {
                    let detail =
                        serde_json::json!({ "service": service, "run": run.id, "reason": "gone from the feed" });
                    crate::directory::audit(&txn, &Actor::system(), "service.deactivated", detail, now).await?;
                }
                save_validators(&txn, &run.source, &validators, now).await?;
                (RunOutcome::Imported, None)
            }
            RunEnding::NotModified => (RunOutcome::NotModified, None),
            RunEnding::Failed(reason) => (RunOutcome::Failed, Some(reason)),
        };
        let r = &run.report;
        let notes = Notes { warnings: r.warnings.clone(), rejections: r.rejections.clone() };
        let row = entity::Model {
            id: run.id,
            source: run.source.clone(),
            started_at: run.started_at,
            finished_at: now,
            outcome: outcome.as_str().into(),
            pages: count(run.pages as usize),
            created: count(r.created),
            updated: count(r.updated),
            unchanged: count(r.unchanged),
            warned: count(r.warned),
            rejected: count(r.rejected),
            deactivated: count(r.deactivated),
            notes: serde_json::to_string(&notes).map_err(|_| StoreError::Corrupt("import_runs.notes"))?,
            error,
        };
        let detail = serde_json::json!({
            "run": run.id, "source": row.source, "outcome": row.outcome, "created": r.created,
            "updated": r.updated, "unchanged": r.unchanged, "warned": r.warned, "rejected": r.rejected,
            "deactivated": r.deactivated,
        });
        Audit { actor: &Actor::system(), action: "directory.imported", referral: None, offer: None, at: now }
            .write_detail(&txn, &detail)
            .await?;
        entity::Entity::insert(row.clone().into_active_model()).exec_without_returning(&txn).await?;
        txn.commit().await?;
        row.try_into()
    }

    /// Kept runs, newest first: at most `limit`, started before the run `before` when it is given.
    pub async fn import_runs(&self, before: Option<Uuid>, limit: u64) -> Result<Vec<ImportRunRecord>, StoreError> {
        use sea_orm::ColumnTrait;
        let mut query = entity::Entity::find();
        if let Some(before) = before {
            query = query.filter(entity::Column::Id.lt(before));
        }
        let rows = query.order_by_desc(entity::Column::Id).limit(limit).all(&self.db).await?;
        rows.into_iter().map(ImportRunRecord::try_from).collect()
    }

    /// Imports `records` as one run from `source` and keeps it: a whole file, say.
    pub async fn import_oruk(
        &self,
        source: &str,
        records: &[serde_json::Value],
        now: DateTime<Utc>,
    ) -> Result<ImportRunRecord, StoreError> {
        let mut run = ImportRun::new(source, now);
        self.import_oruk_page(&mut run, records, now).await?;
        self.finish_oruk_import(run, RunEnding::Partial, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_kept_without_credentials() {
        assert_eq!(without_credentials("/data/services.json"), "/data/services.json");
        assert_eq!(
            without_credentials("https://user:pw@dir.example/api/services?per_page=50&api_key=abc&Token=x#frag"),
            "https://dir.example/api/services?per_page=50&api_key=***&Token=***"
        );
        assert_eq!(without_credentials("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
