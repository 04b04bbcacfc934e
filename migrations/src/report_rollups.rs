//! The shape of the impact reports' rollups, written once for the migration that creates them and the
//! store that reads them.
//!
//! Two *fact* tables hold one narrow row per referral (`report_referrals`) and per offer
//! (`report_offers`): everything a report asks of it, derived from the base tables (first contact,
//! age at referral, whether an outcome measure was taken, hours to the provider's answer, …) and keyed
//! by the UTC day the referral was made. Triggers on the base tables keep each fact row equal to its
//! derivation, in the statement that changes them.
//!
//! Each fact row adds one to a set of *figures*, each a `(figure, key, num)` (`status`/`closed`,
//! `contact`/`on_time`/`3` days, `offer`/`<provider> accepted`, …). `report_rollups` sums them per
//! UTC day (`span = 'd'`) and per month (`span = 'm'`), for every need (`need = ''`) and for each need
//! the referral names. Triggers on the fact tables keep the sums: a change takes the old row's figures
//! away and adds the new row's in one statement that touches only the sums that moved, in key order.
//! A report reads the months its period covers whole and the days at its edges.
//!
//! A report narrowed to a practice, link worker service or provider reads the same figures from the
//! fact rows themselves (those filters pick few rows, through indexes): [`figure_rows`] writes both.
//!
//! Changing a derivation or a figure here changes what the migration that created these tables would
//! build: it needs a new migration that rebuilds the facts and sums.

use sea_orm_migration::sea_orm::DatabaseBackend;

/// A fact table: its name and columns (its key first).
pub struct Facts {
    /// The table.
    pub table: &'static str,
    /// Its columns, its key first.
    pub columns: &'static [&'static str],
    /// How many of the first columns are its key.
    pub key_columns: usize,
}

/// One referral's facts.
pub const REFERRAL_FACTS: Facts = Facts {
    table: "report_referrals",
    columns: &[
        "referral_id",
        "day",
        "needs",
        "practice_id",
        "lws_id",
        "status",
        "closure_reason",
        "contact_days",
        "on_time",
        "due_at",
        "demographics",
        "age",
        "sex",
        "ethnic_category",
        "outcome",
    ],
    key_columns: 1,
};

/// One offer's facts, with its referral's day, needs, practice and link worker service.
pub const OFFER_FACTS: Facts = Facts {
    table: "report_offers",
    columns: &[
        "offer_id",
        "referral_id",
        "day",
        "needs",
        "practice_id",
        "lws_id",
        "provider_id",
        "status",
        "decline_reason",
        "answer_hours",
        "accepted",
        "attended",
    ],
    key_columns: 1,
};

/// One referral's first (baseline) and last (follow-up) measure with one instrument, where it has at
/// least two: their versions, answers (a JSON array) and sums of answers (`NULL` unless every item is
/// answered).
pub const MEASURE_FACTS: Facts = Facts {
    table: "report_measures",
    columns: &[
        "referral_id",
        "instrument",
        "day",
        "needs",
        "practice_id",
        "lws_id",
        "first_version",
        "first_answers",
        "first_total",
        "last_version",
        "last_answers",
        "last_total",
    ],
    key_columns: 2,
};

/// The names of every base-table trigger, `(table, trigger)`, for PostgreSQL (which names one trigger
/// for several events). A bulk load may disable them and then rebuild the rollups.
pub const POSTGRES_BASE_TRIGGERS: &[(&str, &str)] = &[
    ("referrals", "tr_referrals_report_facts"),
    ("referrals", "tr_referrals_report_offer_needs"),
    ("referrals", "tr_referrals_report_delete"),
    ("referral_demographics", "tr_referral_demographics_report_facts"),
    ("referral_events", "tr_referral_events_report_facts"),
    ("wellbeing_measures", "tr_wellbeing_measures_report_facts"),
    ("offers", "tr_offers_report_facts"),
    ("offers", "tr_offers_report_delete"),
    ("offer_events", "tr_offer_events_report_facts"),
];

/// The columns of a rollup row, which are its primary key but `n`.
pub const ROLLUP_KEY: &str = "span, need, bucket, figure, key, num";

