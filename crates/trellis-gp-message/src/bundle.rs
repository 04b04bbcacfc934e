//! The GP Connect Send Document payload: an ITK3 message bundle (FHIR STU3) whose `MessageHeader` points
//! at a document bundle — `Composition` first, then the `Patient` (NHS number), the practice and link
//! worker service (`Organization`, ODS code), the `ReferralRequest` (SNOMED CT 871731000000106), the coded
//! structured parts as `Observation`s (needs, wellbeing scores, the closure), and the PDF as a `Binary`.
//!
//! A correction is a new version of the message (`meta.versionId` on the document bundle and its
//! Composition) with a new id, whose `Composition.relatesTo` says it `replaces` the previous version's,
//! and whose first section says so in words for the person filing it.

use base64::Engine as _;
use serde_json::{Value, json};
use trellis_domain::referral::{ClosureReason, SNOMED_REFERRAL_TO_SOCIAL_PRESCRIBING};
use uuid::Uuid;

use crate::content::{MessageBack, Occasion};

/// SNOMED CT's system URI.
pub const SNOMED: &str = "http://snomed.info/sct";
/// The NHS number's identifier system.
pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// The ODS code's identifier system.
pub const ODS_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// The ITK3 message event for sending a document.
const ITK_EVENT_SYSTEM: &str = "https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2";
/// SNOMED CT 371530004 "Clinical consultation report": the document's type.
const DOCUMENT_TYPE: &str = "371530004";

fn urn(id: Uuid) -> String {
    format!("urn:uuid:{id}")
}

/// XHTML narrative, with the text escaped.
fn narrative(lines: &[String]) -> Value {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body: String = lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect();
    json!({ "status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div>") })
}

/// Deterministic ids for a message's resources, so the same message always builds the same bundle.
fn id_for(message: &MessageBack, part: &str) -> Uuid {
    Uuid::new_v5(&message.id, part.as_bytes())
}

/// The ITK3 message bundle for `message`, with `pdf` attached, from `sender_mailbox` (Trellis's MESH
/// mailbox) to the practice.
pub fn message_bundle(message: &MessageBack, pdf: &[u8], sender_mailbox: &str) -> Value {
    let document = document_bundle(message, pdf);
    let header_id = id_for(message, "message-header");
    let document_id = id_for(message, "document-bundle");
    let recipient = message.practice.ods_code.clone().unwrap_or_default();
    json!({
        "resourceType": "Bundle",
        "id": id_for(message, "message-bundle"),
        "meta": { "profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/ITK-Message-Bundle-1"] },
        "identifier": { "system": "https://tools.ietf.org/html/rfc4122", "value": id_for(message, "message-bundle").to_string() },
        "type": "message",
        "entry": [
            {
                "fullUrl": urn(header_id),
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": header_id,
                    "event": { "system": ITK_EVENT_SYSTEM, "code": "ITK007C", "display": "ITK GP Connect Send Document" },
                    "timestamp": message.created_at.to_rfc3339(),
                    "destination": [{ "endpoint": format!("{ODS_CODE}|{recipient}"), "name": message.practice.name }],
                    "source": { "endpoint": sender_mailbox, "name": "Trellis" },
                    "focus": [{ "reference": urn(document_id) }]
                }
            },
            { "fullUrl": urn(document_id), "resource": document }
        ]
    })
}

