//! The personal plan and wellbeing measures end to end, on SQLite and PostgreSQL, through the operations
//! printed in the user guides: contact → plan agreed → baseline → offer → attendance → follow-up →
//! close, with the change shown; who sees what of it; and bad input refused with nothing stored.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use trellis_api::ApiSettings;
use trellis_tests::{Backend, TestApp, doc_operation, on_both_backends, on_both_databases};

const GP: &str = "gp-practice.md";
const LW: &str = "link-worker.md";

/// A referral submitted by the fixture's practice and contacted by its link worker: version 2.
async fn contacted(app: &TestApp, nhs: &str) -> String {
    let id = submitted(app, nhs).await;
    let contact = json!({ "input": { "referralId": id, "expectedVersion": 1 } });
    app.ok(&app.tokens.link_worker, &doc_operation(LW, "RecordContact"), contact).await;
    id
}

/// A referral submitted by the fixture's practice: version 1.
async fn submitted(app: &TestApp, nhs: &str) -> String {
    let input = json!({ "input": {
        "idempotencyKey": format!("wellbeing-{nhs}"),
        "person": { "nhsNumber": nhs, "givenName": "Margaret", "familyName": "Hughes", "dateOfBirth": "1946-05-17",
                    "phone": "0115 496 0123", "preferredContact": "PHONE" },
        "needs": ["LONELINESS", "PHYSICAL_ACTIVITY"], "reason": "Rarely goes out.",
        "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": (Utc::now() - Duration::days(1)).to_rfc3339() } } });
    let submitted = app.ok(&app.tokens.gp, &doc_operation(GP, "SubmitReferral"), input).await;
    submitted["submitReferral"]["referral"]["id"].as_str().unwrap().to_owned()
}

fn plan_input(id: &str, version: u64, service: &Value, review: Option<&str>) -> Value {
    json!({ "input": {
        "referralId": id, "expectedVersion": version,
        "whatMatters": "Getting out and meeting people again, like when I walked with Jim",
        "needs": ["LONELINESS", "PHYSICAL_ACTIVITY"],
        "goals": [{
            "description": "Walk with others once a week", "importance": 9, "review": review,
            "actions": [
                { "what": "Try the Tuesday walk", "who": "SERVICE", "serviceId": service, "by": "2026-12-08", "confidence": 6 },
                { "what": "Buy walking shoes", "who": "PERSON", "by": "2026-12-05", "status": "DONE", "confidence": 8 }
            ]
        }],
        "reviewDate": "2026-12-20", "personAgreed": true } })
}

fn measure_input(id: &str, version: u64, instrument: &str, answers: Value) -> Value {
    json!({ "input": { "referralId": id, "expectedVersion": version, "instrument": instrument, "answers": answers,
                       "takenAt": Utc::now().to_rfc3339() } })
}

async fn version_of(app: &TestApp, id: &str) -> u64 {
    let q = "query($id: ID!) { referral(id: $id) { version } }";
    app.ok(&app.tokens.link_worker, q, json!({ "id": id })).await["referral"]["version"].as_u64().unwrap()
}

async fn walking_group(app: &TestApp) -> Value {
    json!(app.fixture.walking_group.id.to_string())
}

/// What the provider user sees of its offers.
async fn provider_offers(app: &TestApp) -> Vec<Value> {
    let q = "{ providerOffers { nodes { planActions { goal what by status } contact { name } offer { id } } } }";
    let data = app.ok(&app.tokens.provider, q, json!({})).await;
    data["providerOffers"]["nodes"].as_array().unwrap().clone()
}

