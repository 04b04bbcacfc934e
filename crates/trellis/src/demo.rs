//! A believable demo locality: one Primary Care Network's link worker team, three GP practices, a dozen
//! community providers of the kinds people in the seeds describe (walking groups, a men's choir under a
//! canal bridge, gardening, befriending, debt advice, a refugee welcome walk), and referrals in every
//! state. Everyone in it is fictional; NHS numbers are in the 999 range used for testing.

use anyhow::Context;
use chrono::{Duration, NaiveDate, Utc};
use trellis_domain::directory::ServiceStatus;
use trellis_domain::offer::{DeclineReason, OfferCommand};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::referral::{ClosureReason, Note, ReferralCommand};
use trellis_domain::report::{EthnicCategory, Sex};
use trellis_domain::values::{ContactMethod, EmailAddress, Need, NhsNumber, PhoneNumber, Postcode, Urgency};
use trellis_domain::{Actor, Role};
use trellis_store::Store;
use trellis_store::accounts::{NewOrganisation, NewUser, Organisation, User};
use trellis_store::directory::{Capacity, NewService, Place, Service, ServiceDetails};
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::referrals::{Consent, NewReferral, PersonDetails};

/// ODS code of the first demo practice: its presence means the demo is loaded.
/// The demo practice's MESH mailbox: `X26ABC2` in NHS England's MESH sandbox.
const DEMO_PRACTICE_MESH_MAILBOX: &str = "X26ABC2";
const MARKER_ODS: &str = "C81601";

/// The demo users whose tokens `serve --demo` prints.
const DEMO_USERS: &[(&str, &str)] = &[
    ("GP practice (Long Eaton Health Centre)", "dr.okafor@longeaton-hc.example"),
    ("Link worker (Erewash PCN)", "priya.shah@erewash-pcn.example"),
    ("Network lead (Erewash)", "network.lead@erewash-network.example"),
    ("Provider (Canal Walkers)", "hello@canalwalkers.example"),
    ("Admin", "admin@erewash-network.example"),
];

fn email(s: &str) -> anyhow::Result<EmailAddress> {
    Ok(EmailAddress::parse(s)?)
}

/// Loads the demo locality unless it is already there.
pub async fn ensure(store: &Store) -> anyhow::Result<()> {
    if store.organisations().await?.iter().any(|o| o.ods_code.as_deref() == Some(MARKER_ODS)) {
        return Ok(());
    }
    load(store).await.context("loading the demo locality")
}

/// How long the demo's printed sign-in links work: a working day, so a demo started in the morning can be
/// tried after lunch. Links emailed by `/sign-in` work for 15 minutes, demo or not.
const DEMO_SIGN_IN_LINK_LIFETIME: chrono::Duration = chrono::Duration::hours(8);

/// Issues fresh tokens and console sign-in links for the demo users and prints them (neither is stored,
/// so each start mints new ones). `base_url` is where the console is reached.
pub async fn print_tokens(store: &Store, base_url: &str) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut tokens = vec!["Demo tokens (paste one into the explorer at /graphql, Headers tab, as {\"Authorization\": \"Bearer <token>\"}):".to_owned()];
    let mut links = vec![format!(
        "Demo sign-in links for the web console (each works once, for {} hours; or ask for one at {base_url}/sign-in):",
        DEMO_SIGN_IN_LINK_LIFETIME.num_hours()
    )];
    for org in store.organisations().await? {
        for user in store.users_of(org.id).await? {
            if let Some((label, _)) = DEMO_USERS.iter().find(|(_, mail)| *mail == user.email) {
                let key = store.issue_api_key(user.id, "serve --demo", now).await?;
                tokens.push(format!("  {label:<42} {}", key.token));
                let link = store.create_sign_in_link(user.id, now + DEMO_SIGN_IN_LINK_LIFETIME, now).await?;
                links.push(format!("  {label:<42} {base_url}/sign-in/{link}"));
            }
        }
    }
    println!("{}\n\n{}", tokens.join("\n"), links.join("\n"));
    Ok(())
}

/// A demo provider: name, email, service, description, taxonomy, place, postcode, latitude, longitude,
/// places available, places in all, capacity status.
type ProviderRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    f64,
    f64,
    i32,
    i32,
    &'static str,
);

/// A demo person: given name, family name, date of birth, needs, the referrer's words, postcode.
type PersonRow = (&'static str, &'static str, &'static str, &'static [Need], &'static str, &'static str);

