//! Submitting a referral: the one rule every way in (the GraphQL API, a console form, an import) calls
//! after parsing. It checks who may refer, that the person consented, chooses the link worker service
//! and sets when first contact is due.

use chrono::{DateTime, Duration, Utc};

use crate::actor::{Actor, Role};
use crate::error::DomainError;
use crate::ids::OrganisationId;
use crate::person::PersonDetails;
use crate::policy::Policy;
use crate::values::{Need, Urgency, ValueError};

/// The person's consent to share their referral with the network's providers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// A referral as a referrer submits it, every value already parsed.
#[derive(Clone, Debug)]
pub struct NewReferral {
    /// The person.
    pub person: PersonDetails,
    /// What matters to them.
    pub needs: Vec<Need>,
    /// The referrer's words.
    pub reason: String,
    /// How soon.
    pub urgency: Urgency,
    /// Their consent to share, `None` when they did not give it (which is refused).
    pub consent: Option<Consent>,
}

/// The organisation a submission is made for, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrer {
    /// The organisation.
    pub organisation: OrganisationId,
    /// Its name, for the refusal when it has no link worker service.
    pub name: String,
    /// The link worker service a GP practice refers to.
    pub link_worker_service: Option<OrganisationId>,
}

/// A submission the rules accepted: who refers, who works it, the consent and when first contact is
/// due. Only [`NewReferral::accept`] makes one, so [`crate::referral::Referral::open`] cannot open a
/// referral the rules were not asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedSubmission {
    referring_organisation: OrganisationId,
    link_worker_service: OrganisationId,
    consent: Consent,
    contact_due_at: DateTime<Utc>,
}

impl AcceptedSubmission {
    /// Who refers.
    pub fn referring_organisation(&self) -> OrganisationId {
        self.referring_organisation
    }

    /// The link worker service that will work the referral.
    pub fn link_worker_service(&self) -> OrganisationId {
        self.link_worker_service
    }

    /// The consent the person gave.
    pub fn consent(&self) -> &Consent {
        &self.consent
    }

    /// When first contact is due.
    pub fn contact_due_at(&self) -> DateTime<Utc> {
        self.contact_due_at
    }