on_both_databases!(
    a_person_s_plan_and_wellbeing_go_from_first_contact_to_closure_and_the_practice_sees_the_change,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let id = contacted(&app, "943 476 5919").await;
        let service = walking_group(&app).await;

        // The plan, agreed with the person.
        let planned =
            app.ok(&t.link_worker, &doc_operation(LW, "UpdatePlan"), plan_input(&id, 2, &service, None)).await;
        assert_eq!(planned["updatePlan"]["referral"]["version"], 3);
        assert_eq!(planned["updatePlan"]["plan"]["version"], 1);
        assert_eq!(planned["updatePlan"]["plan"]["goals"][0]["actions"][0]["status"], "NOT_STARTED");
        assert_eq!(planned["updatePlan"]["plan"]["goals"][0]["actions"][0]["serviceId"], service);

        // Baselines with both instruments.
        let ons = app
            .ok(&t.link_worker, &doc_operation(LW, "RecordMeasure"), measure_input(&id, 3, "ONS4", json!([3, 5, 4, 8])))
            .await;
        let bands: Vec<&str> = ons["recordMeasure"]["measure"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["band"].as_str().unwrap())
            .collect();
        assert_eq!(bands, ["low", "medium", "low", "high"]);
        let swemwbs = app
            .ok(
                &t.link_worker,
                &doc_operation(LW, "RecordMeasure"),
                measure_input(&id, 4, "SWEMWBS", json!([3, 3, 3, 3, 3, 2, 3])),
            )
            .await;
        let measure = &swemwbs["recordMeasure"]["measure"];
        assert_eq!((measure["rawScore"].as_u64(), measure["metricScore"].as_f64()), (Some(20), Some(18.59)));
        assert_eq!(measure["snomedCode"], "718466001");

        // Offer, acceptance: the provider sees the actions naming its service, without scores.
        let offer = app
            .ok(
                &t.link_worker,
                &doc_operation(LW, "OfferReferral"),
                json!({ "input": { "referralId": id, "expectedVersion": 5, "serviceId": service } }),
            )
            .await;
        let offer_id = offer["offerReferral"]["offer"]["id"].as_str().unwrap().to_owned();
        let seen = provider_offers(&app).await;
        let before = seen.iter().find(|o| o["offer"]["id"] == offer_id.as_str()).unwrap();
        assert_eq!(before["planActions"], json!([]), "nothing of the plan before accepting");
        let accept = "mutation($input: RespondToOfferInput!) { respondToOffer(input: $input) { offer { status } } }";
        app.ok(
            &t.provider,
            accept,
            json!({ "input": { "offerId": offer_id, "expectedVersion": 1, "response": "ACCEPT" } }),
        )
        .await;
        let seen = provider_offers(&app).await;
        let after = seen.iter().find(|o| o["offer"]["id"] == offer_id.as_str()).unwrap();
        assert_eq!(
            after["planActions"],
            json!([{ "goal": "Walk with others once a week", "what": "Try the Tuesday walk", "by": "2026-12-08", "status": "NOT_STARTED" }])
        );

        // Attendance, then the follow-ups and a reviewed plan.
        let version = version_of(&app, &id).await;
        app.ok(
            &t.link_worker,
            &doc_operation(LW, "RecordAttendance"),
            json!({ "input": { "referralId": id, "expectedVersion": version } }),
        )
        .await;
        let version = version_of(&app, &id).await;
        app.ok(&t.link_worker, &doc_operation(LW, "UpdatePlan"), plan_input(&id, version, &service, Some("ACHIEVED")))
            .await;
        app.ok(
            &t.link_worker,
            &doc_operation(LW, "RecordMeasure"),
            measure_input(&id, version + 1, "ONS4", json!([6, 5, null, 4])),
        )
        .await;
        app.ok(
            &t.link_worker,
            &doc_operation(LW, "RecordMeasure"),
            measure_input(&id, version + 2, "SWEMWBS", json!([4, 4, 4, 3, 4, 3, 3])),
        )
        .await;

        // The practice sees nothing of it while the referral is open.
        let early = app.graphql(Some(&t.gp), &doc_operation(GP, "ReferralWellbeing"), json!({ "id": id })).await;
        assert_eq!(early.code(), Some("FORBIDDEN"));

        // Closing as completed needs no reason: there is a follow-up.
        let closed = app
            .ok(
                &t.link_worker,
                &doc_operation(LW, "CloseReferral"),
                json!({ "input": { "referralId": id, "expectedVersion": version + 3, "reason": "COMPLETED" } }),
            )
            .await;
        assert_eq!(closed["closeReferral"]["referral"]["status"], "CLOSED");
        assert_eq!(closed["closeReferral"]["referral"]["noFollowUpReason"], Value::Null);

        // The change, as the link worker and the practice see it.
        let wellbeing = app.ok(&t.link_worker, &doc_operation(LW, "Wellbeing"), json!({ "id": id })).await;
        let changes = &wellbeing["referral"]["wellbeingChange"];
        assert_eq!(changes[0]["instrument"], "ONS4");
        assert_eq!(
            changes[0]["changes"],
            json!([
                { "key": "life_satisfaction", "baseline": 3.0, "followUp": 6.0, "change": 3.0, "direction": "IMPROVED", "meaningful": null },
                { "key": "worthwhile", "baseline": 5.0, "followUp": 5.0, "change": 0.0, "direction": "UNCHANGED", "meaningful": null },
                { "key": "anxiety", "baseline": 8.0, "followUp": 4.0, "change": -4.0, "direction": "IMPROVED", "meaningful": null }
            ])
        );
        assert_eq!(changes[1]["instrument"], "SWEMWBS");
        assert_eq!(
            changes[1]["changes"],
            json!([{ "key": "total", "baseline": 18.59, "followUp": 22.35, "change": 3.76, "direction": "IMPROVED", "meaningful": true }])
        );
        let gp = app.ok(&t.gp, &doc_operation(GP, "ReferralWellbeing"), json!({ "id": id })).await;
        assert_eq!(gp["referral"]["wellbeingChange"], *changes);
        assert_eq!(gp["referral"]["planSummary"]["goals"][0]["review"], "ACHIEVED");
        assert_eq!(
            gp["referral"]["planSummary"]["goals"][0]["actions"][1],
            json!({ "what": "Buy walking shoes", "status": "DONE" })
        );

        // Both versions of the plan stay readable, for the link worker only.
        let history = "query($id: ID!) { referral(id: $id) { planHistory { version goals { review } } } }";
        let versions = app.ok(&t.link_worker, history, json!({ "id": id })).await;
        assert_eq!(
            versions["referral"]["planHistory"],
            json!([{ "version": 1, "goals": [{ "review": null }] }, { "version": 2, "goals": [{ "review": "ACHIEVED" }] }])
        );
        assert_eq!(app.graphql(Some(&t.gp), history, json!({ "id": id })).await.code(), Some("FORBIDDEN"));
    }
);

