//! Impact reports over HTTP, on both databases: GraphQL `impactReport` and the CSV files give the
//! network lead the same suppressed numbers (and the console's page, `console_reports.rs`); anyone
//! else is refused; bad periods and ids are typed errors.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use trellis_domain::report::Sex;
use trellis_domain::values::NhsNumber;
use trellis_store::testing::Fixture;
use trellis_tests::TestApp;

pub(crate) const REPORT: &str = "query($period: ReportPeriodInput!, $filters: ReportFiltersInput) { \
    impactReport(period: $period, filters: $filters) { from to tables { name columns { key } \
    keyColumn { key } labelColumn { key } rows { key label cells { kind label count value suppressed } } } } }";

pub(crate) fn nhs(i: u32) -> String {
    (i * 10..i * 10 + 10)
        .flat_map(|stem| (0..10).map(move |c| format!("9994{stem:05}{c}")))
        .find(|n| NhsNumber::parse(n).is_ok())
        .unwrap()
}

/// Three referrals from the fixture's practice (a small number) and six from the other, two of them
/// recorded as female; all made yesterday.
pub(crate) async fn seed(app: &TestApp) {
    let f = &app.fixture;
    let yesterday = Utc::now() - Duration::days(1);
    for i in 0..9u32 {
        let mut new = f.referral(&nhs(i));
        new.consent.as_mut().unwrap().recorded_at = yesterday - Duration::hours(1);
        new.person.sex = (i < 2).then_some(Sex::Female);
        let actor = if i < 3 { Fixture::actor(&f.gp) } else { Fixture::actor(&f.other_gp) };
        app.store.submit_referral(new, None, &actor, yesterday).await.unwrap();
    }
}

pub(crate) fn period() -> Value {
    let today = Utc::now().date_naive();
    json!({ "from": (today - Duration::days(30)).to_string(), "to": today.to_string() })
}

/// The query string of the same period, for the CSV files and the page.
pub(crate) fn query_string() -> String {
    let today = Utc::now().date_naive();
    format!("from={}&to={today}", today - Duration::days(30))
}

/// A GraphQL table as CSV lines: the header, then each row's key, label and cell labels.
pub(crate) fn as_lines(table: &Value) -> Vec<Vec<String>> {
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    let mut lines = vec![
        [text(&table["keyColumn"]["key"]), text(&table["labelColumn"]["key"])]
            .into_iter()
            .chain(table["columns"].as_array().unwrap().iter().map(|c| text(&c["key"])))
            .collect::<Vec<_>>(),
    ];
    for row in table["rows"].as_array().unwrap() {
        let cells = row["cells"].as_array().unwrap().iter().map(|c| text(&c["label"]));
        lines.push([text(&row["key"]), text(&row["label"])].into_iter().chain(cells).collect());
    }
    lines
}

/// A CSV file (RFC 4180, CRLF line ends) as lines of fields.
pub(crate) fn csv_lines(body: &str) -> Vec<Vec<String>> {
    let (mut lines, mut line, mut field, mut quoted) = (vec![], vec![], String::new(), false);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => line.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                line.push(std::mem::take(&mut field));
                lines.push(std::mem::take(&mut line));
            }
            (c, _) => field.push(c),
        }
    }
    lines
}

