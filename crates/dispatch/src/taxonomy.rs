//! Incident-type taxonomy: codes, bilingual names, default priorities, the unit
//! capabilities a type needs, first-responder (先行处警) eligibility and partner
//! agencies. Admin edits go through [`TypeSpec`] and are validated into a
//! [`Taxonomy`]; [`Taxonomy::builtin`] is the default set shipped with pingan.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// Urgency of an incident: P1 is the most urgent (life at risk, crime in progress),
/// P4 the least (advice, nuisance). Ordering follows urgency: `P1 < P2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    /// All priorities, most urgent first.
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

    /// 1 for P1 … 4 for P4.
    pub fn level(self) -> u8 {
        match self {
            Priority::P1 => 1,
            Priority::P2 => 2,
            Priority::P3 => 3,
            Priority::P4 => 4,
        }
    }

    /// The priority with the given level (1–4).
    pub fn from_level(level: u8) -> Result<Priority, TaxonomyError> {
        match level {
            1 => Ok(Priority::P1),
            2 => Ok(Priority::P2),
            3 => Ok(Priority::P3),
            4 => Ok(Priority::P4),
            _ => Err(TaxonomyError::BadPriority {
                value: level.to_string(),
            }),
        }
    }

    /// One step more urgent, saturating at P1.
    pub fn raised(self) -> Priority {
        match self {
            Priority::P1 | Priority::P2 => Priority::P1,
            Priority::P3 => Priority::P2,
            Priority::P4 => Priority::P3,
        }
    }

    /// The more urgent of two priorities.
    pub fn most_urgent(self, other: Priority) -> Priority {
        self.min(other)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.level())
    }
}

impl FromStr for Priority {
    type Err = TaxonomyError;
    /// Accepts `P1`…`P4` (any case) or a bare `1`…`4`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t.strip_prefix(['P', 'p']).unwrap_or(t);
        match digits.parse::<u8>() {
            Ok(n) => Priority::from_level(n).map_err(|_| TaxonomyError::BadPriority {
                value: s.to_string(),
            }),
            Err(_) => Err(TaxonomyError::BadPriority {
                value: s.to_string(),
            }),
        }
    }
}

/// What a unit can do; incident types list the capabilities they require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Sworn officers who can detain, search and take evidence (执法).
    LawEnforcement,
    /// Traffic direction, accident scene management (交通管理).
    TrafficControl,
    /// Basic life support, a first-aid kit (急救).
    FirstAid,
    /// Mediation of disputes (调解).
    Mediation,
    /// Crisis negotiation for self-harm and hostage risk (危机谈判).
    CrisisNegotiation,
    /// Aerial search with camera / thermal imaging (空中搜索).
    AerialSearch,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 6] = [
        Capability::LawEnforcement,
        Capability::TrafficControl,
        Capability::FirstAid,
        Capability::Mediation,
        Capability::CrisisNegotiation,
        Capability::AerialSearch,
    ];

    /// Stable machine code, e.g. `law_enforcement`.
    pub fn code(self) -> &'static str {
        match self {
            Capability::LawEnforcement => "law_enforcement",
            Capability::TrafficControl => "traffic_control",
            Capability::FirstAid => "first_aid",
            Capability::Mediation => "mediation",
            Capability::CrisisNegotiation => "crisis_negotiation",
            Capability::AerialSearch => "aerial_search",
        }
    }

    /// Chinese display name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Capability::LawEnforcement => "执法",
            Capability::TrafficControl => "交通管理",
            Capability::FirstAid => "急救",
            Capability::Mediation => "调解",
            Capability::CrisisNegotiation => "危机谈判",
            Capability::AerialSearch => "空中搜索",
        }
    }

    /// Parses a machine code produced by [`Capability::code`].
    pub fn from_code(code: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// Agencies an incident can be handed to or shared with (联动单位).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partner {
    /// 12345 city service hotline (政务服务便民热线).
    Hotline12345,
    /// 120 emergency medical service.
    Ems120,
    /// 119 fire and rescue.
    Fire119,
    /// Traffic police (122 / 交警).
    TrafficPolice,
}