/// A figure a fact row adds one to when `when` holds: its name, its key and number (SQL over the fact
/// row `f`), and rows it is joined to first (each of its needs, say), which the key may name.
struct Figure {
    name: &'static str,
    key: String,
    num: &'static str,
    when: String,
    join: String,
}

fn figure(name: &'static str, key: impl Into<String>, num: &'static str, when: &str) -> Figure {
    Figure { name, key: key.into(), num, when: when.to_owned(), join: String::new() }
}

/// A UUID column as lower-case text (SQLite keeps UUIDs as 16-byte blobs).
pub fn uuid_text(b: DatabaseBackend, column: &str) -> String {
    match b {
        DatabaseBackend::Postgres => format!("CAST({column} AS text)"),
        _ => format!("(CASE WHEN typeof({column}) = 'blob' THEN lower(hex({column})) ELSE {column} END)"),
    }
}

/// The rows of a JSON array column's text values, as `alias.value`.
fn json_values(b: DatabaseBackend, column: &str, alias: &str) -> String {
    match b {
        DatabaseBackend::Postgres => format!("jsonb_array_elements_text(CAST({column} AS jsonb)) AS {alias}(value)"),
        _ => format!("json_each({column}) AS {alias}"),
    }
}

/// The first day of the month of a date.
fn month_of(b: DatabaseBackend, day: &str) -> String {
    match b {
        DatabaseBackend::Postgres => format!("CAST(date_trunc('month', {day}) AS date)"),
        _ => format!("date({day}, 'start of month')"),
    }
}

/// The UTC day of a timestamp.
fn day_of(b: DatabaseBackend, at: &str) -> String {
    match b {
        DatabaseBackend::Postgres => format!("CAST(({at} AT TIME ZONE 'UTC') AS date)"),
        _ => format!("date({at})"),
    }
}

/// Whole `unit_ms` units from `earlier` to `later` (SQLite counts whole milliseconds first).
fn whole_units(b: DatabaseBackend, later: &str, earlier: &str, unit_seconds: i64) -> String {
    match b {
        DatabaseBackend::Postgres => {
            format!("CAST(FLOOR(EXTRACT(EPOCH FROM ({later} - {earlier})) / {unit_seconds}) AS integer)")
        }
        _ => format!(
            "(CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400000.0) AS INTEGER) / {})",
            unit_seconds * 1000
        ),
    }
}

