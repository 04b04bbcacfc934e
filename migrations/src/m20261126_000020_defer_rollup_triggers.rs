//! The rollup rows are added to at commit, not at each change (PostgreSQL).
//!
//! Every referral change in a network adds to the same few rollup rows (this month's referrals by
//! status, say), and a row added to stays locked until its transaction ends. Added to by the first
//! statement of a submission, the row was held while the rest of the submission was written: the
//! person, the first event, the idempotency key, the audit entry. Under load the submissions queued on it
//! (`pg_stat_activity`, 32 clients: waits on other transactions outnumbered running backends nine to one;
//! `docs/benchmarks.md`). As deferred constraint triggers, the triggers that add to `report_rollups` (from
//! the fact tables) and to `offer_rollups` run when the transaction commits, each with the row values of
//! its change, so the sums are the same and the rows are held only while committing.
//!
//! The fact rows (`report_referrals`, `report_offers`, `report_measures`) are still written at each change:
//! each belongs to one referral or offer. SQLite has one writer and nothing to queue; nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each deferred trigger: its name, table, events, condition and function.
const TRIGGERS: [(&str, &str, &str, &str, &str); 6] = [
    ("tr_report_referrals_rollup", "report_referrals", "INSERT OR UPDATE OR DELETE", "", "report_referrals_rollup"),
    ("tr_report_offers_rollup", "report_offers", "INSERT OR UPDATE OR DELETE", "", "report_offers_rollup"),
    ("tr_report_measures_rollup", "report_measures", "INSERT OR UPDATE OR DELETE", "", "report_measures_rollup"),
    ("tr_offers_rollup_insert", "offers", "INSERT", "", "offer_rollups_count"),
    (
        "tr_offers_rollup_update",
        "offers",
        "UPDATE",
        "WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.decline_reason IS DISTINCT FROM NEW.decline_reason \
         OR OLD.first_answered_at IS DISTINCT FROM NEW.first_answered_at OR OLD.created_at IS DISTINCT FROM \
         NEW.created_at OR OLD.service_id IS DISTINCT FROM NEW.service_id OR OLD.provider_organisation_id IS \
         DISTINCT FROM NEW.provider_organisation_id OR OLD.link_worker_service_id IS DISTINCT FROM \
         NEW.link_worker_service_id OR OLD.part_of_offer_id IS DISTINCT FROM NEW.part_of_offer_id)",
        "offer_rollups_count",
    ),
    ("tr_offers_rollup_delete", "offers", "DELETE", "", "offer_rollups_count"),
];

/// Recreates every trigger of [`TRIGGERS`], deferred to commit or not.
async fn recreate(manager: &SchemaManager<'_>, deferred: bool) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for (name, table, events, condition, function) in TRIGGERS {
        db.execute_unprepared(&format!("DROP TRIGGER {name} ON {table}")).await?;
        let (kind, timing) =
            if deferred { ("CONSTRAINT TRIGGER", " DEFERRABLE INITIALLY DEFERRED") } else { ("TRIGGER", "") };
        db.execute_unprepared(&format!(
            "CREATE {kind} {name} AFTER {events} ON {table}{timing} FOR EACH ROW {condition} \
             EXECUTE FUNCTION {function}()"
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(manager, false).await
    }
}
