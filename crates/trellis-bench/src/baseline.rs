//! The raw-SQL baseline: the same database work as the service's operations, with plain statements on a
//! pool of the same size and no HTTP, GraphQL, authentication or domain rules. The reads come twice: bare
//! (the index scans the issue names) and `audited`, with the audit entries the service must write for
//! every person shown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait, Value};
use trellis_domain::OrganisationId;
use trellis_domain::referral::ReferralEventKind;
use uuid::Uuid;

use crate::load::Operation;
use crate::mix;
use crate::seed::{Seeded, nhs_exact};

fn sql(backend: DatabaseBackend, text: &str, values: Vec<Value>) -> Statement {
    // Statements below are written with `$n` placeholders; SQLite takes `?` in the same order.
    let text = if backend == DatabaseBackend::Postgres {
        text.to_owned()
    } else {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    };
    Statement::from_sql_and_values(backend, text, values)
}

fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

/// A submission's writes in one transaction: the person, the referral, its first event, the idempotency
/// key and the audit entry.
pub fn submit(db: &DatabaseConnection, seeded: &Seeded, nhs_from: u64) -> Operation {
    let db = db.clone();
    let gps: Arc<Vec<(Uuid, Uuid)>> = Arc::new(seeded.gps.iter().map(|(p, u, _)| (*p, *u)).collect());
    let lws = seeded.lws;
    let counter = Arc::new(AtomicU64::new(nhs_from));
    Arc::new(move |client, _| {
        let db = db.clone();
        let (practice, user) = gps[client % gps.len()];
        let nhs = loop {
            if let Some(n) = nhs_exact(counter.fetch_add(1, Ordering::Relaxed)) {
                break n;
            }
        };
        Box::pin(async move {
            let b = db.get_database_backend();
            let now = Utc::now();
            let person = Uuid::now_v7();
            let id = Uuid::now_v7();
            let nhs_again = nhs.clone();
            let opened = ReferralEventKind::Opened {
                referring_organisation: OrganisationId(practice),
                link_worker_service: OrganisationId(lws),
                details_differ: false,
            };
            let txn = db.begin().await?;
            txn.execute_raw(sql(b, "INSERT INTO people (id, nhs_number, given_name, family_name, date_of_birth, phone, email, postcode, preferred_contact, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", vec![v(person), v(nhs), v("Bench"), v("Person"), v(chrono::NaiveDate::from_ymd_opt(1970, 5, 1)), v(Option::<String>::None), v(Option::<String>::None), v(Some("NG1 1AA".to_owned())), v("letter"), v(now), v(now)])).await?;
            txn.execute_raw(sql(b, "INSERT INTO referrals (id, person_id, referring_organisation_id, referred_by_user_id, link_worker_service_id, assigned_to_user_id, status, closure_reason, needs, reason, urgency, consent_to_share, consent_recorded_by, consent_recorded_at, version, contact_due_at, flag, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)", vec![v(id), v(person), v(practice), v(Some(user)), v(lws), v(Option::<Uuid>::None), v("referred"), v(Option::<String>::None), v("[\"loneliness\"]"), v("Isolated since a bereavement; would like company."), v("routine"), v(true), v("Dr Bench"), v(now), v(1i64), v(now), v(Option::<String>::None), v(now), v(now)])).await?;
            txn.execute_raw(sql(b, "INSERT INTO referral_demographics (referral_id, nhs_number, given_name, family_name, date_of_birth, phone, email, postcode, preferred_contact, recorded_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)", vec![v(id), v(nhs_again), v("Bench"), v("Person"), v(chrono::NaiveDate::from_ymd_opt(1970, 5, 1)), v(Option::<String>::None), v(Option::<String>::None), v(Some("NG1 1AA".to_owned())), v("letter"), v(now)])).await?;
            txn.execute_raw(sql(b, "INSERT INTO referral_events (id, referral_id, version, kind, from_status, to_status, actor_role, actor_organisation_id, actor_user_id, note, data, occurred_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)", vec![v(Uuid::now_v7()), v(id), v(1i64), v("opened"), v(Option::<String>::None), v("referred"), v("gp_practice"), v(Some(practice)), v(Some(user)), v(Option::<String>::None), v(serde_json::to_string(&opened)?), v(now)])).await?;
            txn.execute_raw(sql(b, "INSERT INTO idempotency_keys (organisation_id, key, request_hash, referral_id, created_at) VALUES ($1,$2,$3,$4,$5)", vec![v(practice), v(Uuid::new_v4().to_string()), v(format!("{:064x}", mix(id.as_u128() as u64))), v(id), v(now)])).await?;
            txn.execute_raw(sql(b, "INSERT INTO audit_log (id, occurred_at, actor_role, actor_organisation_id, actor_user_id, action, referral_id, offer_id, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)", vec![v(Uuid::now_v7()), v(now), v("gp_practice"), v(Some(practice)), v(Some(user)), v("referral.submitted"), v(Some(id)), v(Option::<Uuid>::None), v(Option::<String>::None)])).await?;
            txn.commit().await?;
            Ok(true)
        })
    })
}

