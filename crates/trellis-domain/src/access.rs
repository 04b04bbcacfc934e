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

/// Whether `actor` may read `referral`.
pub fn may_read_referral(actor: &Actor, referral: &Referral) -> bool {
    ReferralScope::of(actor).is_some_and(|scope| scope.covers(referral))
}

/// Whether `actor` may see the person's contact details on a referral (only those who work with them).
pub fn may_read_contact_details(actor: &Actor, referral: &Referral) -> bool {
    actor.is(Role::LinkWorker, referral.link_worker_service)
        || actor.is(Role::GpPractice, referral.referring_organisation)
}
