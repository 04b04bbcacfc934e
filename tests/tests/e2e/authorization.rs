//! Least privilege, through the real server on SQLite and PostgreSQL.
//!
//! **The matrix**: every query and mutation of the schema × every caller (each role, for its own
//! organisation and for another; anonymous; and a provider's email link presented as a bearer token) →
//! the outcome the roles table of docs/domain.md gives, written out as a literal table. Each cell acts on data made
//! for it alone, so a caller that is allowed to change something never changes what the next caller
//! sees. A denial changes nothing, and a denial of data the caller may not read reveals nothing: its
//! answer (status, code and message) is the one an id that does not exist gets.
//!
//! **Cut-off keys**: a revoked key, an expired key and a disabled user's key are refused every row of the
//! table with `UNAUTHENTICATED` and change nothing, though the revoked and disabled ones were just in use.
//!
//! **Provider links**: a link acts on its own offer and no other, is refused once expired (however it
//! was used before), shows contact details only in answer to its acceptance and to that browser for
//! minutes, stops once the first attendance is confirmed or a week after acceptance, and guessing at
//! links is limited per client address and audited, without a valid link ever being locked out.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use trellis_domain::offer::{OfferCommand, OfferStatus};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::referral::ReferralCommand;
use trellis_domain::values::EmailAddress;
use trellis_domain::{OfferId, ReferralId, Role};
use trellis_store::accounts::{NewOrganisation, NewUser};
use trellis_store::audit::AuditFilter;
use trellis_store::links::LinkScope;
use trellis_store::notices::offer_reference;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::testing::plain_service;
use trellis_tests::console::session_for;
use trellis_tests::link_pages::{LinkPages, Page, get, post, same_origin};
use trellis_tests::{Fixture, GqlResponse, TestApp, on_both_databases};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------------------
// Who calls.

/// Every caller, in the order of each row's expectations.
const CALLERS: [&str; 10] = [
    "gp",
    "other_gp",
    "link_worker",
    "other_link_worker",
    "provider",
    "other_provider",
    "network_lead",
    "admin",
    "anonymous",
    "email_link",
];

/// Allowed; for a list, the subject is in it.
const OK: &str = "ok";
/// Allowed, but the subject (another organisation's) is not in the list.
const NONE: &str = "ok, without it";
/// As if it did not exist: the same answer as for an id that does not.
const NF: &str = "NOT_FOUND";
/// The role may not do this: the same answer whatever the id.
const DENY: &str = "FORBIDDEN";
/// The caller may read the subject but not do this to it, so it may know it exists: `FORBIDDEN`.
const SEEN: &str = "FORBIDDEN (visible to it)";
/// No valid bearer token.
const ANON: &str = "UNAUTHENTICATED";
/// The caller may act on the subject, but not in the state it is in (its referral has closed):
/// `INVALID_TRANSITION`, so it may know it exists.
const BAD: &str = "INVALID_TRANSITION";
/// Allowed, but made against a version that is not the current one: refused, nothing changed.
const STALE: &str = "CONFLICT";

/// The code a cell's expectation stands for.
fn expected_code(expect: &str) -> &str {
    if expect == SEEN { DENY } else { expect }
}

// ---------------------------------------------------------------------------------------------------------
// What a cell acts on.

/// How far a referral has gone.
#[derive(Clone, Copy, Debug)]
enum Stage {
    Referred,
    Contacted,
    Attending,
}

/// The data a row's caller acts on, made afresh for each cell; `$id` in the row's document is its id.
#[derive(Clone, Copy, Debug)]
enum Subject {
    /// Nobody's data in particular.
    Nothing,
    /// A referral from the fixture's practice to its link worker service.
    Referral(Stage),
    /// A contacted referral with an offer to the fixture's provider: the referral's id.
    ReferralWithOffer,
    /// An offer from the fixture's link worker service to the fixture's provider, answered or not.
    Offer { accepted: bool },
    /// The fixture's provider organisation.
    Provider,
    /// A new service of the fixture's provider.
    Service,
    /// The fixture's walking group.
    WalkingGroup,
    /// A new API key of the fixture's GP (not the one the GP calls with).
    GpKey,
    /// A contacted referral that the link worker has closed (version 3).
    ClosedReferral,
    /// An offer whose referral the link worker closed after the offer was made (and accepted or not),
    /// which ended it. `left_open` puts it back the way closing left offers before it ended them
    /// (offered or accepted), so that the rule about the closed referral is what refuses.
    OfferOfClosedReferral { accepted: bool, left_open: bool },
    /// A referral flagged because its person's details differ from those its link worker service already
    /// held for the NHS number.
    FlaggedReferral,
    /// The fixture's practice.
    Practice,
    /// A new GP user at the other practice (no caller's own account).
    NewUser,
}