/// The figures of a referral's facts.
fn referral_figures(b: DatabaseBackend) -> Vec<Figure> {
    let (month, due_day) = match b {
        DatabaseBackend::Postgres => {
            ("to_char(f.day, 'YYYY-MM')", "to_char(f.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        }
        _ => ("substr(f.day, 1, 7)", "date(f.due_at)"),
    };
    vec![
        figure("status", "f.status", "0", "1 = 1"),
        figure("month", month, "0", "1 = 1"),
        figure("source", uuid_text(b, "f.practice_id"), "0", "1 = 1"),
        Figure {
            join: format!(" CROSS JOIN {}", json_values(b, "f.needs", "nk")),
            ..figure("need", "nk.value", "0", "1 = 1")
        },
        figure("closure", "f.closure_reason", "0", "f.status = 'closed' AND f.closure_reason IS NOT NULL"),
        figure("outcome", "''", "0", "f.status = 'closed' AND f.outcome = 1"),
        figure(
            "contact",
            "CASE WHEN f.on_time = 1 THEN 'on_time' ELSE 'late' END",
            "f.contact_days",
            "f.contact_days IS NOT NULL",
        ),
        figure("awaiting", due_day, "0", "f.contact_days IS NULL"),
        figure("age", "''", "f.age", "f.demographics = 1 AND f.age IS NOT NULL"),
        figure("sex", "COALESCE(f.sex, '')", "0", "f.demographics = 1"),
        figure("ethnic", "COALESCE(f.ethnic_category, '')", "0", "f.demographics = 1"),
    ]
}

/// The figures of an offer's facts.
fn offer_figures(b: DatabaseBackend) -> Vec<Figure> {
    let provider = uuid_text(b, "f.provider_id");
    vec![
        figure("offer", format!("{provider} || ' ' || f.status"), "0", "1 = 1"),
        figure("decline", "COALESCE(f.decline_reason, 'other')", "0", "f.status = 'declined'"),
        figure("answer", provider, "f.answer_hours", "f.answer_hours IS NOT NULL"),
        figure("attendance", "CASE WHEN f.attended = 1 THEN 'attended' ELSE 'not_attended' END", "0", "f.accepted = 1"),
    ]
}

/// The figures of a referral's baseline and follow-up with one instrument: the sums of answers (for an
/// instrument that sums) and each item answered both times (for one scored item by item), keyed by
/// `instrument first_version last_version` and then the sums, or the item (from 0) and its two answers.
/// The domain scores each key once.
fn measure_figures(b: DatabaseBackend) -> Vec<Figure> {
    let text = |x: &str| format!("CAST({x} AS text)");
    let versions = format!("f.instrument || ' ' || {} || ' ' || {}", text("f.first_version"), text("f.last_version"));
    let (index, first, last) = match b {
        DatabaseBackend::Postgres => (
            "(a.idx - 1)",
            "jsonb_array_elements_text(CAST(f.first_answers AS jsonb)) WITH ORDINALITY AS a(value, idx)",
            "jsonb_array_elements_text(CAST(f.last_answers AS jsonb)) WITH ORDINALITY AS z(value, idx)",
        ),
        _ => ("a.key", "json_each(f.first_answers) AS a", "json_each(f.last_answers) AS z"),
    };
    let same_item = match b {
        DatabaseBackend::Postgres => "a.idx = z.idx",
        _ => "a.key = z.key",
    };
    vec![
        figure(
            "wellbeing_total",
            format!("{versions} || ' ' || {} || ' ' || {}", text("f.first_total"), text("f.last_total")),
            "0",
            "f.first_total IS NOT NULL AND f.last_total IS NOT NULL",
        ),
        Figure {
            join: format!(" CROSS JOIN {first} CROSS JOIN {last}"),
            ..figure(
                "wellbeing_item",
                format!(
                    "{versions} || ' ' || {} || ' ' || {} || ' ' || {}",
                    text(index),
                    text("a.value"),
                    text("z.value")
                ),
                "0",
                &format!("{same_item} AND a.value IS NOT NULL AND z.value IS NOT NULL"),
            )
        },
    ]
}

fn figures_of(b: DatabaseBackend, facts: &Facts) -> Vec<Figure> {
    match facts.table {
        t if t == OFFER_FACTS.table => offer_figures(b),
        t if t == MEASURE_FACTS.table => measure_figures(b),
        _ => referral_figures(b),
    }
}

/// How [`figure_rows`] treats needs and time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// Rollup rows: each figure per day and per month, for every need (`''`) and for each need named.
    Rollup,
    /// Report rows: each figure once, with no need or time columns (the filter narrows them).
    Report,
}

/// Rows of `(span, need, bucket, figure, key, num, n)` (for [`Grain::Rollup`]) or `(figure, key, num,
/// n)` (for [`Grain::Report`]), `n` being `delta`, for the fact rows of `from` (SQL naming them `f`)
/// that pass `filter`.
pub fn figure_rows(b: DatabaseBackend, facts: &Facts, from: &str, filter: &str, grain: Grain, delta: i32) -> String {
    let mut selects = Vec::new();
    for fig in figures_of(b, facts) {
        let (name, key, num, when, key_join) = (fig.name, &fig.key, fig.num, &fig.when, &fig.join);
        let figure = format!("'{name}' AS figure, CAST({key} AS text) AS key, {num} AS num, {delta} AS n");
        match grain {
            Grain::Report => {
                selects.push(format!("SELECT {figure} FROM {from}{key_join} WHERE ({when}) AND ({filter})"));
            }
            Grain::Rollup => {
                let spans = "CROSS JOIN (SELECT 'd' AS span UNION ALL SELECT 'm' AS span) s";
                let bucket = format!("CASE WHEN s.span = 'd' THEN f.day ELSE {} END AS bucket", month_of(b, "f.day"));
                selects.push(format!(
                    "SELECT s.span, '' AS need, {bucket}, {figure} FROM {from} {spans}{key_join} \
                     WHERE ({when}) AND ({filter})"
                ));
                selects.push(format!(
                    "SELECT s.span, nd.value AS need, {bucket}, {figure} FROM {from} {spans} CROSS JOIN {}{key_join} \
                     WHERE ({when}) AND ({filter})",
                    json_values(b, "f.needs", "nd")
                ));
            }
        }
    }
    selects.join(" UNION ALL ")
}

/// A one-row table `f` of the fact row `row` (`NEW` or `OLD` in a trigger).
fn row_as_table(facts: &Facts, row: &str) -> String {
    let columns: Vec<String> = facts.columns.iter().map(|c| format!("{row}.{c} AS {c}")).collect();
    format!("(SELECT {}) f", columns.join(", "))
}

/// Adds the sums of `rows` (a union of [`Grain::Rollup`] rows) to `report_rollups`, touching only the
/// sums that change, in key order.
fn add_to_rollups(rows: &str) -> String {
    format!(
        "INSERT INTO report_rollups ({ROLLUP_KEY}, n) SELECT {ROLLUP_KEY}, SUM(n) FROM ({rows}) x \
         GROUP BY {ROLLUP_KEY} HAVING SUM(n) <> 0 ORDER BY {ROLLUP_KEY} \
         ON CONFLICT ({ROLLUP_KEY}) DO UPDATE SET n = report_rollups.n + excluded.n"
    )
}

/// The statement a trigger on a fact table runs: the figures of `old` (if any) taken away, those of `new`
/// (if any) added.
pub fn rollup_change(b: DatabaseBackend, facts: &Facts, old: Option<&str>, new: Option<&str>) -> String {
    let mut rows = Vec::new();
    if let Some(old) = old {
        rows.push(figure_rows(b, facts, &row_as_table(facts, old), "1 = 1", Grain::Rollup, -1));
    }
    if let Some(new) = new {
        rows.push(figure_rows(b, facts, &row_as_table(facts, new), "1 = 1", Grain::Rollup, 1));
    }
    add_to_rollups(&rows.join(" UNION ALL "))
}

/// Every fact row of `facts`, summed into `report_rollups` (which must hold none of them yet).
pub fn rollup_backfill(b: DatabaseBackend, facts: &Facts) -> String {
    add_to_rollups(&figure_rows(b, facts, &format!("{} f", facts.table), "1 = 1", Grain::Rollup, 1))
}

/// Writes the fact rows of the referrals `r0` passing `filter`, as they now are.
pub fn refresh_referral_facts(b: DatabaseBackend, filter: &str) -> String {
    let age = match b {
        DatabaseBackend::Postgres => {
            "CAST(EXTRACT(YEAR FROM age(r.created_at AT TIME ZONE 'UTC', CAST(d.date_of_birth AS timestamp))) AS integer)"
        }
        _ => {
            "(CAST(strftime('%Y', r.created_at) AS INTEGER) - CAST(strftime('%Y', d.date_of_birth) AS INTEGER) \
             - (CASE WHEN strftime('%m-%d', r.created_at) < strftime('%m-%d', d.date_of_birth) THEN 1 ELSE 0 END))"
        }
    };
    let select = format!(
        "SELECT r.id, {day}, r.needs, r.referring_organisation_id, r.link_worker_service_id, r.status, \
           r.closure_reason, CASE WHEN r.first_contact_at IS NULL THEN NULL ELSE {days} END, \
           CASE WHEN r.first_contact_at IS NULL THEN NULL WHEN r.first_contact_at <= r.contact_due_at THEN 1 ELSE 0 END, \
           r.contact_due_at, CASE WHEN d.referral_id IS NULL THEN 0 ELSE 1 END, \
           CASE WHEN d.referral_id IS NULL THEN NULL ELSE {age} END, d.sex, d.ethnic_category, \
           CASE WHEN EXISTS (SELECT 1 FROM wellbeing_measures m WHERE m.referral_id = r.id \
             GROUP BY m.instrument HAVING COUNT(*) >= 2) THEN 1 ELSE 0 END \
         FROM (SELECT r0.*, (SELECT MIN(e.occurred_at) FROM referral_events e \
             WHERE e.referral_id = r0.id AND e.to_status = 'contacted') AS first_contact_at \
           FROM referrals r0 WHERE {filter}) r \
         LEFT JOIN referral_demographics d ON d.referral_id = r.id WHERE 1 = 1",
        day = day_of(b, "r.created_at"),
        days = whole_units(b, "r.first_contact_at", "r.created_at", 86_400),
    );
    upsert_facts(&REFERRAL_FACTS, &select)
}

/// Writes the fact rows of the offers `o` (joined to their referral `r`) passing `filter`, as they now are.
pub fn refresh_offer_facts(b: DatabaseBackend, filter: &str) -> String {
    let ever = |status: &str| {
        format!(
            "CASE WHEN EXISTS (SELECT 1 FROM offer_events e WHERE e.offer_id = o.id AND e.to_status = '{status}') \
             THEN 1 ELSE 0 END"
        )
    };
    let select = format!(
        "SELECT o.id, o.referral_id, {day}, r.needs, r.referring_organisation_id, r.link_worker_service_id, \
           o.provider_organisation_id, o.status, o.decline_reason, \
           CASE WHEN o.first_answered_at IS NULL THEN NULL ELSE {hours} END, {accepted}, {started} \
         FROM offers o JOIN referrals r ON r.id = o.referral_id WHERE {filter}",
        day = day_of(b, "r.created_at"),
        hours = whole_units(b, "o.first_answered_at", "o.created_at", 3_600),
        accepted = ever("accepted"),
        started = ever("started"),
    );
    upsert_facts(&OFFER_FACTS, &select)
}

/// Writes the fact rows of the measures of the referral `referral` (SQL naming its id), or of every
/// referral: its facts are deleted and written again.
pub fn refresh_measure_facts(b: DatabaseBackend, referral: Option<&str>) -> String {
    let total = |answers: &str| match b {
        DatabaseBackend::Postgres => format!(
            "(SELECT CASE WHEN COUNT(*) = COUNT(v.value) THEN SUM(CAST(v.value AS integer)) END \
             FROM jsonb_array_elements_text(CAST({answers} AS jsonb)) AS v(value))"
        ),
        _ => {
            format!("(SELECT CASE WHEN COUNT(*) = COUNT(v.value) THEN SUM(v.value) END FROM json_each({answers}) AS v)")
        }
    };
    let pick = |order: &str| {
        format!(
            "(SELECT w1.id FROM wellbeing_measures w1 WHERE w1.referral_id = p.referral_id \
             AND w1.instrument = p.instrument ORDER BY {order} LIMIT 1)"
        )
    };
    let (delete, filter) = match referral {
        Some(id) => {
            (format!("DELETE FROM report_measures WHERE referral_id = {id}; "), format!("w.referral_id = {id}"))
        }
        None => ("DELETE FROM report_measures; ".to_owned(), "1 = 1".to_owned()),
    };
    format!(
        "{delete}INSERT INTO report_measures ({columns}) \
         SELECT p.referral_id, p.instrument, {day}, r.needs, r.referring_organisation_id, r.link_worker_service_id, \
           fm.instrument_version, fm.answers, {first_total}, lm.instrument_version, lm.answers, {last_total} \
         FROM (SELECT w.referral_id, w.instrument FROM wellbeing_measures w WHERE {filter} \
           GROUP BY w.referral_id, w.instrument HAVING COUNT(*) >= 2) p \
         JOIN referrals r ON r.id = p.referral_id \
         JOIN wellbeing_measures fm ON fm.id = {first} \
         JOIN wellbeing_measures lm ON lm.id = {last}",
        columns = MEASURE_FACTS.columns.join(", "),
        day = day_of(b, "r.created_at"),
        first_total = total("fm.answers"),
        last_total = total("lm.answers"),
        first = pick("w1.taken_at, w1.id"),
        last = pick("w1.taken_at DESC, w1.id DESC"),
    )
}

fn upsert_facts(facts: &Facts, select: &str) -> String {
    let (key, rest) = facts.columns.split_at(facts.key_columns);
    let key = key.join(", ");
    let set: Vec<String> = rest.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let changed: Vec<String> =
        rest.iter().map(|c| format!("{t}.{c} IS DISTINCT FROM excluded.{c}", t = facts.table)).collect();
    format!(
        "INSERT INTO {table} ({columns}) {select} ON CONFLICT ({key}) DO UPDATE SET {set} WHERE {changed}",
        table = facts.table,
        columns = facts.columns.join(", "),
        set = set.join(", "),
        changed = changed.join(" OR "),
    )
}