    /// An accepted submission without asking the rules, for the domain's own tests of what follows.
    #[cfg(test)]
    pub(crate) fn for_tests(referring_organisation: OrganisationId, link_worker_service: OrganisationId) -> Self {
        AcceptedSubmission {
            referring_organisation,
            link_worker_service,
            consent: Consent { recorded_by: "Dr Patel".into(), recorded_at: DateTime::<Utc>::UNIX_EPOCH },
            contact_due_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }
}

impl Consent {
    /// The consent a referral needs: given, and not recorded in the future (`now`, give or take clock
    /// drift). [`NewReferral::accept`] asks it; a form may ask it too, to show every problem at once.
    pub fn required(consent: Option<&Consent>, now: DateTime<Utc>) -> Result<Consent, ValueError> {
        let consent = consent.cloned().ok_or_else(|| {
            ValueError::new("consent", "false", "must be given to share the referral with the network")
        })?;
        if consent.recorded_at > now + CLOCK_SKEW {
            return Err(ValueError::new("consent.recordedAt", consent.recorded_at.to_rfc3339(), "is in the future"));
        }
        Ok(consent)
    }
}

/// How far ahead of the server's clock a consent time may be: client clocks drift.
const CLOCK_SKEW: Duration = Duration::minutes(5);

impl NewReferral {
    /// Whether `actor` may submit this referral for `referrer` at `now`, and if so to whom it goes.
    ///
    /// A GP practice refers for itself to its link worker service; a link worker service takes a
    /// self-referral (or one from another source) for itself. Everyone else is forbidden. The person
    /// must have consented, not in the future; first contact is due by `policy` for the urgency.
    pub fn accept(
        &self,
        referrer: &Referrer,
        actor: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<AcceptedSubmission, DomainError> {
        let forbidden = DomainError::Forbidden { role: actor.role, action: "submit referrals" };
        if actor.organisation != Some(referrer.organisation) {
            return Err(forbidden);
        }
        let link_worker_service = match actor.role {
            Role::GpPractice => referrer.link_worker_service.ok_or_else(|| {
                ValueError::new("organisation", referrer.name.clone(), "has no link worker service to refer to")
            })?,
            Role::LinkWorker => referrer.organisation,
            _ => return Err(forbidden),
        };
        let consent = Consent::required(self.consent.as_ref(), now)?;
        Ok(AcceptedSubmission {
            referring_organisation: referrer.organisation,
            link_worker_service,
            consent,
            contact_due_at: policy.contact_due(self.urgency, now),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::ids::UserId;
    use crate::person::example as person;

    const PRACTICE: OrganisationId = OrganisationId(Uuid::from_u128(1));
    const SERVICE: OrganisationId = OrganisationId(Uuid::from_u128(2));
    const ELSEWHERE: OrganisationId = OrganisationId(Uuid::from_u128(99));

    fn monday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn practice() -> Referrer {
        Referrer { organisation: PRACTICE, name: "Riverside Practice".into(), link_worker_service: Some(SERVICE) }
    }

    fn service() -> Referrer {
        Referrer { organisation: SERVICE, name: "Link Workers".into(), link_worker_service: None }
    }

    fn new(urgency: Urgency) -> NewReferral {
        NewReferral {
            person: person(),
            needs: vec![Need::Loneliness],
            reason: "Would like company.".into(),
            urgency,
            consent: Some(Consent { recorded_by: "Dr Patel".into(), recorded_at: monday() - Duration::hours(1) }),
        }
    }

    fn user(role: Role, organisation: OrganisationId) -> Actor {
        Actor::user(UserId(Uuid::from_u128(20)), role, organisation)
    }

    #[test]
    fn a_practice_refers_to_its_own_link_worker_service_due_by_the_policy() {
        let accepted =
            new(Urgency::Routine).accept(&practice(), &user(Role::GpPractice, PRACTICE), &Policy::default(), monday());
        let accepted = accepted.unwrap();
        assert_eq!(accepted.referring_organisation(), PRACTICE);
        assert_eq!(accepted.link_worker_service(), SERVICE);
        assert_eq!(accepted.contact_due_at(), Policy::default().contact_due(Urgency::Routine, monday()));
        assert_eq!(accepted.consent().recorded_by, "Dr Patel");
    }

    #[test]
    fn a_link_worker_takes_a_self_referral_for_its_own_service() {
        let accepted =
            new(Urgency::Urgent).accept(&service(), &user(Role::LinkWorker, SERVICE), &Policy::default(), monday());
        let accepted = accepted.unwrap();
        assert_eq!((accepted.referring_organisation(), accepted.link_worker_service()), (SERVICE, SERVICE));
        assert_eq!(accepted.contact_due_at(), monday() + Duration::days(1), "urgent: one working day");
    }

    #[test]
    fn only_a_practice_or_a_link_worker_acting_for_the_referrer_may_submit() {
        let policy = Policy::default();
        for role in [Role::Provider, Role::NetworkLead, Role::Admin] {
            let refused = new(Urgency::Routine).accept(&practice(), &user(role, PRACTICE), &policy, monday());
            assert_eq!(refused, Err(DomainError::Forbidden { role, action: "submit referrals" }));
        }
        let system = new(Urgency::Routine).accept(&practice(), &Actor::system(), &policy, monday());
        assert!(matches!(system, Err(DomainError::Forbidden { role: Role::System, .. })));
        let foreign = new(Urgency::Routine).accept(&practice(), &user(Role::GpPractice, ELSEWHERE), &policy, monday());
        assert!(matches!(foreign, Err(DomainError::Forbidden { .. })), "another practice's organisation");
    }

    #[test]
    fn a_practice_without_a_link_worker_service_is_refused_naming_itself() {
        let alone = Referrer { link_worker_service: None, ..practice() };
        let refused =
            new(Urgency::Routine).accept(&alone, &user(Role::GpPractice, PRACTICE), &Policy::default(), monday());
        assert!(
            matches!(&refused, Err(DomainError::Invalid(v)) if v.field == "organisation" && v.value == "Riverside Practice"),
            "{refused:?}"
        );
    }

    #[test]
    fn a_referral_without_consent_is_refused() {
        let without = NewReferral { consent: None, ..new(Urgency::Routine) };
        let refused = without.accept(&practice(), &user(Role::GpPractice, PRACTICE), &Policy::default(), monday());
        assert!(matches!(&refused, Err(DomainError::Invalid(v)) if v.field == "consent"), "{refused:?}");
    }

    #[test]
    fn consent_recorded_in_the_future_is_refused_beyond_clock_skew() {
        let at = |recorded_at| NewReferral {
            consent: Some(Consent { recorded_by: "Dr Patel".into(), recorded_at }),
            ..new(Urgency::Routine)
        };
        let gp = user(Role::GpPractice, PRACTICE);
        let policy = Policy::default();
        assert!(at(monday() + Duration::minutes(5)).accept(&practice(), &gp, &policy, monday()).is_ok());
        let refused = at(monday() + Duration::minutes(6)).accept(&practice(), &gp, &policy, monday());
        assert!(matches!(&refused, Err(DomainError::Invalid(v)) if v.field == "consent.recordedAt"), "{refused:?}");
    }
}
