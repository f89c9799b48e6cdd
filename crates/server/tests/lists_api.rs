//! Lists, filters and input ranges of the administration API, black-box:
//! API keys and sources paginate like every other list, `/users` filters by
//! role, org subtree, disabled flag and name text and refuses unknown
//! parameters, alert filters refuse values no alert can have, API keys get
//! machine roles, a bounded lifetime and a name unique among the org's live
//! keys, the city bureau keeps an enabled admin, station officers sit at a
//! station, and a number too large for JSON says so.

mod common;

use common::{PASSWORD, TestApp, error_code};
use reqwest::StatusCode;
use serde_json::Value;

/// Asserts a 4xx error shape naming `field`, returning its code.
fn refused(body: &Value, field: &str) -> String {
    let code = error_code(body);
    assert_eq!(body["error"]["field"], field, "{body}");
    code
}

#[tokio::test]
async fn alert_filters_refuse_unknown_statuses_and_rules() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let purpose = [("X-Purpose", "列表核对")];
    for (query, field) in [
        ("status=bogus", "status"),
        ("rule=bogus", "rule"),
        ("status=new&rule=Sighting", "rule"),
    ] {
        let (st, b) = app
            .get_with(&format!("/api/v1/alerts?{query}"), &admin, &purpose)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{query}: {b}");
        assert_eq!(refused(&b, field), "invalid_query");
    }
    for query in ["status=closed", "rule=co_occurrence&status=new", ""] {
        let (st, b) = app
            .get_with(&format!("/api/v1/alerts?{query}"), &admin, &purpose)
            .await;
        assert_eq!(st, StatusCode::OK, "{query}: {b}");
        assert!(b["items"].is_array(), "{b}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_number_too_large_for_json_says_so() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let body = format!(
        r#"{{"username":"big","display_name":"big","password":"{PASSWORD}","role":"analyst","org_id":1e400}}"#
    );
    let (st, b) = app
        .raw(
            "POST",
            "/api/v1/users",
            Some(&admin),
            "application/json",
            body.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(refused(&b, "org_id"), "invalid_field");
    assert_eq!(b["error"]["message"], "number out of range");
    app.stop().await;
}
