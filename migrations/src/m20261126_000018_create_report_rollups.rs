//! Impact reports read rollups instead of every referral of their period: `report_referrals` and
//! `report_offers` (one fact row per referral and per offer) and `report_rollups` (their figures summed
//! per day and per month, for every need and for each need). The shape is in
//! [`crate::report_rollups`]; this creates the tables and their triggers and counts what exists.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::report_rollups::{
    Facts, MEASURE_FACTS, OFFER_FACTS, POSTGRES_BASE_TRIGGERS, REFERRAL_FACTS, refresh_measure_facts,
    refresh_offer_facts, refresh_referral_facts, rollup_backfill, rollup_change,
};

/// The fact tables.
const FACTS: [&Facts; 3] = [&REFERRAL_FACTS, &OFFER_FACTS, &MEASURE_FACTS];

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A fact table, its columns typed by name.
fn fact_table(facts: &Facts) -> TableCreateStatement {
    let mut table = Table::create().table(Alias::new(facts.table)).take();
    for c in facts.columns {
        let mut col = ColumnDef::new(Alias::new(*c));
        match *c {
            "referral_id" | "offer_id" | "practice_id" | "lws_id" | "provider_id" => col.uuid().not_null(),
            "day" => col.date().not_null(),
            "due_at" => col.timestamp_with_time_zone().not_null(),
            "needs" | "status" | "instrument" | "first_answers" | "last_answers" => col.text().not_null(),
            "closure_reason" | "decline_reason" | "sex" | "ethnic_category" => col.text().null(),
            "contact_days" | "on_time" | "age" | "answer_hours" | "first_total" | "last_total" => col.integer().null(),
            _ => col.integer().not_null(),
        };
        table.col(col);
    }
    let mut key = Index::create();
    for c in &facts.columns[..facts.key_columns] {
        key.col(Alias::new(*c));
    }
    table.primary_key(&mut key);
    table
}

/// The indexes a narrowed report reads fact rows through.
const FACT_INDEXES: &[(&str, &str, &[&str])] = &[
    ("ix_report_referrals_practice", "report_referrals", &["practice_id", "day"]),
    ("ix_report_referrals_lws", "report_referrals", &["lws_id", "day"]),
    ("ix_report_referrals_due", "report_referrals", &["due_at"]),
    ("ix_report_offers_provider", "report_offers", &["provider_id", "day"]),
    ("ix_report_offers_practice", "report_offers", &["practice_id", "day"]),
    ("ix_report_offers_lws", "report_offers", &["lws_id", "day"]),
    ("ix_report_offers_referral", "report_offers", &["referral_id"]),
    ("ix_report_measures_practice", "report_measures", &["practice_id", "day"]),
    ("ix_report_measures_lws", "report_measures", &["lws_id", "day"]),
];

/// A trigger on a base table that writes the facts of the row it changed (`NEW`, or `OLD` for a delete).
struct BaseTrigger {
    table: &'static str,
    name: &'static str,
    /// The statements that refresh the facts of row `NEW` or `OLD`.
    refresh: fn(DatabaseBackend, &str) -> String,
    events: &'static [&'static str],
    when: Option<&'static str>,
}