impl Partner {
    /// Every partner, in declaration order.
    pub const ALL: [Partner; 4] = [
        Partner::Hotline12345,
        Partner::Ems120,
        Partner::Fire119,
        Partner::TrafficPolice,
    ];

    /// Stable machine code, e.g. `12345`, `120`, `119`, `traffic`.
    pub fn code(self) -> &'static str {
        match self {
            Partner::Hotline12345 => "12345",
            Partner::Ems120 => "120",
            Partner::Fire119 => "119",
            Partner::TrafficPolice => "traffic",
        }
    }

    /// Chinese display name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Partner::Hotline12345 => "12345政务服务便民热线",
            Partner::Ems120 => "120急救中心",
            Partner::Fire119 => "119消防救援",
            Partner::TrafficPolice => "交警",
        }
    }

    /// Parses a code produced by [`Partner::code`].
    pub fn from_code(code: &str) -> Option<Partner> {
        Partner::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// Errors from building or editing a taxonomy; each names the offending code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxonomyError {
    #[error("priority {value:?} is not one of P1, P2, P3, P4")]
    BadPriority { value: String },
    #[error("type code {code:?} must be 1-64 chars of a-z, 0-9, '_' and '.'")]
    BadCode { code: String },
    #[error("type code {code:?} appears more than once")]
    DuplicateCode { code: String },
    #[error("type {code:?} names unknown parent {parent:?}")]
    UnknownParent { code: String, parent: String },
    #[error("type {code:?} is part of a parent cycle")]
    ParentCycle { code: String },
    #[error("type {code:?} has an empty {field}")]
    EmptyName { code: String, field: &'static str },
    #[error("unknown capability {value:?} on type {code:?}")]
    UnknownCapability { code: String, value: String },
    #[error("unknown partner {value:?} on type {code:?}")]
    UnknownPartner { code: String, value: String },
    #[error("type {code:?} neither gets a police response nor names a partner")]
    NobodyResponds { code: String },
    #[error("unknown type code {code:?}")]
    UnknownType { code: String },
    #[error("type {code:?} still has child types and cannot be removed")]
    HasChildren { code: String },
}

impl TaxonomyError {
    /// The input field the error is about, for the API's error shape.
    pub fn field(&self) -> &'static str {
        match self {
            TaxonomyError::BadPriority { .. } => "default_priority",
            TaxonomyError::BadCode { .. }
            | TaxonomyError::DuplicateCode { .. }
            | TaxonomyError::UnknownType { .. }
            | TaxonomyError::HasChildren { .. } => "code",
            TaxonomyError::UnknownParent { .. } | TaxonomyError::ParentCycle { .. } => "parent",
            TaxonomyError::EmptyName { field, .. } => field,
            TaxonomyError::UnknownCapability { .. } => "required_capabilities",
            TaxonomyError::UnknownPartner { .. } => "partners",
            TaxonomyError::NobodyResponds { .. } => "police_response",
        }
    }
}

/// An admin's unvalidated description of one incident type (what the edit form
/// or the API sends). [`Taxonomy::from_specs`] turns a set of them into a taxonomy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSpec {
    pub code: String,
    pub parent: Option<String>,
    pub name_zh: String,
    pub name_en: String,
    /// `P1`…`P4`.
    pub default_priority: String,
    /// Capability codes ([`Capability::code`]).
    pub required_capabilities: Vec<String>,
    pub first_responder_eligible: bool,
    /// Partner codes ([`Partner::code`]).
    pub partners: Vec<String>,
    /// Whether police attend at all; `false` means the call is diverted entirely.
    pub police_response: bool,
}

/// A validated incident type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentType {
    code: String,
    parent: Option<String>,
    name_zh: String,
    name_en: String,
    default_priority: Priority,
    required_capabilities: BTreeSet<Capability>,
    first_responder_eligible: bool,
    partners: Vec<Partner>,
    police_response: bool,
}