struct Locality {
    gp: Actor,
    other_gps: Vec<Actor>,
    link_worker: Actor,
    second_link_worker: User,
    services: Vec<Service>,
}

async fn org(
    store: &Store,
    kind: OrganisationKind,
    name: &str,
    ods: Option<&str>,
    mail: &str,
    lws: Option<&Organisation>,
) -> anyhow::Result<Organisation> {
    // The first demo practice has the MESH sandbox's second mailbox, so the message back has somewhere to go.
    let mesh_mailbox = (ods == Some(MARKER_ODS)).then(|| DEMO_PRACTICE_MESH_MAILBOX.to_owned());
    let new = NewOrganisation {
        gp_message_at_first_contact: false,
        mesh_mailbox,
        kind,
        name: name.into(),
        ods_code: ods.map(String::from),
        email: Some(email(mail)?),
        link_worker_service: lws.map(|o| o.id),
    };
    Ok(store.create_organisation(new, Utc::now()).await?)
}

async fn user(store: &Store, org: &Organisation, role: Role, mail: &str, name: &str) -> anyhow::Result<User> {
    Ok(store
        .create_user(NewUser { organisation: org.id, role, email: email(mail)?, name: name.into() }, Utc::now())
        .await?)
}

fn actor(u: &User) -> Actor {
    Actor::user(u.id, u.role, u.organisation)
}

