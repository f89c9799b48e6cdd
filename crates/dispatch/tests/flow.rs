//! End-to-end use of the public API as the server wires it: a call is
//! classified, becomes an incident, gets partners and recommendations, is
//! dispatched, escalated when unacknowledged, handled, closed and measured.

use std::collections::BTreeSet;

use pingan_core::{LatLng, Timestamp};
use pingan_dispatch::diversion::{
    AgencyRef, HandoffInput, build_payload, payload_body, sign, verify,
};
use pingan_dispatch::kpi::GroupBy;
use pingan_dispatch::recommend::Reason;
use pingan_dispatch::*;

#[test]
fn call_to_kpi() {
    let classifier = Classifier::builtin();
    let taxonomy = classifier.taxonomy().clone();
    let t0 = Timestamp::from_civil_utc(2026, 11, 24, 12, 0, 0);
    let point = LatLng::new(30.62, 104.07).unwrap();

    // Intake and classification.
    let text = "解放路和建设路路口出车祸了，一辆电动车被货车撞了，人躺在地上流了好多血";
    let c = classifier.classify(text);
    assert_eq!(c.type_code, "traffic.accident_injury");
    assert_eq!(c.priority, Priority::P1);
    assert!(c.confidence > 0.5);
    assert!(
        c.evidence
            .iter()
            .any(|e| matches!(e, Evidence::Keyword { word, .. } if word == "车祸"))
    );
    assert!(
        c.evidence
            .iter()
            .any(|e| matches!(e, Evidence::Escalator { word, .. } if word == "血"))
    );

    let number = IncidentNumber::for_time(t0, 480, 123).unwrap();
    assert_eq!(number.to_string(), "JQ20261124000123");
    let mut inc = Incident::create(number, "station-jfl", t0, "taker-1", text).unwrap();
    inc.classify(&c.type_code, c.priority, t0.plus_secs(15), "taker-1")
        .unwrap();

    // Partners: traffic police and 120 alongside the police response.
    let ty = taxonomy.get(&c.type_code).unwrap();
    let plan = decide_partners(ty, &DiversionFlags::from_text(text));
    assert_eq!(plan.partners, [Partner::Ems120, Partner::TrafficPolice]);
    assert!(plan.police_response && plan.is_joint());
    inc.add_partners(&plan.partners);
    let payload = build_payload(&HandoffInput {
        message_id: "h-1",
        now: t0.plus_secs(20),
        sender: AgencyRef {
            id: "city".into(),
            name: "市局指挥中心".into(),
        },
        partner: Partner::Ems120,
        plan: &plan,
        incident_number: &number.to_string(),
        incident_type: ty,
        priority: c.priority,
        created_at: t0,
        summary: text,
        point,
        address: Some("解放路与建设路交叉口"),
        org_id: inc.org_id(),
        caller_phone: Some("13900001111"),
        caller_name: None,
        notes: &[],
    });
    assert_eq!(payload.also_sent_to, ["traffic"]);
    let body = payload_body(&payload);
    let header = sign(b"partner-secret", t0.plus_secs(20), &body);
    verify(b"partner-secret", &header, &body, t0.plus_secs(21), 300).unwrap();

    // Recommendation among a few units.
    let unit = |id: &str, kind: UnitKind, n: f64| CandidateUnit {
        unit_id: id.into(),
        kind,
        status: UnitStatus::Available,
        capabilities: kind.default_capabilities(),
        position: point.offset_m(n, 0.0),
        position_age_s: 10,
        current_incident_priority: None,
    };
    let mut no_caps = unit("foot-9", UnitKind::FootPatrol, 50.0);
    no_caps.capabilities = BTreeSet::new();
    let units = vec![
        unit("car-1", UnitKind::PatrolCar, 1500.0),
        unit("moto-2", UnitKind::Motorcycle, 900.0),
        unit("grid-3", UnitKind::GridWorker, 120.0),
        no_caps,
    ];
    let out = recommend(
        &RecommendRequest {
            point,
            incident_type: ty,
            priority: c.priority,
        },
        &units,
        &StraightLineTravel::default(),
        &RecommendConfig::default(),
    );
    let ids: Vec<&str> = out
        .recommendations
        .iter()
        .map(|r| r.unit_id.as_str())
        .collect();
    assert_eq!(ids, ["grid-3", "moto-2", "car-1"]);
    assert_eq!(out.recommendations[0].label, Some("先行处警"));
    assert!(
        out.recommendations[2]
            .reasons
            .contains(&Reason::SlowerThanBest { extra_s: 94 })
    );
    assert_eq!(out.exclusions.missing_capabilities, 1);

    // Dispatch the best police unit (and the grid worker); it does not acknowledge.
    inc.dispatch(&["moto-2", "grid-3"], t0.plus_secs(40), "taker-1")
        .unwrap();
    inc.acknowledge("grid-3", t0.plus_secs(45)).unwrap();
    let mut esc = EscalationState::new(
        &number.to_string(),
        "moto-2",
        t0.plus_secs(40),
        vec!["car-1".into()],
        EscalationPolicy::default(),
    );
    let action = escalation_step(&esc, t0.plus_secs(100)).unwrap();
    let EscalationAction::Redispatch {
        cancel_unit,
        next_unit,
        reason,
        ..
    } = &action
    else {
        panic!("expected redispatch, got {action:?}");
    };
    inc.cancel_unit(cancel_unit, t0.plus_secs(100), "system", reason)
        .unwrap();
    inc.dispatch(&[next_unit.as_str()], t0.plus_secs(100), "system")
        .unwrap();
    esc.apply(&action, t0.plus_secs(100));
    esc.acknowledge("car-1");
    inc.acknowledge("car-1", t0.plus_secs(110)).unwrap();
    assert_eq!(escalation_step(&esc, t0.plus_secs(1000)), None);

    inc.arrive("grid-3", t0.plus_secs(130)).unwrap();
    inc.arrive("car-1", t0.plus_secs(400)).unwrap();
    inc.clear(t0.plus_secs(1800), "car-1", "伤者已由120送医")
        .unwrap();
    inc.close(Disposition::Resolved, t0.plus_secs(1900), "car-1")
        .unwrap();
    assert_eq!(inc.state(), IncidentState::Closed);

    let rows = vec![kpi::IncidentTimes::from_incident(&inc).unwrap()];
    let k = compute_kpis(&rows, GroupBy::OrgAndType, &KpiTargets::default());
    assert_eq!(k[0].call_to_dispatch.median_s, Some(40));
    assert_eq!(k[0].first_response.median_s, Some(130));
    assert!(k[0].dispatch_compliance.met);
}