impl IncidentType {
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn parent(&self) -> Option<&str> {
        self.parent.as_deref()
    }
    pub fn name_zh(&self) -> &str {
        &self.name_zh
    }
    pub fn name_en(&self) -> &str {
        &self.name_en
    }
    pub fn default_priority(&self) -> Priority {
        self.default_priority
    }
    pub fn required_capabilities(&self) -> &BTreeSet<Capability> {
        &self.required_capabilities
    }
    /// Whether grid workers and volunteers may be sent ahead of police (先行处警).
    pub fn first_responder_eligible(&self) -> bool {
        self.first_responder_eligible
    }
    pub fn partners(&self) -> &[Partner] {
        &self.partners
    }
    pub fn police_response(&self) -> bool {
        self.police_response
    }

    /// The spec this type was built from (for editing round trips).
    pub fn to_spec(&self) -> TypeSpec {
        TypeSpec {
            code: self.code.clone(),
            parent: self.parent.clone(),
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            default_priority: self.default_priority.to_string(),
            required_capabilities: self
                .required_capabilities
                .iter()
                .map(|c| c.code().to_string())
                .collect(),
            first_responder_eligible: self.first_responder_eligible,
            partners: self.partners.iter().map(|p| p.code().to_string()).collect(),
            police_response: self.police_response,
        }
    }
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        && !code.starts_with('.')
        && !code.ends_with('.')
}

fn validate_spec(spec: &TypeSpec) -> Result<IncidentType, TaxonomyError> {
    if !valid_code(&spec.code) {
        return Err(TaxonomyError::BadCode {
            code: spec.code.clone(),
        });
    }
    if spec.name_zh.trim().is_empty() {
        return Err(TaxonomyError::EmptyName {
            code: spec.code.clone(),
            field: "name_zh",
        });
    }
    if spec.name_en.trim().is_empty() {
        return Err(TaxonomyError::EmptyName {
            code: spec.code.clone(),
            field: "name_en",
        });
    }
    let default_priority: Priority = spec.default_priority.parse()?;
    let mut required_capabilities = BTreeSet::new();
    for c in &spec.required_capabilities {
        let cap = Capability::from_code(c).ok_or_else(|| TaxonomyError::UnknownCapability {
            code: spec.code.clone(),
            value: c.clone(),
        })?;
        required_capabilities.insert(cap);
    }
    let mut partners = Vec::new();
    for p in &spec.partners {
        let partner = Partner::from_code(p).ok_or_else(|| TaxonomyError::UnknownPartner {
            code: spec.code.clone(),
            value: p.clone(),
        })?;
        if !partners.contains(&partner) {
            partners.push(partner);
        }
    }
    if !spec.police_response && partners.is_empty() {
        return Err(TaxonomyError::NobodyResponds {
            code: spec.code.clone(),
        });
    }
    Ok(IncidentType {
        code: spec.code.clone(),
        parent: spec.parent.clone(),
        name_zh: spec.name_zh.trim().to_string(),
        name_en: spec.name_en.trim().to_string(),
        default_priority,
        required_capabilities,
        first_responder_eligible: spec.first_responder_eligible,
        partners,
        police_response: spec.police_response,
    })
}

/// A validated set of incident types forming a forest (parents before children is
/// not required in the input; every parent must exist and there are no cycles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxonomy {
    types: BTreeMap<String, IncidentType>,
}

impl Taxonomy {
    /// Validates a complete set of specs.
    pub fn from_specs(specs: &[TypeSpec]) -> Result<Taxonomy, TaxonomyError> {
        let mut types = BTreeMap::new();
        for spec in specs {
            let ty = validate_spec(spec)?;
            if types.contains_key(&ty.code) {
                return Err(TaxonomyError::DuplicateCode { code: ty.code });
            }
            types.insert(ty.code.clone(), ty);
        }
        let taxonomy = Taxonomy { types };
        taxonomy.check_structure()?;
        Ok(taxonomy)
    }

    fn check_structure(&self) -> Result<(), TaxonomyError> {
        for ty in self.types.values() {
            if let Some(parent) = &ty.parent
                && !self.types.contains_key(parent)
            {
                return Err(TaxonomyError::UnknownParent {
                    code: ty.code.clone(),
                    parent: parent.clone(),
                });
            }
        }
        for ty in self.types.values() {
            // Walking up more steps than there are types can only mean a cycle.
            let mut cur = ty.parent.as_deref();
            let mut steps = 0;
            while let Some(p) = cur {
                steps += 1;
                if p == ty.code || steps > self.types.len() {
                    return Err(TaxonomyError::ParentCycle {
                        code: ty.code.clone(),
                    });
                }
                cur = self.types.get(p).and_then(|t| t.parent.as_deref());
            }
        }
        Ok(())
    }

