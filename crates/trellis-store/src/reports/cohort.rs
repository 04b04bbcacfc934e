//! Running a report's SQL on either database.

use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, TransactionTrait, Value};

use crate::{Store, StoreError};

impl Store {
    /// Runs `sql` (with `?` placeholders) with `values`.
    pub(super) async fn report_rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = if backend == DatabaseBackend::Postgres { numbered(sql) } else { sql.to_owned() };
        Ok(self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?)
    }

    /// Runs `sql` as [`Store::report_rows`] does, on PostgreSQL with memory enough to sum tens of thousands
    /// of groups in a hash table (the default spills them to disk to sort) and without compiling the
    /// query (which costs more than it saves on a read of a few hundred thousand index entries).
    pub(super) async fn summed_rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        let backend = self.db.get_database_backend();
        if backend != DatabaseBackend::Postgres {
            return self.report_rows(sql, values).await;
        }
        let txn = self.db.begin().await?;
        txn.execute_unprepared("SET LOCAL work_mem = '32MB'; SET LOCAL jit = off").await?;
        let rows = txn.query_all_raw(Statement::from_sql_and_values(backend, numbered(sql), values)).await?;
        txn.commit().await?;
        Ok(rows)
    }
}

/// A count read from a row: never negative.
pub(super) fn count(row: &QueryResult, index: usize) -> Result<u64, StoreError> {
    let n: Option<i64> = row.try_get_by_index(index)?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// Rewrites `?` placeholders as PostgreSQL's `$1, $2, …`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}