/// One operation tried by every caller.
struct Row {
    /// The field of `Query` or `Mutation`.
    op: &'static str,
    /// What is tried, where an operation has more than one row.
    case: &'static str,
    subject: Subject,
    document: &'static str,
    /// The variables, from the world, the subject's id and a number unique to the cell.
    variables: fn(&World, &str, usize) -> Value,
    /// One per caller, in [`CALLERS`] order.
    expect: [&'static str; 10],
}

fn id_only(_: &World, id: &str, _: usize) -> Value {
    json!({ "id": id })
}

fn nothing(_: &World, _: &str, _: usize) -> Value {
    json!({})
}

/// The table. Callers: gp, other_gp, link_worker, other_link_worker, provider, other_provider,
/// network_lead, admin, anonymous, email_link.
fn rows() -> Vec<Row> {
    use Subject::*;
    vec![
        // ----- Queries -----------------------------------------------------------------------------------
        Row {
            op: "me",
            case: "",
            subject: Nothing,
            document: "{ me { user { id role } organisation { id } } }",
            variables: nothing,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        Row {
            op: "referrals",
            case: "a practice's referral in the caseload",
            subject: Referral(Stage::Referred),
            document: "{ referrals(first: 5) { edges { node { id } } } }",
            variables: nothing,
            expect: [OK, NONE, OK, NONE, DENY, DENY, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "referral",
            case: "one with an offer to the provider",
            subject: ReferralWithOffer,
            document: "query($id: ID!) { referral(id: $id) { id person { nhsNumber } } }",
            variables: id_only,
            expect: [OK, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "offer",
            case: "",
            subject: Offer { accepted: false },
            document: "query($id: ID!) { offer(id: $id) { id status } }",
            variables: id_only,
            expect: [NF, NF, OK, NF, OK, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "providerOffers",
            case: "",
            subject: Offer { accepted: false },
            document: "{ providerOffers(first: 100) { edges { node { firstName offer { id } } } } }",
            variables: nothing,
            expect: [DENY, DENY, DENY, DENY, OK, NONE, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "services",
            case: "the directory",
            subject: Service,
            document: "{ services { id } }",
            variables: nothing,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        Row {
            op: "organisations",
            case: "the provider among them",
            subject: Provider,
            document: "{ organisations { id } }",
            variables: nothing,
            expect: [NONE, NONE, NONE, NONE, OK, NONE, OK, OK, ANON, ANON],
        },
        Row {
            op: "users",
            case: "of the caller's own organisation",
            subject: Nothing,
            document: "{ users { id } }",
            variables: nothing,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        Row {
            op: "users",
            case: "of the provider",
            subject: Provider,
            document: "query($id: ID!) { users(organisationId: $id) { id organisationId } }",
            variables: id_only,
            expect: [NF, NF, NF, NF, OK, NF, OK, OK, ANON, ANON],
        },
        Row {
            // Keys are their user's and the admin's: the network lead lists users but not their keys.
            op: "users",
            case: "of the GP's practice, with their API keys",
            subject: Practice,
            document: "query($id: ID!) { users(organisationId: $id) { organisationId apiKeys { id } } }",
            variables: id_only,
            expect: [OK, NF, NF, NF, NF, NF, SEEN, OK, ANON, ANON],
        },
        Row {
            op: "me",
            case: "with its own API keys",
            subject: Nothing,
            document: "{ me { apiKeys { id label lastUsedAt expiresAt revoked } } }",
            variables: nothing,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        Row {
            op: "auditLog",
            case: "",
            subject: Nothing,
            document: "{ auditLog(first: 1) { edges { node { action } } } }",
            variables: nothing,
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, OK, OK, ANON, ANON],
        },
        Row {
            // Import reports are the directory's, which the network lead manages; no one else reads them.
            op: "importRuns",
            case: "",
            subject: Nothing,
            document: "{ importRuns(first: 1) { edges { node { outcome } } } }",
            variables: nothing,
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, OK, DENY, ANON, ANON],
        },
        Row {
            // The directory's public vocabulary (the Open Referral UK API serves it with no token); a bearer
            // token that does not resolve is still refused, never taken for anonymous.
            op: "taxonomyTerms",
            case: "",
            subject: Nothing,
            document: "{ taxonomyTerms }",
            variables: nothing,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, OK, ANON],
        },
        Row {
            op: "service",
            case: "",
            subject: Service,
            document: "query($id: ID!) { service(id: $id) { id } }",
            variables: id_only,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        Row {
            op: "organisationServices",
            case: "the provider's",
            subject: Provider,
            document: "query($id: ID!) { organisationServices(organisationId: $id) { id organisationId } }",
            variables: id_only,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        Row {
            op: "findServices",
            case: "",
            subject: WalkingGroup,
            document: "{ findServices(needs: [PHYSICAL_ACTIVITY], first: 100) { service { id } } }",
            variables: nothing,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        Row {
            // docs/domain.md: network leads and link workers see the network; the admin manages accounts.
            op: "network",
            case: "",
            subject: Provider,
            document: "query($area: ID!) { network(area: { linkWorkerServiceIds: [$area] }) { organisations { id } } }",
            variables: |w, _, _| json!({ "area": w.link_worker_service }),
            expect: [DENY, DENY, OK, OK, DENY, DENY, OK, DENY, ANON, ANON],
        },
        Row {
            // docs/domain.md: reports are the network lead's, aggregates only (access::REPORT_VIEWERS).
            op: "impactReport",
            case: "",
            subject: Nothing,
            document: "{ impactReport(period: { from: \"2026-01-01\", to: \"2026-12-31\" }) { tables { name } } }",
            variables: nothing,
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, OK, DENY, ANON, ANON],
        },
        // ----- Mutations: referrals ---------------------------------------------------------------------
        Row {
            op: "submitReferral",
            case: "to the caller's own service",
            subject: Nothing,
            document: "mutation($input: SubmitReferralInput!) { submitReferral(input: $input) { referral { id } } }",
            variables: |_, _, n| submit_input(n),
            expect: [OK, OK, OK, OK, DENY, DENY, DENY, DENY, ANON, ANON],
        },
        Row {
            // A link worker may close with any reason, the referrer's withdrawal among them.
            op: "withdrawReferral",
            case: "",
            subject: Referral(Stage::Referred),
            document: "mutation($id: ID!) { withdrawReferral(input: { referralId: $id, expectedVersion: 1 }) { referral { id status } } }",
            variables: id_only,
            expect: [OK, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "assignReferral",
            case: "",
            subject: Referral(Stage::Referred),
            document: "mutation($id: ID!, $lw: ID!) { assignReferral(input: { referralId: $id, expectedVersion: 1, linkWorkerId: $lw }) { referral { id assignedToId } } }",
            variables: |w, id, _| json!({ "id": id, "lw": w.link_worker }),
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "recordContactAttempt",
            case: "",
            subject: Referral(Stage::Referred),
            document: "mutation($id: ID!) { recordContactAttempt(input: { referralId: $id, expectedVersion: 1, note: \"No answer\" }) { referral { id version } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "recordContact",
            case: "",
            subject: Referral(Stage::Referred),
            document: "mutation($id: ID!) { recordContact(input: { referralId: $id, expectedVersion: 1 }) { referral { id status } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            // A provider confirms attendance through its offer (`updateOffer`), not the referral.
            op: "recordAttendance",
            case: "",
            subject: Referral(Stage::Contacted),
            document: "mutation($id: ID!) { recordAttendance(input: { referralId: $id, expectedVersion: 2 }) { referral { id status } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "endActivity",
            case: "",
            subject: Referral(Stage::Attending),
            document: "mutation($id: ID!) { endActivity(input: { referralId: $id, expectedVersion: 3 }) { referral { id status } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "closeReferral",
            case: "completed",
            subject: Referral(Stage::Contacted),
            document: "mutation($id: ID!) { closeReferral(input: { referralId: $id, expectedVersion: 2, reason: COMPLETED, noFollowUpReason: NOT_OFFERED }) { referral { id status } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            // Version 3 is the closure, whose note the link worker wrote.
            op: "markNoteForGp",
            case: "the closing note, after closure",
            subject: ClosedReferral,
            document: "mutation($id: ID!) { markNoteForGp(input: { referralId: $id, eventVersion: 3, forGp: true }) { referral { id } corrections { version } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        // ----- The plan and wellbeing measures ----------------------------------------------------------
        Row {
            op: "updatePlan",
            case: "",
            subject: Referral(Stage::Contacted),
            document: "mutation($id: ID!) { updatePlan(input: { referralId: $id, expectedVersion: 2, whatMatters: \"Walking\", personAgreed: true }) { referral { id } plan { version } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "recordMeasure",
            case: "",
            subject: Referral(Stage::Contacted),
            document: "mutation($id: ID!, $at: DateTime!) { recordMeasure(input: { referralId: $id, expectedVersion: 2, instrument: ONS4, answers: [5, 5, 5, 5], takenAt: $at }) { referral { id } measure { id } } }",
            variables: |_, id, _| json!({ "id": id, "at": Utc::now().to_rfc3339() }),
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "referral",
            case: "its plan, while open",
            subject: ReferralWithOffer,
            document: "query($id: ID!) { referral(id: $id) { id plan { version } planHistory { version } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "referral",
            case: "its plan summary and measures, while open",
            subject: ReferralWithOffer,
            document: "query($id: ID!) { referral(id: $id) { id planSummary { whatMatters } measures { id } wellbeingChange { instrument } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        Row {
            op: "instruments",
            case: "",
            subject: Nothing,
            document: "{ instruments { code items { key wording } } }",
            variables: nothing,
            expect: [OK, OK, OK, OK, OK, OK, OK, OK, ANON, ANON],
        },
        // ----- Mutations: offers ------------------------------------------------------------------------
        Row {
            op: "offerReferral",
            case: "to the walking group",
            subject: Referral(Stage::Contacted),
            document: "mutation($id: ID!, $service: ID!) { offerReferral(input: { referralId: $id, expectedVersion: 2, serviceId: $service }) { offer { referralId } } }",
            variables: |w, id, _| json!({ "id": id, "service": w.walking_group }),
            expect: [DENY, DENY, OK, NF, DENY, DENY, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "respondToOffer",
            case: "waitlist",
            subject: Offer { accepted: false },
            document: "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 1, response: WAITLIST }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, OK, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "updateOffer",
            case: "the person attended",
            subject: Offer { accepted: true },
            document: "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 2, update: START }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, OK, NF, OK, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "updateOffer",
            case: "withdraw",
            subject: Offer { accepted: false },
            document: "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 1, update: WITHDRAW }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, OK, NF, SEEN, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "proposeOnwardOffer",
            case: "to another provider's service",
            subject: Offer { accepted: true },
            document: "mutation($id: ID!, $service: ID!) { proposeOnwardOffer(input: { fromOfferId: $id, serviceId: $service }) { offer { partOfId } } }",
            variables: |w, id, _| json!({ "id": id, "service": w.other_provider_service }),
            expect: [DENY, DENY, DENY, DENY, OK, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "resolvePersonDetails",
            case: "keep the details the service held",
            subject: FlaggedReferral,
            document: "mutation($id: ID!) { resolvePersonDetails(input: { referralId: $id, expectedVersion: 1, keep: HELD }) { referral { id flag } } }",
            variables: id_only,
            expect: [SEEN, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
        },
        // ----- State-dependent cells: every offer action once the offer's referral has closed -------------
        Row {
            op: "respondToOffer",
            case: "accept, the referral closed (which withdrew the offer)",
            subject: OfferOfClosedReferral { accepted: false, left_open: false },
            document: "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 2, response: ACCEPT }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "respondToOffer",
            case: "accept, the referral closed with the offer left open",
            subject: OfferOfClosedReferral { accepted: false, left_open: true },
            document: "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 2, response: ACCEPT }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "respondToOffer",
            case: "waitlist, the referral closed with the offer left open",
            subject: OfferOfClosedReferral { accepted: false, left_open: true },
            document: "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 2, response: WAITLIST }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "respondToOffer",
            case: "decline, the referral closed",
            subject: OfferOfClosedReferral { accepted: false, left_open: false },
            document: "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 2, response: DECLINE, declineReason: AT_CAPACITY }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "updateOffer",
            case: "the person attended, the referral closed",
            subject: OfferOfClosedReferral { accepted: true, left_open: false },
            document: "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 3, update: START }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, BAD, NF, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "updateOffer",
            case: "the person attended, the referral closed with the offer left accepted",
            subject: OfferOfClosedReferral { accepted: true, left_open: true },
            document: "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 3, update: START }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, BAD, NF, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "updateOffer",
            case: "finish, the referral closed",
            subject: OfferOfClosedReferral { accepted: true, left_open: false },
            document: "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 3, update: FINISH }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, BAD, NF, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "updateOffer",
            case: "end early, the referral closed",
            subject: OfferOfClosedReferral { accepted: true, left_open: false },
            document: "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 3, update: END_EARLY }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, BAD, NF, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "updateOffer",
            case: "withdraw, the referral closed",
            subject: OfferOfClosedReferral { accepted: false, left_open: false },
            document: "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 2, update: WITHDRAW }) { offer { id status } } }",
            variables: id_only,
            expect: [DENY, DENY, BAD, NF, SEEN, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "proposeOnwardOffer",
            case: "the referral closed with the offer left accepted",
            subject: OfferOfClosedReferral { accepted: true, left_open: true },
            document: "mutation($id: ID!, $service: ID!) { proposeOnwardOffer(input: { fromOfferId: $id, serviceId: $service }) { offer { partOfId } } }",
            variables: |w, id, _| json!({ "id": id, "service": w.other_provider_service }),
            expect: [DENY, DENY, DENY, DENY, BAD, NF, DENY, DENY, ANON, ANON],
        },
        Row {
            op: "recordAttendance",
            case: "the referral closed",
            subject: ClosedReferral,
            document: "mutation($id: ID!) { recordAttendance(input: { referralId: $id, expectedVersion: 3 }) { referral { id status } } }",
            variables: id_only,
            expect: [SEEN, NF, BAD, NF, NF, NF, NF, NF, ANON, ANON],
        },
        // ----- Mutations: organisations, users and keys ---------------------------------------------------
        Row {
            op: "createOrganisation",
            case: "a provider (the directory)",
            subject: Nothing,
            document: "mutation($name: String!) { createOrganisation(input: { kind: PROVIDER, name: $name }) { organisation { id } } }",
            variables: |_, _, n| json!({ "name": format!("Community group {n}") }),
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, OK, OK, ANON, ANON],
        },
        Row {
            op: "updateOrganisation",
            case: "the practice's MESH mailbox",
            subject: Practice,
            document: "mutation($id: ID!) { updateOrganisation(input: { organisationId: $id, meshMailboxId: \"X26ABC2\" }) { organisation { id meshMailboxId } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        Row {
            op: "createOrganisation",
            case: "a link worker service",
            subject: Nothing,
            document: "mutation($name: String!) { createOrganisation(input: { kind: LINK_WORKER_SERVICE, name: $name }) { organisation { id } } }",
            variables: |_, _, n| json!({ "name": format!("PCN link workers {n}") }),
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        Row {
            // Only the admin: a token for a role reads what that role reads.
            op: "createUser",
            case: "a provider user",
            subject: Provider,
            document: "mutation($id: ID!, $email: String!) { createUser(input: { organisationId: $id, role: PROVIDER, email: $email, name: \"New\" }) { user { organisationId } } }",
            variables: |_, id, n| json!({ "id": id, "email": format!("user{n}@greenspring.example") }),
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        Row {
            op: "createUser",
            case: "an administrator",
            subject: Nothing,
            document: "mutation($org: ID!, $email: String!) { createUser(input: { organisationId: $org, role: ADMIN, email: $email, name: \"New\" }) { user { id } } }",
            variables: |w, _, n| json!({ "org": w.locality, "email": format!("admin{n}@derbyshire.example") }),
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        Row {
            op: "revokeApiKey",
            case: "the GP's",
            subject: GpKey,
            document: "mutation($id: ID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { id revokedAt } } }",
            variables: id_only,
            expect: [OK, NF, NF, NF, NF, NF, NF, OK, ANON, ANON],
        },
        Row {
            // A user may only rotate its own key (tested in accounts.rs); another user's is the admin's.
            op: "issueApiKey",
            case: "for another user",
            subject: NewUser,
            document: "mutation($id: ID!) { issueApiKey(input: { userId: $id, label: \"spare\" }) { apiKey { userId } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        Row {
            op: "disableUser",
            case: "",
            subject: NewUser,
            document: "mutation($id: ID!) { disableUser(input: { userId: $id }) { user { id disabledAt } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        Row {
            op: "enableUser",
            case: "",
            subject: NewUser,
            document: "mutation($id: ID!) { enableUser(input: { userId: $id }) { user { id disabledAt } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        Row {
            op: "changeUserEmail",
            case: "",
            subject: NewUser,
            document: "mutation($id: ID!, $email: String!) { changeUserEmail(input: { userId: $id, email: $email }) { user { id email } } }",
            variables: |_, id, n| json!({ "id": id, "email": format!("moved{n}@derbyroad.example") }),
            expect: [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK, ANON, ANON],
        },
        // ----- Mutations: the directory -----------------------------------------------------------------
        Row {
            op: "createService",
            case: "for the provider",
            subject: Provider,
            document: "mutation($id: ID!, $name: String!) { createService(input: { organisationId: $id, name: $name, description: \"Weekly\", taxonomy: [] }) { service { organisationId } } }",
            variables: |_, id, n| json!({ "id": id, "name": format!("Group {n}") }),
            expect: [DENY, DENY, DENY, DENY, OK, DENY, OK, DENY, ANON, ANON],
        },
        Row {
            // Services are directory data every signed-in caller reads: another provider is told it may not.
            op: "updateService",
            case: "",
            subject: Service,
            document: "mutation($id: ID!, $name: String!) { updateService(input: { serviceId: $id, expectedVersion: 1, name: $name }) { service { id name } } }",
            variables: |_, id, n| json!({ "id": id, "name": format!("Renamed {n}") }),
            // An admin may call updateService (for a service's email) and sees the directory like everyone.
            expect: [DENY, DENY, DENY, DENY, OK, SEEN, OK, SEEN, ANON, ANON],
        },
        Row {
            op: "updateService",
            case: "email: where its offers and their links go",
            subject: Service,
            document: "mutation($id: ID!, $email: String!) { updateService(input: { serviceId: $id, expectedVersion: 1, email: $email }) { service { id } } }",
            variables: |_, id, n| json!({ "id": id, "email": format!("moved{n}@elsewhere.example") }),
            // Not the network lead: only the provider itself, or an admin.
            expect: [DENY, DENY, DENY, DENY, OK, SEEN, SEEN, OK, ANON, ANON],
        },
        Row {
            op: "updateService",
            case: "from a stale version",
            subject: Service,
            document: "mutation($id: ID!, $name: String!) { updateService(input: { serviceId: $id, expectedVersion: 7, name: $name }) { service { id name } } }",
            variables: |_, id, n| json!({ "id": id, "name": format!("Renamed {n}") }),
            // An admin may call updateService (for the email only), so its refusal to rename is SEEN.
            expect: [DENY, DENY, DENY, DENY, STALE, SEEN, STALE, SEEN, ANON, ANON],
        },
        Row {
            op: "updateServiceCapacity",
            case: "",
            subject: Service,
            document: "mutation($id: ID!) { updateServiceCapacity(input: { serviceId: $id, expectedVersion: 1, available: 3, maximum: 10, status: OPEN }) { service { id } } }",
            variables: id_only,
            expect: [DENY, DENY, DENY, DENY, OK, SEEN, OK, DENY, ANON, ANON],
        },
        Row {
            op: "updateServiceCapacity",
            case: "from a stale version",
            subject: Service,
            document: "mutation($id: ID!) { updateServiceCapacity(input: { serviceId: $id, expectedVersion: 7, available: 3, maximum: 10, status: OPEN }) { service { id } } }",
            variables: id_only,
            // An admin may call updateService (for the email only), so its refusal to rename is SEEN.
            expect: [DENY, DENY, DENY, DENY, STALE, SEEN, STALE, SEEN, ANON, ANON],
        },
    ]
}

fn submit_input(n: usize) -> Value {
    json!({ "input": {
        "idempotencyKey": format!("matrix-{n}"),
        "person": {
            "nhsNumber": "943 476 5919", "givenName": "Margaret", "familyName": "Hughes", "dateOfBirth": "1948-05-17",
            "preferredContact": "PHONE", "phone": "0115 496 0123"
        },
        "needs": ["LONELINESS"],
        "reason": "Rarely goes out.",
        "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": (Utc::now() - Duration::hours(1)).to_rfc3339() }
    }})
}

// ---------------------------------------------------------------------------------------------------------
// The world the matrix runs in.

/// The running app, a second provider, and a token for every caller.
struct World {
    app: TestApp,
    callers: Vec<Option<String>>,
    link_worker: String,
    link_worker_service: String,
    locality: String,
    walking_group: String,
    other_provider_service: String,
}

const NHS: &str = "9434765919";

async fn referral(app: &TestApp, stage: Stage) -> ReferralId {
    let f = &app.fixture;
    let now = Utc::now();
    let id =
        app.store.submit_referral(f.referral(NHS), None, &Fixture::actor(&f.gp), now).await.unwrap().referral.state.id;
    let lw = Fixture::actor(&f.link_worker);
    if matches!(stage, Stage::Contacted | Stage::Attending) {
        app.store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, now).await.unwrap();
    }
    if matches!(stage, Stage::Attending) {
        let attended = ReferralCommand::RecordAttendance { evidence: None, note: None };
        app.store.transition_referral(id, 2, attended, &lw, now).await.unwrap();
    }
    id
}

/// An offer of a new contacted referral to the walking group, accepted by its provider or not.
async fn offer(app: &TestApp, accepted: bool) -> (ReferralId, OfferId) {
    let f = &app.fixture;
    let referral = referral(app, Stage::Contacted).await;
    let now = Utc::now();
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    let lw = Fixture::actor(&f.link_worker);
    let made = app
        .store
        .make_offer(
            OfferRequest::new(referral, f.walking_group.id, timers).at_version(2).with_note(Some("Keen walker".into())),
            &lw,
            now,
        )
        .await
        .unwrap();
    let id = made.state.id;
    if accepted {
        let provider = Fixture::actor(&f.provider_user);
        app.store.transition_offer(id, 1, OfferCommand::Accept, &provider, now).await.unwrap();
    }
    (referral, id)
}

/// A new service of `organisation`.
async fn service(app: &TestApp, organisation: trellis_domain::OrganisationId, name: &str) -> String {
    let mut new = plain_service(organisation, name, "Weekly, with tea after.", "arts_and_culture");
    new.details.email = EmailAddress::parse("groups@services.example").ok();
    app.store.create_service(new, Utc::now()).await.unwrap().id.to_string()
}

/// The fixture, a second provider with a user and a service, and a live provider link.
async fn world(app: TestApp) -> World {
    let now = Utc::now();
    let f = app.fixture.clone();
    let other_provider = app
        .store
        .create_organisation(
            NewOrganisation {
                gp_message_at_first_contact: false,
                mesh_mailbox: None,
                kind: OrganisationKind::Provider,
                name: "Riverside Arts Collective".into(),
                ods_code: None,
                email: EmailAddress::parse("hello@riverside.example").ok(),
                link_worker_service: None,
            },
            now,
        )
        .await
        .unwrap();
    let other_provider_user = app
        .store
        .create_user(
            NewUser {
                organisation: other_provider.id,
                role: Role::Provider,
                email: EmailAddress::parse("rita@riverside.example").unwrap(),
                name: "Rita".into(),
            },
            now,
        )
        .await
        .unwrap();
    let other_provider_token = app.store.issue_api_key(other_provider_user.id, "test", now).await.unwrap().token;
    let other_provider_service = service(&app, other_provider.id, "Riverside Pottery").await;
    // A provider's email link, as it would be pasted into an `Authorization` header.
    let (_, linked) = offer(&app, false).await;
    let link = app.store.mint_link(LinkScope::Offer(linked), now + Duration::days(14), now).await.unwrap();
    let t = app.tokens.clone();
    let callers = vec![
        Some(t.gp),
        Some(t.other_gp),
        Some(t.link_worker),
        Some(t.other_link_worker),
        Some(t.provider),
        Some(other_provider_token),
        Some(t.network_lead),
        Some(t.admin),
        None,
        Some(link),
    ];
    World {
        callers,
        link_worker: f.link_worker.id.to_string(),
        link_worker_service: f.service.id.to_string(),
        locality: f.locality.id.to_string(),
        walking_group: f.walking_group.id.to_string(),
        other_provider_service,
        app,
    }
}

/// Makes a cell's subject, returning its id (`""` for [`Subject::Nothing`]).
async fn make(world: &World, subject: Subject, n: usize) -> String {
    let app = &world.app;
    let f = &app.fixture;
    match subject {
        Subject::Nothing => String::new(),
        Subject::Referral(stage) => referral(app, stage).await.to_string(),
        Subject::ReferralWithOffer => offer(app, false).await.0.to_string(),
        Subject::Offer { accepted } => offer(app, accepted).await.1.to_string(),
        Subject::Provider => f.provider.id.to_string(),
        Subject::Service => service(app, f.provider.id, &format!("Choir {n}")).await,
        Subject::WalkingGroup => world.walking_group.clone(),
        Subject::GpKey => app.store.issue_api_key(f.gp.id, "second device", Utc::now()).await.unwrap().id.to_string(),
        Subject::ClosedReferral => {
            let id = referral(app, Stage::Contacted).await;
            close(app, id, 2).await;
            id.to_string()
        }
        Subject::OfferOfClosedReferral { accepted, left_open } => {
            let (referral, offer) = offer(app, accepted).await;
            close(app, referral, 2).await;
            if left_open {
                let status = if accepted { "accepted" } else { "offered" };
                let db = app.store.connection();
                let sql = format!("UPDATE offers SET status = '{status}' WHERE id = {}", uuid_literal(app, offer.0));
                db.execute_unprepared(&sql).await.unwrap();
            }
            offer.to_string()
        }
        Subject::FlaggedReferral => {
            let mut differing = f.referral(NHS);
            // A phone the service has never held for the NHS number: earlier cells' referrals hold others.
            differing.person.phone = trellis_domain::values::PhoneNumber::parse(&format!("07700 9{n:05}")).ok();
            let gp = Fixture::actor(&f.gp);
            let submitted = app.store.submit_referral(differing, None, &gp, Utc::now()).await.unwrap();
            assert_eq!(submitted.referral.flag.as_deref(), Some("details_differ"));
            submitted.referral.state.id.to_string()
        }
        Subject::Practice => f.practice.id.to_string(),
        Subject::NewUser => {
            let email = EmailAddress::parse(&format!("locum{n}@derbyroad.example")).unwrap();
            let new =
                NewUser { organisation: f.other_practice.id, role: Role::GpPractice, email, name: "Locum".into() };
            let user = app.store.create_user(new, Utc::now()).await.unwrap();
            // Disabled, so that enabling it changes something the fingerprint sees.
            app.store.disable_user(user.id, Utc::now()).await.unwrap();
            user.id.to_string()
        }
    }
}

/// Closes a referral as its link worker, against `version`.
async fn close(app: &TestApp, id: ReferralId, version: u32) {
    let lw = Fixture::actor(&app.fixture.link_worker);
    let reason = trellis_domain::referral::ClosureReason::DeclinedByPerson;
    let command = ReferralCommand::Close { reason, note: Some("Would rather walk with her sister".into()) };
    app.store.transition_referral(id, version, command, &lw, Utc::now()).await.unwrap();
}

/// A uuid as a literal of the app's database (a 16-byte blob on SQLite).
fn uuid_literal(app: &TestApp, id: Uuid) -> String {
    match app.store.connection().get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => format!("'{id}'"),
        _ => format!("X'{}'", id.simple()),
    }
}

/// Everything a refused request could have changed: the number of rows in each table a request could add
/// to, and the subject's own state.
async fn fingerprint(world: &World, subject: Subject, id: &str) -> String {
    let app = &world.app;
    let db = app.store.connection();
    let tables = [
        "referrals",
        "referral_events",
        "offers",
        "offer_events",
        "organisations",
        "users",
        "api_keys",
        "services",
        "service_capacities",
        "email_outbox",
        "idempotency_keys",
    ];
    let sql = format!(
        "SELECT {}",
        tables.iter().map(|t| format!("(SELECT COUNT(*) FROM {t})")).collect::<Vec<_>>().join(", ")
    );
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    let counts: Vec<i64> = (0..tables.len()).map(|i| row.try_get_by_index::<i64>(i).unwrap()).collect();
    let lw = Fixture::actor(&app.fixture.link_worker);
    let state = match subject {
        Subject::Referral(_) | Subject::ReferralWithOffer | Subject::ClosedReferral | Subject::FlaggedReferral => {
            let r = app.store.referral(&lw, id.parse().unwrap(), Utc::now()).await.unwrap();
            format!("{:?} v{} {:?} {:?}", r.state.status, r.state.version, r.state.assigned_to, r.flag)
        }
        Subject::Offer { .. } | Subject::OfferOfClosedReferral { .. } => {
            let o = app.store.offer(&lw, id.parse().unwrap()).await.unwrap();
            format!("{:?} v{}", o.state.status, o.state.version)
        }
        Subject::Service | Subject::WalkingGroup => {
            format!("{:?}", app.store.service(id.parse().unwrap()).await.unwrap())
        }
        Subject::GpKey => format!("{:?}", app.store.api_key(id.parse().unwrap()).await.unwrap().revoked_at),
        Subject::NewUser => {
            let user = trellis_domain::UserId(id.parse().unwrap());
            let stored = app.store.user(user).await.unwrap();
            format!("{:?} {} {:?}", stored.disabled_at, stored.email, app.store.api_keys_of(user).await.unwrap())
        }
        Subject::Practice => {
            let practice = trellis_domain::OrganisationId(id.parse().unwrap());
            format!("{:?}", app.store.organisation(practice).await.unwrap())
        }
        Subject::Nothing | Subject::Provider => String::new(),
    };
    format!("{counts:?} {state}")
}

/// What came back, as the table writes it.
fn outcome(response: &GqlResponse, subject: &str) -> String {
    match (response.errors.first(), response.code()) {
        (Some(_), Some(code)) => code.to_owned(),
        (Some(error), None) => format!("an error with no code: {error}"),
        (None, _) if !subject.is_empty() && !response.data.to_string().contains(subject) => NONE.into(),
        (None, _) => OK.into(),
    }
}

/// What a refusal says: its status, code and message.
fn refusal(response: &GqlResponse) -> (u16, Option<String>, Option<String>) {
    let message = response.errors.first().and_then(|e| e["message"].as_str()).map(str::to_owned);
    (response.status, response.code().map(str::to_owned), message)
}

on_both_databases!(every_operation_allows_or_denies_every_caller_as_the_domain_says, |app: TestApp| async move {
    let world = world(app).await;
    let rows = rows();
    let mut mismatches = vec![];
    let mut cells = 0;
    for row in &rows {
        for (c, (caller, token)) in CALLERS.iter().zip(&world.callers).enumerate() {
            cells += 1;
            let n = cells;
            let want = row.expect[c];
            let subject = make(&world, row.subject, n).await;
            let variables = (row.variables)(&world, &subject, n);
            let denied = ![OK, NONE].contains(&want);
            let before = if denied { Some(fingerprint(&world, row.subject, &subject).await) } else { None };
            let response = world.app.graphql(token.as_deref(), row.document, variables).await;
            let got = outcome(&response, &subject);
            let cell = format!("{caller} × {} ({})", row.op, row.case);
            if got != expected_code(want) {
                mismatches.push(format!("{cell}: expected {want}, got {got}: {:?}", response.errors));
                continue;
            }
            // A refusal of data the caller may not see says what a made-up id gets.
            if denied && ![SEEN, BAD, STALE].contains(&want) && row.document.contains("$id") {
                let made_up = Uuid::now_v7().to_string();
                let probe =
                    world.app.graphql(token.as_deref(), row.document, (row.variables)(&world, &made_up, n)).await;
                if refusal(&probe) != refusal(&response) {
                    mismatches.push(format!(
                        "{cell}: the refusal tells a real id from a made-up one: {:?} against {:?}",
                        refusal(&response),
                        refusal(&probe)
                    ));
                }
            }
            if let Some(before) = before {
                let after = fingerprint(&world, row.subject, &subject).await;
                if after != before {
                    mismatches.push(format!("{cell}: refused, yet changed something: {before} → {after}"));
                }
            }
        }
    }
    println!("authorization matrix: {} rows × {} callers = {cells} cells", rows.len(), CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ from the table:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
});

on_both_databases!(
    a_revoked_key_an_expired_key_and_a_disabled_users_key_are_refused_every_operation_and_change_nothing,
    |app: TestApp| async move {
        let world = world(app).await;
        let app = &world.app;
        let f = &app.fixture;
        let now = Utc::now();
        let me = "{ me { user { id } } }";
        let revoked = app.store.issue_api_key(f.link_worker.id, "revoked", now).await.unwrap();
        let expired = app.store.issue_api_key_until(f.gp.id, "expired", now - Duration::seconds(1), None, now).await;
        let new = NewUser {
            organisation: f.service.id,
            role: Role::LinkWorker,
            email: EmailAddress::parse("leaver@erewash.example").unwrap(),
            name: "Leaver".into(),
        };
        let leaver = app.store.create_user(new, now).await.unwrap();
        let disabled = app.store.issue_api_key(leaver.id, "leaver", now).await.unwrap();
        // Both live keys were in use (and cached) just before they were cut off.
        app.ok(&revoked.token, me, json!({})).await;
        app.ok(&disabled.token, me, json!({})).await;
        app.store.revoke_api_key(revoked.id, Utc::now()).await.unwrap();
        app.store.disable_user(leaver.id, Utc::now()).await.unwrap();
        let cut_off = [
            ("revoked key", revoked.token),
            ("expired key", expired.unwrap().token),
            ("disabled user", disabled.token),
        ];
        let mut mismatches = vec![];
        let mut cells = 0;
        for row in rows() {
            for (caller, token) in &cut_off {
                cells += 1;
                let subject = make(&world, row.subject, 10_000 + cells).await;
                let before = fingerprint(&world, row.subject, &subject).await;
                let response = app.graphql(Some(token), row.document, (row.variables)(&world, &subject, cells)).await;
                let got = outcome(&response, &subject);
                // UNAUTHENTICATED even where no token is needed: a key that does not resolve is never
                // mistaken for signing out.
                if got != ANON {
                    mismatches.push(format!("{caller} × {} ({}): expected {}, got {got}", row.op, row.case, ANON));
                }
                let after = fingerprint(&world, row.subject, &subject).await;
                if after != before {
                    mismatches.push(format!("{caller} × {} ({}): refused, yet changed something", row.op, row.case));
                }
            }
        }
        assert!(mismatches.is_empty(), "{} of {cells} cells:\n{}", mismatches.len(), mismatches.join("\n"));
    }
);

#[tokio::test]
async fn the_matrix_has_a_row_for_every_query_and_mutation() {
    let schema = trellis_api::schema::schema_builder().finish();
    let response =
        schema.execute("{ __schema { queryType { fields { name } } mutationType { fields { name } } } }").await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let fields = |root: &str| -> BTreeSet<String> {
        data["__schema"][root]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let in_schema: BTreeSet<String> = fields("queryType").union(&fields("mutationType")).cloned().collect();
    let in_table: BTreeSet<String> = rows().iter().map(|r| r.op.to_owned()).collect();
    assert_eq!(
        in_schema.difference(&in_table).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "operations with no row in the matrix"
    );
    assert_eq!(
        in_table.difference(&in_schema).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "rows for operations the schema no longer has"
    );
    assert_eq!(in_schema.len(), 44, "17 queries and 27 mutations: update this count with the table");
}

on_both_databases!(a_provider_sees_a_summary_before_accepting_and_contact_details_after, |app: TestApp| async move {
    let (_, offer) = offer(&app, false).await;
    let t = app.tokens.clone();
    let query = "{ providerOffers { edges { node { firstName ageBand needs contact { name phone } \
                 offer { id status noteForProvider } } } } }";
    let before = app.ok(&t.provider, query, json!({})).await;
    assert_eq!(before.pointer("/providerOffers/edges/0/node/firstName"), Some(&json!("Margaret")));
    assert_eq!(before.pointer("/providerOffers/edges/0/node/contact"), Some(&Value::Null));
    let person_fields = app
        .graphql(Some(&t.provider), "{ providerOffers { edges { node { person { nhsNumber } } } } }", json!({}))
        .await;
    assert_eq!(person_fields.code(), Some("VALIDATION"), "the schema gives providers no person field");
    let accept = "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 1, response: ACCEPT }) { offer { status } } }";
    app.ok(&t.provider, accept, json!({ "id": offer.to_string() })).await;
    let after = app.ok(&t.provider, query, json!({})).await;
    assert_eq!(after.pointer("/providerOffers/edges/0/node/contact/phone"), Some(&json!("01154960123")));
});

// ---------------------------------------------------------------------------------------------------------
// Provider links.

const OFFER_PAGE: LinkPages = LinkPages("/offers");

/// A link for `offer`, live for `ttl`.
async fn link(app: &TestApp, offer: OfferId, ttl: Duration) -> String {
    let now = Utc::now();
    app.store.mint_link(LinkScope::Offer(offer), now + ttl, now).await.unwrap()
}

/// An offer's status and version, as its link worker sees them.
async fn state(app: &TestApp, offer: OfferId) -> (OfferStatus, u32) {
    let o = app.store.offer(&Fixture::actor(&app.fixture.link_worker), offer).await.unwrap();
    (o.state.status, o.state.version)
}

/// A token shaped like a real one of `prefix`, that no link has.
fn made_up(prefix: &str) -> String {
    format!("{prefix}{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

on_both_databases!(a_link_acts_on_its_own_offer_and_on_no_other, |app: TestApp| async move {
    let (referral_a, a) = offer(&app, false).await;
    let (referral_b, b) = offer(&app, false).await;
    let (token_a, token_b) = (link(&app, a, Duration::days(14)).await, link(&app, b, Duration::days(14)).await);

    // Whatever else the request names, a link shows and acts on its own offer.
    let session = OFFER_PAGE.open(&app, &token_a).await;
    let shown = session.get(&app, &format!("/offers/{token_a}?offer={b}&offerId={b}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains(&offer_reference(a)) && !shown.body.contains(&offer_reference(b)));
    let b_before = state(&app, b).await;
    let b_id = b.to_string();
    let acted =
        session.post(&app, &[("action", "accept"), ("offer", &b_id), ("offerId", &b_id), ("token", &token_b)]).await;
    assert_eq!(acted.status, StatusCode::OK, "{}", acted.body);
    assert_eq!(state(&app, a).await, (OfferStatus::Accepted, 2));
    assert_eq!(state(&app, b).await, b_before, "the other offer is untouched");

    // Reused after the action, it changes nothing, not even to another answer.
    let again = session.post(&app, &[("action", "decline"), ("reason", "at_capacity")]).await;
    assert_eq!(again.location(), format!("/offers/{token_a}?done=unchanged"));
    assert_eq!(state(&app, a).await, (OfferStatus::Accepted, 2));

    // Suggesting another group passes on its own offer's person, whatever other offer the form names.
    let choir = service(&app, app.fixture.provider.id, "Community Choir").await;
    let passed = session
        .post(&app, &[("action", "onward"), ("service", &choir), ("onward_note", "Loves singing"), ("offer", &b_id)])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER, "{}", passed.body);
    let lw = Fixture::actor(&app.fixture.link_worker);
    let children = |offers: Vec<trellis_store::offers::OfferRecord>| -> Vec<Option<OfferId>> {
        offers.iter().map(|o| o.state.part_of).collect()
    };
    let of_a = children(app.store.offers_for_referral(&lw, referral_a).await.unwrap());
    assert_eq!(of_a, [None, Some(a)], "one onward offer, from the link's own offer");
    let of_b = children(app.store.offers_for_referral(&lw, referral_b).await.unwrap());
    assert_eq!(of_b, [None], "nothing came from the other offer");

    // An offer link is not a capacity link, nor a bearer token.
    let unknown = get(&app, &format!("/offers/{}", made_up("tro_")), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let as_capacity = get(&app, &format!("/capacity/{token_b}"), None).await;
    assert_eq!((as_capacity.status, &as_capacity.body), (StatusCode::NOT_FOUND, &unknown.body));
    let bearer = app.graphql(Some(&token_b), "{ providerOffers { edges { node { offer { id } } } } }", json!({})).await;
    assert_eq!((bearer.status, bearer.code()), (401, Some("UNAUTHENTICATED")));

    // The other offer's own link still works, for that offer alone.
    let other = OFFER_PAGE.open(&app, &token_b).await;
    assert_eq!(other.post(&app, &[("action", "waitlist")]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(state(&app, b).await, (OfferStatus::Waitlisted, 2));
    assert_eq!(state(&app, a).await, (OfferStatus::Accepted, 2));
});

on_both_databases!(a_link_replayed_after_it_expires_is_refused_however_it_was_used, |app: TestApp| async move {
    let (_, used) = offer(&app, false).await;
    let (_, unused) = offer(&app, false).await;
    let ttl = Duration::seconds(3);
    let (used_token, unused_token) = (link(&app, used, ttl).await, link(&app, unused, ttl).await);
    let used_session = OFFER_PAGE.open(&app, &used_token).await;
    let unused_session = OFFER_PAGE.open(&app, &unused_token).await;
    assert_eq!(used_session.post(&app, &[("action", "accept")]).await.status, StatusCode::OK);
    let before = (state(&app, used).await, state(&app, unused).await);

    tokio::time::sleep(StdDuration::from_millis(3500)).await;
    let unknown = get(&app, &format!("/offers/{}", made_up("tro_")), None).await;
    for (session, token) in [(&used_session, &used_token), (&unused_session, &unused_token)] {
        let shown = session.get(&app, &format!("/offers/{token}")).await;
        assert_eq!((shown.status, &shown.body), (StatusCode::NOT_FOUND, &unknown.body), "an expired link is unknown");
        for form in [vec![("action", "accept")], vec![("action", "decline"), ("reason", "other")]] {
            let replayed = session.post(&app, &form).await;
            assert_eq!((replayed.status, &replayed.body), (StatusCode::NOT_FOUND, &unknown.body), "{form:?}");
        }
    }
    assert_eq!((state(&app, used).await, state(&app, unused).await), before, "nothing changed");
});

/// What one request to a link page gets, by the table below.
struct LinkCell {
    /// Where the offer stands, and how the request is made.
    what: &'static str,
    status: StatusCode,
    /// Whether the person's contact details are on the page.
    contact: bool,
}

/// The contact details the fixture's person has, as a page shows them.
const CONTACT: [&str; 2] = ["Margaret Hughes", "01154960123"];

fn shows_contact(page: &Page) -> bool {
    CONTACT.iter().any(|c| page.body.contains(c))
}

on_both_databases!(a_link_after_acceptance_attendance_or_a_week_answers_as_the_table_says, |app: TestApp| async move {
    let now = Utc::now();
    let provider = Fixture::actor(&app.fixture.provider_user);
    let week = Duration::days(7) + Duration::minutes(1);
    let expect = |what, status, contact| LinkCell { what, status, contact };
    let mut got: Vec<LinkCell> = vec![];
    let mut observe = |what: &'static str, page: &Page| got.push(expect(what, page.status, shows_contact(page)));

    // Accepted through the link: the answer, the same browser within minutes, anyone else.
    let (_, accepted) = offer(&app, false).await;
    let token = link(&app, accepted, Duration::days(14)).await;
    let session = OFFER_PAGE.open(&app, &token).await;
    let answer = session.post(&app, &[("action", "accept")]).await;
    observe("accepted: the accepting POST's answer", &answer);
    let reveal = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("trellis_offer_reveal="))
        .and_then(|v| v.split(';').next())
        .map(|v| format!("trellis_offer_reveal={v}"))
        .expect("a reveal cookie");
    let path = OFFER_PAGE.path(&token);
    observe(
        "accepted: GET, the accepting browser",
        &get(&app, &path, Some(&format!("{}; {reveal}", session.cookie))).await,
    );
    observe("accepted: GET, no cookie", &get(&app, &path, None).await);
    observe("accepted: GET, the page's anti-forgery cookie only", &get(&app, &path, Some(&session.cookie)).await);
    observe("accepted: a second accepting POST", &session.post(&app, &[("action", "accept")]).await);
    // The grant is bound to its link: it shows nothing through another offer's link.
    let (_, other) = offer(&app, false).await;
    let other_token = link(&app, other, Duration::days(14)).await;
    OFFER_PAGE.open(&app, &other_token).await.post(&app, &[("action", "accept")]).await;
    let other_path = OFFER_PAGE.path(&other_token);
    observe("accepted: GET another offer's link with this grant", &get(&app, &other_path, Some(&reveal)).await);

    // After the first attendance: the confirmation, then nothing.
    observe("attended: the confirming POST's answer", &session.post(&app, &[("action", "attended")]).await);
    observe(
        "attended: GET, the accepting browser",
        &get(&app, &path, Some(&format!("{}; {reveal}", session.cookie))).await,
    );
    observe("attended: POST attended again", &session.post(&app, &[("action", "attended")]).await);

    // A week after acceptance, through the link, or by the provider's account with a link minted later.
    let (_, stale) = offer(&app, false).await;
    let stale_token = link(&app, stale, Duration::days(14)).await;
    let stale_session = OFFER_PAGE.open(&app, &stale_token).await;
    app.store.act_on_offer_link(&stale_token, OfferCommand::Accept, now - week).await.unwrap();
    observe("a week after acceptance by link: GET", &get(&app, &OFFER_PAGE.path(&stale_token), None).await);
    observe(
        "a week after acceptance by link: POST attended",
        &stale_session.post(&app, &[("action", "attended")]).await,
    );
    let (_, by_account) = offer(&app, false).await;
    let account_session = OFFER_PAGE.open(&app, &link(&app, by_account, Duration::days(14)).await).await;
    app.store.transition_offer(by_account, 1, OfferCommand::Accept, &provider, now - week).await.unwrap();
    let fresh = link(&app, by_account, Duration::days(14)).await;
    observe("a week after acceptance by account: GET a fresh link", &get(&app, &OFFER_PAGE.path(&fresh), None).await);
    observe(
        "a week after acceptance by account: POST attended",
        &account_session.post(&app, &[("action", "attended")]).await,
    );
    let (_, recent) = offer(&app, false).await;
    app.store.transition_offer(recent, 1, OfferCommand::Accept, &provider, now - Duration::days(6)).await.unwrap();
    let recent_link = link(&app, recent, Duration::days(14)).await;
    observe("six days after acceptance by account: GET", &get(&app, &OFFER_PAGE.path(&recent_link), None).await);

    let table = [
        expect("accepted: the accepting POST's answer", StatusCode::OK, true),
        expect("accepted: GET, the accepting browser", StatusCode::OK, true),
        expect("accepted: GET, no cookie", StatusCode::OK, false),
        expect("accepted: GET, the page's anti-forgery cookie only", StatusCode::OK, false),
        expect("accepted: a second accepting POST", StatusCode::SEE_OTHER, false),
        expect("accepted: GET another offer's link with this grant", StatusCode::OK, false),
        expect("attended: the confirming POST's answer", StatusCode::OK, false),
        expect("attended: GET, the accepting browser", StatusCode::NOT_FOUND, false),
        expect("attended: POST attended again", StatusCode::NOT_FOUND, false),
        expect("a week after acceptance by link: GET", StatusCode::NOT_FOUND, false),
        expect("a week after acceptance by link: POST attended", StatusCode::NOT_FOUND, false),
        expect("a week after acceptance by account: GET a fresh link", StatusCode::NOT_FOUND, false),
        expect("a week after acceptance by account: POST attended", StatusCode::NOT_FOUND, false),
        expect("six days after acceptance by account: GET", StatusCode::OK, false),
    ];
    let show = |cells: &[LinkCell]| -> Vec<String> {
        cells.iter().map(|c| format!("{}: {} contact={}", c.what, c.status.as_u16(), c.contact)).collect()
    };
    assert_eq!(show(&got), show(&table));
    assert_eq!(state(&app, stale).await.0, OfferStatus::Accepted, "no attendance through a week-old link");
    assert_eq!(state(&app, by_account).await.0, OfferStatus::Accepted);
});

/// An HTTP client whose requests come from `address` (any of 127.0.0.0/8 is this machine).
fn client_from(address: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(address))
        .build()
        .unwrap()
}

/// A link that cannot be used, the `i`th: each page, `GET` and `POST` in turn, from `session`'s browser.
async fn bad_attempt(app: &TestApp, i: usize, session_cookie: &str, csrf: &str) -> (Page, String) {
    let (path, token) = if i.is_multiple_of(2) { ("/offers", made_up("tro_")) } else { ("/capacity", made_up("trc_")) };
    let page = if i.is_multiple_of(3) {
        let form = [("csrf", csrf), ("action", "accept"), ("available", "1"), ("maximum", "2"), ("status", "open")];
        post(app, &format!("{path}/{token}"), Some(session_cookie), &form, &same_origin(app)).await
    } else {
        get(app, &format!("{path}/{token}"), None).await
    };
    (page, token)
}

on_both_databases!(
    failed_link_attempts_are_limited_per_address_and_audited_and_never_lock_out_a_live_link,
    |app: TestApp| async move {
        const LIMIT: usize = 20;
        let (_, offer_id) = offer(&app, false).await;
        let token = link(&app, offer_id, Duration::days(14)).await;
        let now = Utc::now();
        let capacity_token = app
            .store
            .mint_link(LinkScope::Service(app.fixture.walking_group.id), now + Duration::days(14), now)
            .await
            .unwrap();
        let expired = link(&app, offer_id, Duration::seconds(-60)).await;
        let session = OFFER_PAGE.open(&app, &token).await;
        // The first failure: the "not valid" page every other one is compared with.
        let first = made_up("tro_");
        let invalid = get(&app, &format!("/offers/{first}"), None).await;
        assert_eq!(invalid.status, StatusCode::NOT_FOUND);
        let mut tried = vec![first];

        // Up to the limit, each failure gets the "not valid" page; live links in between are not counted.
        for i in 1..LIMIT {
            let (page, bad) = bad_attempt(&app, i, &session.cookie, &session.csrf).await;
            assert_eq!((page.status, &page.body), (StatusCode::NOT_FOUND, &invalid.body), "attempt {i}");
            tried.push(bad);
            if i.is_multiple_of(5) {
                assert_eq!(get(&app, &format!("/offers/{token}"), Some(&session.cookie)).await.status, StatusCode::OK);
                assert_eq!(get(&app, &format!("/capacity/{capacity_token}"), None).await.status, StatusCode::OK);
            }
        }

        // Past it: one plain page, the same for GET and POST, unknown or expired links, and either page.
        let limited_get = get(&app, &format!("/offers/{}", made_up("tro_")), None).await;
        let limited_post = OFFER_PAGE
            .post(
                &app,
                &made_up("tro_"),
                Some(&session.cookie),
                &[("csrf", &session.csrf), ("action", "accept")],
                &same_origin(&app),
            )
            .await;
        let limited_expired = get(&app, &format!("/offers/{expired}"), None).await;
        let limited_capacity = get(&app, &format!("/capacity/{}", made_up("trc_")), None).await;
        for (what, page) in [
            ("GET", &limited_get),
            ("POST", &limited_post),
            ("expired", &limited_expired),
            ("capacity", &limited_capacity),
        ] {
            assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{what}: {}", page.body);
            assert_eq!(page.body, limited_get.body, "{what}: one page for every refusal");
            assert!(page.header("retry-after").parse::<u64>().is_ok_and(|s| (1..=30).contains(&s)), "{what}");
            assert_eq!(page.header("cache-control"), "no-store", "{what}");
            assert!(page.header("content-security-policy").starts_with("default-src 'none'"), "{what}");
            assert!(page.headers.get("set-cookie").is_none(), "{what}");
            assert!(!page.body.contains("Walking") && !page.body.contains("Margaret"), "{what}");
        }
        assert!(limited_get.body.contains("Too many attempts"));

        // A live link from the same address still opens and acts.
        let shown = get(&app, &format!("/offers/{token}"), Some(&session.cookie)).await;
        assert_eq!(shown.status, StatusCode::OK);
        assert_eq!(session.post(&app, &[("action", "accept")]).await.status, StatusCode::OK);
        assert_eq!(state(&app, offer_id).await, (OfferStatus::Accepted, 2));
        assert_eq!(get(&app, &format!("/capacity/{capacity_token}"), None).await.status, StatusCode::OK);

        // Another address has an allowance of its own.
        let elsewhere = client_from(Ipv4Addr::new(127, 0, 0, 2));
        let response = elsewhere.get(format!("{}/offers/{}", app.base_url, made_up("tro_"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);

        // Audited: every counted failure, and the address going over the limit once, never a token or
        // an address.
        let audit = app.store.audit_log(&AuditFilter { limit: 1000, ..Default::default() }).await.unwrap();
        let rejected: Vec<_> =
            audit.iter().filter(|e| e.action == "offer.link_rejected" || e.action == "service.link_rejected").collect();
        let limited: Vec<_> = audit.iter().filter(|e| e.action.ends_with(".link_rate_limited")).collect();
        assert_eq!(rejected.len(), LIMIT + 1, "{LIMIT} from here and 1 from elsewhere");
        assert_eq!(rejected.iter().filter(|e| e.action == "service.link_rejected").count(), 10);
        assert_eq!(limited.len(), 1, "one entry when the address went over, not one per refusal");
        assert_eq!(limited[0].action, "offer.link_rate_limited");
        let detail = |e: &trellis_store::audit::AuditEntry| -> Value {
            serde_json::from_str(e.detail.as_deref().expect("a detail")).unwrap()
        };
        let clients: BTreeSet<String> =
            rejected.iter().chain(&limited).map(|e| detail(e)["client"].as_str().unwrap().to_owned()).collect();
        assert_eq!(clients.len(), 2, "one pseudonym per address");
        assert_eq!(rejected.iter().filter(|e| detail(e)["method"] == "POST").count(), 6);
        for entry in rejected.iter().chain(&limited) {
            assert_eq!(entry.actor.role, Role::System);
            assert_eq!((entry.referral, entry.offer), (None, None));
            let text = entry.detail.clone().unwrap_or_default();
            assert!(!text.contains("127.0.0"), "an address in the audit log: {text}");
            for bad in tried.iter().chain([&token, &expired, &capacity_token]) {
                let secret = bad.trim_start_matches("tro_").trim_start_matches("trc_");
                assert!(!text.contains(secret), "a token in the audit log: {text}");
            }
        }
    }
);

// ---------------------------------------------------------------------------------------------------------
// Nested fields: which caller reaches which field below a root it may query.

/// Every string under a `kind` key in `data`, sorted and without repeats, joined by commas; `ok` when
/// there is none (a field reached that has no kinds, or an empty list).
fn kinds(data: &Value) -> String {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("kind", Value::String(s)) => {
                            out.insert(s.clone());
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(data, &mut out);
    if out.is_empty() { OK.into() } else { out.into_iter().collect::<Vec<_>>().join(",") }
}

on_both_databases!(
    nested_fields_reach_only_the_callers_the_domain_says_and_a_provider_sees_only_its_own_deliveries,
    |app: TestApp| async move {
        let world = world(app).await;
        let app = &world.app;
        // An accepted offer: the provider was emailed the offer, the link worker the answer; then a
        // delivery to the link worker fails, with an error that must not reach the provider.
        let (referral, offer) = offer(app, true).await;
        let db = app.store.connection();
        let failed = format!(
            "UPDATE email_outbox SET status = 'dead', last_error = '550 no such mailbox: linkworkers@erewash.example' \
             WHERE kind = 'offer_answered' AND offer_id = {}",
            uuid_literal(app, offer.0)
        );
        db.execute_unprepared(&failed).await.unwrap();
        let both = "offer_answered,offer_made";
        let history = "contacted,opened";
        // (field, document, one outcome per caller in CALLERS order)
        let table: [(&str, &str, [&str; 10]); 6] = [
            (
                "Referral.history",
                "query($referral: ID!) { referral(id: $referral) { history { kind } } }",
                [history, NF, history, NF, NF, NF, NF, NF, ANON, ANON],
            ),
            (
                "Referral.offers",
                "query($referral: ID!) { referral(id: $referral) { offers { id status } } }",
                [OK, NF, OK, NF, NF, NF, NF, NF, ANON, ANON],
            ),
            (
                "Referral.offers.deliveries",
                "query($referral: ID!) { referral(id: $referral) { offers { deliveries { kind lastError } } } }",
                [both, NF, both, NF, NF, NF, NF, NF, ANON, ANON],
            ),
            (
                "Offer.deliveries",
                "query($offer: ID!) { offer(id: $offer) { deliveries { kind status lastError } } }",
                [NF, NF, both, NF, "offer_made", NF, NF, NF, ANON, ANON],
            ),
            (
                "ProviderOffer.offer.deliveries",
                "{ providerOffers { nodes { offer { id deliveries { kind status lastError } } } } }",
                [DENY, DENY, DENY, DENY, "offer_made", OK, DENY, DENY, ANON, ANON],
            ),
            (
                "ProviderOffer.offer",
                "{ providerOffers { nodes { offer { id status } } } }",
                [DENY, DENY, DENY, DENY, OK, OK, DENY, DENY, ANON, ANON],
            ),
        ];
        let variables = json!({ "referral": referral.to_string(), "offer": offer.to_string() });
        let mut mismatches = vec![];
        for (field, document, expect) in table {
            for ((caller, token), want) in CALLERS.iter().zip(&world.callers).zip(expect) {
                let response = app.graphql(token.as_deref(), document, variables.clone()).await;
                let got = match (response.errors.first(), response.code()) {
                    (Some(_), Some(code)) => code.to_owned(),
                    (Some(error), None) => format!("an error with no code: {error}"),
                    (None, _) => kinds(&response.data),
                };
                if got != want {
                    mismatches.push(format!("{caller} × {field}: expected {want}, got {got}: {}", response.data));
                }
                if *caller == "provider" && response.data.to_string().contains("550 no such mailbox") {
                    mismatches.push(format!("{caller} × {field}: sees another party's delivery error"));
                }
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
);

// ---------------------------------------------------------------------------------------------------------
// Writes across organisations through a shared NHS number.

const PERSON_QUERY: &str =
    "query($id: ID!) { referral(id: $id) { version flag person { givenName familyName phone postcode } } }";

fn submission(given: &str, phone: &str, key: &str) -> Value {
    json!({ "input": {
        "idempotencyKey": key,
        "person": {
            "nhsNumber": "943 476 5919", "givenName": given, "familyName": "Hughes", "dateOfBirth": "1948-05-17",
            "preferredContact": "PHONE", "phone": phone, "email": "margaret.hughes@example.org", "postcode": "NG10 1AB"
        },
        "needs": ["LONELINESS"],
        "reason": "Rarely goes out.",
        "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": (Utc::now() - Duration::hours(1)).to_rfc3339() }
    }})
}

const SUBMIT: &str = "mutation($input: SubmitReferralInput!) { submitReferral(input: $input) { referral { id flag person { givenName phone } } otherOpenReferralIds } }";

on_both_databases!(
    a_second_practices_submission_for_the_same_nhs_number_changes_nothing_the_first_practice_its_link_worker_or_the_provider_sees,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let (referral, offer) = offer(&app, true).await;
        let id = json!({ "id": referral.to_string() });
        let before_gp = app.ok(&t.gp, PERSON_QUERY, id.clone()).await;
        let before_lw = app.ok(&t.link_worker, PERSON_QUERY, id.clone()).await;
        let contact = "{ providerOffers { nodes { firstName contact { name phone } offer { id } } } }";
        let before_provider = app.ok(&t.provider, contact, json!({})).await;
        assert!(before_provider.to_string().contains("01154960123"), "{before_provider}");

        // Another practice, for the same (checksum-valid) NHS number, with another name and phone.
        let other = app.ok(&t.other_gp, SUBMIT, submission("Eve", "07700 900999", "other-practice-1")).await;
        assert_eq!(other.pointer("/submitReferral/otherOpenReferralIds"), Some(&json!([])), "within its own scope");
        assert_eq!(other.pointer("/submitReferral/referral/flag"), Some(&Value::Null), "its service held nothing");
        assert_eq!(other.pointer("/submitReferral/referral/person/givenName"), Some(&json!("Eve")));

        assert_eq!(app.ok(&t.gp, PERSON_QUERY, id.clone()).await, before_gp, "the first practice sees what it sent");
        assert_eq!(app.ok(&t.link_worker, PERSON_QUERY, id.clone()).await, before_lw, "so does its link worker");
        assert_eq!(app.ok(&t.provider, contact, json!({})).await, before_provider, "and the accepted provider");
        let found = app
            .ok(&t.link_worker, "{ referrals(first: 10, filter: { search: \"Eve\" }) { edges { node { id } } } }", json!({}))
            .await;
        assert_eq!(found.pointer("/referrals/edges"), Some(&json!([])), "Eve is not in the first service's caseload");
        assert!(!offer.to_string().is_empty());
    }
);

on_both_databases!(
    a_practices_second_submission_with_other_details_is_made_flagged_and_only_its_link_worker_resolves_it,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let first = app.ok(&t.gp, SUBMIT, submission("Margaret", "0115 496 0123", "first")).await;
        let first_id = first.pointer("/submitReferral/referral/id").unwrap().clone();
        let second = app.ok(&t.gp, SUBMIT, submission("Maggie", "07700 900555", "second")).await;
        assert_eq!(second.pointer("/submitReferral/referral/flag"), Some(&json!("details_differ")));
        assert_eq!(second.pointer("/submitReferral/otherOpenReferralIds"), Some(&json!([first_id])));
        let id = second.pointer("/submitReferral/referral/id").unwrap().as_str().unwrap().to_owned();
        // The example in the link worker's guide, as people read it.
        let resolve = trellis_tests::doc_operation("link-worker.md", "ResolvePersonDetails");
        let input = |v: u32| json!({ "input": { "referralId": id, "expectedVersion": v, "keep": "HELD" } });
        for (who, token, code) in [
            ("the practice", &t.gp, "FORBIDDEN"),
            ("another service", &t.other_link_worker, "NOT_FOUND"),
            ("a provider", &t.provider, "NOT_FOUND"),
        ] {
            let refused = app.graphql(Some(token), &resolve, input(1)).await;
            assert_eq!(refused.code(), Some(code), "{who}: {:?}", refused.errors);
        }
        let stale = app.graphql(Some(&t.link_worker), &resolve, input(7)).await;
        assert_eq!(stale.code(), Some("CONFLICT"));
        let done = app.ok(&t.link_worker, &resolve, input(1)).await;
        let r = done.pointer("/resolvePersonDetails/referral").unwrap();
        assert_eq!((&r["version"], &r["flag"]), (&json!(2), &Value::Null));
        assert_eq!((&r["person"]["givenName"], &r["person"]["phone"]), (&json!("Margaret"), &json!("01154960123")));
        assert_eq!(
            r.pointer("/history/1"),
            Some(&json!({ "kind": "person_details_resolved", "keptPersonDetails": "HELD" }))
        );
        let again = app.graphql(Some(&t.link_worker), &resolve, input(2)).await;
        assert_eq!(again.code(), Some("INVALID_TRANSITION"), "nothing left to resolve");
        let audit = app
            .store
            .audit_log(&AuditFilter { referral: Some(id.parse().unwrap()), limit: 50, ..Default::default() })
            .await
            .unwrap();
        assert!(audit.iter().any(|e| e.action == "referral.person_details_resolved"), "{audit:?}");
    }
);
// The network page (`/network`) and the public directory (`/oruk`).

/// Whether `/network` with `cookies` shows the network: its status, and whether the graph is there.
async fn network_status(app: &TestApp, cookies: &str) -> (u16, bool) {
    let page = get(app, "/network", Some(cookies)).await;
    (page.status.as_u16(), page.body.contains("Who refers to whom"))
}

on_both_databases!(
    the_network_page_shows_the_network_to_a_signed_in_lead_or_link_worker_only_while_their_session_lives,
    |app: TestApp| async move {
        let f = &app.fixture;
        // Signed out: sent to the console's sign-in, and nothing of the network.
        let signed_out = get(&app, "/network", None).await;
        assert_eq!((signed_out.status.as_u16(), signed_out.header("location")), (303, "/sign-in"));
        // Who may see it, signed in to the console.
        for (who, user, status) in [
            ("gp", f.gp.id, 403),
            ("provider", f.provider_user.id, 403),
            ("admin", f.admin.id, 403),
            ("network_lead", f.network_lead.id, 200),
            ("link_worker", f.link_worker.id, 200),
        ] {
            let cookies = session_for(&app, user).await;
            let (got, graph) = network_status(&app, &cookies).await;
            assert_eq!((got, graph), (status, status == 200), "{who}");
        }
        // A made-up session is no session.
        assert_eq!(get(&app, "/network", Some("trellis_session=trs_0000")).await.status.as_u16(), 303);

        // A disabled user's sessions end at once.
        let lead = session_for(&app, f.network_lead.id).await;
        assert_eq!(network_status(&app, &lead).await, (200, true));
        let backend = app.store.backend();
        let disable = if backend == sea_orm::DatabaseBackend::Postgres {
            "UPDATE users SET disabled_at = now() WHERE id = $1"
        } else {
            "UPDATE users SET disabled_at = CURRENT_TIMESTAMP WHERE id = ?"
        };
        app.store
            .connection()
            .execute_raw(Statement::from_sql_and_values(backend, disable, [f.network_lead.id.0.into()]))
            .await
            .unwrap();
        assert_eq!(network_status(&app, &lead).await, (303, false), "disabled user");
    }
);

async fn a_network_session_ends_when_idle(backend: trellis_tests::Backend) {
    let settings = trellis_api::ApiSettings { session_idle: StdDuration::from_secs(1), ..Default::default() };
    let app = TestApp::spawn_with(backend, settings).await;
    let lead = session_for(&app, app.fixture.network_lead.id).await;
    assert_eq!(network_status(&app, &lead).await, (200, true));
    tokio::time::sleep(StdDuration::from_millis(2100)).await;
    let page = get(&app, "/network", Some(&lead)).await;
    assert_eq!((page.status.as_u16(), page.header("location")), (303, "/sign-in"), "idle too long");
}

trellis_tests::on_both_backends!(a_network_session_ends_when_idle);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_directory_needs_no_token_and_is_limited_per_address_whatever_token_is_sent() {
    let settings = trellis_api::ApiSettings { rate_limit_per_minute: 5, ..Default::default() };
    let app = TestApp::spawn_with(trellis_tests::Backend::Sqlite, settings).await;
    let url = format!("{}/oruk/services", app.base_url);
    let reader = client_from(Ipv4Addr::new(127, 0, 0, 31));
    let mut statuses = vec![];
    for i in 0..7 {
        let mut request = reader.get(&url);
        if i > 0 {
            // A different token each time, made up or real: none buys a budget of its own here.
            let token = if i == 3 { app.tokens.gp.clone() } else { format!("trellis_{}", Uuid::new_v4().simple()) };
            request = request.bearer_auth(token);
        }
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
    let neighbour = client_from(Ipv4Addr::new(127, 0, 0, 32));
    assert_eq!(neighbour.get(&url).send().await.unwrap().status().as_u16(), 200);
}
