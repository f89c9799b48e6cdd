//! OASIS Common Alerting Protocol 1.2 export of an alert, for partner
//! agencies and alerting hubs. Personal identifiers are masked unless the
//! caller explicitly asks otherwise (the export leaves our audit boundary).

use std::fmt::Write as _;

use pingan_core::Timestamp;
use quick_xml::escape::escape;
use thiserror::Error;

use crate::engine::{AlertDraft, Detail, RuleKind};
use crate::ident::Identifier;
use crate::watch::Priority;

pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

#[derive(Debug, Clone, PartialEq)]
pub struct CapOptions {
    /// Globally unique sender id, e.g. `pingan@police.chengdu.example`.
    pub sender: String,
    pub sender_name: Option<String>,
    /// Text of `<restriction>` (scope is always `Restricted`: police alerts
    /// are not public warnings).
    pub restriction: String,
    /// Show identifiers in full instead of masked.
    pub reveal_identifiers: bool,
    /// Radius of the `<circle>` around the alert location, in km.
    pub radius_km: f64,
    /// Offset used to render `<sent>`; CAP forbids `Z`, so UTC is `+00:00`.
    pub utc_offset_minutes: i32,
    pub language: String,
}

impl Default for CapOptions {
    fn default() -> Self {
        CapOptions {
            sender: "pingan".into(),
            sender_name: None,
            restriction: "law-enforcement use only".into(),
            reveal_identifiers: false,
            radius_km: 0.5,
            utc_offset_minutes: 8 * 60,
            language: "zh-CN".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CapError {
    #[error("CAP {field} {value:?} must be non-empty without spaces, commas, '<' or '&'")]
    BadToken { field: &'static str, value: String },
    #[error("radius_km must be a positive finite number")]
    BadRadius,
}

fn check_token(field: &'static str, v: &str) -> Result<(), CapError> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))
    {
        return Err(CapError::BadToken {
            field,
            value: v.to_string(),
        });
    }
    Ok(())
}

/// CAP date-time: `YYYY-MM-DDThh:mm:ss±hh:mm`, no fractional seconds, no `Z`.
pub fn cap_datetime(t: Timestamp, utc_offset_minutes: i32) -> String {
    let local = Timestamp(t.millis() + i64::from(utc_offset_minutes) * 60_000);
    let (y, mo, d, h, mi, s) = local.to_civil_utc();
    let sign = if utc_offset_minutes < 0 { '-' } else { '+' };
    let off = utc_offset_minutes.unsigned_abs();
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{sign}{:02}:{:02}",
        off / 60,
        off % 60
    )
}

fn levels(p: Priority) -> (&'static str, &'static str) {
    match p {
        Priority::Critical => ("Immediate", "Extreme"),
        Priority::High => ("Immediate", "Severe"),
        Priority::Normal => ("Expected", "Moderate"),
        Priority::Low => ("Future", "Minor"),
    }
}

fn certainty(r: RuleKind) -> &'static str {
    match r {
        RuleKind::Sighting
        | RuleKind::GeofenceEnter
        | RuleKind::GeofenceExit
        | RuleKind::GeofenceDwell
        | RuleKind::Curfew => "Observed",
        _ => "Likely",
    }
}

/// Renders `alert` as a CAP 1.2 `<alert>` document with identifier `id`
/// (the server's persistent alert id), sent at `sent`.
pub fn to_cap_xml(
    alert: &AlertDraft,
    id: &str,
    sent: Timestamp,
    opts: &CapOptions,
) -> Result<String, CapError> {
    check_token("identifier", id)?;
    check_token("sender", &opts.sender)?;
    if !(opts.radius_km.is_finite() && opts.radius_km > 0.0) {
        return Err(CapError::BadRadius);
    }
    let (urgency, severity) = levels(alert.priority);
    let idents: Vec<String> = alert
        .identifiers
        .iter()
        .map(|i| {
            let v = if opts.reveal_identifiers {
                i.value().to_string()
            } else {
                i.masked()
            };
            format!("{}:{v}", i.kind())
        })
        .collect();
    let label = if opts.reveal_identifiers {
        alert.label.clone()
    } else {
        Identifier::mask_in(&alert.label, &alert.identifiers)
    };
    let event = format!("{label} ({})", alert.rule.as_str());
    let mut description = format!(
        "rule {} at {}",
        alert.rule.as_str(),
        cap_datetime(alert.time, opts.utc_offset_minutes)
    );
    if let Some(s) = &alert.sensor_id {
        let _ = write!(description, ", sensor {s}");
    }
    if !idents.is_empty() {
        let _ = write!(description, ", identifiers {}", idents.join(" "));
    }
    match &alert.detail {
        Detail::Hits { count, within_ms } => {
            let _ = write!(description, ", {count} hits within {} s", within_ms / 1000);
        }
        Detail::CoOccurrence { times, window_ms } => {
            let _ = write!(
                description,
                ", together {times} times within {} s",
                window_ms / 1000
            );
        }
        Detail::Spike {
            kind,
            count,
            expected,
            p_value,
            ..
        } => {
            let _ = write!(
                description,
                ", {count} {kind} events against {expected:.1} expected (p = {p_value:.2e})"
            );
        }
        _ => {}
    }

    let mut x = String::with_capacity(2048);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, "<alert xmlns=\"{CAP_NAMESPACE}\">");
    let el = |x: &mut String, indent: &str, name: &str, text: &str| {
        let _ = writeln!(x, "{indent}<{name}>{}</{name}>", escape(text));
    };
    el(&mut x, "  ", "identifier", id);
    el(&mut x, "  ", "sender", &opts.sender);
    el(
        &mut x,
        "  ",
        "sent",
        &cap_datetime(sent, opts.utc_offset_minutes),
    );
    el(&mut x, "  ", "status", "Actual");
    el(&mut x, "  ", "msgType", "Alert");
    el(&mut x, "  ", "scope", "Restricted");
    el(&mut x, "  ", "restriction", &opts.restriction);
    x.push_str("  <info>\n");
    el(&mut x, "    ", "language", &opts.language);
    el(&mut x, "    ", "category", "Security");
    el(&mut x, "    ", "event", &event);
    el(&mut x, "    ", "urgency", urgency);
    el(&mut x, "    ", "severity", severity);
    el(&mut x, "    ", "certainty", certainty(alert.rule));
    if let Some(n) = &opts.sender_name {
        el(&mut x, "    ", "senderName", n);
    }
    el(&mut x, "    ", "headline", &label);
    el(&mut x, "    ", "description", &description);
    let mut params: Vec<(&str, String)> = vec![
        ("pingan:rule", alert.rule.as_str().to_string()),
        ("pingan:priority", alert.priority.as_str().to_string()),
        ("pingan:seq", alert.seq.to_string()),
    ];
    if let Some(w) = alert.watch_id {
        params.push(("pingan:watch", w.to_string()));
    }
    if let Some(c) = &alert.case_ref {
        params.push(("pingan:case_ref", c.clone()));
    }
    if let Some(o) = &alert.routing.org_path {
        params.push(("pingan:org_path", o.clone()));
    }
    for (name, value) in params {
        x.push_str("    <parameter>\n");
        el(&mut x, "      ", "valueName", name);
        el(&mut x, "      ", "value", &value);
        x.push_str("    </parameter>\n");
    }
    x.push_str("    <area>\n");
    let area_desc = match (&alert.sensor_id, &alert.routing.org_path) {
        (Some(s), _) => format!("sensor {s}"),
        (None, Some(o)) => format!("org {o}"),
        (None, None) => "unspecified".to_string(),
    };
    el(&mut x, "      ", "areaDesc", &area_desc);
    if let Some(l) = alert.location {
        el(
            &mut x,
            "      ",
            "circle",
            &format!("{:.6},{:.6} {}", l.lat(), l.lng(), opts.radius_km),
        );
    }
    x.push_str("    </area>\n  </info>\n</alert>\n");
    Ok(x)
}