on_both_databases!(
    each_bad_measure_or_plan_is_refused_naming_its_field_and_nothing_is_stored,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let id = contacted(&app, "943 476 5919").await;
        let record = doc_operation(LW, "RecordMeasure");
        let future = (Utc::now() + Duration::days(2)).to_rfc3339();
        let long_ago = (Utc::now() - Duration::days(30)).to_rfc3339();
        let cases = [
            (
                json!({ "referralId": id, "expectedVersion": 2, "instrument": "ONS4", "answers": [11, 5, 5, 5], "takenAt": Utc::now().to_rfc3339() }),
                "answers[0]",
            ),
            (
                json!({ "referralId": id, "expectedVersion": 2, "instrument": "SWEMWBS", "answers": [3, 3, 3, null, 3, 3, 3], "takenAt": Utc::now().to_rfc3339() }),
                "answers[3]",
            ),
            (
                json!({ "referralId": id, "expectedVersion": 2, "instrument": "SWEMWBS", "answers": [3, 3, 3], "takenAt": Utc::now().to_rfc3339() }),
                "answers",
            ),
            (
                json!({ "referralId": id, "expectedVersion": 2, "instrument": "ONS4", "answers": [5, 5, 5, 5], "takenAt": future }),
                "takenAt",
            ),
            (
                json!({ "referralId": id, "expectedVersion": 2, "instrument": "ONS4", "answers": [5, 5, 5, 5], "takenAt": long_ago }),
                "takenAt",
            ),
        ];
        for (input, field) in cases {
            let refused = app.graphql(Some(&t.link_worker), &record, json!({ "input": input })).await;
            assert_eq!((refused.code(), refused.field()), (Some("VALIDATION"), Some(field)), "{input}");
        }
        let unknown = app.graphql(Some(&t.link_worker), &record, json!({ "input": { "referralId": id, "expectedVersion": 2, "instrument": "WEMWBS", "answers": [1], "takenAt": Utc::now().to_rfc3339() } })).await;
        assert_eq!(unknown.code(), Some("VALIDATION"));
        let service = walking_group(&app).await;
        let mut unagreed = plan_input(&id, 2, &service, None);
        unagreed["input"]["personAgreed"] = json!(false);
        let refused = app.graphql(Some(&t.link_worker), &doc_operation(LW, "UpdatePlan"), unagreed).await;
        assert_eq!((refused.code(), refused.field()), (Some("VALIDATION"), Some("personAgreed")));
        let mut unimportant = plan_input(&id, 2, &service, None);
        unimportant["input"]["goals"][0]["importance"] = json!(0);
        let refused = app.graphql(Some(&t.link_worker), &doc_operation(LW, "UpdatePlan"), unimportant).await;
        assert_eq!((refused.code(), refused.field()), (Some("VALIDATION"), Some("goals.importance")));

        let stored = app
            .ok(
                &t.link_worker,
                "query($id: ID!) { referral(id: $id) { version plan { version } measures { id } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(stored["referral"], json!({ "version": 2, "plan": null, "measures": [] }));
    }
);

