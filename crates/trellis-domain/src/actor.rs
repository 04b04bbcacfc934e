//! Who is acting: a role, the organisation it acts for, and (for people with accounts) the user.

use serde::{Deserialize, Serialize};

use crate::ids::{OrganisationId, UserId};

/// What a party may do, from the table of roles in `docs/domain.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A GP practice user: submits referrals, sees what became of its own.
    GpPractice,
    /// A link worker: works the referrals of its link worker service.
    LinkWorker,
    /// A community provider: acts on offers made to its organisation.
    Provider,
    /// The locality's network lead: sees the network, manages the directory.
    NetworkLead,
    /// The deployment's administrator: organisations, users and API keys.
    Admin,
    /// Trellis itself, acting on timers (expiry, reminders).
    System,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 6] =
        [Role::GpPractice, Role::LinkWorker, Role::Provider, Role::NetworkLead, Role::Admin, Role::System];

    /// The stable snake_case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GpPractice => "gp_practice",
            Role::LinkWorker => "link_worker",
            Role::Provider => "provider",
            Role::NetworkLead => "network_lead",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The party making a change or a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The role it acts in.
    pub role: Role,
    /// The organisation it acts for; `None` only for the system.
    pub organisation: Option<OrganisationId>,
    /// The user, when the party has an account; `None` for a provider acting through an email link.
    pub user: Option<UserId>,
}

impl Actor {
    /// A signed-in user.
    pub fn user(user: UserId, role: Role, organisation: OrganisationId) -> Self {
        Self { role, organisation: Some(organisation), user: Some(user) }
    }

    /// A provider acting through the link in an offer email, without an account.
    pub fn provider_link(organisation: OrganisationId) -> Self {
        Self { role: Role::Provider, organisation: Some(organisation), user: None }
    }

    /// Trellis itself, running a timer.
    pub fn system() -> Self {
        Self { role: Role::System, organisation: None, user: None }
    }

    /// Whether this party acts in `role` for `organisation`.
    pub fn is(&self, role: Role, organisation: OrganisationId) -> bool {
        self.role == role && self.organisation == Some(organisation)
    }
}
