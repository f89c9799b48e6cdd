//! Source descriptions and their field mappings, parsed from TOML.
//!
//! A mapping file has one `[source]` table (name, owning department, category,
//! legal basis, update mode, optional row key columns) and any number of
//! `[[field]]` tables, each mapping one source column (or a constant / a
//! concatenation of columns) onto a [`Target`] through a chain of [`Transform`]s.
//! Every validation error names the line of the file and the field concerned.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::model::Target;
use crate::transform::Transform;

/// Whether each delivery of the source is the whole data set or only changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateMode {
    /// Every delivery is a complete snapshot; rows absent from it are gone.
    FullSnapshot,
    /// Every delivery adds or updates rows.
    Incremental,
}

impl UpdateMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateMode::FullSnapshot => "full_snapshot",
            UpdateMode::Incremental => "incremental",
        }
    }

    pub fn parse(s: &str) -> Option<UpdateMode> {
        match s {
            "full_snapshot" | "full" | "snapshot" => Some(UpdateMode::FullSnapshot),
            "incremental" => Some(UpdateMode::Incremental),
            _ => None,
        }
    }
}

impl fmt::Display for UpdateMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered data source: who owns it, why we may hold it, how it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub department: String,
    pub category: String,
    pub legal_basis: String,
    pub update_mode: UpdateMode,
    pub description: String,
    /// Source columns whose values identify a row stably across deliveries. Empty:
    /// the row's content hash is its identity.
    pub row_key: Vec<String>,
}

/// Where a field's value starts before its transforms run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldInput {
    /// The named source column.
    Column(String),
    /// No column: the first transform (a constant or a concatenation) produces the value.
    Generated,
}

/// One `[[field]]` entry: a column mapped onto a target through transforms.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    pub target: Target,
    pub input: FieldInput,
    pub transforms: Vec<Transform>,
    pub required: bool,
    /// Line of the `[[field]]` header in the mapping file, for error messages.
    pub line: usize,
}

/// A parsed and validated mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub source: Source,
    pub fields: Vec<FieldMapping>,
}

impl Mapping {
    /// Parses and validates a mapping file's text.
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        parse(text)
    }

    /// Every source column the mapping reads (inputs, concatenations and row key).
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |c: &str| {
            if !out.iter().any(|o| o == c) {
                out.push(c.to_owned());
            }
        };
        for f in &self.fields {
            if let FieldInput::Column(c) = &f.input {
                push(c);
            }
            for t in &f.transforms {
                if let Transform::Concat { fields, .. } = t {
                    fields.iter().for_each(|c| push(c));
                }
            }
        }
        for c in &self.source.row_key {
            push(c);
        }
        out
    }

    /// The mapping that targets `t`, if any.
    pub fn field(&self, t: Target) -> Option<&FieldMapping> {
        self.fields.iter().find(|f| f.target == t)
    }
}

/// The example mapping shipped with this crate (`examples/mappings/*.toml`) for
/// each departmental source kind of pingan-synth's exports, by the kind's name
/// (`household_registry`, `hotel_stay`, `net_cafe`, `vehicle_registry`,
/// `community_visit`): the demo and the benchmark register these.
pub fn example_mapping(source_kind: &str) -> Option<&'static str> {
    Some(match source_kind {
        "household_registry" => include_str!("../examples/mappings/household_registry.toml"),
        "hotel_stay" => include_str!("../examples/mappings/hotel_stay.toml"),
        "net_cafe" => include_str!("../examples/mappings/net_cafe.toml"),
        "vehicle_registry" => include_str!("../examples/mappings/vehicle_registry.toml"),
        "community_visit" => include_str!("../examples/mappings/community_visit.toml"),
        _ => return None,
    })
}