on_both_databases!(
    a_plan_or_measure_against_a_stale_version_or_before_first_contact_changes_nothing,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let id = contacted(&app, "943 476 5919").await;
        let service = walking_group(&app).await;
        let stale = app
            .graphql(Some(&t.link_worker), &doc_operation(LW, "UpdatePlan"), plan_input(&id, 1, &service, None))
            .await;
        assert_eq!(stale.code(), Some("CONFLICT"));
        let stale = app
            .graphql(
                Some(&t.link_worker),
                &doc_operation(LW, "RecordMeasure"),
                measure_input(&id, 1, "ONS4", json!([5, 5, 5, 5])),
            )
            .await;
        assert_eq!(stale.code(), Some("CONFLICT"));

        let input = json!({ "input": {
            "idempotencyKey": "wellbeing-early",
            "person": { "nhsNumber": "401 023 2137", "givenName": "Ann", "familyName": "Lee", "dateOfBirth": "1950-01-01", "preferredContact": "PHONE", "phone": "0115 496 0000" },
            "needs": ["LONELINESS"], "reason": "x",
            "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": (Utc::now() - Duration::days(1)).to_rfc3339() } } });
        let fresh = app.ok(&t.gp, &doc_operation(GP, "SubmitReferral"), input).await;
        let fresh = fresh["submitReferral"]["referral"]["id"].as_str().unwrap().to_owned();
        let early = app
            .graphql(Some(&t.link_worker), &doc_operation(LW, "UpdatePlan"), plan_input(&fresh, 1, &service, None))
            .await;
        assert_eq!(early.code(), Some("INVALID_TRANSITION"));
        let early = app
            .graphql(
                Some(&t.link_worker),
                &doc_operation(LW, "RecordMeasure"),
                measure_input(&fresh, 1, "ONS4", json!([5, 5, 5, 5])),
            )
            .await;
        assert_eq!(early.code(), Some("INVALID_TRANSITION"));
        for token in [&t.gp, &t.other_link_worker, &t.provider, &t.network_lead] {
            let denied = app
                .graphql(
                    Some(token),
                    &doc_operation(LW, "RecordMeasure"),
                    measure_input(&id, 2, "ONS4", json!([5, 5, 5, 5])),
                )
                .await;
            assert!(matches!(denied.code(), Some("FORBIDDEN" | "NOT_FOUND")), "{denied:?}");
        }
        assert_eq!(version_of(&app, &id).await, 2);
    }
);

on_both_databases!(
    closing_as_completed_without_a_follow_up_asks_why_and_records_the_answer,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let id = contacted(&app, "943 476 5919").await;
        app.ok(&t.link_worker, &doc_operation(LW, "RecordMeasure"), measure_input(&id, 2, "ONS4", json!([5, 5, 5, 5])))
            .await;
        let close = doc_operation(LW, "CloseReferral");
        let refused = app
            .graphql(
                Some(&t.link_worker),
                &close,
                json!({ "input": { "referralId": id, "expectedVersion": 3, "reason": "COMPLETED" } }),
            )
            .await;
        assert_eq!((refused.code(), refused.field()), (Some("VALIDATION"), Some("noFollowUpReason")));
        assert_eq!(version_of(&app, &id).await, 3, "nothing changed");
        let closed = app
            .ok(&t.link_worker, &close, json!({ "input": { "referralId": id, "expectedVersion": 3, "reason": "COMPLETED", "noFollowUpReason": "NOT_ABLE" } }))
            .await;
        assert_eq!(closed["closeReferral"]["referral"]["noFollowUpReason"], "NOT_ABLE");
        let gp = app.ok(&t.gp, &doc_operation(GP, "ReferralWellbeing"), json!({ "id": id })).await;
        assert_eq!(gp["referral"]["noFollowUpReason"], "NOT_ABLE");
        assert_eq!(gp["referral"]["wellbeingChange"][0]["changes"], json!([]), "a baseline alone shows no change");
    }
);

