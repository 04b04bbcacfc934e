//! Who may read what: least privilege by role and organisation.
//!
//! Writes are checked by the lifecycles themselves; these rules decide what a party may *see*, and the
//! store turns them into query filters so that nobody reads another organisation's data by guessing an id.

use crate::actor::{Actor, Role};
use crate::error::DomainError;
use crate::ids::{OrganisationId, UserId};
use crate::referral::Referral;
use crate::values::ValueError;

/// The referrals a party may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferralScope {
    /// Those its organisation referred (a GP practice: the closed loop).
    ReferredBy(OrganisationId),
    /// Those its link worker service works.
    WorkedBy(OrganisationId),
}

impl ReferralScope {
    /// The scope of `actor`, or `None` when it may read no person's referral record (providers see
    /// offers, not referrals; network leads and administrators see the network, not people).
    pub fn of(actor: &Actor) -> Option<ReferralScope> {
        match (actor.role, actor.organisation) {
            (Role::GpPractice, Some(org)) => Some(ReferralScope::ReferredBy(org)),
            (Role::LinkWorker, Some(org)) => Some(ReferralScope::WorkedBy(org)),
            _ => None,
        }
    }

    /// Whether `referral` lies in this scope.
    pub fn covers(self, referral: &Referral) -> bool {
        match self {
            ReferralScope::ReferredBy(org) => referral.referring_organisation == org,
            ReferralScope::WorkedBy(org) => referral.link_worker_service == org,
        }
    }
}

/// Who may see the network as a whole (the `network` query and the `/network` page): network leads and
/// link workers. It shows organisations, services and counts, never a person.
pub const NETWORK_VIEWERS: [Role; 2] = [Role::NetworkLead, Role::LinkWorker];

/// Whether someone in `role` may see the network ([`NETWORK_VIEWERS`]).
pub fn may_see_the_network(role: Role) -> bool {
    NETWORK_VIEWERS.contains(&role)
}

/// Who may see impact reports (the `impactReport` query, `/reports` and its CSV files): network leads
/// only. Reports are aggregates across every organisation, suppressed, never a person.
pub const REPORT_VIEWERS: [Role; 1] = [Role::NetworkLead];

/// Whether someone in `role` may see impact reports ([`REPORT_VIEWERS`]).
pub fn may_see_reports(role: Role) -> bool {
    REPORT_VIEWERS.contains(&role)
}

/// Who may read the directory's import runs (the `importRuns` query and the `/directory/imports` page):
/// network leads, who manage the directory. The reports hold directory data only, never a person.
pub const IMPORT_READERS: [Role; 1] = [Role::NetworkLead];

/// Whether `actor` may read `referral`.
pub fn may_read_referral(actor: &Actor, referral: &Referral) -> bool {
    ReferralScope::of(actor).is_some_and(|scope| scope.covers(referral))
}

/// Whether `actor` may see the person's contact details on a referral (only those who work with them).
pub fn may_read_contact_details(actor: &Actor, referral: &Referral) -> bool {
    actor.is(Role::LinkWorker, referral.link_worker_service)
        || actor.is(Role::GpPractice, referral.referring_organisation)
}

/// A user a referral may be assigned to, as the store read them: who they are, in which role, for which
/// organisation, and whether their account is still enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignee {
    /// The user.
    pub user: UserId,
    /// The role their account holds.
    pub role: Role,
    /// The organisation they act for.
    pub organisation: OrganisationId,
    /// `false` once an administrator disabled the account.
    pub active: bool,
}

/// Whether `candidate` may be given `referral` to work: an active link worker of the referral's own link
/// worker service. A provider, a link worker of another service or a disabled colleague would hold a
/// person's record they may not read.
pub fn may_be_assigned(candidate: &Assignee, referral: &Referral) -> bool {
    candidate.active && candidate.role == Role::LinkWorker && candidate.organisation == referral.link_worker_service
}

/// The assignment rule as a refusal: assigning `referral` to user `to`, read as `candidate` (`None` when no
/// such user exists), is refused at the `linkWorkerId` field unless [`may_be_assigned`]. An unknown id and
/// another organisation's user are refused alike, so the refusal does not tell whether an id exists.
pub fn check_assignee(referral: &Referral, to: UserId, candidate: Option<&Assignee>) -> Result<(), DomainError> {
    match candidate {
        Some(c) if c.user == to && may_be_assigned(c, referral) => Ok(()),
        _ => Err(DomainError::Invalid(ValueError::new(
            ASSIGNEE_FIELD,
            to.to_string(),
            "is not an active link worker of the referral's service",
        ))),
    }
}

/// The field an assignment's refusal names (the GraphQL input's `linkWorkerId`).
pub const ASSIGNEE_FIELD: &str = "linkWorkerId";

/// What a party may do about a user's API keys: who holds a token holds what the user may read, so
/// keys are the admin's to hand out, and a user may only replace its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyManagement {
    /// An administrator: list, issue and revoke any user's keys, and disable or enable the user.
    Any,
    /// The key's own user: list and revoke its keys, and rotate the key it calls with (the new key
    /// replaces that one, so a stolen key can be swapped but never multiplied, and the owner notices).
    Own,
    /// Nothing: another user's keys are not the caller's business.
    None,
}