/// The caseload keyset scan: 50 referrals of the link worker service older than the cursor, newest first,
/// and their demographics; each client walks on like the HTTP clients. `audited`: then the page's one
/// audit entry naming the referrals shown, as the store writes it (`trellis-store`'s `audit::listing`).
pub fn caseload(db: &DatabaseConnection, seeded: &Seeded, clients: usize, audited: bool) -> Operation {
    let db = db.clone();
    let lws = seeded.lws;
    let reader = seeded.link_worker.0;
    let cursors: Arc<Vec<Mutex<Option<Uuid>>>> = Arc::new((0..clients).map(|_| Mutex::new(None)).collect());
    Arc::new(move |client, _| {
        let db = db.clone();
        let cursors = cursors.clone();
        Box::pin(async move {
            let b = db.get_database_backend();
            let after = *cursors[client].lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            let rows = match after {
                Some(c) => db.query_all_raw(sql(b, "SELECT * FROM referrals WHERE link_worker_service_id = $1 AND id < $2 ORDER BY id DESC LIMIT 50", vec![v(lws), v(c)])).await?,
                None => db.query_all_raw(sql(b, "SELECT * FROM referrals WHERE link_worker_service_id = $1 ORDER BY id DESC LIMIT 50", vec![v(lws)])).await?,
            };
            let mut ids = Vec::with_capacity(rows.len());
            for r in &rows {
                ids.push(r.try_get::<Uuid>("", "id")?);
            }
            // Each referral's own demographics, as the server reads them.
            if !ids.is_empty() {
                let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
                let query = format!("SELECT * FROM referral_demographics WHERE referral_id IN ({})", marks.join(","));
                db.query_all_raw(sql(b, &query, ids.iter().map(|id| v(*id)).collect())).await?;
            }
            if audited {
                audit_listing(&db, lws, reader, &ids).await?;
            }
            *cursors[client].lock().map_err(|_| anyhow::anyhow!("poisoned"))? =
                if ids.len() == 50 { ids.last().copied() } else { None };
            Ok(true)
        })
    })
}

/// One referral with its person, history and offers: four primary-key or index lookups. `audited`: then
/// its audit entry.
pub fn referral(db: &DatabaseConnection, seeded: &Seeded, audited: bool) -> Operation {
    let db = db.clone();
    let (lws, reader) = (seeded.lws, seeded.link_worker.0);
    let ids = Arc::new(seeded.caseload.clone());
    Arc::new(move |client, i| {
        let db = db.clone();
        let id = ids[(mix(client as u64 * 1_000_003 + i) % ids.len().max(1) as u64) as usize];
        Box::pin(async move {
            let b = db.get_database_backend();
            db.query_one_raw(sql(b, "SELECT * FROM referrals WHERE id = $1", vec![v(id)]))
                .await?
                .ok_or_else(|| anyhow::anyhow!("referral {id} missing"))?;
            db.query_one_raw(sql(b, "SELECT * FROM referral_demographics WHERE referral_id = $1", vec![v(id)])).await?;
            db.query_all_raw(sql(
                b,
                "SELECT * FROM referral_events WHERE referral_id = $1 ORDER BY version",
                vec![v(id)],
            ))
            .await?;
            db.query_all_raw(sql(b, "SELECT * FROM offers WHERE referral_id = $1", vec![v(id)])).await?;
            if audited {
                audit_read(&db, lws, reader, id).await?;
            }
            Ok(true)
        })
    })
}

