//! The audit entry of a listing: one row naming every referral a page showed, and the question the log
//! must still answer about each of them, "who saw this person's record".
//!
//! A caseload page used to write one row per person shown, each with four index entries: most of what an
//! audited page cost (`docs/benchmarks.md`). Now it writes one row whose `referral_ids` lists them.
//!
//! - **PostgreSQL**: `referral_ids` is a `uuid[]` with a GIN index, written as one text parameter cast
//!   to `uuid[]` (one statement text for every page size); "who saw" is `referral_ids @> ARRAY[id]`,
//!   which the GIN index answers. The index takes new entries through a small pending list (migration
//!   `m20261126_000019`): pages listing the same people no longer all write into the same posting trees.
//! - **SQLite** has no arrays and cannot index inside a JSON value: `referral_ids` is a JSON array (read
//!   back with the entry) and `audit_log_referrals (referral_id, audit_id)`, a `WITHOUT ROWID` table
//!   clustered on the referral, is its index, written in the same transaction: a page adds one B-tree
//!   entry per person instead of a row and four index entries. "Who saw" is a range scan of it.
//!
//! Either way the entry is committed before the page is answered, and a failed write fails the page. On
//! PostgreSQL a caseload page's people are read by the statement that writes its entry ([`write_reading`]).

use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, QueryResult, Statement, TransactionTrait, Value};
use trellis_domain::ReferralId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::audit_log;

/// The head of a listing's `INSERT`, up to its values.
const COLUMNS: &str =
    "INSERT INTO audit_log (id, occurred_at, actor_role, actor_organisation_id, actor_user_id, action, referral_ids)";

/// Rows of `audit_log_referrals` per statement (two parameters each).
const SIDE_ROWS_PER_STATEMENT: usize = 500;

/// Writes `entry` as the listing of `referrals` (at least one); returns once it is committed.
pub(super) async fn write(
    db: &DatabaseConnection,
    entry: audit_log::Model,
    referrals: &[ReferralId],
) -> Result<(), StoreError> {
    let ids = distinct(referrals);
    let backend = db.get_database_backend();
    let entry_id = entry.id;
    let head = head_values(entry);
    match backend {
        DatabaseBackend::Postgres => {
            let mut values = head;
            values.push(Value::from(crate::rows::uuid_array(&ids)));
            let text = format!("{COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS uuid[]))");
            db.execute_raw(Statement::from_sql_and_values(backend, text, values)).await?;
        }
        _ => {
            let json = serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>()).to_string();
            let mut values = head;
            values.push(Value::from(json));
            let txn = db.begin().await?;
            let text = format!("{COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)");
            txn.execute_raw(Statement::from_sql_and_values(backend, text, values)).await?;
            for chunk in ids.chunks(SIDE_ROWS_PER_STATEMENT) {
                let marks = vec!["(?, ?)"; chunk.len()].join(", ");
                let text = format!("INSERT INTO audit_log_referrals (referral_id, audit_id) VALUES {marks}");
                let values = chunk.iter().flat_map(|r| [Value::from(*r), Value::from(entry_id)]).collect::<Vec<_>>();
                txn.execute_raw(Statement::from_sql_and_values(backend, text, values)).await?;
            }
            txn.commit().await?;
        }
    }
    Ok(())
}

/// Runs `read` with the entry of the listing of `referrals` (if any) written by the same statement on
/// PostgreSQL, as a data-modifying `WITH` clause: what the read returns is never answered unrecorded,
/// and a page pays one statement for both. Elsewhere the entry is written first. Returns once the entry
/// is committed.
pub(super) async fn write_reading(
    db: &DatabaseConnection,
    entry: audit_log::Model,
    referrals: &[ReferralId],
    read: Statement,
) -> Result<Vec<QueryResult>, StoreError> {
    if referrals.is_empty() {
        return Ok(db.query_all_raw(read).await?);
    }
    if db.get_database_backend() != DatabaseBackend::Postgres {
        write(db, entry, referrals).await?;
        return Ok(db.query_all_raw(read).await?);
    }
    let mut values = read.values.map(|v| v.0).unwrap_or_default();
    let first = values.len() + 1;
    values.extend(head_values(entry));
    values.push(Value::from(crate::rows::uuid_array(&distinct(referrals))));
    let marks = (first..first + 6).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let text = format!(r#"WITH "listed" AS ({COLUMNS} VALUES ({marks}, CAST(${} AS uuid[]))) {}"#, first + 6, read.sql);
    Ok(db.query_all_raw(Statement::from_sql_and_values(DatabaseBackend::Postgres, text, values)).await?)
}

/// The ids of `referrals`, each once, in order.
fn distinct(referrals: &[ReferralId]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = referrals.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The values of a listing's columns up to its referrals, in [`COLUMNS`]' order.
fn head_values(entry: audit_log::Model) -> Vec<Value> {
    vec![
        Value::from(entry.id),
        Value::from(entry.occurred_at),
        Value::from(entry.actor_role),
        Value::from(entry.actor_organisation_id),
        Value::from(entry.actor_user_id),
        Value::from(entry.action),
    ]
}

/// The entries about `referral`: those of a single record (`referral_id`) and the listings that showed it.
///
/// On PostgreSQL the ids of both are gathered first, through `ix_audit_referral` and the GIN index
/// (`id = ANY(ARRAY(…))`), and only those entries are read, newest first. Written as one condition
/// (`referral_id = $1 OR referral_ids @> …`), the planner could instead walk the whole log backwards
/// from the newest entry, testing each, whenever its statistics or a generic plan said the person was
/// listed often: fast for someone on every page, a scan of the log for everyone else (`docs/benchmarks.md`).
/// As a join (`id IN (…)`) it took milliseconds to plan on a log growing under load.
pub(super) fn mentioning(backend: DatabaseBackend, referral: ReferralId) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust_with_values(
            concat!(
                r#""audit_log"."id" = ANY(ARRAY(SELECT "id" FROM "audit_log" WHERE "referral_id" = $1 "#,
                r#"UNION ALL SELECT "id" FROM "audit_log" "#,
                // Not `ARRAY[$2]`: sea-query reads `[…]` as a quoted name and leaves a placeholder in it unbound.
                r#"WHERE "referral_ids" @> array_append(CAST('{}' AS uuid[]), $2)))"#,
            ),
            [referral.0, referral.0],
        ),
        _ => {
            let listed = Expr::cust_with_values(
                r#""audit_log"."id" IN (SELECT "audit_id" FROM "audit_log_referrals" WHERE "referral_id" = ?)"#,
                [referral.0],
            );
            Expr::col((audit_log::Entity, audit_log::Column::ReferralId)).eq(referral.0).or(listed)
        }
    }
}

/// An entry's listed referrals as a JSON array of ids (`NULL` for an entry that is not a listing).
pub(super) fn listed_json(backend: DatabaseBackend) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust(r#"array_to_json("audit_log"."referral_ids")::text"#),
        _ => Expr::cust(r#""audit_log"."referral_ids""#),
    }
}

/// The ids of [`listed_json`]'s value.
pub(super) fn parse_listed(json: Option<&str>) -> Result<Vec<ReferralId>, StoreError> {
    let Some(json) = json else { return Ok(Vec::new()) };
    let ids: Vec<Uuid> = serde_json::from_str(json).map_err(|_| StoreError::Corrupt("audit_log.referral_ids"))?;
    Ok(ids.into_iter().map(ReferralId).collect())
}
