#![allow(clippy::expect_used, clippy::unwrap_used, reason = "test support: a broken fixture must fail the test loudly")]

//! A fresh database per test: an SQLite file in a temporary folder, or a PostgreSQL database created for
//! the test and dropped after it, even when the test panics.
//!
//! PostgreSQL is found at `TRELLIS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`). If it
//! is not reachable the test fails loudly, naming what is missing: it never skips quietly.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

use crate::{DatabaseSettings, Store};

/// The SQL of every statement the store's pool runs while recording is on: what a test counts to show
/// an operation costs a constant number of queries. It is fed by sea-orm's metric callback, so it sees
/// every statement sent through the store's connection (inside transactions too), not only those the
/// code under test chooses to report. Recording is off until [`StatementLog::start`], so other tests pay
/// one atomic load per statement.
#[derive(Debug, Default)]
pub struct StatementLog {
    recording: std::sync::atomic::AtomicBool,
    sql: std::sync::Mutex<Vec<String>>,
}

impl StatementLog {
    /// Hooks a new log into `db`; clones of `db` made afterwards share it.
    pub(crate) fn install(db: &mut sea_orm::DatabaseConnection) -> std::sync::Arc<StatementLog> {
        let log = std::sync::Arc::new(StatementLog::default());
        let hooked = std::sync::Arc::clone(&log);
        db.set_metric_callback(move |info| {
            if hooked.recording.load(std::sync::atomic::Ordering::SeqCst) {
                hooked.sql.lock().unwrap().push(info.statement.sql.clone());
            }
        });
        log
    }

    /// Forgets what was recorded and starts recording.
    pub fn start(&self) {
        self.sql.lock().unwrap().clear();
        self.recording.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops recording and returns the SQL run since [`StatementLog::start`], in order.
    pub fn stop(&self) -> Vec<String> {
        self.recording.store(false, std::sync::atomic::Ordering::SeqCst);
        std::mem::take(&mut *self.sql.lock().unwrap())
    }
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL, the production database.
    Postgres,
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The URL to connect to it.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(PathBuf),
    Postgres { admin_url: String, name: String },
}

fn postgres_admin_url() -> String {
    std::env::var("TRELLIS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl TestDb {
    /// Creates an empty database on `backend`.
    pub async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("trellis-test-{}", Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
                TestDb {
                    url: format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
                    cleanup: Cleanup::Dir(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("trellis_test_{}", Uuid::new_v4().simple());
                let admin = Database::connect(format!("{admin_url}/postgres")).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for this test and is not reachable at {admin_url} ({e}). \
                         Start it with `pg_ctlcluster 15 main start` or set TRELLIS_TEST_POSTGRES_URL."
                    )
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap_or_else(|e| panic!("cannot create {name}: {e}"));
                admin.close().await.ok();
                TestDb { url: format!("{admin_url}/{name}"), cleanup: Cleanup::Postgres { admin_url, name } }
            }
        }
    }

    /// Creates a database on `backend` and returns it migrated, with a store connected to it.
    pub async fn migrated(backend: Backend) -> (TestDb, Store) {
        let db = TestDb::create(backend).await;
        let store = Store::connect(&DatabaseSettings { url: db.url.clone(), max_connections: 8 })
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", db.url));
        store.migrate().await.unwrap_or_else(|e| panic!("migrations failed: {e}"));
        (db, store)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of its own.
                let dropped = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    rt.block_on(async {
                        let admin = Database::connect(format!("{admin_url}/postgres")).await.ok()?;
                        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()?;
                        admin.close().await.ok()
                    })
                });
                let _ = dropped.join();
            }
        }
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL, each with a fresh migrated store.
///
/// ```ignore
/// both_databases!(a_stale_version_is_a_conflict, |store| async move { ... });
/// ```
#[macro_export]
macro_rules! both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let (_db, store) = $crate::testing::TestDb::migrated($crate::testing::Backend::Sqlite).await;
                ($body)(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let (_db, store) = $crate::testing::TestDb::migrated($crate::testing::Backend::Postgres).await;
                ($body)(store).await;
            }
        }
    };
}