async fn load(store: &Store) -> anyhow::Result<()> {
    let locality = org(
        store,
        OrganisationKind::Locality,
        "Erewash Social Prescribing Network",
        None,
        "network@erewash-network.example",
        None,
    )
    .await?;
    let pcn = org(
        store,
        OrganisationKind::LinkWorkerService,
        "Erewash PCN Social Prescribing Team",
        None,
        "socialprescribing@erewash-pcn.example",
        None,
    )
    .await?;
    let practices = [
        org(
            store,
            OrganisationKind::GpPractice,
            "Long Eaton Health Centre",
            Some(MARKER_ODS),
            "reception@longeaton-hc.example",
            Some(&pcn),
        )
        .await?,
        org(
            store,
            OrganisationKind::GpPractice,
            "Ilkeston Road Surgery",
            Some("C81602"),
            "admin@ilkestonroad.example",
            Some(&pcn),
        )
        .await?,
        org(
            store,
            OrganisationKind::GpPractice,
            "Sandiacre Medical Practice",
            Some("C81603"),
            "practice@sandiacre-mp.example",
            Some(&pcn),
        )
        .await?,
    ];
    let gp = user(store, &practices[0], Role::GpPractice, DEMO_USERS[0].1, "Dr Ada Okafor").await?;
    let gp2 = user(store, &practices[1], Role::GpPractice, "dr.reid@ilkestonroad.example", "Dr Iain Reid").await?;
    let gp3 = user(store, &practices[2], Role::GpPractice, "dr.bell@sandiacre-mp.example", "Dr Lucy Bell").await?;
    let link_worker = user(store, &pcn, Role::LinkWorker, DEMO_USERS[1].1, "Priya Shah").await?;
    let second_link_worker = user(store, &pcn, Role::LinkWorker, "tom.baker@erewash-pcn.example", "Tom Baker").await?;
    user(store, &locality, Role::NetworkLead, DEMO_USERS[2].1, "Jo Marsh").await?;
    user(store, &locality, Role::Admin, DEMO_USERS[4].1, "Trellis Admin").await?;

    // (provider, provider email, service, description, taxonomy, place, postcode, lat, lon, available, maximum, status)
    let providers: &[ProviderRow] = &[
        (
            "Canal Walkers",
            "hello@canalwalkers.example",
            "Canal Walkers: Wednesday Walk",
            "A gentle hour along the Erewash Canal towpath, then tea at the lock cottage.",
            &["physical_activity", "nature_and_green"],
            "Long Eaton Lock",
            "NG10 3AB",
            52.8990,
            -1.2710,
            8,
            20,
            "open",
        ),
        (
            "Towpath Voices",
            "sing@towpathvoices.example",
            "Towpath Voices Men's Choir",
            "Men singing together under the canal bridge one evening a week. No experience needed.",
            &["arts_and_culture", "mental_health_peer_support"],
            "Trent Lock Bridge",
            "NG10 2FY",
            52.8735,
            -1.2703,
            6,
            30,
            "open",
        ),
        (
            "Whispering Trees",
            "cabin@whisperingtrees.example",
            "Woodland Wellbeing Days",
            "Green woodworking and fire-side conversation in a small woodland.",
            &["nature_and_green", "mental_health_peer_support"],
            "Whispering Trees Cabin",
            "DE7 4QJ",
            52.9512,
            -1.3167,
            2,
            12,
            "open",
        ),
        (
            "Growing Together",
            "plots@growingtogether.example",
            "Community Allotment",
            "Shared plots, seed swaps and a kettle in the shed.",
            &["nature_and_green", "volunteering"],
            "Tamworth Road Allotments",
            "NG10 1BE",
            52.8951,
            -1.2868,
            0,
            15,
            "waitlist",
        ),
        (
            "Erewash Befriending",
            "befriend@erewashbefriending.example",
            "Telephone and Home Befriending",
            "A regular call or visit from a trained volunteer.",
            &["befriending"],
            "Ilkeston Town Hall",
            "DE7 5RP",
            52.9707,
            -1.3093,
            10,
            40,
            "open",
        ),
        (
            "Erewash Money Advice",
            "advice@erewashmoney.example",
            "Debt and Benefits Advice",
            "Free, confidential help with debt, benefits and bills.",
            &["advice_debt", "advice_benefits"],
            "Long Eaton Library",
            "NG10 1JL",
            52.8983,
            -1.2712,
            4,
            25,
            "open",
        ),
        (
            "Long Eaton Welcome",
            "welcome@longeatonwelcome.example",
            "Refugee Welcome Walk",
            "A Saturday walk for people new to the area and their neighbours, with English practice.",
            &["welcome_and_integration", "physical_activity"],
            "West Park Pavilion",
            "NG10 4AA",
            52.8987,
            -1.2832,
            12,
            30,
            "open",
        ),
        (
            "Carers' Cuppa",
            "cuppa@carerscuppa.example",
            "Carers' Cuppa Club",
            "A fortnightly break and a chat for unpaid carers.",
            &["carers"],
            "St Laurence Church Hall",
            "NG10 1DE",
            52.8975,
            -1.2730,
            7,
            20,
            "open",
        ),
        (
            "Art for Wellbeing",
            "studio@art4wellbeing.example",
            "Open Studio",
            "Drop-in painting and printmaking; materials provided.",
            &["arts_and_culture"],
            "Ilkeston Arts Centre",
            "DE7 5HX",
            52.9690,
            -1.3080,
            3,
            10,
            "open",
        ),
        (
            "Erewash Men's Shed",
            "shed@erewashmensshed.example",
            "Men's Shed",
            "Tools, tea and projects for the community.",
            &["volunteering", "mental_health_peer_support"],
            "Sandiacre Industrial Unit 4",
            "NG10 5AL",
            52.9240,
            -1.2900,
            5,
            16,
            "open",
        ),
        (
            "Active Erewash",
            "move@activeerewash.example",
            "Chair-Based Exercise",
            "Seated strength and balance classes for people with long-term conditions.",
            &["physical_activity"],
            "Kirk Hallam Community Centre",
            "DE7 4HH",
            52.9560,
            -1.3250,
            0,
            14,
            "closed",
        ),
        (
            "Erewash Library Service",
            "digital@erewashlibraries.example",
            "Digital Skills Drop-in",
            "Help with phones, tablets and getting online.",
            &["learning"],
            "Ilkeston Library",
            "DE7 5RS",
            52.9713,
            -1.3105,
            9,
            12,
            "open",
        ),
    ];
    let now = Utc::now();
    let mut services = vec![];
    let mut canal_walkers_org = None;
    for (name, mail, service, description, taxonomy, place, postcode, lat, lon, available, maximum, status) in providers
    {
        let provider = org(store, OrganisationKind::Provider, name, None, mail, None).await?;
        if *name == "Canal Walkers" {
            canal_walkers_org = Some(provider.clone());
        }
        let new = NewService {
            organisation: provider.id,
            details: ServiceDetails {
                name: (*service).into(),
                description: (*description).into(),
                email: None,
                url: None,
                status: ServiceStatus::Active,
                taxonomy: taxonomy.iter().map(|t| (*t).into()).collect(),
                min_age: Some(18),
                max_age: None,
                eligibility: Some("Adults living or registered with a GP in Erewash".into()),
                schedule: None,
                places: vec![Place {
                    name: (*place).into(),
                    postcode: Postcode::parse(postcode).ok(),
                    latitude: Some(*lat),
                    longitude: Some(*lon),
                }],
            },
            capacity: Some(Capacity {
                available: *available,
                maximum: *maximum,
                unit: "places".into(),
                status: trellis_domain::directory::CapacityStatus::parse(status)?,
                updated_at: now,
            }),
        };
        services.push(store.create_service(new, now).await?);
    }
    if let Some(cw) = canal_walkers_org {
        user(store, &cw, Role::Provider, DEMO_USERS[3].1, "Gene Walker").await?;
    }
    let locality = Locality {
        gp: actor(&gp),
        other_gps: vec![actor(&gp2), actor(&gp3)],
        link_worker: actor(&link_worker),
        second_link_worker,
        services,
    };
    referrals(store, &locality).await
}

