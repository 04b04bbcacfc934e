//! Kinds of organisation in a locality, and which roles belong to each.

use crate::actor::Role;
use crate::values::needs::named_enum;

named_enum!(
    /// What an organisation is.
    OrganisationKind, "kind", "is not an organisation kind" {
        /// A GP practice, identified by its ODS code.
        GpPractice => "gp_practice",
        /// A link worker service, usually a Primary Care Network's.
        LinkWorkerService => "link_worker_service",
        /// A community provider (a VCSE group).
        Provider => "provider",
        /// The locality: network leads and administrators.
        Locality => "locality",
    }
);

impl OrganisationKind {
    /// The roles a user of this kind of organisation may hold.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Self::GpPractice => &[Role::GpPractice],
            Self::LinkWorkerService => &[Role::LinkWorker],
            Self::Provider => &[Role::Provider],
            Self::Locality => &[Role::NetworkLead, Role::Admin],
        }
    }
}

/// Parses an ODS organisation code: 3 to 10 upper-case letters and digits (`C84001`).
pub fn parse_ods_code(input: &str) -> Result<String, crate::values::ValueError> {
    let code = input.trim().to_ascii_uppercase();
    if (3..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(code)
    } else {
        Err(crate::values::ValueError::new("odsCode", input, "is not an ODS code"))
    }
}

/// Parses a MESH mailbox id (`X26ABC1`): where GP Connect Send Document messages for an organisation go.
/// Letters and digits, upper-cased, at most 20.
pub fn parse_mesh_mailbox(input: &str) -> Result<String, crate::values::ValueError> {
    let id = input.trim().to_ascii_uppercase();
    if (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(crate::values::ValueError::new("meshMailboxId", input, "is not a MESH mailbox id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mesh_mailbox_id_is_letters_and_digits_upper_cased() {
        assert_eq!(parse_mesh_mailbox(" x26abc2 ").unwrap(), "X26ABC2");
        for bad in ["", "X26 ABC2", "X26-ABC2", "X26ABC2X26ABC2X26ABC2"] {
            assert_eq!(parse_mesh_mailbox(bad).unwrap_err().field, "meshMailboxId", "{bad:?}");
        }
    }

    #[test]
    fn users_only_hold_roles_that_fit_their_organisation() {
        assert_eq!(OrganisationKind::GpPractice.roles(), &[Role::GpPractice]);
        assert!(OrganisationKind::Locality.roles().contains(&Role::Admin));
        assert!(!OrganisationKind::Provider.roles().contains(&Role::LinkWorker));
    }

    #[test]
    fn ods_codes_are_upper_cased_and_checked() {
        assert_eq!(parse_ods_code(" c84001 ").unwrap(), "C84001");
        assert_eq!(parse_ods_code("C8-4001").unwrap_err().field, "odsCode");
    }
}