/// A small locality for tests: two practices, two link worker services, a provider with a service.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// A GP practice referring to `service`.
    pub practice: crate::accounts::Organisation,
    /// Another practice, referring to `other_service`.
    pub other_practice: crate::accounts::Organisation,
    /// The link worker service.
    pub service: crate::accounts::Organisation,
    /// Another link worker service.
    pub other_service: crate::accounts::Organisation,
    /// A community provider.
    pub provider: crate::accounts::Organisation,
    /// Its walking group.
    pub walking_group: crate::directory::Service,
    /// The locality.
    pub locality: crate::accounts::Organisation,
    /// A GP at `practice`.
    pub gp: crate::accounts::User,
    /// A GP at `other_practice`.
    pub other_gp: crate::accounts::User,
    /// A link worker at `service`.
    pub link_worker: crate::accounts::User,
    /// A link worker at `other_service`.
    pub other_link_worker: crate::accounts::User,
    /// A provider user.
    pub provider_user: crate::accounts::User,
    /// The network lead.
    pub network_lead: crate::accounts::User,
    /// An administrator.
    pub admin: crate::accounts::User,
}

impl Fixture {
    /// Creates the locality in `store`.
    pub async fn create(store: &Store) -> Fixture {
        use chrono::Utc;
        use trellis_domain::Role;
        use trellis_domain::organisation::OrganisationKind;
        use trellis_domain::values::EmailAddress;

        use crate::accounts::{NewOrganisation, NewUser};

        let now = Utc::now();
        let email = |s: &str| Some(EmailAddress::parse(s).expect("fixture email"));
        let org = |kind, name: &str, ods: Option<&str>, mail: &str, lws| NewOrganisation {
            gp_message_at_first_contact: false,
            mesh_mailbox: None,
            kind,
            name: name.into(),
            ods_code: ods.map(String::from),
            email: email(mail),
            link_worker_service: lws,
        };
        let service = store
            .create_organisation(
                org(
                    OrganisationKind::LinkWorkerService,
                    "Erewash PCN Link Workers",
                    None,
                    "linkworkers@erewash.example",
                    None,
                ),
                now,
            )
            .await
            .expect("service");
        let other_service = store
            .create_organisation(
                org(
                    OrganisationKind::LinkWorkerService,
                    "Derby City PCN Link Workers",
                    None,
                    "linkworkers@derby.example",
                    None,
                ),
                now,
            )
            .await
            .expect("other service");
        let practice = store
            .create_organisation(
                org(
                    OrganisationKind::GpPractice,
                    "Long Eaton Health Centre",
                    Some("C81001"),
                    "practice@longeaton.example",
                    Some(service.id),
                ),
                now,
            )
            .await
            .expect("practice");
        let other_practice = store
            .create_organisation(
                org(
                    OrganisationKind::GpPractice,
                    "Derby Road Surgery",
                    Some("C81002"),
                    "practice@derbyroad.example",
                    Some(other_service.id),
                ),
                now,
            )
            .await
            .expect("other practice");
        let provider = store
            .create_organisation(
                org(OrganisationKind::Provider, "Green Spring Network", None, "hello@greenspring.example", None),
                now,
            )
            .await
            .expect("provider");
        let locality = store
            .create_organisation(
                org(
                    OrganisationKind::Locality,
                    "Derbyshire Social Prescribing Network",
                    None,
                    "network@derbyshire.example",
                    None,
                ),
                now,
            )
            .await
            .expect("locality");
        let user = |organisation: &crate::accounts::Organisation, role, mail: &str, name: &str| NewUser {
            organisation: organisation.id,
            role,
            email: EmailAddress::parse(mail).expect("fixture email"),
            name: name.into(),
        };
        let gp = store
            .create_user(user(&practice, Role::GpPractice, "dr.patel@longeaton.example", "Dr Patel"), now)
            .await
            .expect("gp");
        let other_gp = store
            .create_user(user(&other_practice, Role::GpPractice, "dr.jones@derbyroad.example", "Dr Jones"), now)
            .await
            .expect("other gp");
        let link_worker = store
            .create_user(user(&service, Role::LinkWorker, "sam@erewash.example", "Sam Link"), now)
            .await
            .expect("lw");
        let other_link_worker = store
            .create_user(user(&other_service, Role::LinkWorker, "alex@derby.example", "Alex Link"), now)
            .await
            .expect("lw2");
        let provider_user = store
            .create_user(user(&provider, Role::Provider, "gene@greenspring.example", "Gene"), now)
            .await
            .expect("provider user");
        let network_lead = store
            .create_user(user(&locality, Role::NetworkLead, "andrea@derbyshire.example", "Andrea"), now)
            .await
            .expect("lead");
        let admin = store
            .create_user(user(&locality, Role::Admin, "admin@derbyshire.example", "Admin"), now)
            .await
            .expect("admin");
        let walking_group = store
            .create_service(
                crate::directory::NewService {
                    organisation: provider.id,
                    details: crate::directory::ServiceDetails {
                        name: "Long Eaton Walking Group".into(),
                        description: "A gentle weekly walk along the canal, with a cuppa after.".into(),
                        email: email("walks@greenspring.example"),
                        url: None,
                        status: trellis_domain::directory::ServiceStatus::Active,
                        taxonomy: vec!["physical_activity".into(), "nature_and_green".into()],
                        min_age: Some(18),
                        max_age: None,
                        eligibility: Some("Adults of any fitness".into()),
                        schedule: Some("Wednesdays 10:00".into()),
                        places: vec![crate::directory::Place {
                            name: "West Park".into(),
                            postcode: trellis_domain::values::Postcode::parse("NG10 4AA").ok(),
                            latitude: Some(52.8987),
                            longitude: Some(-1.2832),
                        }],
                    },
                    capacity: Some(crate::directory::Capacity {
                        available: 5,
                        maximum: 20,
                        unit: "places".into(),
                        status: trellis_domain::directory::CapacityStatus::Open,
                        updated_at: now,
                    }),
                },
                now,
            )
            .await
            .expect("walking group");
        Fixture {
            practice,
            other_practice,
            service,
            other_service,
            provider,
            walking_group,
            locality,
            gp,
            other_gp,
            link_worker,
            other_link_worker,
            provider_user,
            network_lead,
            admin,
        }
    }

