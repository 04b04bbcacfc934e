//! Who may read what: least privilege by role and organisation.
//!
//! Writes are checked by the lifecycles themselves; these rules decide what a party may *see*, and the
//! store turns them into query filters so that nobody reads another organisation's data by guessing an id.

use crate::actor::{Actor, Role};
use crate::ids::OrganisationId;
use crate::referral::Referral;

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
}