    /// The default taxonomy shipped with pingan.
    pub fn builtin() -> Taxonomy {
        Taxonomy::from_specs(&builtin_specs())
            .expect("the built-in taxonomy is valid; covered by a unit test")
    }

    pub fn get(&self, code: &str) -> Option<&IncidentType> {
        self.types.get(code)
    }

    /// Like [`Taxonomy::get`] but a typed error for unknown codes.
    pub fn require(&self, code: &str) -> Result<&IncidentType, TaxonomyError> {
        self.types
            .get(code)
            .ok_or_else(|| TaxonomyError::UnknownType {
                code: code.to_string(),
            })
    }

    /// All types ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &IncidentType> {
        self.types.values()
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Direct children of `code`, ordered by code.
    pub fn children<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a IncidentType> + 'a {
        self.types
            .values()
            .filter(move |t| t.parent.as_deref() == Some(code))
    }

    /// Types without children: the ones calls are classified into.
    pub fn leaves(&self) -> impl Iterator<Item = &IncidentType> {
        self.types.values().filter(|t| {
            !self
                .types
                .values()
                .any(|c| c.parent.as_ref() == Some(&t.code))
        })
    }

    /// The top-level ancestor of `code` (itself when it has no parent).
    pub fn root_of<'a>(&'a self, code: &'a str) -> Option<&'a IncidentType> {
        let mut cur = self.types.get(code)?;
        while let Some(p) = cur.parent.as_deref() {
            cur = self.types.get(p)?;
        }
        Some(cur)
    }

    /// Inserts or replaces one type; the whole taxonomy is re-validated and left
    /// unchanged on error.
    pub fn upsert(&mut self, spec: &TypeSpec) -> Result<(), TaxonomyError> {
        let ty = validate_spec(spec)?;
        let mut next = self.clone();
        next.types.insert(ty.code.clone(), ty);
        next.check_structure()?;
        *self = next;
        Ok(())
    }

    /// Removes a type that has no children.
    pub fn remove(&mut self, code: &str) -> Result<IncidentType, TaxonomyError> {
        if !self.types.contains_key(code) {
            return Err(TaxonomyError::UnknownType {
                code: code.to_string(),
            });
        }
        if self.children(code).next().is_some() {
            return Err(TaxonomyError::HasChildren {
                code: code.to_string(),
            });
        }
        Ok(self.types.remove(code).expect("presence checked above"))
    }

    /// Every type as a spec, for persistence and admin editing.
    pub fn to_specs(&self) -> Vec<TypeSpec> {
        self.types.values().map(IncidentType::to_spec).collect()
    }
}

/// Compact row for the built-in table: code, parent, zh, en, priority, capabilities,
/// first-responder eligible, partners, police response.
type Row = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    &'static [&'static str],
    bool,
);

const LE: &str = "law_enforcement";
const TC: &str = "traffic_control";
const MED: &str = "mediation";
const CN: &str = "crisis_negotiation";