/// The document bundle: the Composition, its subject, its author and the coded parts, and the PDF.
pub fn document_bundle(message: &MessageBack, pdf: &[u8]) -> Value {
    let patient_id = id_for(message, "patient");
    let practice_id = id_for(message, "practice");
    let service_id = id_for(message, "link-worker-service");
    let referral_id = id_for(message, "referral-request");
    let binary_id = id_for(message, "pdf");
    let composition_id = id_for(message, "composition");
    let patient = json!({ "reference": urn(patient_id) });
    let organisation = |id: Uuid, org: &crate::content::Organisation| {
        let mut resource = json!({ "resourceType": "Organization", "id": id, "name": org.name });
        if let Some(ods) = &org.ods_code {
            resource["identifier"] = json!([{ "system": ODS_CODE, "value": ods }]);
        }
        resource
    };

    let mut needs: Vec<(Uuid, Value)> = vec![];
    for (i, need) in message.needs.iter().enumerate() {
        let id = id_for(message, &format!("need-{i}"));
        needs.push((
            id,
            json!({
                "resourceType": "Observation", "id": id, "status": "final",
                "category": [{ "coding": [{ "system": "http://hl7.org/fhir/observation-category", "code": "social-history" }] }],
                "code": { "text": "Social prescribing need or concern" },
                "subject": patient, "valueString": need.label()
            }),
        ));
    }
    let mut measures: Vec<(Uuid, Value)> = vec![];
    for (i, measure) in message.measures.iter().enumerate() {
        for (when, value) in [("baseline", measure.baseline), ("follow-up", measure.follow_up)] {
            let Some((at, score)) = value else { continue };
            let id = id_for(message, &format!("measure-{i}-{when}"));
            let code = match &measure.snomed {
                Some(code) => json!({
                    "coding": [{ "system": SNOMED, "code": code }],
                    "text": format!("{} {} ({when})", measure.instrument, measure.score)
                }),
                None => json!({ "text": format!("{} {} ({when})", measure.instrument, measure.score) }),
            };
            measures.push((
                id,
                json!({
                    "resourceType": "Observation", "id": id, "status": "final", "code": code, "subject": patient,
                    "effectiveDateTime": at.to_rfc3339(), "valueQuantity": { "value": score }
                }),
            ));
        }
    }
    let mut closure_observation: Vec<(Uuid, Value)> = vec![];
    if let Some(reason) = message.closure {
        let id = id_for(message, "closure");
        let words = format!("Social prescribing closed: {}", reason.as_str().replace('_', " "));
        let code = match reason.snomed() {
            Some(code) => {
                json!({ "coding": [{ "system": SNOMED, "code": code, "display": "Social prescribing declined" }], "text": words })
            }
            None => json!({ "text": words }),
        };
        let mut closure =
            json!({ "resourceType": "Observation", "id": id, "status": "final", "code": code, "subject": patient });
        if let Some(at) = message.closed_at {
            closure["effectiveDateTime"] = json!(at.to_rfc3339());
        }
        closure_observation.push((id, closure));
    }

    let referral_status = match (message.occasion, message.closure) {
        (Occasion::FirstContact, _) | (Occasion::Closure, None) => "active",
        (Occasion::Closure, Some(ClosureReason::EnteredInError)) => "entered-in-error",
        (Occasion::Closure, Some(ClosureReason::Completed)) => "completed",
        (Occasion::Closure, Some(_)) => "cancelled",
    };
    let meta = json!({ "versionId": message.version.to_string() });
    let mut composition = json!({
        "resourceType": "Composition",
        "id": composition_id,
        "meta": meta.clone(),
        "identifier": { "system": "https://tools.ietf.org/html/rfc4122", "value": message.id.to_string() },
        "status": "final",
        "type": { "coding": [{ "system": SNOMED, "code": DOCUMENT_TYPE, "display": "Clinical consultation report" }] },
        "subject": patient,
        "date": message.created_at.to_rfc3339(),
        "author": [{ "reference": urn(service_id) }],
        "title": message.title(),
        "section": sections(message, Parts { referral: referral_id, needs: &needs, measures: &measures, closure: &closure_observation, pdf: binary_id }),
    });
    if let Some(replaced) = message.replaces {
        composition["relatesTo"] = json!([{
            "code": "replaces",
            "targetIdentifier": { "system": "https://tools.ietf.org/html/rfc4122", "value": replaced.to_string() }
        }]);
    }

    let mut entries = vec![
        (composition_id, composition),
        (
            patient_id,
            json!({
                "resourceType": "Patient", "id": patient_id,
                "identifier": [{ "system": NHS_NUMBER, "value": message.person.nhs_number }],
                "name": [{ "family": message.person.family_name, "given": [message.person.given_name] }],
                "birthDate": message.person.date_of_birth.to_string(),
                "generalPractitioner": [{ "reference": urn(practice_id) }]
            }),
        ),
        (practice_id, organisation(practice_id, &message.practice)),
        (service_id, organisation(service_id, &message.link_worker.service)),
        (
            referral_id,
            json!({
                "resourceType": "ReferralRequest", "id": referral_id,
                "identifier": [{ "system": "https://tools.ietf.org/html/rfc4122", "value": message.referral_id.to_string() }],
                "status": referral_status, "intent": "order",
                "serviceRequested": [{ "coding": [{ "system": SNOMED, "code": SNOMED_REFERRAL_TO_SOCIAL_PRESCRIBING, "display": "Referral to social prescribing service" }] }],
                "subject": patient, "authoredOn": message.referred_at.to_rfc3339(),
                "recipient": [{ "reference": urn(service_id) }],
                "description": message.reason
            }),
        ),
    ];
    entries.extend(needs);
    entries.extend(measures);
    entries.extend(closure_observation);
    entries.push((
        binary_id,
        json!({
            "resourceType": "Binary", "id": binary_id, "contentType": "application/pdf",
            "content": base64::engine::general_purpose::STANDARD.encode(pdf)
        }),
    ));
    json!({
        "resourceType": "Bundle",
        "id": id_for(message, "document-bundle"),
        "meta": meta,
        "identifier": { "system": "https://tools.ietf.org/html/rfc4122", "value": message.id.to_string() },
        "type": "document",
        "entry": entries.into_iter().map(|(id, resource)| json!({ "fullUrl": urn(id), "resource": resource })).collect::<Vec<_>>()
    })
}