impl KeyManagement {
    /// What `actor` may do about the keys of user `owner`.
    pub fn of(actor: &Actor, owner: crate::ids::UserId) -> KeyManagement {
        match (actor.role, actor.user) {
            (Role::Admin, Some(_)) => KeyManagement::Any,
            (_, Some(user)) if user == owner => KeyManagement::Own,
            _ => KeyManagement::None,
        }
    }

    /// Whether revoking one of the owner's keys also ends the owner's signed-in browser sessions. An
    /// administrator revokes a key when a user's access is in doubt, so the sessions end with it; a user
    /// tidying away its own keys stays signed in.
    pub fn revoking_ends_sessions(self) -> bool {
        self == KeyManagement::Any
    }
}

#[cfg(test)]
mod key_management_tests {
    use super::*;
    use crate::ids::UserId;

    #[test]
    fn an_admin_manages_anyone_a_user_only_itself_and_a_provider_link_nobody() {
        let org = OrganisationId(uuid::Uuid::now_v7());
        let me = UserId(uuid::Uuid::now_v7());
        let other = UserId(uuid::Uuid::now_v7());
        for role in [Role::GpPractice, Role::LinkWorker, Role::Provider, Role::NetworkLead] {
            let actor = Actor::user(me, role, org);
            assert_eq!(KeyManagement::of(&actor, me), KeyManagement::Own, "{role:?}");
            assert_eq!(KeyManagement::of(&actor, other), KeyManagement::None, "{role:?}");
        }
        let admin = Actor::user(me, Role::Admin, org);
        assert_eq!(KeyManagement::of(&admin, other), KeyManagement::Any);
        assert_eq!(KeyManagement::of(&admin, me), KeyManagement::Any);
        assert_eq!(KeyManagement::of(&Actor::provider_link(org), other), KeyManagement::None);
        assert_eq!(KeyManagement::of(&Actor::system(), other), KeyManagement::None);
    }
}

#[cfg(test)]
mod network_tests {
    use super::*;

    #[test]
    fn network_leads_and_link_workers_see_the_network_and_no_one_else() {
        let seeing: Vec<Role> = [Role::GpPractice, Role::LinkWorker, Role::Provider, Role::NetworkLead, Role::Admin]
            .into_iter()
            .filter(|r| may_see_the_network(*r))
            .collect();
        assert_eq!(seeing, [Role::LinkWorker, Role::NetworkLead]);
    }

    #[test]
    fn only_network_leads_see_impact_reports() {
        let seeing: Vec<Role> = [Role::GpPractice, Role::LinkWorker, Role::Provider, Role::NetworkLead, Role::Admin]
            .into_iter()
            .filter(|r| may_see_reports(*r))
            .collect();
        assert_eq!(seeing, [Role::NetworkLead]);
    }
}

#[cfg(test)]
mod assignment_tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::ids::ReferralId;
    use crate::referral::ReferralStatus;

    const SERVICE: OrganisationId = OrganisationId(Uuid::from_u128(20));
    const OTHER_SERVICE: OrganisationId = OrganisationId(Uuid::from_u128(21));
    const COLLEAGUE: UserId = UserId(Uuid::from_u128(7));

    fn referral() -> Referral {
        Referral {
            id: ReferralId(Uuid::from_u128(3)),
            status: ReferralStatus::Referred,
            version: 1,
            referring_organisation: OrganisationId(Uuid::from_u128(10)),
            link_worker_service: SERVICE,
            assigned_to: None,
            closure_reason: None,
            details_differ: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn user(role: Role, organisation: OrganisationId, active: bool) -> Assignee {
        Assignee { user: COLLEAGUE, role, organisation, active }
    }

    #[test]
    fn only_an_active_link_worker_of_the_referrals_service_may_be_assigned() {
        let r = referral();
        assert_eq!(check_assignee(&r, COLLEAGUE, Some(&user(Role::LinkWorker, SERVICE, true))), Ok(()));
        let refused = [
            Some(user(Role::LinkWorker, OTHER_SERVICE, true)),
            Some(user(Role::LinkWorker, SERVICE, false)),
            Some(user(Role::Provider, SERVICE, true)),
            Some(user(Role::GpPractice, SERVICE, true)),
            Some(user(Role::NetworkLead, SERVICE, true)),
            Some(user(Role::Admin, SERVICE, true)),
            None,
        ];
        for candidate in refused {
            let Err(DomainError::Invalid(e)) = check_assignee(&r, COLLEAGUE, candidate.as_ref()) else {
                panic!("{candidate:?} was not refused at its field");
            };
            assert_eq!((e.field, e.value.as_str()), (ASSIGNEE_FIELD, COLLEAGUE.to_string().as_str()));
        }
    }

    #[test]
    fn a_candidate_read_for_another_id_is_not_taken_for_the_one_asked() {
        let someone_else = UserId(Uuid::from_u128(8));
        let colleague = user(Role::LinkWorker, SERVICE, true);
        assert!(check_assignee(&referral(), someone_else, Some(&colleague)).is_err());
    }
}