/// Why a mapping file was refused. `line` is 1-based.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MappingError {
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("line {line}: source.{key} must not be empty")]
    EmptySourceKey { line: usize, key: &'static str },
    #[error("line {line}: source.update_mode {value:?} is not full_snapshot or incremental")]
    UpdateMode { line: usize, value: String },
    #[error("line {line}: unknown target {target:?} (expected kind.field, e.g. person.name)")]
    UnknownTarget { line: usize, target: String },
    #[error("line {line}: target {target} is mapped twice (first on line {first_line})")]
    DuplicateTarget {
        line: usize,
        target: String,
        first_line: usize,
    },
    #[error(
        "line {line}: field {target}: has no `from` column and does not start with a constant or concat transform"
    )]
    NoInput { line: usize, target: String },
    #[error("line {line}: field {target}: unknown transform {name:?}")]
    UnknownTransform {
        line: usize,
        target: String,
        name: String,
    },
    #[error("line {line}: field {target}: transform {name}: {reason}")]
    BadTransform {
        line: usize,
        target: String,
        name: String,
        reason: String,
    },
    #[error("mapping has no [[field]] entries")]
    NoFields,
}

impl MappingError {
    /// The 1-based line the error refers to (0 when it concerns the whole file).
    pub fn line(&self) -> usize {
        match self {
            MappingError::Syntax { line, .. }
            | MappingError::EmptySourceKey { line, .. }
            | MappingError::UpdateMode { line, .. }
            | MappingError::UnknownTarget { line, .. }
            | MappingError::DuplicateTarget { line, .. }
            | MappingError::NoInput { line, .. }
            | MappingError::UnknownTransform { line, .. }
            | MappingError::BadTransform { line, .. } => *line,
            MappingError::NoFields => 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    source: Spanned<RawSource>,
    #[serde(default)]
    field: Vec<Spanned<RawField>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    department: Spanned<String>,
    category: Spanned<String>,
    legal_basis: Spanned<String>,
    update_mode: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    row_key: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    target: Spanned<String>,
    from: Option<String>,
    #[serde(default)]
    transforms: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    required: bool,
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |p| before.len() - p - 1)
        + 1;
    (line, col)
}

fn parse(text: &str) -> Result<Mapping, MappingError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        MappingError::Syntax {
            line,
            column,
            message: e.message().to_owned(),
        }
    })?;
    let line_of = |off: usize| line_col(text, off).0;
    let src = raw.source.into_inner();
    for (key, v) in [
        ("name", &src.name),
        ("department", &src.department),
        ("category", &src.category),
        ("legal_basis", &src.legal_basis),
    ] {
        if v.get_ref().trim().is_empty() {
            return Err(MappingError::EmptySourceKey {
                line: line_of(v.span().start),
                key,
            });
        }
    }
    let update_mode =
        UpdateMode::parse(src.update_mode.get_ref()).ok_or_else(|| MappingError::UpdateMode {
            line: line_of(src.update_mode.span().start),
            value: src.update_mode.get_ref().clone(),
        })?;
    let source = Source {
        name: src.name.into_inner().trim().to_owned(),
        department: src.department.into_inner().trim().to_owned(),
        category: src.category.into_inner().trim().to_owned(),
        legal_basis: src.legal_basis.into_inner().trim().to_owned(),
        update_mode,
        description: src.description,
        row_key: src.row_key,
    };
    if raw.field.is_empty() {
        return Err(MappingError::NoFields);
    }
    let mut fields: Vec<FieldMapping> = Vec::with_capacity(raw.field.len());
    let mut seen: BTreeMap<Target, usize> = BTreeMap::new();
    for spanned in raw.field {
        let header_line = line_of(spanned.span().start);
        let f = spanned.into_inner();
        let tline = line_of(f.target.span().start);
        let target = Target::parse(f.target.get_ref().trim()).ok_or_else(|| {
            MappingError::UnknownTarget {
                line: tline,
                target: f.target.get_ref().clone(),
            }
        })?;
        if let Some(first_line) = seen.insert(target, tline) {
            return Err(MappingError::DuplicateTarget {
                line: tline,
                target: target.to_string(),
                first_line,
            });
        }
        let mut transforms = Vec::with_capacity(f.transforms.len());
        for t in f.transforms {
            let line = line_of(t.span().start);
            transforms.push(parse_transform(t.get_ref(), line, target)?);
        }
        let input = match f.from {
            Some(c) if !c.trim().is_empty() => FieldInput::Column(c.trim().to_owned()),
            _ => match transforms.first() {
                Some(Transform::Constant(_) | Transform::Concat { .. }) => FieldInput::Generated,
                _ => {
                    return Err(MappingError::NoInput {
                        line: header_line.max(tline),
                        target: target.to_string(),
                    });
                }
            },
        };
        fields.push(FieldMapping {
            target,
            input,
            transforms,
            required: f.required,
            line: tline,
        });
    }
    Ok(Mapping { source, fields })
}

