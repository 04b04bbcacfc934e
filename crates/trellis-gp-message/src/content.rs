//! What the message back to the GP holds: the PRSB Social Prescribing Standard's "message back to GP and
//! referrer", as far as Trellis has it, and nothing beyond that set.

use chrono::{DateTime, NaiveDate, Utc};
use trellis_domain::referral::ClosureReason;
use trellis_domain::values::Need;
use uuid::Uuid;

/// Why the message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occasion {
    /// The referral closed: the outcome.
    Closure,
    /// The link worker first reached the person (where the link worker service turns this on).
    FirstContact,
}

/// The person, as the referral holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// NHS number, ten digits.
    pub nhs_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
}

/// An organisation named in the message.
#[derive(Clone, Debug, PartialEq)]
pub struct Organisation {
    /// Its name.
    pub name: String,
    /// Its ODS code, where it has one.
    pub ods_code: Option<String>,
}

/// The link worker and how to reach their service.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkWorker {
    /// Their name, if a link worker was assigned.
    pub name: Option<String>,
    /// Their service.
    pub service: Organisation,
    /// The service's contact email.
    pub contact_email: Option<String>,
}

/// What became of one offer of support.
#[derive(Clone, Debug, PartialEq)]
pub struct SupportOffered {
    /// The service.
    pub service: String,
    /// Its provider.
    pub provider: String,
    /// What became of it, in plain words (`accepted`, `attended`, `declined: at capacity`, …).
    pub outcome: String,
}

/// A goal of the plan, with its actions' status.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanGoal {
    /// The goal.
    pub description: String,
    /// How far it was achieved, once reviewed (`achieved`, `partly achieved`, `not achieved`).
    pub review: Option<String>,
    /// Each action: what, and where it stands.
    pub actions: Vec<(String, String)>,
}

/// A wellbeing score at the baseline and the follow-up.
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    /// The instrument (`ONS4`, `SWEMWBS`).
    pub instrument: String,
    /// What was scored (`life_satisfaction`, `total`, …).
    pub score: String,
    /// The SNOMED CT code of the score, where one exists.
    pub snomed: Option<String>,
    /// At the baseline.
    pub baseline: Option<(DateTime<Utc>, f64)>,
    /// At the follow-up.
    pub follow_up: Option<(DateTime<Utc>, f64)>,
}

/// The whole message back.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageBack {
    /// This message's id (the Composition's identifier); a correction has a new one.
    pub id: Uuid,
    /// Which version of the message about this referral and occasion it is: 1, then one more for each
    /// correction (the bundle's `meta.versionId`).
    pub version: u32,
    /// The message it corrects (the previous version's id), if any.
    pub replaces: Option<Uuid>,
    /// Why it is sent.
    pub occasion: Occasion,
    /// When it was built.
    pub created_at: DateTime<Utc>,
    /// The referral's id in Trellis.
    pub referral_id: Uuid,
    /// The person.
    pub person: Person,
    /// The referring practice.
    pub practice: Organisation,
    /// When the referral was made.
    pub referred_at: DateTime<Utc>,
    /// Who referred, as recorded.
    pub referrer: Option<String>,
    /// The referrer's reason.
    pub reason: String,
    /// The link worker.
    pub link_worker: LinkWorker,
    /// When the person was contacted (first contact, and attempts).
    pub contact_dates: Vec<DateTime<Utc>>,
    /// Needs and concerns.
    pub needs: Vec<Need>,
    /// The plan: what matters to the person, and the goals.
    pub plan: Option<(String, Vec<PlanGoal>)>,
    /// The support offered and what became of each.
    pub support: Vec<SupportOffered>,
    /// Wellbeing measures.
    pub measures: Vec<Measure>,
    /// The closure reason, on closure.
    pub closure: Option<ClosureReason>,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Notes the link worker marked for the GP, each with its date and what it was written on; no other
    /// note is ever included.
    pub notes_for_gp: Vec<String>,
}

impl MessageBack {
    /// The title of the document.
    pub fn title(&self) -> &'static str {
        match self.occasion {
            Occasion::Closure => "Social prescribing: outcome of referral",
            Occasion::FirstContact => "Social prescribing: person contacted",
        }
    }

    /// The line a correction starts with, saying what it replaces; `None` for a first version.
    pub fn correction_text(&self) -> Option<String> {
        self.replaces.map(|earlier| {
            format!(
                "Correction (version {}): this message replaces the earlier one ({earlier}); file this one instead.",
                self.version
            )
        })
    }

    /// The person's name as a practice files it: FAMILY, Given.
    pub fn person_name(&self) -> String {
        format!("{}, {}", self.person.family_name.to_uppercase(), self.person.given_name)
    }

    /// The NHS number as people read it: 943 476 5919.
    pub fn nhs_number_spaced(&self) -> String {
        let n = &self.person.nhs_number;
        if n.len() == 10 && n.is_ascii() { format!("{} {} {}", &n[..3], &n[3..6], &n[6..]) } else { n.clone() }
    }

    /// The closure in words, with its code where one exists.
    pub fn outcome_text(&self) -> Option<String> {
        let reason = self.closure?;
        let words = reason.as_str().replace('_', " ");
        Some(match reason.snomed() {
            Some(code) => format!("Closed: {words} (SNOMED CT {code})"),
            None => format!("Closed: {words}"),
        })
    }
}
