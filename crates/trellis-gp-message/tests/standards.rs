//! The message back as third parties read it: the bundle parses with a real FHIR STU3 library
//! (`fhir.resources`), and the PDF reads back with `pdftotext` (both installed by `scripts/ensure-prereqs`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::path::PathBuf;

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::Value;
use trellis_domain::referral::ClosureReason;
use trellis_domain::values::Need;
use trellis_gp_message::content::{
    LinkWorker, Measure, MessageBack, Occasion, Organisation, Person, PlanGoal, SupportOffered,
};
use trellis_gp_message::{bundle, pdf};
use uuid::Uuid;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn message(closure: ClosureReason, replaces: Option<Uuid>) -> MessageBack {
    let at = |d| Utc.with_ymd_and_hms(2026, 11, d, 10, 0, 0).unwrap();
    MessageBack {
        id: Uuid::from_u128(0x5eed),
        version: if replaces.is_some() { 2 } else { 1 },
        replaces,
        occasion: Occasion::Closure,
        created_at: at(26),
        referral_id: Uuid::from_u128(42),
        person: Person {
            nhs_number: "9434765919".into(),
            given_name: "Margaret".into(),
            family_name: "Hughes".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1946, 5, 17).unwrap(),
        },
        practice: Organisation { name: "Long Eaton Health Centre".into(), ods_code: Some("C84001".into()) },
        referred_at: at(2),
        referrer: Some("Dr Patel".into()),
        reason: "Widowed last year and rarely goes out (lives alone)".into(),
        link_worker: LinkWorker {
            name: Some("Sam Link".into()),
            service: Organisation { name: "Erewash PCN social prescribing".into(), ods_code: None },
            contact_email: Some("sp@erewash.example.org".into()),
        },
        contact_dates: vec![at(4), at(5)],
        needs: vec![Need::Loneliness, Need::PhysicalActivity],
        plan: Some((
            "Getting out and meeting people".into(),
            vec![PlanGoal {
                description: "Walk with others weekly".into(),
                review: Some("achieved".into()),
                actions: vec![("Try the Tuesday walk".into(), "done".into())],
            }],
        )),
        support: vec![SupportOffered {
            service: "Long Eaton Walking Group".into(),
            provider: "Green Spring".into(),
            outcome: "attended".into(),
        }],
        measures: vec![Measure {
            instrument: "SWEMWBS".into(),
            score: "total".into(),
            snomed: Some("718466001".into()),
            baseline: Some((at(5), 18.59)),
            follow_up: Some((at(25), 22.35)),
        }],
        closure: Some(closure),
        closed_at: Some(at(26)),
        notes_for_gp: vec!["Walks every Tuesday now.".into()],
    }
}

fn third_party_reading(message: &MessageBack) -> Value {
    let document = pdf::render(message);
    let bundle = bundle::message_bundle(message, &document, "X26ABC1");
    let dir = std::env::temp_dir().join(format!("trellis-gp-message-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bundle.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let python = repo().join("tests/py/.venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg(repo().join("tests/py/check_gp_message.py"))
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{} (run scripts/ensure-prereqs): {e}", python.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let reading: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(reading["ok"], true, "{reading}");
    reading
}

#[test]
fn a_declined_closure_parses_as_fhir_stu3_with_its_snomed_codes_and_a_readable_pdf() {
    let reading = third_party_reading(&message(ClosureReason::DeclinedByPerson, None));
    assert_eq!(reading["nhs_number"], serde_json::json!(["9434765919"]));
    assert_eq!(reading["ods_codes"], serde_json::json!(["C84001"]));
    let codes: Vec<&str> = reading["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for code in ["871731000000106", "871711000000103", "718466001"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let text = reading["pdf_text"].as_str().unwrap();
    for expected in [
        "Long Eaton Health Centre (C84001)",
        "HUGHES, Margaret",
        "943 476 5919",
        "Outcome: Closed: declined by person",
        "871711000000103",
        "Walks every Tuesday now.",
    ] {
        assert!(text.contains(expected), "{expected:?} not in the PDF:\n{text}");
    }
    let sections: Vec<&str> = reading["sections"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(
        sections,
        [
            "Referral",
            "Needs and concerns",
            "Support offered",
            "Care and support plan",
            "Wellbeing",
            "Outcome",
            "Notes from the link worker",
            "Document"
        ]
    );
}

#[test]
fn a_correction_says_which_message_it_replaces() {
    let earlier = Uuid::from_u128(0x01d);
    let reading = third_party_reading(&message(ClosureReason::Completed, Some(earlier)));
    assert_eq!(reading["replaces"], serde_json::json!([earlier.to_string()]));
    assert_eq!(reading["version"], "2");
    assert_eq!(reading["sections"][0], "Correction");
    let text = reading["pdf_text"].as_str().unwrap();
    assert!(text.contains("Correction (version 2)") && text.contains(&earlier.to_string()), "{text}");
    let codes: Vec<&str> = reading["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(!codes.contains(&"871711000000103"), "only a declined closure carries the declined code");
}

#[test]
fn the_same_message_always_builds_the_same_bundle() {
    let m = message(ClosureReason::Completed, None);
    let document = pdf::render(&m);
    assert_eq!(bundle::message_bundle(&m, &document, "X26ABC1"), bundle::message_bundle(&m, &document, "X26ABC1"));
}

#[test]
#[ignore = "writes the sample PDF for a person to look at: TRELLIS_PDF_OUT=/path cargo test -- --ignored"]
fn write_the_sample_pdf() {
    let out = std::env::var("TRELLIS_PDF_OUT").unwrap_or_else(|_| "gp-message.pdf".into());
    std::fs::write(out, pdf::render(&message(ClosureReason::DeclinedByPerson, None))).unwrap();
}