pub(crate) async fn csv(app: &TestApp, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = app.client().get(format!("{}{path}", app.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

on_both_databases!(
    the_network_lead_gets_suppressed_tables_from_graphql_and_the_same_numbers_in_each_csv_file,
    |app: TestApp| async move {
        seed(&app).await;
        let lead = app.tokens.network_lead.clone();
        let data = app.ok(&lead, REPORT, json!({ "period": period() })).await;
        let tables = data["impactReport"]["tables"].as_array().unwrap().clone();
        assert_eq!(tables.len(), trellis_domain::report::TABLE_NAMES.len());
        let sources = tables.iter().find(|t| t["name"] == "referrals-by-source").unwrap();
        let practice = app.fixture.practice.ods_code.clone().unwrap();
        let row = sources["rows"].as_array().unwrap().iter().find(|r| r["key"] == practice.as_str()).unwrap();
        assert_eq!(
            row["cells"][0],
            json!({ "kind": "COUNT", "label": "<5", "count": null, "value": null, "suppressed": true }),
            "three referrals are never shown as 3"
        );
        let total = sources["rows"].as_array().unwrap().last().unwrap();
        assert_eq!((total["key"].as_str(), total["cells"][0]["count"].as_i64()), (Some("total"), Some(9)));
        let other = sources["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] != practice.as_str() && r["key"] != "total")
            .unwrap();
        assert_eq!(other["cells"][0]["label"], "*", "withheld, or 9 - 6 would give the 3 back");
        // Nine referrals were made, not one number anywhere is 1 to 4.
        for table in &tables {
            for row in table["rows"].as_array().unwrap() {
                for cell in row["cells"].as_array().unwrap() {
                    if let Some(n) = cell["count"].as_i64() {
                        assert!(n == 0 || n >= 5, "{} {}: {n}", table["name"], row["key"]);
                    }
                }
            }
        }
        // Every table's CSV holds exactly what GraphQL gave, header first.
        for table in &tables {
            let name = table["name"].as_str().unwrap();
            let response = csv(&app, Some(&lead), &format!("/reports/{name}.csv?{}", query_string())).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
            assert!(response.headers()["content-disposition"].to_str().unwrap().contains(&format!("{name}-")));
            let body = response.text().await.unwrap();
            assert_eq!(csv_lines(&body), as_lines(table), "{name}");
        }
        // The filters narrow: the other practice alone shows its six.
        let filters = json!({ "practiceId": app.fixture.other_practice.id.to_string() });
        let data = app.ok(&lead, REPORT, json!({ "period": period(), "filters": filters })).await;
        let status = data["impactReport"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "referrals-by-status")
            .unwrap()
            .clone();
        assert_eq!(status["rows"].as_array().unwrap().last().unwrap()["cells"][0]["count"], 6);
        let filtered = csv(
            &app,
            Some(&lead),
            &format!("/reports/referrals-by-status.csv?{}&practice={}", query_string(), app.fixture.other_practice.id),
        )
        .await;
        assert_eq!(csv_lines(&filtered.text().await.unwrap()), as_lines(&status));
    }
);

on_both_databases!(
    only_the_network_lead_may_read_reports_and_bad_periods_ids_and_names_are_refused_with_their_reason,
    |app: TestApp| async move {
        let t = &app.tokens;
        for token in [&t.gp, &t.link_worker, &t.provider, &t.admin] {
            let r = app.graphql(Some(token), REPORT, json!({ "period": period() })).await;
            assert_eq!(r.code(), Some("FORBIDDEN"), "{:?}", r.errors);
            let file = csv(&app, Some(token), &format!("/reports/referrals-by-need.csv?{}", query_string())).await;
            assert_eq!(file.status(), StatusCode::FORBIDDEN);
        }
        assert_eq!(csv(&app, None, "/reports/referrals-by-need.csv").await.status(), StatusCode::UNAUTHORIZED);
        let lead = &t.network_lead;
        assert_eq!(csv(&app, Some(lead), "/reports/people.csv").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(csv(&app, Some(lead), "/reports/referrals-by-need.json").await.status(), StatusCode::NOT_FOUND);

        let backwards = json!({ "from": "2026-11-02", "to": "2026-11-01" });
        let r = app.graphql(Some(lead), REPORT, json!({ "period": backwards })).await;
        assert_eq!((r.code(), r.field()), (Some("VALIDATION"), Some("period.to")), "{:?}", r.errors);
        let cases = [
            (json!({ "providerId": "not-an-id" }), "providerId"),
            (json!({ "practiceId": app.fixture.service.id.to_string() }), "practiceId"),
            (json!({ "linkWorkerServiceId": uuid::Uuid::now_v7().to_string() }), "linkWorkerServiceId"),
        ];
        for (filters, field) in cases {
            let r = app.graphql(Some(lead), REPORT, json!({ "period": period(), "filters": filters })).await;
            assert_eq!((r.code(), r.field()), (Some("VALIDATION"), Some(field)), "{filters}: {:?}", r.errors);
        }
        let bad = csv(&app, Some(lead), "/reports/referrals-by-need.csv?from=2026-11-02&to=2026-11-01").await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(bad.text().await.unwrap(), "period.to is before the period's start");
    }
);

on_both_databases!(impact_reports_wait_their_turn_while_other_requests_go_on, |app: TestApp| async move {
    seed(&app).await;
    let lead = Some(app.tokens.network_lead.as_str());
    let variables = json!({ "period": period() });
    let taken = app.reports.clone().acquire_many_owned(trellis_api::reports::REPORTS_AT_ONCE as u32).await.unwrap();
    let waiting =
        tokio::time::timeout(std::time::Duration::from_millis(700), app.graphql(lead, REPORT, variables.clone()));
    assert!(waiting.await.is_err(), "a report was built while every turn was taken");
    let csv = app.client().get(format!("{}/reports/referrals-by-sex.csv?{}", app.base_url, query_string()));
    let csv =
        tokio::time::timeout(std::time::Duration::from_millis(700), csv.bearer_auth(&app.tokens.network_lead).send());
    assert!(csv.await.is_err(), "a CSV file was built while every turn was taken");
    let me = app.graphql(lead, "{ me { user { id } } }", json!({})).await;
    assert!(me.errors.is_empty() && !me.data["me"].is_null(), "other requests go on: {me:?}");
    drop(taken);
    let report = app.graphql(lead, REPORT, variables).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.data["impactReport"]["tables"].as_array().unwrap().len(), 14);
});

on_both_databases!(
    a_table_comes_a_page_of_at_most_500_rows_at_a_time_and_a_bad_offset_or_limit_is_refused_by_name,
    |app: TestApp| async move {
        seed(&app).await;
        let lead = &app.tokens.network_lead;
        const PAGE: &str = "query($period: ReportPeriodInput!, $offset: Int!, $limit: Int!) { \
            impactReport(period: $period) { whole: table(name: \"referrals-by-source\") { rowCount rows { key } } \
            page: table(name: \"referrals-by-source\") { rows(offset: $offset, limit: $limit) { key } } } }";
        let keys = |table: &Value| -> Vec<String> {
            table["rows"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_owned()).collect()
        };
        let ask = |offset: i64, limit: i64| json!({ "period": period(), "offset": offset, "limit": limit });
        let data = app.ok(lead, PAGE, ask(0, 500)).await;
        let whole = keys(&data["impactReport"]["whole"]);
        assert_eq!(data["impactReport"]["whole"]["rowCount"], 3, "two practices and the total");
        assert_eq!(whole.len(), 3);
        let mut paged = Vec::new();
        for offset in 0..4 {
            let data = app.ok(lead, PAGE, ask(offset, 1)).await;
            paged.extend(keys(&data["impactReport"]["page"]));
        }
        assert_eq!(paged, whole, "one row at a time gives the same rows in the same order, then none");
        let two = app.ok(lead, PAGE, ask(1, 2)).await;
        assert_eq!(keys(&two["impactReport"]["page"]), whole[1..].to_vec());
        for (variables, field) in [(ask(0, 501), "limit"), (ask(0, 0), "limit"), (ask(-1, 10), "offset")] {
            let r = app.graphql(Some(lead), PAGE, variables.clone()).await;
            assert_eq!((r.code(), r.field()), (Some("VALIDATION"), Some(field)), "{variables}: {:?}", r.errors);
        }
    }
);
