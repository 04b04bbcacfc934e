//! Seeding a fresh, migrated database at a chosen size with multi-row `INSERT` statements.
//!
//! Organisations, the directory, people, referrals with their events, and offers with theirs are written
//! in SQL directly (hundreds of rows per statement, a thousand referrals per transaction); only the
//! handful of users and API keys the load clients act as go through the store's API, because their tokens
//! are hashed there. Values are bound as sea-orm [`Value`]s so each backend stores them exactly as the
//! store's own entities do (a uuid is a 16-byte blob on SQLite, `uuid` on PostgreSQL).

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait, Value};
use trellis_domain::offer::OfferStatus;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::referral::{ClosureReason, ReferralEventKind, ReferralStatus};
use trellis_domain::values::{EmailAddress, Need, NhsNumber};
use trellis_domain::{OfferId, OrganisationId, Role};
use trellis_store::Store;
use trellis_store::accounts::NewUser;
use uuid::Uuid;

use crate::mix;

/// Bound parameters per statement: under SQLite's 32 766 and PostgreSQL's 65 535. Tables with foreign keys
/// between them are flushed together, parents first, every thousand parents, so that no child row is
/// written before its parent by a table filling up on its own.
const MAX_PARAMS: usize = 30_000;

/// How big a database to seed.
#[derive(Clone, Copy, Debug)]
pub struct SeedSize {
    /// Referrals.
    pub referrals: u64,
    /// Directory services.
    pub services: u64,
}

/// What the load clients need from the seeded database.
#[derive(Clone, Debug)]
pub struct Seeded {
    /// Row counts, for the report.
    pub counts: Vec<(&'static str, u64)>,
    /// How long seeding took.
    pub seconds: f64,
    /// GP practices with a user token each: (practice, user, token). At most 64.
    pub gps: Vec<(Uuid, Uuid, String)>,
    /// The first link worker service: the caseload the read clients page through.
    pub lws: Uuid,
    /// The link worker user of [`Seeded::lws`] and their token.
    pub link_worker: (Uuid, String),
    /// A network lead's token.
    pub lead_token: String,
    /// Referral ids in [`Seeded::lws`]'s caseload (up to 20 000).
    pub caseload: Vec<Uuid>,
    /// Contacted referrals of [`Seeded::lws`] (id, version) that can be offered (up to 20 000).
    pub offerable: Vec<(Uuid, i64)>,
    /// Active service ids.
    pub services: Vec<Uuid>,
    /// The centres of the towns the directory is spread over.
    pub towns: Vec<(f64, f64)>,
    /// Each town's link worker services: a locality, as the network view is asked for it.
    pub localities: Vec<Vec<Uuid>>,
    /// Seeded offers still `offered`, not expired: the provider-accept pool.
    pub open_offers: Vec<Uuid>,
    /// Every GP practice, and the providers (up to 1 000): the reports' filters.
    pub practices: Vec<Uuid>,
    /// See [`Seeded::practices`].
    pub providers: Vec<Uuid>,
    /// Every link worker service.
    pub link_worker_services: Vec<Uuid>,
}

/// A multi-row `INSERT` being built.
struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value>,
    written: u64,
}

