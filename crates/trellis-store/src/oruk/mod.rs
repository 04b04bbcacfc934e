//! The directory as Open Referral UK (the UK profile of HSDS): importing another directory's `/services`
//! feed idempotently, and serving Trellis's own as ORUK 3.0.
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
//! - `wire`: ORUK 3.0 as Trellis serves it (public: `oruk::wire::Service`, `oruk::wire::Page`, …);
//! - `wire_v1`: the documents as the importer reads them (ORUK 1 and 3), lenient about how a feed writes
//!   ids and numbers;
//! - `parse`: a record read and checked into what Trellis writes, or why not;
//! - `external_id`: which Trellis row an ORUK id stands for;
//! - `import`: each record written in its own transaction, its organisation matched or added;
//! - `export`: the directory as ORUK 3.0: services, services at locations, taxonomies and terms.
//!
//! `wire`, `wire_v1` and `parse` touch no database.

mod export;
mod external_id;
mod import;
mod parse;
pub mod wire;
mod wire_v1;

pub use self::export::ServiceFilter;
pub use self::import::ImportReport;
pub use self::wire_v1::*;

/// The largest page the export serves.
pub const MAX_PER_PAGE: u64 = 500;
