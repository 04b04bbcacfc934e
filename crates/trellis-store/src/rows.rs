//! Referral rows joined with the demographics each holds, read back by position.
//!
//! sea-orm decodes a model by column name, formatting each name afresh for every column of every row: on
//! a 50-row caseload page that was about a fifth of the server's CPU. These rows are selected in the
//! entities' own column order (their `Column::iter()`, which follows the models' fields) and decoded by
//! index, in the same order.
//!
//! A page of them on PostgreSQL is decoded from sqlx's rows directly: every row of one result has the
//! same column types, so the first row's values are checked against the model's types (as sea-orm
//! checks every value) and the rest are decoded without checking again. Checked value by value (and
//! with an error message formatted for every `NULL` of an optional column) decoding was a quarter of
//! the server's instructions for a caseload page (callgrind, `docs/benchmarks.md`).

use std::sync::LazyLock;

use sea_orm::sea_query::{Expr, ExprTrait};

use sea_orm::sqlx::postgres::{PgRow, Postgres};
use sea_orm::sqlx::{self, Decode, Row, Type};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, IdenStatic, Iterable, JoinType, QueryFilter, QueryOrder,
    QueryResult, QuerySelect, QueryTrait, RelationTrait, RuntimeErr, Select, SelectModel, Selector, Statement,
    TryGetable,
};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{referral, referral_demographics};

/// A referral and its person, as the referral holds them.
pub(crate) struct ReferralWithPerson {
    pub referral: referral::Model,
    pub person: referral_demographics::Model,
}

/// `query` joined with each referral's own demographics, decoded by position.
pub(crate) fn with_person(query: Select<referral::Entity>) -> Selector<SelectModel<ReferralWithPerson>> {
    let mut query = query.join(JoinType::InnerJoin, referral::Relation::Demographics.def());
    for column in referral_demographics::Column::iter() {
        query = query.column(column);
    }
    query.into_model()
}