/// A valid synthetic NHS number in the 999 test range.
fn nhs_number(seed: u32) -> anyhow::Result<NhsNumber> {
    (seed * 7..seed * 7 + 50)
        .map(|n| format!("999{:06}", n % 1_000_000))
        .find_map(|stem| (0..=9).find_map(|check| NhsNumber::parse(&format!("{stem}{check}")).ok()))
        .context("no valid NHS number found")
}

async fn referrals(store: &Store, l: &Locality) -> anyhow::Result<()> {
    let people: &[PersonRow] = &[
        (
            "Margaret",
            "Hughes",
            "1946-05-17",
            &[Need::Loneliness, Need::PhysicalActivity],
            "Widowed last year and rarely goes out. Used to love walking.",
            "NG10 1AB",
        ),
        (
            "Dennis",
            "Walsh",
            "1958-11-02",
            &[Need::LowMood, Need::Loneliness],
            "Retired, low since his wife went into care; sang in a choir as a young man.",
            "NG10 3CD",
        ),
        (
            "Amina",
            "Yusuf",
            "1991-02-23",
            &[Need::NewToTheArea, Need::Loneliness],
            "Arrived in the UK this spring; keen to meet people and practise English.",
            "NG10 4EF",
        ),
        (
            "Kevin",
            "Price",
            "1972-07-09",
            &[Need::Debt, Need::LowMood],
            "Behind on rent and council tax since losing his job; not sleeping.",
            "DE7 5GH",
        ),
        (
            "Sheila",
            "Green",
            "1950-03-30",
            &[Need::CarerSupport],
            "Caring full-time for her husband with dementia; needs a break.",
            "NG10 5JK",
        ),
        (
            "Tariq",
            "Hassan",
            "1985-09-14",
            &[Need::LongTermCondition, Need::PhysicalActivity],
            "Type 2 diabetes; wants to get active but is self-conscious at gyms.",
            "DE7 4LM",
        ),
        (
            "Joan",
            "Fletcher",
            "1939-12-01",
            &[Need::Loneliness],
            "Lives alone, family abroad, no visitors most weeks.",
            "DE7 5NP",
        ),
        (
            "Liam",
            "Carter",
            "2001-06-21",
            &[Need::LowMood, Need::EmploymentAndLearning],
            "Anxious since leaving college; would like to learn practical skills.",
            "NG10 5QR",
        ),
        (
            "Patricia",
            "Moore",
            "1962-08-08",
            &[Need::Bereavement, Need::Loneliness],
            "Lost her sister in the winter; finds weekends hard.",
            "NG10 2ST",
        ),
        (
            "George",
            "Allen",
            "1955-04-04",
            &[Need::Housing, Need::Benefits],
            "Damp flat and unsure what benefits he can claim.",
            "DE7 4UV",
        ),
        (
            "Helen",
            "Ward",
            "1968-10-10",
            &[Need::PhysicalActivity, Need::LongTermCondition],
            "COPD; advised gentle exercise.",
            "NG10 1WX",
        ),
    ];
    let now = Utc::now();
    let today = now.date_naive();
    let lw = &l.link_worker;
    let mut ids = vec![];
    for (i, (given, family, dob, needs, reason, postcode)) in people.iter().enumerate() {
        let gp = if i % 4 == 3 { &l.other_gps[i % 2] } else { &l.gp };
        // Joan was referred nine days ago, so her first contact is overdue and the caseload shows the flag.
        let submitted_at = if i == 6 { now - Duration::days(9) } else { now };
        let new = NewReferral {
            person: PersonDetails {
                nhs_number: nhs_number(i as u32 + 11)?,
                given_name: (*given).into(),
                family_name: (*family).into(),
                date_of_birth: NaiveDate::parse_from_str(dob, "%Y-%m-%d")?.min(today),
                phone: PhoneNumber::parse(&format!("0115 496 {:04}", 100 + i)).ok(),
                email: None,
                postcode: Postcode::parse(postcode).ok(),
                preferred_contact: ContactMethod::Phone,
                sex: None,
                ethnic_category: None,
            },
            needs: needs.to_vec(),
            reason: (*reason).into(),
            urgency: if i == 3 { Urgency::Urgent } else { Urgency::Routine },
            consent: Some(Consent { recorded_by: "Referring GP".into(), recorded_at: submitted_at }),
        };
        ids.push(store.submit_referral(new, None, gp, submitted_at).await?.referral.state.id);
    }
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: Some(now + Duration::days(5)) };
    let service =
        |name: &str| l.services.iter().find(|s| s.name.starts_with(name)).map(|s| s.id).context("demo service");
    let contact = |i: usize, v: u32| {
        let id = ids[i];
        async move {
            store
                .transition_referral(
                    id,
                    v,
                    ReferralCommand::RecordContact { note: Some("Long chat about what matters to them.".into()) },
                    lw,
                    now,
                )
                .await
        }
    };
    let assign = ReferralCommand::Assign { to: l.second_link_worker.id };
    store.transition_referral(ids[5], 1, assign, lw, now).await?;

    // Margaret: contacted, offered the canal walk, accepted and attending.
    contact(0, 1).await?;
    let walk = store
        .make_offer(
            OfferRequest::new(ids[0], service("Canal Walkers")?, timers)
                .at_version(2)
                .with_note(Some("Loved walking before her husband died; a slow pace suits her.".into())),
            lw,
            now,
        )
        .await?;
    let provider = Actor::provider_link(walk.state.provider_organisation);
    let accepted = store.transition_offer(walk.state.id, 1, OfferCommand::Accept, &provider, now).await?;
    store.transition_offer(walk.state.id, accepted.state.version, OfferCommand::Start, &provider, now).await?;
    // Dennis: contacted, offered the choir (waiting for an answer).
    contact(1, 1).await?;
    store
        .make_offer(
            OfferRequest::new(ids[1], service("Towpath Voices")?, timers)
                .at_version(2)
                .with_note(Some("Sang as a young man; a bit shy at first.".into())),
            lw,
            now,
        )
        .await?;
    // Amina: contacted; the allotment declined (at capacity); the welcome walk accepted.
    contact(2, 1).await?;
    let plots = store
        .make_offer(OfferRequest::new(ids[2], service("Community Allotment")?, timers).at_version(2), lw, now)
        .await?;
    let plots_provider = Actor::provider_link(plots.state.provider_organisation);
    store
        .transition_offer(
            plots.state.id,
            1,
            OfferCommand::Decline { reason: DeclineReason::AtCapacity, note: Some("Full until spring".into()) },
            &plots_provider,
            now,
        )
        .await?;
    let welcome = store
        .make_offer(
            OfferRequest::new(ids[2], service("Refugee Welcome Walk")?, timers)
                .at_version(2)
                .with_note(Some("Keen to practise English.".into())),
            lw,
            now,
        )
        .await?;
    store
        .transition_offer(
            welcome.state.id,
            1,
            OfferCommand::Accept,
            &Actor::provider_link(welcome.state.provider_organisation),
            now,
        )
        .await?;
    // Kevin: urgent, contacted, waitlisted at money advice.
    contact(3, 1).await?;
    let money = store
        .make_offer(OfferRequest::new(ids[3], service("Debt and Benefits")?, timers).at_version(2), lw, now)
        .await?;
    store
        .transition_offer(
            money.state.id,
            1,
            OfferCommand::Waitlist,
            &Actor::provider_link(money.state.provider_organisation),
            now,
        )
        .await?;
    // Sheila: closed, completed after the carers' club.
    contact(4, 1).await?;
    let cuppa =
        store.make_offer(OfferRequest::new(ids[4], service("Carers' Cuppa")?, timers).at_version(2), lw, now).await?;
    let cuppa_provider = Actor::provider_link(cuppa.state.provider_organisation);
    let v = store.transition_offer(cuppa.state.id, 1, OfferCommand::Accept, &cuppa_provider, now).await?.state.version;
    let v = store.transition_offer(cuppa.state.id, v, OfferCommand::Start, &cuppa_provider, now).await?.state.version;
    store.transition_offer(cuppa.state.id, v, OfferCommand::Finish, &cuppa_provider, now).await?;
    // Completed with no second wellbeing measure: the closure says why (the demo records no measures).
    store
        .close_referral(
            ids[4],
            3,
            ClosureReason::Completed,
            Some(Note { text: "Goes every fortnight and has made friends.".into(), for_gp: true }),
            Some(trellis_domain::wellbeing::NoFollowUpReason::NotOffered),
            lw,
            now,
        )
        .await?;
    // Liam: contact attempt logged, then declined social prescribing.
    store
        .transition_referral(
            ids[7],
            1,
            ReferralCommand::RecordContactAttempt { note: Some("No answer; left a voicemail.".into()) },
            lw,
            now,
        )
        .await?;
    store
        .transition_referral(
            ids[7],
            2,
            ReferralCommand::Close { reason: ClosureReason::DeclinedByPerson, note: None },
            lw,
            now,
        )
        .await?;
    // Patricia: contacted, befriending finished early, back to contacted.
    contact(8, 1).await?;
    let befriend = store
        .make_offer(OfferRequest::new(ids[8], service("Telephone and Home")?, timers).at_version(2), lw, now)
        .await?;
    let befriend_provider = Actor::provider_link(befriend.state.provider_organisation);
    let v = store
        .transition_offer(befriend.state.id, 1, OfferCommand::Accept, &befriend_provider, now)
        .await?
        .state
        .version;
    store.transition_offer(befriend.state.id, v, OfferCommand::Start, &befriend_provider, now).await?;
    store
        .transition_referral(
            ids[8],
            3,
            ReferralCommand::EndActivity { note: Some("Volunteer moved away; wants another connection.".into()) },
            lw,
            now,
        )
        .await?;
    // Helen: withdrawn by her practice before contact.
    let helen_gp = l.gp;
    store
        .transition_referral(
            ids[10],
            1,
            ReferralCommand::Close {
                reason: ClosureReason::WithdrawnByReferrer,
                note: Some("Referred to pulmonary rehab instead.".into()),
            },
            &helen_gp,
            now,
        )
        .await?;
    // Tariq, Joan and George stay referred (Joan overdue, Tariq assigned to Tom).
    history(store, l).await
}