impl Rows {
    fn new(table: &'static str, columns: &'static [&'static str]) -> Rows {
        Rows { table, columns, values: Vec::new(), written: 0 }
    }

    async fn push(&mut self, db: &impl ConnectionTrait, row: Vec<Value>) -> anyhow::Result<()> {
        anyhow::ensure!(
            row.len() == self.columns.len(),
            "{}: {} values for {} columns",
            self.table,
            row.len(),
            self.columns.len()
        );
        self.values.extend(row);
        if self.values.len() + self.columns.len() > MAX_PARAMS {
            self.flush(db).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, db: &impl ConnectionTrait) -> anyhow::Result<()> {
        if self.values.is_empty() {
            return Ok(());
        }
        let backend = db.get_database_backend();
        let width = self.columns.len();
        let rows = self.values.len() / width;
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, self.columns.join(", "));
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push(',');
                }
                n += 1;
                match backend {
                    DatabaseBackend::Postgres => sql.push_str(&format!("${n}")),
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        let values = std::mem::take(&mut self.values);
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .with_context(|| format!("inserting into {}", self.table))?;
        self.written += rows as u64;
        Ok(())
    }
}

fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

fn none_uuid() -> Value {
    Option::<Uuid>::None.into()
}

fn none_string() -> Value {
    Option::<String>::None.into()
}

/// The NHS number whose first nine digits are `n` (mod 1e9), if it has a mod-11 check digit.
pub fn nhs_exact(n: u64) -> Option<String> {
    let base = format!("{:09}", n % 1_000_000_000);
    let sum: u32 = base.bytes().zip((2..=10u32).rev()).map(|(d, w)| u32::from(d - b'0') * w).sum();
    let check = match 11 - (sum % 11) {
        11 => 0,
        10 => return None,
        c => c,
    };
    let number = format!("{base}{check}");
    NhsNumber::parse(&number).is_ok().then_some(number)
}

/// The first valid NHS number at or after `start`, with the next start.
pub fn nhs_number(start: u64) -> (String, u64) {
    let mut n = start;
    loop {
        n += 1;
        if let Some(number) = nhs_exact(n - 1) {
            return (number, n);
        }
    }
}

/// Sexes and ethnic categories (NHS Data Dictionary codes) as the referral form records them.
const SEXES: &[&str] = &["female", "male", "female", "male", "not_known"];
const ETHNIC_CATEGORIES: &[&str] = &["A", "A", "A", "B", "C", "D", "H", "J", "M", "N", "R", "S", "Z"];

/// Turns the base tables' report triggers on or off (`ENABLE`, `DISABLE`).
async fn report_triggers(db: &sea_orm::DatabaseConnection, how: &str) -> anyhow::Result<()> {
    for (table, trigger) in trellis_migration::report_rollups::POSTGRES_BASE_TRIGGERS {
        db.execute_unprepared(&format!("ALTER TABLE {table} {how} TRIGGER {trigger}")).await?;
    }
    Ok(())
}

const NEEDS: &[&str] = &["loneliness", "low_mood", "physical_activity", "debt", "housing", "bereavement", "food"];

/// Town and city centres across England (latitude, longitude), one locality each.
const TOWNS: &[(f64, f64)] = &[
    (52.954, -1.158), // Nottingham
    (51.507, -0.128), // London
    (52.486, -1.890), // Birmingham
    (53.481, -2.243), // Manchester
    (53.801, -1.549), // Leeds
    (53.408, -2.991), // Liverpool
    (54.978, -1.618), // Newcastle
    (53.381, -1.470), // Sheffield
    (51.455, -2.588), // Bristol
    (52.637, -1.139), // Leicester
    (52.407, -1.512), // Coventry
    (53.796, -1.759), // Bradford
    (53.003, -2.180), // Stoke-on-Trent
    (52.587, -2.129), // Wolverhampton
    (50.376, -4.143), // Plymouth
    (50.910, -1.404), // Southampton
    (51.455, -0.978), // Reading
    (52.923, -1.477), // Derby
    (50.820, -1.088), // Portsmouth
    (52.630, 1.297),  // Norwich
    (53.745, -0.336), // Hull
    (53.960, -1.082), // York
    (50.726, -3.527), // Exeter
    (52.205, 0.122),  // Cambridge
    (51.752, -1.258), // Oxford
    (52.056, 1.148),  // Ipswich
    (53.230, -0.540), // Lincoln
    (54.893, -2.936), // Carlisle
    (53.763, -2.703), // Preston
    (53.817, -3.036), // Blackpool
    (54.574, -1.235), // Middlesbrough
    (54.906, -1.381), // Sunderland
    (52.573, -0.241), // Peterborough
    (52.240, -0.902), // Northampton
    (52.041, -0.759), // Milton Keynes
    (51.865, -2.238), // Gloucester
    (52.192, -2.220), // Worcester
    (52.707, -2.754), // Shrewsbury
    (53.193, -2.893), // Chester
    (54.047, -2.801), // Lancaster
    (50.822, -0.137), // Brighton
    (51.280, 1.079),  // Canterbury
    (50.720, -1.880), // Bournemouth
    (51.558, -1.782), // Swindon
    (51.380, -2.360), // Bath
    (50.263, -5.051), // Truro
    (51.896, 0.892),  // Colchester
    (51.879, -0.418), // Luton
    (53.523, -1.128), // Doncaster
    (52.056, -2.716), // Hereford
];

/// Services per locality: a town's directory holds hundreds of services, not thousands.
const SERVICES_PER_TOWN: u64 = 250;

/// Services of a town lie within this distance of its centre.
pub const TOWN_RADIUS_KM: f64 = 12.0;

/// A point `h` puts uniformly within `radius_km` of `centre`.
pub fn near(centre: (f64, f64), radius_km: f64, h: u64) -> (f64, f64) {
    let r = radius_km * ((h & 0xffff) as f64 / 65_535.0).sqrt();
    let theta = ((h >> 16) & 0xffff) as f64 / 65_536.0 * std::f64::consts::TAU;
    let lat = centre.0 + r * theta.cos() / 111.195;
    let lon = centre.1 + r * theta.sin() / (111.195 * centre.0.to_radians().cos());
    (lat, lon)
}

/// Seeds `store` (already migrated, empty) at `size`.
pub async fn seed(store: &Store, size: SeedSize) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let db = store.connection();
    let now = Utc::now();
    let n_practices = (size.referrals / 500).max(3);
    let n_lws = (size.referrals / 5000).max(1);
    let n_providers = (size.services / 4).max(3);
    // The directory is spread over towns across England, a few hundred services each; a provider works
    // in one town, and a link worker service offers to the services of its own town.
    let n_towns = size.services.div_ceil(SERVICES_PER_TOWN).clamp(1, TOWNS.len() as u64);
    let town_of_provider = |p: u64| (p % n_towns) as usize;