const BASE_TRIGGERS: &[BaseTrigger] = &[
    BaseTrigger {
        table: "referrals",
        name: "tr_referrals_report_facts",
        refresh: |b, r| refresh_referral_facts(b, &format!("r0.id = {r}.id")),
        events: &["INSERT", "UPDATE"],
        when: None,
    },
    BaseTrigger {
        table: "referrals",
        name: "tr_referrals_report_offer_needs",
        refresh: |b, r| {
            let offers = refresh_offer_facts(b, &format!("o.referral_id = {r}.id"));
            format!("{offers}; {}", refresh_measure_facts(b, Some(&format!("{r}.id"))))
        },
        events: &["UPDATE"],
        when: Some("OLD.needs IS DISTINCT FROM NEW.needs"),
    },
    BaseTrigger {
        table: "referral_demographics",
        name: "tr_referral_demographics_report_facts",
        refresh: |b, r| refresh_referral_facts(b, &format!("r0.id = {r}.referral_id")),
        events: &["INSERT", "UPDATE", "DELETE"],
        when: None,
    },
    BaseTrigger {
        table: "referral_events",
        name: "tr_referral_events_report_facts",
        refresh: |b, r| refresh_referral_facts(b, &format!("r0.id = {r}.referral_id")),
        events: &["INSERT"],
        when: Some("NEW.to_status = 'contacted'"),
    },
    BaseTrigger {
        table: "wellbeing_measures",
        name: "tr_wellbeing_measures_report_facts",
        refresh: |b, r| {
            let referral = refresh_referral_facts(b, &format!("r0.id = {r}.referral_id"));
            format!("{referral}; {}", refresh_measure_facts(b, Some(&format!("{r}.referral_id"))))
        },
        events: &["INSERT", "UPDATE", "DELETE"],
        when: None,
    },
    BaseTrigger {
        table: "offers",
        name: "tr_offers_report_facts",
        refresh: |b, r| refresh_offer_facts(b, &format!("o.id = {r}.id")),
        events: &["INSERT", "UPDATE"],
        when: None,
    },
    BaseTrigger {
        table: "offer_events",
        name: "tr_offer_events_report_facts",
        refresh: |b, r| refresh_offer_facts(b, &format!("o.id = {r}.offer_id")),
        events: &["INSERT"],
        when: Some("NEW.to_status IN ('accepted', 'started')"),
    },
];

/// Deleting a referral or an offer deletes its facts.
const DELETES: &[(&str, &str, &str)] = &[
    ("referrals", "report_referrals", "referral_id"),
    ("referrals", "report_offers", "referral_id"),
    ("referrals", "report_measures", "referral_id"),
    ("offers", "report_offers", "offer_id"),
];

/// The statements that delete the facts of a deleted row (`OLD`) of `base`.
fn deletes_of(base: &str) -> String {
    let statements: Vec<String> = DELETES
        .iter()
        .filter(|(table, _, _)| *table == base)
        .map(|(_, facts, key)| format!("DELETE FROM {facts} WHERE {key} = OLD.id;"))
        .collect();
    statements.join(" ")
}

fn refresh(b: DatabaseBackend, t: &BaseTrigger, row: &str) -> String {
    (t.refresh)(b, row)
}

async fn create_postgres_triggers(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let b = DatabaseBackend::Postgres;
    for facts in FACTS {
        let t = facts.table;
        db.execute_unprepared(&format!(
            "CREATE FUNCTION {t}_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF TG_OP = 'INSERT' THEN {}; ELSIF TG_OP = 'UPDATE' THEN {}; ELSE {}; END IF; \
             RETURN NULL; END $$",
            rollup_change(b, facts, None, Some("NEW")),
            rollup_change(b, facts, Some("OLD"), Some("NEW")),
            rollup_change(b, facts, Some("OLD"), None),
        ))
        .await?;
        db.execute_unprepared(&format!(
            "CREATE TRIGGER tr_{t}_rollup AFTER INSERT OR UPDATE OR DELETE ON {t} FOR EACH ROW \
             EXECUTE FUNCTION {t}_rollup()"
        ))
        .await?;
    }
    for t in BASE_TRIGGERS {
        let body = if t.events.contains(&"DELETE") {
            format!("IF TG_OP = 'DELETE' THEN {}; ELSE {}; END IF;", refresh(b, t, "OLD"), refresh(b, t, "NEW"))
        } else {
            format!("{};", refresh(b, t, "NEW"))
        };
        db.execute_unprepared(&format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$",
            name = t.name
        ))
        .await?;
        let when = t.when.map(|w| format!("WHEN ({w}) ")).unwrap_or_default();
        db.execute_unprepared(&format!(
            "CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW {when}EXECUTE FUNCTION {name}()",
            name = t.name,
            events = t.events.join(" OR "),
            table = t.table
        ))
        .await?;
    }
    for base in ["referrals", "offers"] {
        db.execute_unprepared(&format!(
            "CREATE FUNCTION tr_{base}_report_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {} \
             RETURN NULL; END $$",
            deletes_of(base)
        ))
        .await?;
        db.execute_unprepared(&format!(
            "CREATE TRIGGER tr_{base}_report_delete AFTER DELETE ON {base} FOR EACH ROW \
             EXECUTE FUNCTION tr_{base}_report_delete()"
        ))
        .await?;
    }
    Ok(())
}

