//! The directory as Open Referral UK (the UK profile of HSDS): importing another directory's feed
//! idempotently, and serving Trellis's own as ORUK 3.0.
//!
//! Import reads ORUK 3.0 (HSDS 3: `attributes`, `schedules`, `addresses`, service-level ages,
//! `capacities`) and ORUK 1 (`service_taxonomys`, `eligibilitys`, `regular_schedules`,
//! `physical_addresses`) field by field from JSON, keeping what is good: a bad part (a location with a
//! placeholder postcode, an email that is not one) is left out with a warning naming its field and
//! value; a record is rejected only without a usable id or name. Each record is written in its own
//! transaction, and each run is kept with its counts, warnings and rejections, audited as the system.
//! Records are keyed by their ORUK ids (kept in `directory_external_ids`), so importing again updates
//! rather than duplicates. Ids that are UUIDs are kept as Trellis's own ids when they are free, so
//! exporting, importing elsewhere and exporting again gives the same document.
//!
//! # Layout
//!
//! - `wire`: ORUK 3.0 as Trellis serves it (public: `oruk::wire::Service`, `oruk::wire::Page`, …);
//! - `parse`: a record read field by field into what Trellis writes, with warnings, or why not;
//! - `report`: what a run did (counts, warnings, rejections);
//! - `external_id`: which Trellis row an ORUK id stands for;
//! - `feeds`: per source, the feed's validators and which services it listed last, with their hashes;
//! - `import`: each record written in its own transaction, its organisation matched or added;
//! - `runs`: a run finished and kept, services gone from a complete feed marked inactive, audited;
//! - `export`: the directory as ORUK 3.0: services, services at locations, taxonomies and terms.
//!
//! `wire`, `parse` and `report` touch no database.

mod export;
mod external_id;
mod feeds;
mod import;
mod parse;
mod report;
mod runs;
pub mod wire;

pub use self::export::ServiceFilter;
pub use self::feeds::FeedValidators;
pub use self::report::{ImportRejection, ImportReport, ImportWarning, MAX_NOTES};
pub use self::runs::{ImportRun, ImportRunRecord, RunEnding, RunOutcome};

/// The largest page the export serves.
pub const MAX_PER_PAGE: u64 = 500;