/// A page: the first `shown` referrals `query` finds in `scope` (the column naming the organisation, and
/// the organisation), newest first, each with its own demographics, and whether more follow (one row
/// more is read to learn it).
///
/// The referrals are a derived table joined to their people only after the limit, which PostgreSQL
/// cannot flatten into the join: it walks one index to the page's rows and looks up just their people.
/// The join is an outer one, so a referral without its demographics is `Corrupt`, never a row quietly
/// missing from a caseload; the row read only to learn that more follow is not decoded.
///
/// The statement is written so that PostgreSQL plans it once per connection, and can plan it only one
/// way: down the scope's `(organisation, id)` index from the cursor, stopping after the page.
/// - The limit is in the text: as a parameter, the plan made for any limit assumes a tenth of the table
///   and the plan made for each call always looked cheaper, so every page was planned again.
/// - The organisation is `= ANY` of a one-element array and the order is `(organisation, id)`. With
///   `organisation = $1` PostgreSQL knows the organisation is fixed and may order by `id` alone, down
///   the primary key, filtering: for a small organisation, most of the table read for one page. Only
///   the scope's index gives this order without sorting all of the organisation's referrals, and the
///   organisation's count is still estimated from its statistics.
///
/// Planned every time, the page cost PostgreSQL more than the bare scan's whole work
/// (`docs/benchmarks.md`). SQLite takes the same order with `organisation = ?`.
pub(crate) async fn page_with_person(
    db: &impl ConnectionTrait,
    (scope, organisation): (referral::Column, Uuid),
    query: Select<referral::Entity>,
    shown: u64,
) -> Result<(Vec<ReferralWithPerson>, bool), StoreError> {
    let backend = db.get_database_backend();
    let in_scope = match backend {
        DatabaseBackend::Postgres => Expr::cust_with_values(
            format!(r#""referrals"."{}" = ANY(CAST($1 AS uuid[]))"#, scope.as_str()),
            [uuid_array(&[organisation])],
        ),
        _ => Expr::col((referral::Entity, scope)).eq(organisation),
    };
    let inner = query.filter(in_scope).order_by_desc(scope).order_by_desc(referral::Column::Id).into_query();
    let inner = backend.build(&inner);
    let sql = format!(
        concat!(
            r#"SELECT {columns} FROM ({inner} LIMIT {limit}) AS "page" "#,
            r#"LEFT JOIN "referral_demographics" ON "page"."id" = "referral_demographics"."referral_id" "#,
            r#"ORDER BY "page"."{scope}" DESC, "page"."id" DESC"#,
        ),
        columns = *PAGE_COLUMNS,
        inner = inner.sql,
        limit = shown.saturating_add(1),
        scope = scope.as_str(),
    );
    let rows = db.query_all_raw(Statement { sql, ..inner }).await?;
    let shown = usize::try_from(shown).unwrap_or(usize::MAX);
    let page = rows.iter().take(shown).enumerate().map(|(i, row)| {
        if row.try_get_by_index::<Option<Uuid>>(*REFERRAL_COLUMNS)?.is_none() {
            return Err(StoreError::Corrupt("referral_demographics of a listed referral"));
        }
        let unchecked = if i == 0 { None } else { row.try_as_pg_row() };
        Ok(ReferralWithPerson::decode(&mut Columns { row, unchecked, next: 0 })?)
    });
    Ok((page.collect::<Result<_, StoreError>>()?, rows.len() > shown))
}

/// The columns [`page_with_person`] selects: the page's referral, then its demographics, each in its
/// model's order.
static PAGE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let referral = referral::Column::iter().map(|c| format!(r#""page"."{}""#, c.as_str()));
    let person = referral_demographics::Column::iter().map(|c| format!(r#""referral_demographics"."{}""#, c.as_str()));
    referral.chain(person).collect::<Vec<_>>().join(", ")
});

/// How many columns a referral has: where its demographics' begin in a row of [`page_with_person`].
static REFERRAL_COLUMNS: LazyLock<usize> = LazyLock::new(|| referral::Column::iter().count());

/// `ids` as PostgreSQL's text form of a `uuid[]`, `{…,…}`.
pub fn uuid_array(ids: &[Uuid]) -> String {
    let mut array = String::with_capacity(2 + ids.len() * (uuid::fmt::Hyphenated::LENGTH + 1));
    array.push('{');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        array.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
    }
    array.push('}');
    array
}

/// The columns of one row, taken in order.
struct Columns<'a> {
    row: &'a QueryResult,
    /// The row as sqlx holds it, when its values are decoded as the model says without checking each
    /// one's type (a PostgreSQL row after the first of its result); otherwise sea-orm checks them.
    unchecked: Option<&'a PgRow>,
    next: usize,
}

impl Columns<'_> {
    fn take<T>(&mut self) -> Result<T, DbErr>
    where
        T: TryGetable + for<'r> Decode<'r, Postgres> + Type<Postgres>,
    {
        let index = self.next;
        self.next += 1;
        match self.unchecked {
            Some(row) => row
                .try_get_unchecked(index)
                .map_err(|e: sqlx::Error| DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(e)))),
            None => self.row.try_get_by_index(index),
        }
    }
}

impl FromQueryResult for ReferralWithPerson {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Self::decode(&mut Columns { row, unchecked: None, next: 0 })
    }
}

impl ReferralWithPerson {
    fn decode(c: &mut Columns<'_>) -> Result<Self, DbErr> {
        Ok(ReferralWithPerson { referral: decode_referral(c)?, person: decode_person(c)? })
    }
}

/// A referral's columns, in the order of its model's fields.
fn decode_referral(c: &mut Columns<'_>) -> Result<referral::Model, DbErr> {
    // Struct fields are evaluated in the order written: the order of the models' fields.
    Ok(referral::Model {
        id: c.take()?,
        person_id: c.take()?,
        referring_organisation_id: c.take()?,
        referred_by_user_id: c.take()?,
        link_worker_service_id: c.take()?,
        assigned_to_user_id: c.take()?,
        status: c.take()?,
        closure_reason: c.take()?,
        needs: c.take()?,
        reason: c.take()?,
        urgency: c.take()?,
        consent_to_share: c.take()?,
        consent_recorded_by: c.take()?,
        consent_recorded_at: c.take()?,
        version: c.take()?,
        contact_due_at: c.take()?,
        flag: c.take()?,
        created_at: c.take()?,
        updated_at: c.take()?,
    })
}

/// A referral's demographics' columns, in the order of their model's fields.
fn decode_person(c: &mut Columns<'_>) -> Result<referral_demographics::Model, DbErr> {
    Ok(referral_demographics::Model {
        referral_id: c.take()?,
        nhs_number: c.take()?,
        given_name: c.take()?,
        family_name: c.take()?,
        date_of_birth: c.take()?,
        phone: c.take()?,
        email: c.take()?,
        postcode: c.take()?,
        preferred_contact: c.take()?,
        recorded_at: c.take()?,
        sex: c.take()?,
        ethnic_category: c.take()?,
    })
}
