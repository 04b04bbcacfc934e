//! The message back to the referring GP practice, assembled from a closed referral: the PRSB content as
//! far as Trellis holds it (`trellis-gp-message` turns it into the PDF and the FHIR bundle).
//!
//! It is built from the referral as committed, so it says what the practice can also see in Trellis: the
//! person as the referral holds them, the contacts, needs, the plan's summary, the support offered and
//! what became of it, the wellbeing measures and the closure. A free-text note is included only where the
//! link worker marked it for the GP (`forGp`); every other note stays in Trellis.

use chrono::{DateTime, Utc};
use trellis_domain::ReferralId;
use trellis_domain::offer::OfferStatus;
use trellis_domain::referral::{ReferralEventKind, ReferralStatus};
use trellis_gp_message::content::{
    LinkWorker, Measure, MessageBack, Occasion, Organisation, Person, PlanGoal, SupportOffered,
};
use uuid::Uuid;

use crate::referrals::ReferralRecord;
use crate::wellbeing::wellbeing_changes;
use crate::{Store, StoreError};

/// What became of an offer, in the words a practice reads.
fn outcome(status: OfferStatus, decline: Option<trellis_domain::offer::DeclineReason>) -> String {
    match (status, decline) {
        (OfferStatus::Declined, Some(reason)) => format!("declined: {}", reason.as_str().replace('_', " ")),
        (OfferStatus::Started, _) => "attended".into(),
        (OfferStatus::Finished, _) => "attended and finished".into(),
        (OfferStatus::EndedEarly, _) => "attended, ended early".into(),
        (other, _) => other.as_str().replace('_', " "),
    }
}

/// The id of `version` of the message back about `referral` for `occasion`: the same every time it is
/// built, so a retry never makes a second document; each correction (a new version) has its own.
pub fn message_id(referral: ReferralId, occasion: Occasion, version: u32) -> Uuid {
    let occasion = match occasion {
        Occasion::Closure => "closure",
        Occasion::FirstContact => "first-contact",
    };
    Uuid::new_v5(&referral.0, format!("gp-message-{occasion}-{version}").as_bytes())
}

impl Store {
    /// The message back for a closed referral already read in scope; `None` while it is open. It is the
    /// latest version: the one sent over MESH, or its correction queued since (the first version where
    /// nothing was sent), with the same id as that version.
    pub async fn gp_message_of(
        &self,
        record: &ReferralRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<MessageBack>, StoreError> {
        if record.state.status != ReferralStatus::Closed {
            return Ok(None);
        }
        let referral = record.state.id;
        let version = crate::gp_delivery::latest_versions(&self.db, referral)
            .await?
            .get(&Occasion::Closure)
            .copied()
            .unwrap_or(1);
        self.build_gp_message(record, Occasion::Closure, version, now).await.map(Some)
    }

    /// `version` of the message back about a referral already read in scope, for `occasion`: at first
    /// contact it says the person has been contacted and carries no outcome, whatever happened since. A
    /// version after the first replaces the one before it.
    pub(crate) async fn build_gp_message(
        &self,
        record: &ReferralRecord,
        occasion: Occasion,
        version: u32,
        now: DateTime<Utc>,
    ) -> Result<MessageBack, StoreError> {
        let closing = occasion == Occasion::Closure;
        let referral = record.state.id;
        let practice = self.organisation(record.state.referring_organisation).await?;
        let service = self.organisation(record.state.link_worker_service).await?;
        let assigned = match record.state.assigned_to {
            Some(user) => Some(self.user(user).await?.name),
            None => None,
        };
        let referrer = match record.referred_by {
            Some(user) => Some(self.user(user).await?.name),
            None => None,
        };
        let history = self.events_of_many(&[referral]).await?.remove(&referral).unwrap_or_default();
        let contact_dates = history
            .iter()
            .filter(|e| matches!(e.kind, ReferralEventKind::Contacted | ReferralEventKind::ContactAttempted))
            .map(|e| e.at)
            .collect();
        let notes_for_gp = history
            .iter()
            .filter(|e| e.note_for_gp)
            .filter_map(|e| {
                let note = e.note.as_deref()?;
                let what = e.kind.name().replace('_', " ");
                Some(format!("{} ({what}): {note}", e.at.format("%d %B %Y")))
            })
            .collect();
        let closed_at = history
            .iter()
            .rev()
            .find(|e| matches!(e.kind, ReferralEventKind::Closed { .. }))
            .map(|e| e.at)
            .filter(|_| closing);
        let plan = self.plan_of(record).await?.map(|p| {
            let summary = p.plan.summary();
            let goals = summary
                .goals
                .into_iter()
                .map(|g| PlanGoal {
                    description: g.description,
                    review: g.review.map(|r| r.as_str().replace('_', " ")),
                    actions: g.actions.into_iter().map(|a| (a.what, a.status.as_str().replace('_', " "))).collect(),
                })
                .collect();
            (summary.what_matters, goals)
        });
        let support = self
            .offers_of_many(&[referral])
            .await?
            .remove(&referral)
            .unwrap_or_default()
            .into_iter()
            .map(|o| SupportOffered {
                service: o.service_name,
                provider: o.provider_name,
                outcome: outcome(o.state.status, o.state.decline_reason),
            })
            .collect();
        let measures = wellbeing_changes(&self.measures_of(record).await?)
            .into_iter()
            .flat_map(|change| {
                let instrument = change.baseline.scores.instrument;
                let at = |m: &crate::wellbeing::Measure, key: &str| -> Option<(DateTime<Utc>, f64)> {
                    let value = match (key, m.scores.total) {
                        ("total", Some(total)) => Some(total.metric),
                        _ => m.scores.items.iter().find(|i| i.item.key == key).and_then(|i| i.answer).map(f64::from),
                    };
                    value.map(|v| (m.taken_at, v))
                };
                let keys: Vec<&'static str> = if instrument.snomed.is_some() && change.baseline.scores.total.is_some() {
                    vec!["total"]
                } else {
                    instrument.items.iter().map(|i| i.key).collect()
                };
                keys.into_iter()
                    .map(|key| Measure {
                        instrument: instrument.code.as_str().to_uppercase(),
                        score: key.to_owned(),
                        snomed: instrument.snomed.map(str::to_owned),
                        baseline: at(&change.baseline, key),
                        follow_up: change.follow_up.as_ref().and_then(|f| at(f, key)),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let details = &record.person.details;
        Ok(MessageBack {
            id: message_id(referral, occasion, version),
            version,
            replaces: version.checked_sub(1).filter(|v| *v >= 1).map(|earlier| message_id(referral, occasion, earlier)),
            occasion,
            created_at: now,
            referral_id: referral.0,
            person: Person {
                nhs_number: details.nhs_number.as_str().to_owned(),
                given_name: details.given_name.clone(),
                family_name: details.family_name.clone(),
                date_of_birth: details.date_of_birth,
            },
            practice: Organisation { name: practice.name, ods_code: practice.ods_code },
            referred_at: record.state.created_at,
            referrer,
            reason: record.reason.clone(),
            link_worker: LinkWorker {
                name: assigned,
                service: Organisation { name: service.name, ods_code: service.ods_code },
                contact_email: service.email,
            },
            contact_dates,
            needs: record.needs.clone(),
            plan,
            support,
            measures,
            closure: record.state.closure_reason.filter(|_| closing),
            closed_at,
            notes_for_gp,
        })
    }
}