async fn swemwbs_wording_shows_only_when_the_deployment_supplies_it(backend: Backend) {
    let q = "{ instruments { code version snomedCode allItemsRequired items { number key wording lowerIsBetter } } }";
    let plain = TestApp::spawn(backend).await;
    let data = plain.ok(&plain.tokens.link_worker, q, json!({})).await;
    let ons4 = &data["instruments"][0];
    assert_eq!(
        ons4["items"][3],
        json!({ "number": 4, "key": "anxiety", "wording": "Overall, how anxious did you feel yesterday?", "lowerIsBetter": true })
    );
    let swemwbs = &data["instruments"][1];
    assert_eq!(
        (swemwbs["snomedCode"].as_str(), swemwbs["allItemsRequired"].as_bool()),
        (Some("718466001"), Some(true))
    );
    let wording: Vec<&str> =
        swemwbs["items"].as_array().unwrap().iter().map(|i| i["wording"].as_str().unwrap()).collect();
    assert_eq!(wording, ["Item 1", "Item 2", "Item 3", "Item 4", "Item 5", "Item 6", "Item 7"]);
    drop(plain);

    let licensed: Vec<String> = (1..=7).map(|n| format!("Licensed statement {n}")).collect();
    let settings = ApiSettings { swemwbs_wording: Some(licensed.clone()), ..ApiSettings::default() };
    let configured = TestApp::spawn_with(backend, settings).await;
    let data = configured.ok(&configured.tokens.link_worker, q, json!({})).await;
    assert_eq!(data["instruments"][1]["items"][6]["wording"], licensed[6].as_str());
}
on_both_backends!(swemwbs_wording_shows_only_when_the_deployment_supplies_it);