fn parse_transform(
    v: &toml::Value,
    line: usize,
    target: Target,
) -> Result<Transform, MappingError> {
    let bad = |name: &str, reason: String| MappingError::BadTransform {
        line,
        target: target.to_string(),
        name: name.to_owned(),
        reason,
    };
    match v {
        toml::Value::String(name) => Transform::simple(name).ok_or_else(|| {
            if matches!(name.as_str(), "regex" | "constant" | "concat" | "map") {
                bad(name, "needs parameters: write it as an inline table".into())
            } else {
                MappingError::UnknownTransform {
                    line,
                    target: target.to_string(),
                    name: name.clone(),
                }
            }
        }),
        toml::Value::Table(t) => {
            let known = ["regex", "constant", "concat", "map"];
            let Some(name) = known.iter().find(|k| t.contains_key(**k)) else {
                let name = t.keys().next().cloned().unwrap_or_default();
                return Err(MappingError::UnknownTransform {
                    line,
                    target: target.to_string(),
                    name,
                });
            };
            let allowed: &[&str] = match *name {
                "regex" => &["regex", "group"],
                "constant" => &["constant"],
                "concat" => &["concat", "sep"],
                _ => &["map", "default"],
            };
            if let Some(extra) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(bad(name, format!("unexpected key {extra:?}")));
            }
            match *name {
                "regex" => {
                    let pat = t["regex"]
                        .as_str()
                        .ok_or_else(|| bad("regex", "pattern must be a string".into()))?;
                    let re = Regex::new(pat).map_err(|e| bad("regex", e.to_string()))?;
                    let group = match t.get("group") {
                        None => usize::from(re.captures_len() > 1),
                        Some(g) => g
                            .as_integer()
                            .and_then(|g| usize::try_from(g).ok())
                            .ok_or_else(|| {
                                bad("regex", "group must be a non-negative integer".into())
                            })?,
                    };
                    if group >= re.captures_len() {
                        return Err(bad(
                            "regex",
                            format!("group {group} does not exist in {pat:?}"),
                        ));
                    }
                    Ok(Transform::Regex { re, group })
                }
                "constant" => t["constant"]
                    .as_str()
                    .map(|s| Transform::Constant(s.to_owned()))
                    .ok_or_else(|| bad("constant", "value must be a string".into())),
                "concat" => {
                    let fields = t["concat"]
                        .as_array()
                        .and_then(|a| {
                            a.iter()
                                .map(|v| v.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                        })
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| {
                            bad("concat", "needs a non-empty array of column names".into())
                        })?;
                    let sep = match t.get("sep") {
                        None => String::new(),
                        Some(s) => s
                            .as_str()
                            .ok_or_else(|| bad("concat", "sep must be a string".into()))?
                            .to_owned(),
                    };
                    Ok(Transform::Concat { fields, sep })
                }
                _ => {
                    let table = t["map"]
                        .as_table()
                        .ok_or_else(|| bad("map", "needs a table of value = replacement".into()))?;
                    let mut map = BTreeMap::new();
                    for (k, v) in table {
                        let v = v.as_str().ok_or_else(|| {
                            bad("map", format!("replacement for {k:?} must be a string"))
                        })?;
                        map.insert(k.clone(), v.to_owned());
                    }
                    let default = match t.get("default") {
                        None => None,
                        Some(d) => Some(
                            d.as_str()
                                .ok_or_else(|| bad("map", "default must be a string".into()))?
                                .to_owned(),
                        ),
                    };
                    Ok(Transform::Map { map, default })
                }
            }
        }
        other => Err(bad(
            other.type_str(),
            "a transform is a name or an inline table".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::targets;

    const GOOD: &str = r#"
[source]
name = "酒店住宿"
department = "治安支队"
category = "hotel"
legal_basis = "《旅馆业治安管理办法》第六条"
update_mode = "incremental"
row_key = ["旅馆编码", "证件号码", "入住时间"]

[[field]]
target = "person.name"
from = "姓名"
transforms = ["trim", "to_simplified"]
required = true

[[field]]
target = "person.sex"
from = "性别"
transforms = [{ map = { "1" = "男", "2" = "女" } }]

[[field]]
target = "event.place"
transforms = [{ concat = ["旅馆名称", "房间号"], sep = " " }]

[[field]]
target = "event.kind"
transforms = [{ constant = "hotel_stay" }]

[[field]]
target = "house.room"
from = "房间号"
transforms = [{ regex = "(\\d+)号?", group = 1 }]
"#;

    #[test]
    fn parses_a_complete_mapping() {
        let m = Mapping::from_toml(GOOD).unwrap();
        assert_eq!(m.source.name, "酒店住宿");
        assert_eq!(m.source.update_mode, UpdateMode::Incremental);
        assert_eq!(m.fields.len(), 5);
        let name = m.field(targets::person_name()).unwrap();
        assert!(name.required);
        assert_eq!(name.line, 11);
        assert_eq!(name.input, FieldInput::Column("姓名".into()));
        assert_eq!(
            m.field(targets::event_place()).unwrap().input,
            FieldInput::Generated
        );
        assert_eq!(
            m.columns(),
            [
                "姓名",
                "性别",
                "旅馆名称",
                "房间号",
                "旅馆编码",
                "证件号码",
                "入住时间"
            ]
        );
    }

    fn err(text: &str) -> MappingError {
        Mapping::from_toml(text).unwrap_err()
    }

    #[test]
    fn errors_name_line_and_field() {
        let t = GOOD.replace("target = \"person.sex\"", "target = \"person.gender\"");
        assert_eq!(
            err(&t),
            MappingError::UnknownTarget {
                line: 17,
                target: "person.gender".into()
            }
        );
        let t = GOOD.replace("\"to_simplified\"", "\"to_simplfied\"");
        assert_eq!(
            err(&t),
            MappingError::UnknownTransform {
                line: 13,
                target: "person.name".into(),
                name: "to_simplfied".into()
            }
        );
        let t = GOOD.replace("(\\\\d+)号?", "(\\\\d+");
        let e = err(&t);
        assert!(
            matches!(&e, MappingError::BadTransform { line: 32, name, .. } if name == "regex"),
            "{e:?}"
        );
        let t = GOOD.replace("group = 1", "group = 2");
        assert!(matches!(
            err(&t),
            MappingError::BadTransform { line: 32, .. }
        ));
        let t = GOOD.replace("\"incremental\"", "\"weekly\"");
        assert_eq!(
            err(&t),
            MappingError::UpdateMode {
                line: 7,
                value: "weekly".into()
            }
        );
        let t = GOOD.replace("target = \"event.kind\"", "target = \"person.name\"");
        assert_eq!(
            err(&t),
            MappingError::DuplicateTarget {
                line: 26,
                target: "person.name".into(),
                first_line: 11
            }
        );
        let t = GOOD.replace("from = \"性别\"\n", "");
        assert!(
            matches!(err(&t), MappingError::NoInput { line: 17, .. }),
            "{:?}",
            err(&t)
        );
        let t = GOOD.replace("required = true", "requird = true");
        assert!(
            matches!(err(&t), MappingError::Syntax { line: 14, .. }),
            "{:?}",
            err(&t)
        );
        let t = GOOD.replace(
            "legal_basis = \"《旅馆业治安管理办法》第六条\"",
            "legal_basis = \" \"",
        );
        assert_eq!(
            err(&t),
            MappingError::EmptySourceKey {
                line: 6,
                key: "legal_basis"
            }
        );
        let t = GOOD.replace("\"1\" = \"男\"", "\"1\" = 1");
        assert!(matches!(
            err(&t),
            MappingError::BadTransform { line: 19, .. }
        ));
        assert_eq!(err(&t).line(), 19);
    }
}
