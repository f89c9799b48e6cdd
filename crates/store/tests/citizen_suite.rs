//! Citizen transparency persistence suite, run unchanged on SQLite and on a
//! real throwaway PostgreSQL: receipt code hashes, per-incident ledger leaves,
//! the notification outbox with its delivery log, and evaluations with
//! follow-ups and per-station statistics.

mod pg;

use pingan_store::*;

/// A city with two stations and one incident in each.
async fn setup(s: &Store) -> (OrgRow, OrgRow, OrgRow, IncidentRow, IncidentRow) {
    let org = |parent: Option<i64>, kind: &str, code: &str, name: &str| NewOrg {
        parent_id: parent,
        kind: kind.into(),
        code: code.into(),
        name: name.into(),
        area: None,
    };
    let city = s
        .create_org(&org(None, "city", "C", "市局"), 1)
        .await
        .unwrap();
    let a = s
        .create_org(&org(Some(city.id), "station", "S1", "东门派出所"), 1)
        .await
        .unwrap();
    let b = s
        .create_org(&org(Some(city.id), "station", "S2", "西门派出所"), 1)
        .await
        .unwrap();
    let incident = |org_id: i64| NewIncident {
        timeline: vec![NewTimelineEntry {
            at: 10,
            kind: "created".into(),
            actor: "t".into(),
            detail: String::new(),
            unit_id: None,
            data: "{}".into(),
        }],
        ..pg::noise_incident(org_id)
    };
    let i1 = s.create_incident(&incident(a.id), 10).await.unwrap();
    let i2 = s.create_incident(&incident(b.id), 10).await.unwrap();
    (city, a, b, i1, i2)
}

/// Opens a case as intake does, with a fresh subject `[9; 32]`; the case or the error.
async fn open_case(
    s: &Store,
    incident: &IncidentRow,
    code_hash: &[u8],
) -> Result<CitizenCaseRow, StoreError> {
    let sms = NewNotification {
        incident_id: Some(incident.id),
        org_path: incident.org_path.clone(),
        dedupe_key: format!("incident:{}:accepted", incident.id),
        template: "accepted".into(),
        recipient: incident.caller_phone.clone(),
        body: "您的报警已受理".into(),
    };
    let c = NewCitizenCase {
        incident_id: incident.id,
        code_hash,
        subject: &[9; 32],
        salt: &[8; 32],
        notification: &sms,
    };
    s.open_citizen_case(&c, 100).await.map(|(case, _)| case)
}