/// What a third party reads of a message bundle (tests/py/check_gp_message.py: fhir.resources STU3 and
/// pdftotext, installed by scripts/ensure-prereqs).
fn read_as_a_third_party(bundle: &str) -> Value {
    let dir = std::env::temp_dir().join(format!("gp-message-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle).unwrap();
    let root = trellis_tests::repo_root();
    let out = std::process::Command::new(root.join("tests/py/.venv/bin/python"))
        .arg(root.join("tests/py/check_gp_message.py"))
        .arg(&path)
        .output()
        .expect("tests/py/.venv (scripts/ensure-prereqs)");
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
}

async fn download(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client().get(format!("{}{path}", app.base_url)).bearer_auth(token).send().await.unwrap()
}

on_both_databases!(
    the_practice_gets_the_message_back_once_the_referral_closes_as_a_pdf_and_a_fhir_bundle,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let id = contacted(&app, "943 476 5919").await;
        app.ok(
            &t.link_worker,
            &doc_operation(LW, "RecordMeasure"),
            measure_input(&id, 2, "SWEMWBS", json!([3, 3, 3, 3, 3, 2, 3])),
        )
        .await;
        let message = "query($id: ID!) { referral(id: $id) { gpMessage { id title pdfPath fhirBundle } } }";
        let open = app.ok(&t.gp, message, json!({ "id": id })).await;
        assert_eq!(open["referral"]["gpMessage"], Value::Null, "nothing while the referral is open");
        let pdf_path = format!("/referrals/{id}/gp-message.pdf");
        assert_eq!(download(&app, &pdf_path, &t.gp).await.status().as_u16(), 404, "no message while open");

        let close = json!({ "input": { "referralId": id, "expectedVersion": 3, "reason": "DECLINED_BY_PERSON" } });
        app.ok(&t.link_worker, &doc_operation(LW, "CloseReferral"), close).await;
        let closed = app.ok(&t.gp, message, json!({ "id": id })).await;
        let gp_message = &closed["referral"]["gpMessage"];
        assert_eq!(gp_message["pdfPath"], pdf_path.as_str());
        assert_eq!(gp_message["title"], "Social prescribing: outcome of referral");
        let reading = read_as_a_third_party(gp_message["fhirBundle"].as_str().unwrap());
        assert_eq!(reading["ok"], true, "{reading}");
        assert_eq!(reading["nhs_number"], json!(["9434765919"]));
        let codes = reading["codes"].to_string();
        for code in ["871731000000106", "871711000000103", "718466001"] {
            assert!(codes.contains(code), "{code} missing: {codes}");
        }
        let text = reading["pdf_text"].as_str().unwrap();
        assert!(text.contains("943 476 5919") && text.contains("Outcome: Closed: declined by person"), "{text}");

        let pdf = download(&app, &pdf_path, &t.gp).await;
        assert_eq!(pdf.status().as_u16(), 200);
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-1.4"));
        for (token, why) in [
            (t.other_gp.clone(), "another practice"),
            (t.provider.clone(), "a provider"),
            (t.network_lead.clone(), "the network lead"),
        ] {
            assert_eq!(download(&app, &pdf_path, &token).await.status().as_u16(), 404, "{why} cannot download it");
        }
        assert_eq!(
            app.client().get(format!("{}{pdf_path}", app.base_url)).send().await.unwrap().status().as_u16(),
            401
        );
        let other = app.graphql(Some(&t.other_gp), message, json!({ "id": id })).await;
        assert_eq!(other.code(), Some("NOT_FOUND"));
    }
);

/// Written on the contact and marked for the GP.
const MARKED_NOTE: &str = "Keen to rejoin the walking group she left last year";
/// Written on a contact attempt and at closure, for the record only.
const UNMARKED_NOTES: [&str; 2] = ["Left a voicemail with her daughter", "Closed after our last call"];

on_both_databases!(only_notes_the_link_worker_marked_for_the_gp_reach_the_message_back, |app: TestApp| async move {
    let t = app.tokens.clone();
    let id = submitted(&app, "943 476 5919").await;
    let nothing_to_mark = json!({ "input": { "referralId": id, "expectedVersion": 1, "forGp": true } });
    let refused = app.graphql(Some(&t.link_worker), &doc_operation(LW, "RecordContact"), nothing_to_mark).await;
    assert_eq!(refused.code(), Some("VALIDATION"), "only a note can be marked");

    let attempt = json!({ "input": { "referralId": id, "expectedVersion": 1, "note": UNMARKED_NOTES[0] } });
    app.ok(&t.link_worker, &doc_operation(LW, "RecordContactAttempt"), attempt).await;
    let contact = json!({ "input": { "referralId": id, "expectedVersion": 2, "note": MARKED_NOTE, "forGp": true } });
    app.ok(&t.link_worker, &doc_operation(LW, "RecordContact"), contact).await;
    let close = json!({ "input": { "referralId": id, "expectedVersion": 3, "reason": "DECLINED_BY_PERSON",
                                       "note": UNMARKED_NOTES[1], "forGp": false } });
    app.ok(&t.link_worker, &doc_operation(LW, "CloseReferral"), close).await;

    let history = "query($id: ID!) { referral(id: $id) { history { kind note noteForGp } } }";
    let events = app.ok(&t.link_worker, history, json!({ "id": id })).await["referral"]["history"].clone();
    let marked: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["noteForGp"] == true).collect();
    assert_eq!(marked.len(), 1, "{events}");
    assert_eq!((marked[0]["kind"].as_str(), marked[0]["note"].as_str()), (Some("contacted"), Some(MARKED_NOTE)));

    let message = "query($id: ID!) { referral(id: $id) { gpMessage { fhirBundle } } }";
    let closed = app.ok(&t.gp, message, json!({ "id": id })).await;
    let bundle = closed["referral"]["gpMessage"]["fhirBundle"].as_str().unwrap().to_owned();
    let reading = read_as_a_third_party(&bundle);
    assert_eq!(reading["ok"], true, "{reading}");
    let pdf_text = reading["pdf_text"].as_str().unwrap();
    assert!(pdf_text.contains("Notes from the link worker"), "{pdf_text}");
    assert!(pdf_text.contains(MARKED_NOTE), "the marked note is in the PDF: {pdf_text}");
    assert!(reading["sections"].to_string().contains("Notes from the link worker"), "{reading}");
    let composition = serde_json::from_str::<Value>(&bundle).unwrap()["entry"][1]["resource"]["entry"][0].to_string();
    assert!(composition.contains(MARKED_NOTE), "the marked note is in the Composition: {composition}");
    for unmarked in UNMARKED_NOTES {
        assert!(!bundle.contains(unmarked) && !pdf_text.contains(unmarked), "{unmarked:?} reached the practice");
    }
});
