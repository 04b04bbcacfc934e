//! The audit entry of a listing: one row naming every referral a page showed, and the question the log
//! must still answer about each of them, "who saw this person's record".
//!
//! A caseload page used to write one row per person shown, each with four index entries: most of what an
//! audited page cost (`docs/benchmarks.md`). Now it writes one row whose `referral_ids` lists them.
//!
//! - **PostgreSQL**: `referral_ids` is a `uuid[]`, written as one text parameter cast to `uuid[]` (one
//!   statement text for every page size). The entry is indexed once, not once per person: by its scope
//!   (`actor_organisation_id`, the practice or service whose referrals it listed) and its bin
//!   (`listed_bin`, [`listed_bin`]), the smallest aligned block of id places holding every id it showed
//!   (migration `m20261127_000021`). "Who saw" looks up, for each of the referral's two organisations, the one bin
//!   of each size that holds the referral's place ([`bins_holding`]), and keeps the entries whose
//!   `referral_ids @> ARRAY[id]`. Indexed by a GIN entry for each person instead, a page cost PostgreSQL
//!   more than its own read.
//! - **SQLite** has no arrays and cannot index inside a JSON value: `referral_ids` is a JSON array (read
//!   back with the entry) and `audit_log_referrals (referral_id, audit_id)`, a `WITHOUT ROWID` table
//!   clustered on the referral, is its index, written in the same transaction: a page adds one B-tree
//!   entry per person instead of a row and four index entries. "Who saw" is a range scan of it.
//!
//! Either way the entry is committed before the page is answered, and a failed write fails the page.

use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait, Value};
use trellis_domain::ReferralId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::audit_log;

/// The head of a listing's `INSERT`, up to its values.
const COLUMNS: &str =
    "INSERT INTO audit_log (id, occurred_at, actor_role, actor_organisation_id, actor_user_id, action, referral_ids)";

/// A listing's `INSERT` on PostgreSQL, with its bin. Every value is a parameter (the bin worked out by
/// [`listed_bin`]), so PostgreSQL plans it once per connection; written as an expression of the ids, the
/// bin was planned, and the array parsed, once for each time the expression named them, on every page.
const INSERT_BINNED: &str = "INSERT INTO audit_log \
    (id, occurred_at, actor_role, actor_organisation_id, actor_user_id, action, referral_ids, listed_bin) \
    VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS uuid[]), $8)";

/// The bits of a referral id that give its place (`audit_id_place`): a version 7 UUID's milliseconds
/// since 1970.
const PLACE_BITS: u32 = 48;

/// Rows of `audit_log_referrals` per statement (two parameters each).
const SIDE_ROWS_PER_STATEMENT: usize = 500;

/// Writes `entry` as the listing of `referrals` (at least one); returns once it is committed.
pub(super) async fn write(
    db: &DatabaseConnection,
    entry: audit_log::Model,
    referrals: &[ReferralId],
) -> Result<(), StoreError> {
    let ids = distinct(referrals);
    let (Some(lowest), Some(highest)) = (ids.first().copied(), ids.last().copied()) else { return Ok(()) };
    let backend = db.get_database_backend();
    let entry_id = entry.id;
    let head = head_values(entry);
    match backend {
        DatabaseBackend::Postgres => {
            let mut values = head;
            values.push(Value::from(crate::rows::uuid_array(&ids)));
            values.push(Value::from(listed_bin(lowest, highest)));
            db.execute_raw(Statement::from_sql_and_values(backend, INSERT_BINNED, values)).await?;
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

/// The ids of `referrals`, each once, in order.
fn distinct(referrals: &[ReferralId]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = referrals.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A referral id's place: its first [`PLACE_BITS`] bits.
fn place(id: Uuid) -> u64 {
    // At most 48 bits: the cast keeps every one.
    (id.as_u128() >> (128 - PLACE_BITS)) as u64
}

/// The bin of the block of `2^level` places holding `place`: the level in the bits above the places, the
/// block's number below. Below 2^54, so a positive `bigint`.
fn bin(level: u32, place: u64) -> i64 {
    i64::try_from((u64::from(level) << PLACE_BITS) | (place >> level)).unwrap_or(i64::MAX)
}

/// The bin of a listing whose lowest and highest ids are these: the smallest aligned block of places
/// holding both places, so every place between. The same as migration `m20261127_000021`'s
/// `audit_listed_bin(lowest, highest)`, which gave the listings before it theirs.
pub fn listed_bin(lowest: Uuid, highest: Uuid) -> i64 {
    let (lowest, highest) = (place(lowest), place(highest));
    bin(u64::BITS - (lowest ^ highest).leading_zeros(), lowest)
}

/// The bins of every block holding `referral`'s place, one of each size: a listing that showed it has
/// one of them (its bin, by `audit_listed_bin`, is the smallest block holding all it showed).
pub fn bins_holding(referral: ReferralId) -> Vec<i64> {
    let place = place(referral.0);
    (0..=PLACE_BITS).map(|level| bin(level, place)).collect()
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
/// On PostgreSQL the ids of both are gathered first, through `ix_audit_referral` and `ix_audit_listed_bin`
/// (`id = ANY(ARRAY(…))`), and only those entries are read, newest first. The listings are looked up by
/// the referral's practice and link worker service, the only scopes a caseload lists it in, and the
/// [`bins_holding`] it; those whose `referral_ids` do not name it are left out. Written as one condition
/// (`referral_id = $1 OR …`), the planner could instead walk the whole log backwards from the newest
/// entry, testing each (`docs/benchmarks.md`).
pub(super) fn mentioning(backend: DatabaseBackend, referral: ReferralId) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => {
            let bins =
                format!("{{{}}}", bins_holding(referral).iter().map(i64::to_string).collect::<Vec<_>>().join(","));
            Expr::cust_with_values(
                concat!(
                    r#""audit_log"."id" = ANY(ARRAY(SELECT "id" FROM "audit_log" WHERE "referral_id" = $1 "#,
                    r#"UNION ALL SELECT "id" FROM "audit_log" WHERE "actor_organisation_id" = ANY(ARRAY("#,
                    r#"SELECT "referring_organisation_id" FROM "referrals" WHERE "id" = $2 UNION ALL "#,
                    r#"SELECT "link_worker_service_id" FROM "referrals" WHERE "id" = $3)) "#,
                    r#"AND "listed_bin" = ANY(CAST($4 AS bigint[])) AND "listed_bin" IS NOT NULL "#,
                    // Not `ARRAY[$5]`: sea-query reads `[…]` as a quoted name and leaves a placeholder in it unbound.
                    r#"AND "referral_ids" @> array_append(CAST('{}' AS uuid[]), $5)))"#,
                ),
                [
                    Value::from(referral.0),
                    Value::from(referral.0),
                    Value::from(referral.0),
                    Value::from(bins),
                    Value::from(referral.0),
                ],
            )
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referral_lies_in_one_block_of_each_size_the_smallest_its_own_place() {
        let id = Uuid::parse_str("0190f3a2-7b4c-7def-8000-000000000001").unwrap_or_default();
        let bins = bins_holding(ReferralId(id));
        assert_eq!(bins.len(), 49);
        assert_eq!(bins[0], 0x0190_f3a2_7b4c, "level 0: the place itself");
        assert_eq!(bins[1], (1 << 48) | (0x0190_f3a2_7b4c >> 1));
        assert_eq!(bins[48], 48 << 48, "level 48: the one block of every place");
        let mut distinct = bins.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 49, "each level its own bin");
    }
}
