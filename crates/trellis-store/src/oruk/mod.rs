//! The directory as Open Referral UK (the UK profile of HSDS): the subset of a `/services` response that
//! Trellis reads and writes, importing it idempotently, and exporting the directory in the same shape.
//!
//! Import is lenient about shape (ORUK 1 `service_taxonomys`, `eligibilitys`, `regular_schedules`,
//! `physical_addresses`; HSDS 3 `taxonomy_terms`, `attributes`, `schedules`, `addresses`, service-level
//! ages, `capacities`; numbers as strings) and strict about values (postcodes, emails, coordinates,
//! ages). Each record is read and written on its own, so a bad record is reported with its id and why,
//! and the rest still import. Records are keyed by their ORUK ids (kept in `directory_external_ids`), so
//! importing again updates rather than duplicates. Ids that are UUIDs are kept as Trellis's own ids
//! when they are free, so exporting, importing elsewhere and exporting again gives the same document.
//!
//! # Layout
//!
//! - `wire`: the ORUK documents as serde types, lenient about how a feed writes ids and numbers;
//! - `parse`: a record read and checked into what Trellis writes, or why not;
//! - `external_id`: which Trellis row an ORUK id stands for;
//! - `import`: each record written in its own transaction, its organisation matched or added;
//! - `export`: the directory as ORUK pages.
//!
//! `wire` and `parse` touch no database.

mod export;
mod external_id;
mod import;
mod parse;
mod wire;

pub use self::import::ImportReport;
pub use self::wire::*;

/// The largest page the export serves.
pub const MAX_PER_PAGE: u64 = 500;