#[rustfmt::skip]
const BUILTIN: &[Row] = &[
    ("criminal", None, "刑事案件", "Criminal", "P2", &[LE], false, &[], true),
    ("criminal.theft", Some("criminal"), "盗窃", "Theft", "P2", &[LE], true, &[], true),
    ("criminal.burglary", Some("criminal"), "入室盗窃", "Burglary", "P2", &[LE], true, &[], true),
    ("criminal.robbery", Some("criminal"), "抢劫抢夺", "Robbery / snatching", "P1", &[LE], false, &[], true),
    ("criminal.assault", Some("criminal"), "故意伤害", "Assault", "P1", &[LE], false, &["120"], true),
    ("criminal.fraud", Some("criminal"), "诈骗", "Fraud", "P3", &[LE], false, &[], true),
    ("public_order", None, "治安案件", "Public order", "P2", &[LE], false, &[], true),
    ("public_order.fight", Some("public_order"), "打架斗殴", "Fight", "P2", &[LE], true, &[], true),
    ("public_order.gambling", Some("public_order"), "聚众赌博", "Gambling", "P3", &[LE], false, &[], true),
    ("public_order.disturbance", Some("public_order"), "寻衅滋事/醉酒闹事", "Disturbance / drunk and disorderly", "P2", &[LE], true, &[], true),
    ("traffic", None, "交通警情", "Traffic", "P3", &[TC], false, &["traffic"], true),
    ("traffic.accident_injury", Some("traffic"), "交通事故（有人伤）", "Traffic accident with injuries", "P1", &[TC], true, &["traffic", "120"], true),
    ("traffic.accident", Some("traffic"), "交通事故（财损）", "Traffic accident, damage only", "P3", &[TC], false, &["traffic"], true),
    ("traffic.congestion", Some("traffic"), "交通拥堵", "Congestion", "P4", &[TC], false, &["traffic"], true),
    ("traffic.obstruction", Some("traffic"), "违停堵路/挪车", "Illegal parking / blocked vehicle", "P4", &[], true, &["traffic"], true),
    ("fire", None, "火警", "Fire", "P1", &[], true, &["119"], true),
    ("medical", None, "医疗急救", "Medical emergency", "P1", &[], true, &["120"], false),
    ("dispute", None, "纠纷", "Dispute", "P3", &[MED], true, &[], true),
    ("dispute.family", Some("dispute"), "家庭纠纷", "Family dispute", "P3", &[MED], true, &[], true),
    ("dispute.neighbour", Some("dispute"), "邻里纠纷", "Neighbour dispute", "P3", &[MED], true, &[], true),
    ("dispute.labour", Some("dispute"), "劳资纠纷", "Labour / wage dispute", "P3", &[MED], false, &["12345"], true),
    ("dispute.consumer", Some("dispute"), "消费纠纷", "Consumer dispute", "P4", &[MED], true, &["12345"], true),
    ("missing_person", None, "人员走失", "Missing person", "P2", &[], true, &[], true),
    ("noise", None, "噪音扰民", "Noise nuisance", "P4", &[], true, &[], true),
    ("suspicious", None, "可疑情况", "Suspicious", "P3", &[LE], true, &[], true),
    ("suspicious.person", Some("suspicious"), "可疑人员", "Suspicious person", "P3", &[LE], true, &[], true),
    ("suspicious.object", Some("suspicious"), "可疑物品", "Suspicious object", "P2", &[LE], false, &[], true),
    ("self_harm", None, "自杀自伤风险", "Self-harm risk", "P1", &[CN], false, &["120", "119"], true),
    ("non_police", None, "非警务求助", "Non-police service request", "P4", &[], false, &["12345"], false),
    ("non_police.utilities", Some("non_police"), "水电气故障", "Utilities outage", "P4", &[], false, &["12345"], false),
    ("non_police.animal", Some("non_police"), "动物/宠物求助", "Animals and pets", "P4", &[], false, &["12345"], false),
    ("non_police.locked_out", Some("non_police"), "开锁求助", "Locked out", "P4", &[], false, &["12345"], false),
    ("non_police.consultation", Some("non_police"), "咨询", "Consultation", "P4", &[], false, &["12345"], false),
];

