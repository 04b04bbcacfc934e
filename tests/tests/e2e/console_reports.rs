//! The console's impact report page, on both databases: it shows the network lead the very numbers
//! GraphQL and the CSV files give for the same period and filters; nobody else may open it; and in
//! Chromium every chart is an SVG image with a title followed by its table (a long table's chart only its
//! largest rows, saying so), passing axe-core's WCAG 2.2 AA rules.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use reqwest::StatusCode;
use serde_json::json;
use trellis_tests::console::{session_for, sign_in_path};
use trellis_tests::link_pages::get;
use trellis_tests::{TestApp, run_node, screenshot_dir};

use crate::reports::{REPORT, as_lines, csv, csv_lines, period, query_string, seed};

/// Text as printed from HTML: the entities askama writes for `<`, `>`, `*`, quotes and `&` decoded.
fn unescape(s: &str) -> String {
    [
        ("&lt;", "<"),
        ("&#60;", "<"),
        ("&gt;", ">"),
        ("&#62;", ">"),
        ("&#x2a;", "*"),
        ("&#42;", "*"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
    ]
    .iter()
    .fold(s.to_owned(), |text, (entity, c)| text.replace(entity, c))
    .replace("&amp;", "&")
    .replace("&#38;", "&")
}

/// The page's tables: for each section, each row's key and cells as printed.
fn page_rows(body: &str, table: &str) -> Vec<Vec<String>> {
    let start = body.find(&format!("data-table=\"{table}\"")).unwrap();
    let section = &body[start..start + body[start..].find("</section>").unwrap()];
    section
        .split("<tr data-key=\"")
        .skip(1)
        .map(|row| {
            let key = row[..row.find('"').unwrap()].to_owned();
            let cells = row.split("<td class=\"n\">").skip(1).map(|c| unescape(&c[..c.find("</td>").unwrap()]));
            std::iter::once(key).chain(cells).collect()
        })
        .collect()
}

on_both_databases!(
    the_page_graphql_and_csv_give_the_same_numbers_for_the_same_period_and_filters,
    |app: TestApp| async move {
        seed(&app).await;
        let lead = app.tokens.network_lead.clone();
        let session = session_for(&app, app.fixture.network_lead.id).await;
        for filters in [json!({}), json!({ "practiceId": app.fixture.other_practice.id.to_string() })] {
            let mut query = query_string();
            if let Some(id) = filters["practiceId"].as_str() {
                query.push_str(&format!("&practice={id}"));
            }
            let page = get(&app, &format!("/reports?{query}"), Some(&session)).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let data = app.ok(&lead, REPORT, json!({ "period": period(), "filters": filters })).await;
            for table in data["impactReport"]["tables"].as_array().unwrap() {
                let name = table["name"].as_str().unwrap();
                let graphql = as_lines(table);
                let file = csv_lines(
                    &csv(&app, Some(&lead), &format!("/reports/{name}.csv?{query}")).await.text().await.unwrap(),
                );
                assert_eq!(file, graphql, "{name}: CSV and GraphQL");
                // The page: each row's key and cells (its labels are HTML).
                let on_page = page_rows(&page.body, name);
                let expected: Vec<Vec<String>> = graphql[1..]
                    .iter()
                    .map(|l| std::iter::once(l[0].clone()).chain(l[2..].iter().cloned()).collect())
                    .collect();
                assert_eq!(on_page, expected, "{name}: page and GraphQL");
            }
        }
        assert!(
            unescape(&get(&app, "/reports", Some(&session)).await.body).contains("<5"),
            "a small count is <5 on the page"
        );
    }
);

on_both_databases!(only_a_network_lead_opens_the_reports_page_and_its_header_links_to_it, |app: TestApp| async move {
    let f = &app.fixture;
    let lead = session_for(&app, f.network_lead.id).await;
    let network = get(&app, "/network", Some(&lead)).await;
    assert!(network.body.contains("<a href=\"/reports\">Reports</a>"), "the lead's header links to the reports");
    for user in [f.gp.id, f.link_worker.id, f.admin.id] {
        let session = session_for(&app, user).await;
        let page = get(&app, "/reports", Some(&session)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
        assert!(!page.body.contains("<a href=\"/reports\">"), "no link to a page it may not open");
    }
    assert_ne!(get(&app, "/reports", None).await.status, StatusCode::OK, "signed out: to the sign-in page");
});

/// Twenty more practices, each referring one person yesterday: with the fixture's two, the referrals by
/// source are more rows than a chart draws.
async fn twenty_more_practices_each_referring_once(app: &TestApp) {
    use trellis_domain::Role;
    use trellis_domain::organisation::OrganisationKind;
    use trellis_domain::values::EmailAddress;
    use trellis_store::accounts::{NewOrganisation, NewUser};
    use trellis_store::testing::Fixture;
    let (f, now) = (&app.fixture, chrono::Utc::now());
    let yesterday = now - chrono::Duration::days(1);
    for i in 0..20u32 {
        let practice = NewOrganisation {
            kind: OrganisationKind::GpPractice,
            name: format!("Practice {i:02}"),
            ods_code: Some(format!("C82{i:03}")),
            email: Some(EmailAddress::parse(&format!("practice{i}@example.org")).unwrap()),
            link_worker_service: Some(f.service.id),
            mesh_mailbox: None,
            gp_message_at_first_contact: false,
        };
        let practice = app.store.create_organisation(practice, now).await.unwrap();
        let gp = NewUser {
            organisation: practice.id,
            role: Role::GpPractice,
            email: EmailAddress::parse(&format!("gp{i}@example.org")).unwrap(),
            name: format!("Dr {i:02}"),
        };
        let gp = app.store.create_user(gp, now).await.unwrap();
        let mut new = f.referral(&crate::reports::nhs(100 + i));
        new.consent.as_mut().unwrap().recorded_at = yesterday - chrono::Duration::hours(1);
        app.store.submit_referral(new, None, &Fixture::actor(&gp), yesterday).await.unwrap();
    }
}

on_both_databases!(
    in_chromium_every_chart_is_an_svg_image_followed_by_its_table_and_the_page_passes_axe_wcag_22_aa,
    |app: TestApp| async move {
        seed(&app).await;
        twenty_more_practices_each_referring_once(&app).await;
        let path = sign_in_path(&app, app.fixture.network_lead.id).await;
        let backend = match app.store.backend() {
            sea_orm::DatabaseBackend::Postgres => "postgres",
            _ => "sqlite",
        };
        let dir = screenshot_dir("console-reports", backend);
        let config = json!({ "url": app.base_url, "signInPath": path, "outDir": dir });
        let output = tokio::task::spawn_blocking(move || run_node("console-reports.mjs", &[&config.to_string()]))
            .await
            .expect("node");
        let report: serde_json::Value = serde_json::from_str(output.trim().lines().last().unwrap()).expect(&output);
        assert_eq!(report["violations"], json!([]), "axe-core found violations: {report:#}");
        assert_eq!(report["failedRequests"], json!([]), "no failed requests");
        assert_eq!(report["pages"].as_array().unwrap().len(), 3, "{report:#}");
        let charts = report["charts"].as_u64().unwrap();
        assert!(charts >= 10, "{report:#}");
        assert_eq!(report["chartsWithTitles"], charts, "every chart has a title");
        assert_eq!(report["chartsFollowedByTables"], charts, "every chart is followed by its table");
        assert_eq!(report["sourceBars"], 20, "22 practices, 20 bars: {report:#}");
        assert_eq!(report["sourceRows"], 23, "every practice and the total in the table: {report:#}");
        let caption = report["sourceCaption"].as_str().unwrap();
        assert!(caption.contains("The 20 largest of 22 rows"), "the chart says what it leaves out: {caption}");
        assert_eq!(report["tables"].as_u64(), Some(trellis_domain::report::TABLE_NAMES.len() as u64));
        assert!(report["smallShown"].as_u64().unwrap() >= 1, "the practice's three referrals are <5: {report:#}");
        assert!(report["filteredQuery"].as_str().unwrap().contains("need=debt"), "{report:#}");
        assert_eq!(report["filteredTotal"], "0", "nobody was referred for debt");
    }
);