async fn case_receipts_and_leaves(s: &Store) {
    let (_, _, _, i1, i2) = setup(s).await;
    let c = open_case(s, &i1, &[7; 32]).await.unwrap();
    assert_eq!(
        (
            c.incident_id,
            c.code_hash.clone(),
            c.subject.clone(),
            c.created_at
        ),
        (i1.id, vec![7; 32], vec![9; 32], 100)
    );
    assert_eq!(
        s.citizen_case_by_code(&[7; 32]).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(s.citizen_case_by_code(&[8; 32]).await.unwrap(), None);
    assert_eq!(s.citizen_case_by_incident(i1.id).await.unwrap(), Some(c));
    assert_eq!(s.citizen_case_by_incident(i2.id).await.unwrap(), None);
    // One code per incident; one incident per code hash.
    assert!(matches!(
        open_case(s, &i1, &[1; 32]).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        open_case(s, &i2, &[7; 32]).await,
        Err(StoreError::Conflict { .. })
    ));

    assert_eq!(s.last_case_leaf(i1.id).await.unwrap(), None);
    for (idx, st) in [(3, "created"), (5, "classified"), (9, "closed")] {
        let leaf = CaseLeafRow {
            leaf_index: idx,
            incident_id: i1.id,
            status: st.into(),
            org_code: "S1".into(),
            at: idx * 10,
        };
        s.put_case_leaf(&leaf).await.unwrap();
        // Idempotent: the feed may retry after a crash.
        s.put_case_leaf(&leaf).await.unwrap();
    }
    let leaves = s.case_leaves(i1.id).await.unwrap();
    assert_eq!(
        leaves
            .iter()
            .map(|l| (l.leaf_index, l.status.as_str()))
            .collect::<Vec<_>>(),
        [(3, "created"), (5, "classified"), (9, "closed")]
    );
    assert_eq!(
        s.last_case_leaf(i1.id).await.unwrap().unwrap().leaf_index,
        9
    );
    assert!(s.case_leaves(i2.id).await.unwrap().is_empty());
}

async fn case_outbox(s: &Store) {
    let (city, a, _, i1, _) = setup(s).await;
    let new = |key: &str| NewNotification {
        incident_id: Some(i1.id),
        org_path: format!("/{}/{}/", city.id, a.id),
        dedupe_key: key.into(),
        template: "accepted".into(),
        recipient: "13812345678".into(),
        body: "您的报警已受理".into(),
    };
    let n1 = s
        .enqueue_notification(&new("k1"), 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.enqueue_notification(&new("k1"), 1_001).await.unwrap(),
        None
    );
    let n2 = s
        .enqueue_notification(&new("k2"), 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.next_notification_due().await.unwrap(), Some(1_000));
    assert_eq!(
        s.due_notifications(1_500, 10)
            .await
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect::<Vec<_>>(),
        [n1]
    );
    // One claim per due time: a second worker (or process) does not get it.
    assert!(s.claim_notification(n1, 1_050, 1_099).await.unwrap());
    assert!(!s.claim_notification(n1, 1_050, 1_099).await.unwrap());
    assert!(!s.claim_notification(n2, 1_050, 1_099).await.unwrap());
    assert_eq!(s.due_notifications(1_050, 10).await.unwrap(), vec![]);
    let attempt =
        |id: i64, k: i64, at: i64, code: Option<i64>, err: Option<&str>| NotificationAttemptRow {
            notification_id: id,
            attempt: k,
            at,
            channel: "webhook".into(),
            status_code: code,
            error: err.map(str::to_string),
            duration_ms: 3,
        };
    let r = s
        .record_notification_attempt(
            &attempt(n1, 1, 1_100, Some(500), Some("HTTP 500")),
            NotificationOutcome::RetryAt(3_000),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            r.status.as_str(),
            r.attempts,
            r.next_attempt_at,
            r.last_error.as_deref()
        ),
        ("pending", 1, Some(3_000), Some("HTTP 500"))
    );
    assert_eq!(
        s.due_notifications(2_500, 10)
            .await
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect::<Vec<_>>(),
        [n2]
    );
    let r = s
        .record_notification_attempt(
            &attempt(n1, 2, 3_100, Some(200), None),
            NotificationOutcome::Delivered,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            r.status.as_str(),
            r.attempts,
            r.next_attempt_at,
            r.delivered_at
        ),
        ("delivered", 2, None, Some(3_100))
    );
    // A delivered notification is never attempted (or logged) again.
    assert_eq!(
        s.record_notification_attempt(
            &attempt(n1, 3, 3_200, Some(200), None),
            NotificationOutcome::Delivered
        )
        .await
        .unwrap(),
        None
    );
    let log = s.notification_attempts(n1).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|a| (a.attempt, a.status_code))
            .collect::<Vec<_>>(),
        [(1, Some(500)), (2, Some(200))]
    );
    let r = s
        .record_notification_attempt(
            &attempt(n2, 1, 2_100, None, Some("no channel configured")),
            NotificationOutcome::NoChannel,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, "no_channel");
    assert_eq!(s.next_notification_due().await.unwrap(), None);
    // Too old to be worth sending now: stays held.
    assert_eq!(
        s.requeue_unchannelled_notifications(5_000, 2_001)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.requeue_unchannelled_notifications(5_000, 2_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.get_notification(n2).await.unwrap().status, "pending");
    assert_eq!(s.next_notification_due().await.unwrap(), Some(5_000));

    let (rows, total) = s
        .list_notifications(
            &NotificationFilter {
                path_prefix: format!("/{}/", city.id),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (rows.iter().map(|r| r.id).collect::<Vec<_>>(), total),
        (vec![n2, n1], 2)
    );
    let (rows, total) = s
        .list_notifications(
            &NotificationFilter {
                path_prefix: "/".into(),
                incident_id: Some(i1.id),
                status: Some("delivered".into()),
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!((rows.len(), total, rows[0].id), (1, 1, n1));
    let (_, total) = s
        .list_notifications(
            &NotificationFilter {
                path_prefix: "/999999/".into(),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(total, 0);
    assert!(matches!(
        s.get_notification(n2 + 100).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn case_evaluations(s: &Store) {
    let (city, a, b, i1, i2) = setup(s).await;
    let path_a = format!("/{}/{}/", city.id, a.id);
    let path_b = format!("/{}/{}/", city.id, b.id);
    let e1 = s
        .create_evaluation(
            &NewEvaluation {
                incident_id: i1.id,
                org_id: a.id,
                org_path: path_a.clone(),
                stars: 2,
                comment: "来得太慢".into(),
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        (e1.stars, e1.comment.as_str(), e1.follow_up_at),
        (2, "来得太慢", None)
    );
    assert!(matches!(
        s.create_evaluation(
            &NewEvaluation {
                incident_id: i1.id,
                org_id: a.id,
                org_path: path_a.clone(),
                stars: 5,
                comment: String::new(),
            },
            101,
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));
    let e2 = s
        .create_evaluation(
            &NewEvaluation {
                incident_id: i2.id,
                org_id: b.id,
                org_path: path_b.clone(),
                stars: 5,
                comment: "很满意".into(),
            },
            102,
        )
        .await
        .unwrap();
    assert_eq!(
        s.evaluation_for_incident(i2.id).await.unwrap(),
        Some(e2.clone())
    );
    assert_eq!(s.get_evaluation(e1.id).await.unwrap(), e1);

    let list = |f: EvaluationFilter| async move {
        let (rows, total) = s.list_evaluations(&f, Page::default()).await.unwrap();
        (rows.iter().map(|r| r.id).collect::<Vec<_>>(), total)
    };
    let root = format!("/{}/", city.id);
    assert_eq!(
        list(EvaluationFilter {
            path_prefix: root.clone(),
            ..Default::default()
        })
        .await,
        (vec![e2.id, e1.id], 2)
    );
    assert_eq!(
        list(EvaluationFilter {
            path_prefix: root.clone(),
            max_stars: Some(3),
            ..Default::default()
        })
        .await,
        (vec![e1.id], 1)
    );
    assert_eq!(
        list(EvaluationFilter {
            path_prefix: path_b.clone(),
            ..Default::default()
        })
        .await,
        (vec![e2.id], 1)
    );
    assert_eq!(
        list(EvaluationFilter {
            path_prefix: root.clone(),
            org_id: Some(a.id),
            ..Default::default()
        })
        .await,
        (vec![e1.id], 1)
    );

    let f = s
        .follow_up_evaluation(e1.id, "已回访，致歉", "commander", 200)
        .await
        .unwrap();
    assert_eq!(
        (
            f.follow_up_note.as_deref(),
            f.follow_up_by.as_deref(),
            f.follow_up_at
        ),
        (Some("已回访，致歉"), Some("commander"), Some(200))
    );
    assert!(matches!(
        s.follow_up_evaluation(e2.id + 100, "x", "y", 1).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        list(EvaluationFilter {
            path_prefix: root.clone(),
            followed_up: Some(false),
            ..Default::default()
        })
        .await,
        (vec![e2.id], 1)
    );

    let stats = s.evaluation_stats(&root).await.unwrap();
    assert_eq!(
        stats,
        vec![
            EvaluationStatsRow {
                org_id: a.id,
                count: 1,
                distribution: [0, 1, 0, 0, 0],
                followed_up: 1,
            },
            EvaluationStatsRow {
                org_id: b.id,
                count: 1,
                distribution: [0, 0, 0, 0, 1],
                followed_up: 0,
            },
        ]
    );
    assert_eq!(s.evaluation_stats(&path_b).await.unwrap().len(), 1);
}

/// Intake's one-transaction case opening: a fresh subject is kept with its
/// salt; a subject kept first (by the ledger feed) stands and the fresh salt
/// is not kept; a taken code hash writes nothing at all.
async fn case_open_in_one_transaction(s: &Store) {
    let (_, a, _, i1, i2) = setup(s).await;
    let sms = |incident: i64| NewNotification {
        incident_id: Some(incident),
        org_path: a.path.clone(),
        dedupe_key: format!("incident:{incident}:accepted"),
        template: "accepted".into(),
        recipient: "13812345678".into(),
        body: "您的报警已受理".into(),
    };
    let n1 = sms(i1.id);
    let (c, queued) = s
        .open_citizen_case(
            &NewCitizenCase {
                incident_id: i1.id,
                code_hash: &[1; 32],
                subject: &[2; 32],
                salt: &[3; 32],
                notification: &n1,
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!((c.incident_id, c.subject.clone()), (i1.id, vec![2; 32]));
    assert_eq!(s.case_subject(i1.id).await.unwrap(), Some(vec![2; 32]));
    assert_eq!(s.ledger_salt(&[2; 32]).await.unwrap(), Some(vec![3; 32]));
    let queued = queued.expect("notification queued");
    assert_eq!(
        s.get_notification(queued).await.unwrap().body,
        "您的报警已受理"
    );

    // The feed kept a subject for i2 first: it stands.
    assert_eq!(
        s.put_case_subject(i2.id, &[4; 32]).await.unwrap(),
        vec![4; 32]
    );
    let n2 = sms(i2.id);
    let fresh = NewCitizenCase {
        incident_id: i2.id,
        code_hash: &[1; 32],
        subject: &[5; 32],
        salt: &[6; 32],
        notification: &n2,
    };
    // A taken code hash: a conflict, and nothing of it is written.
    assert!(matches!(
        s.open_citizen_case(&fresh, 200).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.citizen_case_by_incident(i2.id).await.unwrap(), None);
    assert!(
        s.due_notifications(i64::MAX, 10)
            .await
            .unwrap()
            .iter()
            .all(|n| n.incident_id != Some(i2.id))
    );
    let (c2, queued2) = s
        .open_citizen_case(
            &NewCitizenCase {
                code_hash: &[7; 32],
                ..fresh
            },
            200,
        )
        .await
        .unwrap();
    assert_eq!(c2.subject, vec![4; 32]);
    assert_eq!(s.ledger_salt(&[5; 32]).await.unwrap(), None);
    assert!(queued2.is_some());
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_open_in_one_transaction(&$dbs.open("open_case").await).await;
        case_receipts_and_leaves(&$dbs.open("receipts").await).await;
        case_outbox(&$dbs.open("outbox").await).await;
        case_evaluations(&$dbs.open("evaluations").await).await;
    }};
}

#[tokio::test]
async fn citizen_suite_sqlite() {
    let dbs = pg::Databases::sqlite("citizen");
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn citizen_suite_postgres() {
    let dbs = pg::Databases::postgres("c").await;
    suite!(dbs);
    dbs.finish().await;
}
