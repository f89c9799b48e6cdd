//! Dispatch administration persistence, run unchanged on SQLite and on a real
//! throwaway PostgreSQL: pending escalations (upsert, deadline order, delete)
//! and moving a merged duplicate's calls to the surviving incident.

mod pg;

use pingan_store::*;

/// A station and two incidents in it, each with one call.
async fn two_incidents(s: &Store) -> (IncidentRow, IncidentRow) {
    let (_, st) = pg::city_and_station(s, "东门派出所").await;
    let new = |at: i64, phone: &str| NewIncident {
        day: "20261124".into(),
        status: "created".into(),
        type_code: None,
        priority: None,
        org_id: st.id,
        call: NewCall {
            channel: "110".into(),
            caller_phone: phone.into(),
            caller_name: None,
            description: "饭店门口有人打架".into(),
            lat: 31.2,
            lng: 121.4,
            address: None,
            received_at: at,
        },
        timeline: vec![NewTimelineEntry {
            at,
            kind: "created".into(),
            actor: "u1".into(),
            detail: String::new(),
            unit_id: None,
            data: "{}".into(),
        }],
    };
    let a = s
        .create_incident(&new(1000, "13800000001"), 1000)
        .await
        .unwrap();
    let b = s
        .create_incident(&new(2000, "13800000002"), 2000)
        .await
        .unwrap();
    (a, b)
}

async fn case_escalations(s: &Store) {
    let (a, b) = two_incidents(s).await;
    assert!(s.pending_escalations().await.unwrap().is_empty());
    let row = |id: i64, deadline: Option<i64>, state: &str| EscalationRow {
        incident_id: id,
        state: state.into(),
        deadline,
        updated_at: 5,
    };
    s.put_escalation(&row(a.id, Some(9_000), "{\"v\":1}"))
        .await
        .unwrap();
    s.put_escalation(&row(b.id, Some(4_000), "{\"v\":2}"))
        .await
        .unwrap();
    let got = s.pending_escalations().await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.incident_id).collect::<Vec<_>>(),
        [b.id, a.id]
    );
    // Upsert replaces state and deadline; no deadline sorts last.
    s.put_escalation(&row(b.id, None, "{\"v\":3}"))
        .await
        .unwrap();
    let got = s.pending_escalations().await.unwrap();
    assert_eq!(
        got,
        vec![
            row(a.id, Some(9_000), "{\"v\":1}"),
            row(b.id, None, "{\"v\":3}")
        ]
    );
    assert!(s.delete_escalation(a.id).await.unwrap());
    assert!(!s.delete_escalation(a.id).await.unwrap());
    assert_eq!(s.pending_escalations().await.unwrap().len(), 1);
    // An escalation must belong to an incident.
    assert!(
        s.put_escalation(&row(999_999, Some(1), "{}"))
            .await
            .is_err()
    );
}

async fn case_merge_calls(s: &Store) {
    let (a, b) = two_incidents(s).await;
    assert_eq!(s.move_incident_calls(b.id, a.id).await.unwrap(), 1);
    let calls = s.incident_calls(a.id).await.unwrap();
    assert_eq!(
        calls
            .iter()
            .map(|c| c.call.caller_phone.as_str())
            .collect::<Vec<_>>(),
        ["13800000001", "13800000002"]
    );
    assert!(s.incident_calls(b.id).await.unwrap().is_empty());
    assert_eq!(s.move_incident_calls(b.id, a.id).await.unwrap(), 0);
    assert!(matches!(
        s.move_incident_calls(a.id, 999_999).await,
        Err(StoreError::NotFound { .. })
    ));
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_escalations(&$dbs.open("escalations").await).await;
        case_merge_calls(&$dbs.open("merge").await).await;
    }};
}

#[tokio::test]
async fn dispatch_admin_suite_sqlite() {
    let dbs = pg::Databases::sqlite("dispatch-admin");
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn dispatch_admin_suite_postgres() {
    let dbs = pg::Databases::postgres("da").await;
    suite!(dbs);
    dbs.finish().await;
}
