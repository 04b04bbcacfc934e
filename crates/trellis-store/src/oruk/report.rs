//! What an import run did: counts, and each warning and rejection with the record, field and value it
//! concerns. Directory data only (ids, field names, the values a public feed published), never a person's.

use serde::{Deserialize, Serialize};

/// At most this many warnings, and this many rejections, are kept per run; the counts stay exact.
pub const MAX_NOTES: usize = 500;

/// A value a record kept, but without one of its parts: the part left out and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportWarning {
    /// The record's id in the source.
    pub record: String,
    /// Where in the record, as a path (`service_at_locations[0].location.latitude`).
    pub field: String,
    /// The value found there, shortened.
    pub value: String,
    /// What was done and why (`is not a latitude: the location is left out`).
    pub reason: String,
}

/// A record not imported at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRejection {
    /// The record's id in the source, or `#n` for the n-th record of its page when it has none.
    pub record: String,
    /// Why.
    pub reason: String,
}

/// What an import did, record by record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Services added.
    pub created: usize,
    /// Services already known (by their ORUK id) whose record changed, and were updated.
    pub updated: usize,
    /// Services already known whose record was the same as last time: nothing written.
    pub unchanged: usize,
    /// Records imported with at least one part left out.
    pub warned: usize,
    /// Records not imported.
    pub rejected: usize,
    /// Services gone from a complete feed, marked inactive.
    pub deactivated: usize,
    /// The warnings, the first [`MAX_NOTES`].
    pub warnings: Vec<ImportWarning>,
    /// The rejections, the first [`MAX_NOTES`].
    pub rejections: Vec<ImportRejection>,
}

impl ImportReport {
    /// Counts a rejected record.
    pub(super) fn reject(&mut self, rejection: ImportRejection) {
        self.rejected += 1;
        if self.rejections.len() < MAX_NOTES {
            self.rejections.push(rejection);
        }
    }

    /// Counts a record imported with `warnings` (none: not counted as warned).
    pub(super) fn warn(&mut self, warnings: Vec<ImportWarning>) {
        if warnings.is_empty() {
            return;
        }
        self.warned += 1;
        let room = MAX_NOTES.saturating_sub(self.warnings.len());
        self.warnings.extend(warnings.into_iter().take(room));
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} warned about, {} rejected, {} marked inactive",
            self.created, self.updated, self.unchanged, self.warned, self.rejected, self.deactivated
        )?;
        for w in &self.warnings {
            write!(f, "\n  warning {}: {} {}: {}", w.record, w.field, w.value, w.reason)?;
        }
        for r in &self.rejections {
            write!(f, "\n  rejected {}: {}", r.record, r.reason)?;
        }
        Ok(())
    }
}