    // Organisations.
    let mut orgs = Rows::new(
        "organisations",
        &["id", "kind", "name", "ods_code", "email", "link_worker_service_id", "created_at"],
    );
    let locality = Uuid::now_v7();
    orgs.push(
        db,
        vec![v(locality), v("locality"), v("Bench locality"), none_string(), none_string(), none_uuid(), v(now)],
    )
    .await?;
    let lws: Vec<Uuid> = (0..n_lws).map(|_| Uuid::now_v7()).collect();
    for (i, id) in lws.iter().enumerate() {
        let kind = OrganisationKind::LinkWorkerService.as_str();
        orgs.push(
            db,
            vec![
                v(*id),
                v(kind),
                v(format!("Link workers {i}")),
                none_string(),
                v(Some(format!("lws{i}@bench.example"))),
                none_uuid(),
                v(now),
            ],
        )
        .await?;
    }
    let practices: Vec<(Uuid, Uuid)> = (0..n_practices).map(|i| (Uuid::now_v7(), lws[(i % n_lws) as usize])).collect();
    for (i, (id, service)) in practices.iter().enumerate() {
        let kind = OrganisationKind::GpPractice.as_str();
        orgs.push(
            db,
            vec![
                v(*id),
                v(kind),
                v(format!("Practice {i}")),
                v(Some(format!("B{i:05}"))),
                v(Some(format!("gp{i}@bench.example"))),
                v(Some(*service)),
                v(now),
            ],
        )
        .await?;
    }
    let providers: Vec<Uuid> = (0..n_providers).map(|_| Uuid::now_v7()).collect();
    for (i, id) in providers.iter().enumerate() {
        let kind = OrganisationKind::Provider.as_str();
        orgs.push(
            db,
            vec![
                v(*id),
                v(kind),
                v(format!("Provider {i}")),
                none_string(),
                v(Some(format!("provider{i}@bench.example"))),
                none_uuid(),
                v(now),
            ],
        )
        .await?;
    }
    orgs.flush(db).await?;