/// The resources a Composition's sections point at.
struct Parts<'a> {
    referral: Uuid,
    needs: &'a [(Uuid, Value)],
    measures: &'a [(Uuid, Value)],
    closure: &'a [(Uuid, Value)],
    pdf: Uuid,
}

fn references(resources: &[(Uuid, Value)]) -> Vec<Value> {
    resources.iter().map(|(id, _)| json!({ "reference": urn(*id) })).collect()
}

fn sections(message: &MessageBack, parts: Parts<'_>) -> Value {
    let mut support: Vec<String> =
        message.support.iter().map(|s| format!("{} ({}): {}", s.service, s.provider, s.outcome)).collect();
    if support.is_empty() {
        support.push("None.".into());
    }
    let mut list: Vec<Value> = message
        .correction_text()
        .map(|correction| json!({ "title": "Correction", "text": narrative(&[correction]) }))
        .into_iter()
        .collect();
    list.extend([
        json!({ "title": "Referral", "text": narrative(&[format!("Reason: {}", message.reason)]), "entry": [{ "reference": urn(parts.referral) }] }),
        json!({ "title": "Needs and concerns", "text": narrative(&message.needs.iter().map(|n| n.label().to_owned()).collect::<Vec<_>>()), "entry": references(parts.needs) }),
        json!({ "title": "Support offered", "text": narrative(&support) }),
    ]);
    if let Some((what_matters, goals)) = &message.plan {
        let mut lines = vec![format!("What matters to the person: {what_matters}")];
        for goal in goals {
            lines.push(format!(
                "Goal: {}{}",
                goal.description,
                goal.review.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            ));
            lines.extend(goal.actions.iter().map(|(what, status)| format!("Action: {what}: {status}")));
        }
        list.push(json!({ "title": "Care and support plan", "text": narrative(&lines) }));
    }
    if !parts.measures.is_empty() {
        let lines: Vec<String> = message
            .measures
            .iter()
            .map(|m| {
                let at = |v: Option<(chrono::DateTime<chrono::Utc>, f64)>| {
                    v.map_or("not taken".to_owned(), |(_, s)| s.to_string())
                };
                format!("{} {}: baseline {}, follow-up {}", m.instrument, m.score, at(m.baseline), at(m.follow_up))
            })
            .collect();
        list.push(json!({ "title": "Wellbeing", "text": narrative(&lines), "entry": references(parts.measures) }));
    }
    if let Some(outcome) = message.outcome_text() {
        list.push(json!({ "title": "Outcome", "text": narrative(&[outcome]), "entry": references(parts.closure) }));
    }
    if !message.notes_for_gp.is_empty() {
        list.push(json!({ "title": "Notes from the link worker", "text": narrative(&message.notes_for_gp) }));
    }
    list.push(json!({ "title": "Document", "text": narrative(&["The report as a PDF.".into()]), "entry": [{ "reference": urn(parts.pdf) }] }));
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on the first surprise")]

    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::content::{LinkWorker, Organisation, Person};

    fn message(version: u32, replaces: Option<Uuid>) -> MessageBack {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        MessageBack {
            id: Uuid::from_u128(u128::from(version)),
            version,
            replaces,
            occasion: Occasion::Closure,
            created_at: at,
            referral_id: Uuid::from_u128(42),
            person: Person {
                nhs_number: "9434765919".into(),
                given_name: "Margaret".into(),
                family_name: "Hughes".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1946, 5, 17).unwrap(),
            },
            practice: Organisation { name: "Long Eaton Health Centre".into(), ods_code: Some("C84001".into()) },
            referred_at: at,
            referrer: None,
            reason: "Lives alone".into(),
            link_worker: LinkWorker {
                name: None,
                service: Organisation { name: "Erewash social prescribing".into(), ods_code: None },
                contact_email: None,
            },
            contact_dates: vec![],
            needs: vec![],
            plan: None,
            support: vec![],
            measures: vec![],
            closure: Some(ClosureReason::Completed),
            closed_at: Some(at),
            notes_for_gp: vec![],
        }
    }

    fn composition(document: &Value) -> &Value {
        &document["entry"][0]["resource"]
    }

    #[test]
    fn a_first_message_is_version_1_and_replaces_nothing() {
        let document = document_bundle(&message(1, None), b"%PDF");
        assert_eq!(document["meta"]["versionId"], "1");
        let composition = composition(&document);
        assert_eq!(composition["resourceType"], "Composition");
        assert_eq!(composition["meta"]["versionId"], "1");
        assert!(composition.get("relatesTo").is_none(), "{composition}");
        assert_eq!(composition["section"][0]["title"], "Referral");
    }

    #[test]
    fn a_correction_carries_its_version_and_replaces_the_previous_message_by_its_identifier() {
        let first = message(1, None);
        let correction = message(2, Some(first.id));
        let document = document_bundle(&correction, b"%PDF");
        assert_eq!(document["meta"]["versionId"], "2");
        assert_eq!(document["identifier"]["value"], correction.id.to_string(), "a correction has an id of its own");
        let composition = composition(&document);
        assert_eq!(composition["meta"]["versionId"], "2");
        assert_eq!(
            composition["relatesTo"],
            json!([{
                "code": "replaces",
                "targetIdentifier": { "system": "https://tools.ietf.org/html/rfc4122", "value": first.id.to_string() }
            }])
        );
        assert_eq!(composition["section"][0]["title"], "Correction", "said in words first, for whoever files it");
        let words = composition["section"][0]["text"]["div"].as_str().unwrap();
        assert!(words.contains("version 2") && words.contains(&first.id.to_string()), "{words}");
    }

    #[test]
    fn a_correction_builds_resources_with_ids_of_its_own() {
        let first = document_bundle(&message(1, None), b"%PDF");
        let second = document_bundle(&message(2, Some(Uuid::from_u128(1))), b"%PDF");
        let ids = |d: &Value| -> Vec<String> {
            d["entry"].as_array().unwrap().iter().map(|e| e["fullUrl"].as_str().unwrap().to_owned()).collect()
        };
        let (first, second) = (ids(&first), ids(&second));
        assert!(first.iter().all(|id| !second.contains(id)), "{first:?} / {second:?}");
    }
}