/// Earlier months of work, so the network view has flows worth looking at: more people from all three
/// practices offered across the network, with every kind of answer, and providers passing people on.
async fn history(store: &Store, l: &Locality) -> anyhow::Result<()> {
    // (service name prefix, what happened) for each earlier person, cycling through the practices.
    let plan: &[(&str, Outcome)] = &[
        ("Canal Walkers", Outcome::Finished),
        ("Canal Walkers", Outcome::Finished),
        ("Canal Walkers", Outcome::Declined(DeclineReason::AtCapacity)),
        ("Towpath Voices", Outcome::Finished),
        ("Towpath Voices", Outcome::Started),
        ("Woodland Wellbeing", Outcome::Finished),
        ("Woodland Wellbeing", Outcome::Declined(DeclineReason::NotSuitable)),
        ("Community Allotment", Outcome::Declined(DeclineReason::AtCapacity)),
        ("Community Allotment", Outcome::Declined(DeclineReason::AtCapacity)),
        ("Telephone and Home", Outcome::Finished),
        ("Telephone and Home", Outcome::Finished),
        ("Telephone and Home", Outcome::Started),
        ("Debt and Benefits", Outcome::Finished),
        ("Debt and Benefits", Outcome::Onward("Telephone and Home")),
        ("Refugee Welcome Walk", Outcome::Onward("Digital Skills")),
        ("Refugee Welcome Walk", Outcome::Finished),
        ("Carers' Cuppa", Outcome::Finished),
        ("Open Studio", Outcome::Declined(DeclineReason::NotEligible)),
        ("Open Studio", Outcome::Started),
        ("Men's Shed", Outcome::Onward("Towpath Voices")),
        ("Chair-Based Exercise", Outcome::Declined(DeclineReason::AtCapacity)),
        ("Chair-Based Exercise", Outcome::Expired),
        ("Digital Skills", Outcome::Finished),
        ("Canal Walkers", Outcome::Onward("Woodland Wellbeing")),
    ];
    let now = Utc::now();
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    let lw = &l.link_worker;
    let gps: Vec<&Actor> = std::iter::once(&l.gp).chain(l.other_gps.iter()).collect();
    let service = |name: &str| l.services.iter().find(|s| s.name.starts_with(name)).context("demo service");
    for (i, (name, outcome)) in plan.iter().enumerate() {
        // Spread over the last three months; providers take from a few hours to a few days to answer.
        let referred_at = now - Duration::days(85 - 3 * i as i64);
        let offered_at = referred_at + Duration::days(2);
        let answered_at = offered_at + Duration::hours([3, 20, 6, 48, 30, 96][i % 6]);
        let gp = gps[i % gps.len()];
        let new = NewReferral {
            person: PersonDetails {
                nhs_number: nhs_number(100 + i as u32)?,
                given_name: ["Alan", "Beryl", "Colin", "Doreen", "Errol", "Fatima", "Gordon", "Hazel"][i % 8].into(),
                family_name: ["Archer", "Bennett", "Clarke", "Dixon", "Evans", "Foster"][i % 6].into(),
                date_of_birth: NaiveDate::from_ymd_opt(
                    1940 + (i as i32 * 3) % 60,
                    1 + (i as u32 % 12),
                    1 + (i as u32 % 28),
                )
                .context("date")?,
                phone: PhoneNumber::parse(&format!("0115 496 {:04}", 300 + i)).ok(),
                email: None,
                postcode: None,
                preferred_contact: ContactMethod::Phone,
                // Recorded for most, as a practice would: the reports count them by group.
                sex: [Some(Sex::Female), Some(Sex::Male), Some(Sex::Female), None][i % 4],
                ethnic_category: [
                    Some(EthnicCategory::WhiteBritish),
                    Some(EthnicCategory::AsianIndian),
                    Some(EthnicCategory::WhiteBritish),
                    Some(EthnicCategory::BlackCaribbean),
                    None,
                ][i % 5],
            },
            needs: vec![[Need::Loneliness, Need::LowMood, Need::PhysicalActivity, Need::Debt][i % 4]],
            reason: "Earlier referral in the demo history.".into(),
            urgency: Urgency::Routine,
            consent: Some(Consent { recorded_by: "Referring GP".into(), recorded_at: referred_at }),
        };
        let id = store.submit_referral(new, None, gp, referred_at).await?.referral.state.id;
        let contacted_at = referred_at + Duration::days(1);
        store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, lw, contacted_at).await?;
        let svc = service(name)?;
        let offer = store.make_offer(OfferRequest::new(id, svc.id, timers).at_version(2), lw, offered_at).await?;
        let provider = Actor::provider_link(offer.state.provider_organisation);
        let (offer_id, mut v) = (offer.state.id, 1);
        let mut step = |command: OfferCommand, actor: Actor| {
            let (current, at) = (v, answered_at + Duration::days(i64::from(v) - 1));
            v += 1;
            async move { store.transition_offer(offer_id, current, command, &actor, at).await }
        };
        match outcome {
            Outcome::Declined(reason) => {
                step(OfferCommand::Decline { reason: *reason, note: None }, provider).await?;
            }
            Outcome::Expired => {
                step(OfferCommand::Expire, Actor::system()).await?;
            }
            Outcome::Started | Outcome::Finished | Outcome::Onward(_) => {
                step(OfferCommand::Accept, provider).await?;
                step(OfferCommand::Start, provider).await?;
                if matches!(outcome, Outcome::Finished) {
                    step(OfferCommand::Finish, provider).await?;
                }
                if let Outcome::Onward(next) = outcome {
                    let next = service(next)?;
                    let passed_on_at = answered_at + Duration::days(7);
                    store
                        .make_offer(
                            OfferRequest::new(id, next.id, timers)
                                .with_note(Some("Would enjoy this too.".into()))
                                .onward_from(offer_id),
                            &provider,
                            passed_on_at,
                        )
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// What happened to an earlier demo offer.
#[derive(Clone, Copy)]
enum Outcome {
    Declined(DeclineReason),
    Expired,
    Started,
    Finished,
    /// Accepted, attended, and passed on to another service.
    Onward(&'static str),
}