    // Users and tokens through the store (their tokens are hashed there).
    let user = |organisation: Uuid, role: Role, email: String| -> anyhow::Result<NewUser> {
        Ok(NewUser {
            organisation: OrganisationId(organisation),
            role,
            email: EmailAddress::parse(&email)?,
            name: "Bench user".into(),
        })
    };
    let lead = store.create_user(user(locality, Role::NetworkLead, "lead@bench.example".into())?, now).await?;
    let lead_token = store.issue_api_key(lead.id, "bench", now).await?.token;
    let mut link_workers = Vec::new();
    for (i, service) in lws.iter().enumerate() {
        for j in 0..5 {
            let u =
                store.create_user(user(*service, Role::LinkWorker, format!("lw{i}-{j}@bench.example"))?, now).await?;
            link_workers.push((*service, u.id.0));
        }
    }
    let lw_user = link_workers.first().map(|(_, u)| *u).context("no link worker")?;
    let lw_token = store.issue_api_key(trellis_domain::UserId(lw_user), "bench", now).await?.token;
    let mut gps = Vec::new();
    for (i, (practice, _)) in practices.iter().enumerate().take(64) {
        let u = store.create_user(user(*practice, Role::GpPractice, format!("gp-user{i}@bench.example"))?, now).await?;
        let token = store.issue_api_key(u.id, "bench", now).await?.token;
        gps.push((*practice, u.id.0, token));
    }

    // The directory: taxonomy, services, capacity, one location each, two terms each.
    let mut codes: Vec<&'static str> = Vec::new();
    for need in Need::ALL {
        for code in trellis_domain::directory::terms_for(*need) {
            if !codes.contains(code) {
                codes.push(code);
            }
        }
    }
    let txn = db.begin().await?;
    let mut terms = Rows::new("taxonomy_terms", &["id", "code", "name", "vocabulary"]);
    let term_ids: Vec<Uuid> = codes.iter().map(|_| Uuid::now_v7()).collect();
    for (code, id) in codes.iter().zip(&term_ids) {
        let name = trellis_domain::directory::term_name(code).unwrap_or(code);
        terms.push(&txn, vec![v(*id), v(*code), v(name), v("trellis")]).await?;
    }
    terms.flush(&txn).await?;
    let mut services = Rows::new(
        "services",
        &[
            "id",
            "organisation_id",
            "name",
            "description",
            "email",
            "url",
            "status",
            "min_age",
            "max_age",
            "eligibility_description",
            "schedule_description",
            "created_at",
            "updated_at",
        ],
    );
    let mut capacities =
        Rows::new("service_capacities", &["service_id", "available", "maximum", "unit", "status", "updated_at"]);
    let mut locations =
        Rows::new("locations", &["id", "organisation_id", "name", "address", "postcode", "latitude", "longitude"]);
    let mut at_locations = Rows::new("service_at_locations", &["id", "service_id", "location_id"]);
    let mut tags = Rows::new("service_taxonomies", &["service_id", "taxonomy_term_id"]);
    let mut active_services = Vec::new();
    let mut service_provider = Vec::new();
    // Active services by town: indexes into `active_services`.
    let mut town_services: Vec<Vec<usize>> = vec![Vec::new(); n_towns as usize];
    for i in 0..size.services {
        let id = Uuid::now_v7();
        let provider = providers[(i % n_providers) as usize];
        let town = town_of_provider(i % n_providers);
        let active = i % 20 != 19;
        let h = mix(i);
        services
            .push(
                &txn,
                vec![
                    v(id),
                    v(provider),
                    v(format!("Service {i}")),
                    v("A group that meets weekly."),
                    v(Some(format!("service{i}@bench.example"))),
                    none_string(),
                    v(if active { "active" } else { "inactive" }),
                    v(Some(if h.is_multiple_of(3) { 18i32 } else { 0 })),
                    Option::<i32>::None.into(),
                    none_string(),
                    none_string(),
                    v(now),
                    v(now),
                ],
            )
            .await?;
        let (status, available) = match h % 10 {
            0..=5 => ("open", 5i32),
            6..=7 => ("waitlist", 0),
            _ => ("closed", 0),
        };
        capacities
            .push(
                &txn,
                vec![v(id), v(available), v(20i32), v("places"), v(status), v(now - Duration::days((h % 30) as i64))],
            )
            .await?;
        let location = Uuid::now_v7();
        let (lat, lon) = near(TOWNS[town], TOWN_RADIUS_KM, h >> 8);
        locations
            .push(
                &txn,
                vec![
                    v(location),
                    v(provider),
                    v(format!("Venue {i}")),
                    none_string(),
                    v(Some("NG1 1AA".to_owned())),
                    v(Some(lat)),
                    v(Some(lon)),
                ],
            )
            .await?;
        at_locations.push(&txn, vec![v(Uuid::now_v7()), v(id), v(location)]).await?;
        let a = (h % term_ids.len() as u64) as usize;
        let b = ((h >> 32) % term_ids.len() as u64) as usize;
        tags.push(&txn, vec![v(id), v(term_ids[a])]).await?;
        if b != a {
            tags.push(&txn, vec![v(id), v(term_ids[b])]).await?;
        }
        if active {
            town_services[town].push(active_services.len());
            active_services.push(id);
            service_provider.push(provider);
        }
        // Parents before children: flush every table together, well before any fills on its own.
        if i % 1000 == 999 {
            for rows in [&mut services, &mut capacities, &mut locations, &mut at_locations, &mut tags] {
                rows.flush(&txn).await?;
            }
        }
    }
    for rows in [&mut services, &mut capacities, &mut locations, &mut at_locations, &mut tags] {
        rows.flush(&txn).await?;
    }
    txn.commit().await?;
    anyhow::ensure!(!active_services.is_empty(), "--services must be at least 1");
    // Where each link worker service offers: the active services of its town, or of the whole directory
    // if its town has none.
    let all_services: Vec<usize> = (0..active_services.len()).collect();
    let local_services = |lws: usize| -> &Vec<usize> {
        let town = &town_services[lws % n_towns as usize];
        if town.is_empty() { &all_services } else { town }
    };