/// The audit entry of one referral read by the link worker `reader`.
async fn audit_read(db: &DatabaseConnection, service: Uuid, reader: Uuid, referral: Uuid) -> anyhow::Result<()> {
    let values = vec![
        v(Uuid::now_v7()),
        v(Utc::now()),
        v("link_worker"),
        v(Some(service)),
        v(Some(reader)),
        v("referral.read"),
        v(Some(referral)),
    ];
    let text = "INSERT INTO audit_log (id, occurred_at, actor_role, actor_organisation_id, actor_user_id, action, referral_id) VALUES ($1,$2,$3,$4,$5,$6,$7)";
    db.execute_raw(sql(db.get_database_backend(), text, values)).await?;
    Ok(())
}

/// The one audit entry of a page of `referrals` listed by the link worker `reader`: on PostgreSQL one
/// row with a sorted `uuid[]` and its bin (`trellis_store::audit::listed_bin`); on SQLite one row with a JSON
/// array and its index rows, in one transaction.
async fn audit_listing(db: &DatabaseConnection, service: Uuid, reader: Uuid, referrals: &[Uuid]) -> anyhow::Result<()> {
    if referrals.is_empty() {
        return Ok(());
    }
    let b = db.get_database_backend();
    let id = Uuid::now_v7();
    let head = vec![v(id), v(Utc::now()), v("link_worker"), v(Some(service)), v(Some(reader)), v("referral.listed")];
    let columns = "INSERT INTO audit_log (id, occurred_at, actor_role, actor_organisation_id, actor_user_id, action, referral_ids";
    if b == DatabaseBackend::Postgres {
        let mut sorted = referrals.to_vec();
        sorted.sort_unstable();
        let bin = trellis_store::audit::listed_bin(sorted[0], sorted[sorted.len() - 1]);
        let array = trellis_store::uuid_array(&sorted);
        let mut values = head;
        values.extend([v(array), v(bin)]);
        let text = format!("{columns}, listed_bin) VALUES ($1,$2,$3,$4,$5,$6,CAST($7 AS uuid[]),$8)");
        db.execute_raw(sql(b, &text, values)).await?;
    } else {
        let json = serde_json::Value::from(referrals.iter().map(Uuid::to_string).collect::<Vec<_>>()).to_string();
        let mut values = head;
        values.push(v(json));
        let txn = db.begin().await?;
        txn.execute_raw(sql(b, &format!("{columns}) VALUES ($1,$2,$3,$4,$5,$6,$7)"), values)).await?;
        let marks = vec!["(?,?)"; referrals.len()].join(",");
        let index = format!("INSERT INTO audit_log_referrals (referral_id, audit_id) VALUES {marks}");
        let values: Vec<Value> = referrals.iter().flat_map(|r| [v(*r), v(id)]).collect();
        txn.execute_raw(Statement::from_sql_and_values(b, index, values)).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// "Who saw this person's record": the newest 51 audit entries about one of `people` (one page of 50 and
/// whether more follow), its single-record entries and the listings that showed it, as
/// `Store::audit_log` asks (through the listings' bins on PostgreSQL, the index table on SQLite).
pub fn who_saw(db: &DatabaseConnection, people: Arc<Vec<Uuid>>) -> Operation {
    let db = db.clone();
    let ids = people;
    Arc::new(move |client, i| {
        let db = db.clone();
        let id = ids[(mix(client as u64 * 2_000_003 + i) % ids.len().max(1) as u64) as usize];
        Box::pin(async move {
            db.query_all_raw(who_saw_statement(db.get_database_backend(), id)).await?;
            Ok(true)
        })
    })
}

/// `?` placeholders (the store's SQL) as the backend takes them.
fn question_marks(backend: DatabaseBackend, text: &str, values: Vec<Value>) -> Statement {
    if backend != DatabaseBackend::Postgres {
        return Statement::from_sql_and_values(backend, text, values);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    Statement::from_sql_and_values(backend, out, values)
}

/// The network view's database work for one locality, as the HTTP clients ask for it: the rollup query
/// that finds the area's providers (up to 100), then the rollup query of their statistics and flows,
/// the same statements the store runs (`trellis_store::network::{area_providers_sql, rollup_sql}`).
pub fn network(db: &DatabaseConnection, seeded: &Seeded) -> Operation {
    let db = db.clone();
    let seeded = Arc::new(seeded.clone());
    Arc::new(move |client, i| {
        let db = db.clone();
        let area = crate::http::locality(&seeded, client, i);
        Box::pin(async move {
            let b = db.get_database_backend();
            let until = Utc::now().date_naive();
            let from = until - chrono::Duration::days(89);
            let mut values: Vec<Value> = area.iter().map(|id| v(*id)).collect();
            values.extend([v(from), v(until), v(101i64)]);
            let providers_sql = trellis_store::network::area_providers_sql(area.len(), false, false);
            let rows = db.query_all_raw(question_marks(b, &providers_sql, values)).await?;
            let mut providers = Vec::with_capacity(rows.len());
            for r in &rows {
                providers.push(r.try_get_by_index::<Uuid>(0)?);
            }
            if !providers.is_empty() {
                let mut values: Vec<Value> = providers.iter().map(|id| v(*id)).collect();
                values.extend([v(from), v(until)]);
                let rollups = trellis_store::network::rollup_sql(providers.len(), false);
                db.query_all_raw(question_marks(b, &rollups, values)).await?;
            }
            Ok(true)
        })
    })
}

/// The people "who saw" asks about: the newest 1,000 referrals of the caseload (on the first pages every
/// caseload client lists) and the first 1,000 of [`Seeded::caseload`] (read one at a time by the
/// `referral(id)` clients), alternating.
pub async fn who_saw_people(db: &DatabaseConnection, seeded: &Seeded) -> anyhow::Result<Vec<Uuid>> {
    let b = db.get_database_backend();
    let newest = db
        .query_all_raw(sql(
            b,
            "SELECT id FROM referrals WHERE link_worker_service_id = $1 ORDER BY id DESC LIMIT 1000",
            vec![v(seeded.lws)],
        ))
        .await?;
    let mut people = Vec::with_capacity(2_000);
    for (i, row) in newest.iter().enumerate() {
        people.push(row.try_get::<Uuid>("", "id")?);
        if let Some(read) = seeded.caseload.get(i) {
            people.push(*read);
        }
    }
    Ok(people)
}

/// The statement of [`who_saw`] for `referral`.
pub fn who_saw_statement(backend: DatabaseBackend, referral: Uuid) -> Statement {
    if backend == DatabaseBackend::Postgres {
        let bins = trellis_store::audit::bins_holding(trellis_domain::ReferralId(referral));
        let bins = format!("{{{}}}", bins.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        let text = "SELECT * FROM audit_log WHERE id = ANY(ARRAY(SELECT id FROM audit_log WHERE referral_id = $1 \
             UNION ALL SELECT id FROM audit_log WHERE actor_organisation_id = ANY(ARRAY(\
             SELECT referring_organisation_id FROM referrals WHERE id = $2 UNION ALL \
             SELECT link_worker_service_id FROM referrals WHERE id = $3)) \
             AND listed_bin = ANY($4::bigint[]) AND listed_bin IS NOT NULL AND referral_ids @> ARRAY[$5]::uuid[])) \
             ORDER BY id DESC LIMIT 51";
        return sql(backend, text, vec![v(referral), v(referral), v(referral), v(bins), v(referral)]);
    }
    let text = "SELECT * FROM audit_log WHERE (referral_id = $1 \
         OR id IN (SELECT audit_id FROM audit_log_referrals WHERE referral_id = $2)) ORDER BY id DESC LIMIT 51";
    sql(backend, text, vec![v(referral), v(referral)])
}