/// The built-in default taxonomy as editable specs.
pub fn builtin_specs() -> Vec<TypeSpec> {
    BUILTIN
        .iter()
        .map(
            |&(code, parent, zh, en, prio, caps, fr, partners, police)| TypeSpec {
                code: code.to_string(),
                parent: parent.map(str::to_string),
                name_zh: zh.to_string(),
                name_en: en.to_string(),
                default_priority: prio.to_string(),
                required_capabilities: caps.iter().map(|s| s.to_string()).collect(),
                first_responder_eligible: fr,
                partners: partners.iter().map(|s| s.to_string()).collect(),
                police_response: police,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_valid_and_has_expected_leaves() {
        let t = Taxonomy::builtin();
        assert_eq!(t.len(), BUILTIN.len());
        let leaves: Vec<&str> = t.leaves().map(|l| l.code()).collect();
        assert_eq!(leaves.len(), 27);
        assert!(leaves.contains(&"fire"));
        assert!(!leaves.contains(&"criminal"));
        let fire = t.get("fire").unwrap();
        assert_eq!(fire.default_priority(), Priority::P1);
        assert_eq!(fire.partners(), &[Partner::Fire119]);
        assert_eq!(t.root_of("dispute.labour").unwrap().code(), "dispute");
        assert_eq!(t.children("traffic").count(), 4);
    }

    fn spec(code: &str, parent: Option<&str>, prio: &str) -> TypeSpec {
        TypeSpec {
            code: code.into(),
            parent: parent.map(Into::into),
            name_zh: "测试".into(),
            name_en: "Test".into(),
            default_priority: prio.into(),
            required_capabilities: vec![],
            first_responder_eligible: false,
            partners: vec![],
            police_response: true,
        }
    }

    #[test]
    fn validation_errors_are_typed() {
        assert_eq!(
            Taxonomy::from_specs(&[spec("a", None, "P1"), spec("a", None, "P2")]),
            Err(TaxonomyError::DuplicateCode { code: "a".into() })
        );
        assert_eq!(
            Taxonomy::from_specs(&[spec("a.b", Some("a"), "P1")]),
            Err(TaxonomyError::UnknownParent {
                code: "a.b".into(),
                parent: "a".into()
            })
        );
        let err = Taxonomy::from_specs(&[spec("a", None, "P5")]).unwrap_err();
        assert_eq!(err, TaxonomyError::BadPriority { value: "P5".into() });
        assert_eq!(err.field(), "default_priority");
        assert_eq!(
            Taxonomy::from_specs(&[spec("Bad Code", None, "P1")]),
            Err(TaxonomyError::BadCode {
                code: "Bad Code".into()
            })
        );
        assert_eq!(
            Taxonomy::from_specs(&[spec("a", Some("b"), "P1"), spec("b", Some("a"), "P1")]),
            Err(TaxonomyError::ParentCycle { code: "a".into() })
        );
        let mut s = spec("x", None, "p3");
        s.required_capabilities = vec!["flying".into()];
        assert_eq!(
            Taxonomy::from_specs(&[s]),
            Err(TaxonomyError::UnknownCapability {
                code: "x".into(),
                value: "flying".into()
            })
        );
        let mut s = spec("x", None, "3");
        s.police_response = false;
        assert_eq!(
            Taxonomy::from_specs(&[s]),
            Err(TaxonomyError::NobodyResponds { code: "x".into() })
        );
    }

    #[test]
    fn edits_are_atomic() {
        let mut t = Taxonomy::builtin();
        let before = t.clone();
        assert!(matches!(
            t.upsert(&spec("x.y", Some("nope"), "P2")),
            Err(TaxonomyError::UnknownParent { .. })
        ));
        assert_eq!(t, before);
        t.upsert(&spec("noise.construction", Some("noise"), "P3"))
            .unwrap();
        assert_eq!(
            t.get("noise.construction").unwrap().default_priority(),
            Priority::P3
        );
        assert!(!t.leaves().any(|l| l.code() == "noise"));
        assert_eq!(
            t.remove("noise"),
            Err(TaxonomyError::HasChildren {
                code: "noise".into()
            })
        );
        t.remove("noise.construction").unwrap();
        assert_eq!(t, before);
        let roundtrip = Taxonomy::from_specs(&t.to_specs()).unwrap();
        assert_eq!(roundtrip, t);
    }

    #[test]
    fn priority_parsing_and_order() {
        assert_eq!("p2".parse::<Priority>().unwrap(), Priority::P2);
        assert_eq!("4".parse::<Priority>().unwrap(), Priority::P4);
        assert!("P0".parse::<Priority>().is_err());
        assert!("high".parse::<Priority>().is_err());
        assert!(Priority::P1 < Priority::P4);
        assert_eq!(Priority::P3.raised(), Priority::P2);
        assert_eq!(Priority::P1.raised(), Priority::P1);
    }
}