    /// The domain actor of one of the fixture's users.
    pub fn actor(user: &crate::accounts::User) -> trellis_domain::Actor {
        trellis_domain::Actor::user(user.id, user.role, user.organisation)
    }

    /// A valid referral from `practice` for the person with this NHS number.
    pub fn referral(&self, nhs_number: &str) -> crate::referrals::NewReferral {
        use chrono::{Duration, NaiveDate, Utc};
        use trellis_domain::values::{ContactMethod, EmailAddress, Need, NhsNumber, PhoneNumber, Postcode, Urgency};

        let now = Utc::now();
        crate::referrals::NewReferral {
            person: crate::referrals::PersonDetails {
                nhs_number: NhsNumber::parse(nhs_number).expect("fixture NHS number"),
                given_name: "Margaret".into(),
                family_name: "Hughes".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1948, 5, 17).expect("date"),
                phone: PhoneNumber::parse("0115 496 0123").ok(),
                email: EmailAddress::parse("margaret.hughes@example.org").ok(),
                postcode: Postcode::parse("NG10 1AB").ok(),
                preferred_contact: ContactMethod::Phone,
                sex: None,
                ethnic_category: None,
            },
            needs: vec![Need::Loneliness, Need::PhysicalActivity],
            reason: "Widowed last year, rarely leaves the house, would like company.".into(),
            urgency: Urgency::Routine,
            // Recorded well before any submission a test makes, which may be dated in the past.
            consent: Some(crate::referrals::Consent {
                recorded_by: "Dr Patel".into(),
                recorded_at: now - Duration::days(365),
            }),
        }
    }
}

/// A listed service of `organisation` under one taxonomy term, with no email, web page, ages,
/// eligibility, schedule, places or capacity: set what a test needs on `details` or `capacity`.
pub fn plain_service(
    organisation: trellis_domain::OrganisationId,
    name: &str,
    description: &str,
    term: &str,
) -> crate::directory::NewService {
    crate::directory::NewService {
        organisation,
        details: crate::directory::ServiceDetails {
            name: name.into(),
            description: description.into(),
            email: None,
            url: None,
            status: trellis_domain::directory::ServiceStatus::Active,
            taxonomy: vec![term.into()],
            min_age: None,
            max_age: None,
            eligibility: None,
            schedule: None,
            places: vec![],
        },
        capacity: None,
    }
}

/// From now on the database refuses every listing's audit entry (`referral.listed`), as a full disk or
/// a lost connection would: for tests that a page is not answered without its audit.
pub async fn refuse_audit_listings(store: &Store) {
    let refusal = match store.backend() {
        sea_orm::DatabaseBackend::Postgres => {
            "ALTER TABLE audit_log ADD CONSTRAINT refuse_listings CHECK (action <> 'referral.listed') NOT VALID"
        }
        _ => {
            "CREATE TRIGGER refuse_listings BEFORE INSERT ON audit_log WHEN NEW.action = 'referral.listed' \
             BEGIN SELECT RAISE(ABORT, 'listings refused'); END"
        }
    };
    store.connection().execute_unprepared(refusal).await.expect("refusing listings");
}