async fn create_sqlite_triggers(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let b = DatabaseBackend::Sqlite;
    for facts in FACTS {
        let t = facts.table;
        for (event, old, new) in
            [("INSERT", None, Some("NEW")), ("UPDATE", Some("OLD"), Some("NEW")), ("DELETE", Some("OLD"), None)]
        {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER tr_{t}_rollup_{e} AFTER {event} ON {t} FOR EACH ROW BEGIN {}; END",
                rollup_change(b, facts, old, new),
                e = event.to_lowercase()
            ))
            .await?;
        }
    }
    for t in BASE_TRIGGERS {
        for event in t.events {
            let row = if *event == "DELETE" { "OLD" } else { "NEW" };
            let when = t.when.map(|w| format!("WHEN {} ", w.replace("IS DISTINCT FROM", "IS NOT"))).unwrap_or_default();
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {name}_{e} AFTER {event} ON {table} FOR EACH ROW {when}BEGIN {}; END",
                refresh(b, t, row),
                name = t.name,
                e = event.to_lowercase(),
                table = t.table
            ))
            .await?;
        }
    }
    for base in ["referrals", "offers"] {
        db.execute_unprepared(&format!(
            "CREATE TRIGGER tr_{base}_report_delete AFTER DELETE ON {base} FOR EACH ROW BEGIN {} END",
            deletes_of(base)
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        let db = manager.get_connection();
        for facts in FACTS {
            manager.create_table(fact_table(facts)).await?;
        }
        for (name, table, columns) in FACT_INDEXES {
            let mut index = Index::create().name(*name).table(Alias::new(*table)).take();
            for c in *columns {
                index.col(Alias::new(*c));
            }
            manager.create_index(index).await?;
        }
        // A report reads a range of its sums by span, need and day: PostgreSQL answers from the key alone
        // (it carries `n`); SQLite keeps the table in key order.
        db.execute_unprepared(&match b {
            DatabaseBackend::Postgres => "CREATE TABLE report_rollups (span text NOT NULL, need text NOT NULL, \
                bucket date NOT NULL, figure text NOT NULL, key text NOT NULL, num integer NOT NULL, n bigint NOT NULL, \
                PRIMARY KEY (span, need, bucket, figure, key, num) INCLUDE (n))"
                .to_owned(),
            _ => "CREATE TABLE report_rollups (span text NOT NULL, need text NOT NULL, bucket date NOT NULL, \
                figure text NOT NULL, key text NOT NULL, num integer NOT NULL, n integer NOT NULL, \
                PRIMARY KEY (span, need, bucket, figure, key, num)) WITHOUT ROWID"
                .to_owned(),
        })
        .await?;
        // What exists is counted before the triggers count what changes.
        db.execute_unprepared(&refresh_referral_facts(b, "1 = 1")).await?;
        db.execute_unprepared(&refresh_offer_facts(b, "1 = 1")).await?;
        db.execute_unprepared(&refresh_measure_facts(b, None)).await?;
        for facts in FACTS {
            db.execute_unprepared(&rollup_backfill(b, facts)).await?;
        }
        match b {
            DatabaseBackend::Postgres => create_postgres_triggers(db).await,
            _ => create_sqlite_triggers(db).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                for (table, name) in POSTGRES_BASE_TRIGGERS {
                    db.execute_unprepared(&format!("DROP TRIGGER {name} ON {table}")).await?;
                    db.execute_unprepared(&format!("DROP FUNCTION {name}()")).await?;
                }
                for facts in FACTS {
                    db.execute_unprepared(&format!("DROP TRIGGER tr_{t}_rollup ON {t}", t = facts.table)).await?;
                    db.execute_unprepared(&format!("DROP FUNCTION {}_rollup()", facts.table)).await?;
                }
            }
            _ => {
                for t in BASE_TRIGGERS {
                    for event in t.events {
                        db.execute_unprepared(&format!("DROP TRIGGER {}_{}", t.name, event.to_lowercase())).await?;
                    }
                }
                for base in ["referrals", "offers"] {
                    db.execute_unprepared(&format!("DROP TRIGGER tr_{base}_report_delete")).await?;
                }
            }
        }
        for table in ["report_rollups", REFERRAL_FACTS.table, OFFER_FACTS.table, MEASURE_FACTS.table] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