    // People, referrals, events, offers. On PostgreSQL the report facts are not kept row by row during the
    // bulk load (each row's trigger derives its facts and sums them); they are counted in bulk after it,
    // as the migration does for an existing database.
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        report_triggers(db, "DISABLE").await?;
    }
    let mut people = Rows::new(
        "people",
        &[
            "id",
            "nhs_number",
            "given_name",
            "family_name",
            "date_of_birth",
            "phone",
            "email",
            "postcode",
            "preferred_contact",
            "created_at",
            "updated_at",
        ],
    );
    let mut demographics = Rows::new(
        "referral_demographics",
        &[
            "referral_id",
            "nhs_number",
            "given_name",
            "family_name",
            "date_of_birth",
            "phone",
            "email",
            "postcode",
            "preferred_contact",
            "recorded_at",
            "sex",
            "ethnic_category",
        ],
    );
    let mut measures = Rows::new(
        "wellbeing_measures",
        &[
            "id",
            "referral_id",
            "instrument",
            "instrument_version",
            "answers",
            "taken_at",
            "recorded_by_user_id",
            "recorded_at",
        ],
    );
    let mut referrals = Rows::new(
        "referrals",
        &[
            "id",
            "person_id",
            "referring_organisation_id",
            "referred_by_user_id",
            "link_worker_service_id",
            "assigned_to_user_id",
            "status",
            "closure_reason",
            "needs",
            "reason",
            "urgency",
            "consent_to_share",
            "consent_recorded_by",
            "consent_recorded_at",
            "version",
            "contact_due_at",
            "flag",
            "created_at",
            "updated_at",
        ],
    );
    let mut events = Rows::new(
        "referral_events",
        &[
            "id",
            "referral_id",
            "version",
            "kind",
            "from_status",
            "to_status",
            "actor_role",
            "actor_organisation_id",
            "actor_user_id",
            "note",
            "data",
            "occurred_at",
        ],
    );
    let mut offers = Rows::new(
        "offers",
        &[
            "id",
            "referral_id",
            "service_id",
            "provider_organisation_id",
            "link_worker_service_id",
            "part_of_offer_id",
            "status",
            "decline_reason",
            "note_for_provider",
            "version",
            "expires_at",
            "remind_at",
            "created_at",
            "updated_at",
        ],
    );
    let mut offer_events = Rows::new(
        "offer_events",
        &[
            "id",
            "offer_id",
            "version",
            "from_status",
            "to_status",
            "decline_reason",
            "actor_role",
            "actor_organisation_id",
            "actor_user_id",
            "note",
            "occurred_at",
        ],
    );
    let lws0 = lws[0];
    let mut caseload = Vec::new();
    let mut offerable = Vec::new();
    let mut open_offers = Vec::new();
    let mut nhs_next = 400_000_000u64;
    let mut txn = db.begin().await?;
    let dob = NaiveDate::from_ymd_opt(1960, 1, 1).context("date")?;
    for i in 0..size.referrals {
        let h = mix(i ^ 0x5eed);
        let (practice, service) = practices[(i % n_practices) as usize];
        let local = local_services(((i % n_practices) % n_lws) as usize);
        let lw = link_workers.iter().find(|(s, _)| *s == service).map(|(_, u)| *u);
        let created = now - Duration::seconds((h % (365 * 86_400)) as i64);
        let person = Uuid::now_v7();
        let (nhs, next) = nhs_number(nhs_next);
        nhs_next = next;
        let given = format!("Given{i}");
        let family = format!("Family{}", h % 997);
        let born = dob + Duration::days((h % 20_000) as i64);
        people
            .push(
                &txn,
                vec![
                    v(person),
                    v(nhs.clone()),
                    v(given.clone()),
                    v(family.clone()),
                    v(born),
                    none_string(),
                    none_string(),
                    v(Some("NG1 1AA".to_owned())),
                    v("letter"),
                    v(created),
                    v(created),
                ],
            )
            .await?;
        let id = Uuid::now_v7();
        let status = match h % 10 {
            0..=2 => ReferralStatus::Referred,
            3..=7 => ReferralStatus::Contacted,
            _ => ReferralStatus::Closed,
        };
        let version: i64 = match status {
            ReferralStatus::Referred => 1,
            ReferralStatus::Closed => 3,
            _ => 2,
        };
        let need = NEEDS[(h % NEEDS.len() as u64) as usize];
        referrals
            .push(
                &txn,
                vec![
                    v(id),
                    v(person),
                    v(practice),
                    none_uuid(),
                    v(service),
                    none_uuid(),
                    v(status.as_str()),
                    if status == ReferralStatus::Closed {
                        v(Some(ClosureReason::Completed.as_str().to_owned()))
                    } else {
                        none_string()
                    },
                    v(format!("[\"{need}\"]")),
                    v("Isolated since a bereavement; would like company."),
                    v("routine"),
                    v(true),
                    v("Dr Bench"),
                    v(created),
                    v(version),
                    v(created + Duration::days(7)),
                    none_string(),
                    v(created),
                    v(created + Duration::days(version - 1)),
                ],
            )
            .await?;
        // Each referral's own demographics, after its referral row (the snapshot references it).
        demographics
            .push(
                &txn,
                vec![
                    v(id),
                    v(nhs),
                    v(given),
                    v(family),
                    v(born),
                    none_string(),
                    none_string(),
                    v(Some("NG1 1AA".to_owned())),
                    v("letter"),
                    v(created),
                    v(Some(SEXES[(h >> 8) as usize % SEXES.len()].to_owned())),
                    v(Some(ETHNIC_CATEGORIES[(h >> 16) as usize % ETHNIC_CATEGORIES.len()].to_owned())),
                ],
            )
            .await?;
        // A closed referral's person took SWEMWBS at the start and at the end.
        if status == ReferralStatus::Closed {
            let recorder = lw.unwrap_or(lw_user);
            for (taken, shift) in [(created + Duration::days(2), 0u64), (created + Duration::days(60), 1 + h % 3)] {
                let answers: Vec<u64> =
                    (0..7u64).map(|q| 1 + (mix(h ^ q) % 3) + shift.min(4 - (mix(h ^ q) % 3))).collect();
                measures
                    .push(
                        &txn,
                        vec![
                            v(Uuid::now_v7()),
                            v(id),
                            v("swemwbs"),
                            v(1i32),
                            v(format!("{answers:?}").replace(' ', "")),
                            v(taken),
                            v(recorder),
                            v(taken),
                        ],
                    )
                    .await?;
            }
        }
        let opened = ReferralEventKind::Opened {
            referring_organisation: OrganisationId(practice),
            link_worker_service: OrganisationId(service),
            details_differ: false,
        };
        events
            .push(
                &txn,
                vec![
                    v(Uuid::now_v7()),
                    v(id),
                    v(1i64),
                    v("opened"),
                    none_string(),
                    v("referred"),
                    v("gp_practice"),
                    v(Some(practice)),
                    none_uuid(),
                    none_string(),
                    v(serde_json::to_string(&opened)?),
                    v(created),
                ],
            )
            .await?;
        if version >= 2 {
            events
                .push(
                    &txn,
                    vec![
                        v(Uuid::now_v7()),
                        v(id),
                        v(2i64),
                        v("contacted"),
                        v(Some("referred".to_owned())),
                        v("contacted"),
                        v("link_worker"),
                        v(Some(service)),
                        v(lw),
                        none_string(),
                        v(serde_json::to_string(&ReferralEventKind::Contacted)?),
                        v(created + Duration::days(1)),
                    ],
                )
                .await?;
        }
        if version >= 3 {
            let closed = ReferralEventKind::Closed { reason: ClosureReason::Completed };
            events
                .push(
                    &txn,
                    vec![
                        v(Uuid::now_v7()),
                        v(id),
                        v(3i64),
                        v("closed"),
                        v(Some("contacted".to_owned())),
                        v("closed"),
                        v("link_worker"),
                        v(Some(service)),
                        v(lw),
                        none_string(),
                        v(serde_json::to_string(&closed)?),
                        v(created + Duration::days(2)),
                    ],
                )
                .await?;
        }
        if service == lws0 && caseload.len() < 20_000 {
            caseload.push(id);
            if status == ReferralStatus::Contacted {
                offerable.push((id, version));
            }
        }
        // Offers: one for a contacted or closed referral, a second for most contacted ones (about one offer
        // per referral in all).
        let n_offers = match status {
            ReferralStatus::Referred => 0,
            ReferralStatus::Closed => 1,
            _ => 1 + u64::from(h % 10 < 7),
        };
        for k in 0..n_offers {
            let oh = mix(h ^ k);
            let idx = local[(oh % local.len() as u64) as usize];
            let (svc, provider) = (active_services[idx], service_provider[idx]);
            let at = created + Duration::days(1) + Duration::hours(k as i64);
            let chain: &[OfferStatus] = if status == ReferralStatus::Closed {
                &[OfferStatus::Offered, OfferStatus::Accepted, OfferStatus::Started, OfferStatus::Finished]
            } else {
                match oh % 10 {
                    0..=2 => &[OfferStatus::Offered],
                    3..=5 => &[OfferStatus::Offered, OfferStatus::Accepted],
                    6..=7 => &[OfferStatus::Offered, OfferStatus::Declined],
                    _ => &[OfferStatus::Offered, OfferStatus::Accepted, OfferStatus::Started],
                }
            };
            let last = chain[chain.len() - 1];
            let offer = OfferId::new_at(at).0;
            let declined = last == OfferStatus::Declined;
            let decline = if declined { v(Some("at_capacity".to_owned())) } else { none_string() };
            let expires = if last == OfferStatus::Offered { now + Duration::days(14) } else { at + Duration::days(14) };
            offers
                .push(
                    &txn,
                    vec![
                        v(offer),
                        v(id),
                        v(svc),
                        v(provider),
                        v(service),
                        none_uuid(),
                        v(last.as_str()),
                        decline.clone(),
                        v(Some("Prefers mornings.".to_owned())),
                        v(chain.len() as i64),
                        v(expires),
                        Option::<DateTime<Utc>>::None.into(),
                        v(at),
                        v(at + Duration::hours(chain.len() as i64)),
                    ],
                )
                .await?;
            for (n, to) in chain.iter().enumerate() {
                let from = if n == 0 { none_string() } else { v(Some(chain[n - 1].as_str().to_owned())) };
                let (role, org, user) =
                    if n == 0 { ("link_worker", service, lw) } else { ("provider", provider, None) };
                let reason = if *to == OfferStatus::Declined { decline.clone() } else { none_string() };
                offer_events
                    .push(
                        &txn,
                        vec![
                            v(Uuid::now_v7()),
                            v(offer),
                            v(n as i64 + 1),
                            from,
                            v(to.as_str()),
                            reason,
                            v(role),
                            v(Some(org)),
                            v(user),
                            none_string(),
                            v(at + Duration::hours(n as i64)),
                        ],
                    )
                    .await?;
            }
            if last == OfferStatus::Offered && open_offers.len() < 20_000 {
                open_offers.push(offer);
            }
            // A few accepted offers are passed on to another service (FHIR `Task.partOf`).
            if last == OfferStatus::Accepted && oh % 100 < 10 {
                let j = local[((oh >> 16) % local.len() as u64) as usize];
                let onward = OfferId::new_at(at).0;
                offers
                    .push(
                        &txn,
                        vec![
                            v(onward),
                            v(id),
                            v(active_services[j]),
                            v(service_provider[j]),
                            v(service),
                            v(Some(offer)),
                            v("offered"),
                            none_string(),
                            none_string(),
                            v(1i64),
                            v(now + Duration::days(14)),
                            Option::<DateTime<Utc>>::None.into(),
                            v(at + Duration::hours(3)),
                            v(at + Duration::hours(3)),
                        ],
                    )
                    .await?;
                offer_events
                    .push(
                        &txn,
                        vec![
                            v(Uuid::now_v7()),
                            v(onward),
                            v(1i64),
                            none_string(),
                            v("offered"),
                            none_string(),
                            v("provider"),
                            v(Some(provider)),
                            none_uuid(),
                            none_string(),
                            v(at + Duration::hours(3)),
                        ],
                    )
                    .await?;
            }
        }
        if i % 1000 == 999 {
            for rows in [
                &mut people,
                &mut referrals,
                &mut demographics,
                &mut measures,
                &mut events,
                &mut offers,
                &mut offer_events,
            ] {
                rows.flush(&txn).await?;
            }
            txn.commit().await?;
            txn = db.begin().await?;
        }
    }
    for rows in
        [&mut people, &mut referrals, &mut demographics, &mut measures, &mut events, &mut offers, &mut offer_events]
    {
        rows.flush(&txn).await?;
    }
    txn.commit().await?;
    if postgres {
        report_triggers(db, "ENABLE").await?;
        store.rebuild_report_rollups().await?;
    }
    // Fresh statistics and visibility maps, as autovacuum would give a long-lived database (without the
    // visibility map PostgreSQL cannot answer from an index alone).
    match db.get_database_backend() {
        DatabaseBackend::Postgres => db.execute_unprepared("VACUUM (ANALYZE)").await?,
        _ => db.execute_unprepared("ANALYZE").await?,
    };

    let counts = vec![
        ("organisations", orgs.written),
        ("GP practices", n_practices),
        ("link worker services", n_lws),
        ("link workers", link_workers.len() as u64),
        ("providers", n_providers),
        ("towns", n_towns),
        ("services", services.written),
        ("people", people.written),
        ("referrals", referrals.written),
        ("referral events", events.written),
        ("offers", offers.written),
        ("offer events", offer_events.written),
        ("wellbeing measures", measures.written),
    ];
    Ok(Seeded {
        counts,
        seconds: started.elapsed().as_secs_f64(),
        gps,
        lws: lws0,
        link_worker: (lw_user, lw_token),
        lead_token,
        caseload,
        offerable,
        services: active_services,
        towns: TOWNS[..n_towns as usize].to_vec(),
        localities: (0..n_towns as usize)
            .map(|t| lws.iter().enumerate().filter(|(i, _)| i % n_towns as usize == t).map(|(_, id)| *id).collect())
            .collect(),
        open_offers,
        practices: practices.iter().map(|(p, _)| *p).collect(),
        providers: providers.iter().take(1_000).copied().collect(),
        link_worker_services: lws.clone(),
    })
}
