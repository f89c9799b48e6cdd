//! The org tree as the server keeps it: loading the jurisdiction index from the
//! store, and importing/exporting the tree as a GeoJSON FeatureCollection
//! (properties `code`, `name`, `kind`, `parent_code`).

use std::collections::HashMap;

use geo::MultiPolygon;
use pingan_jurisdiction::{
    Jurisdiction, OrgKind, OrgNode, Tolerance, area_to_geojson, parse_area, read_area,
};
use pingan_store::{NewOrg, OrgPatch, OrgRow, Store, StoreError};
use thiserror::Error;

pub async fn load_jurisdiction(store: &Store) -> Result<Jurisdiction, StoreError> {
    let rows = store.all_orgs().await?;
    Ok(Jurisdiction::new(rows.iter().map(node_of).collect()))
}

fn node_of(r: &OrgRow) -> OrgNode {
    OrgNode {
        id: r.id,
        parent_id: r.parent_id,
        kind: OrgKind::parse(&r.kind).unwrap_or(OrgKind::Station),
        code: r.code.clone(),
        name: r.name.clone(),
        // Stored areas were validated on the way in; re-validating here would
        // drop an area stored before the checks existed from the index.
        area: r.area.as_deref().and_then(|a| read_area(a).ok()),
    }
}

/// A GeoJSON Feature for one org node (geometry null when it has no area).
pub fn org_feature(o: &OrgRow, parent_code: Option<&str>) -> serde_json::Value {
    let geometry = o.area.as_deref().and_then(|a| read_area(a).ok()).map(|mp| {
        serde_json::from_str::<serde_json::Value>(&area_to_geojson(&mp)).unwrap_or_default()
    });
    serde_json::json!({
        "type": "Feature",
        "id": o.id,
        "properties": {
            "id": o.id, "code": o.code, "name": o.name, "kind": o.kind,
            "parent_id": o.parent_id, "parent_code": parent_code,
        },
        "geometry": geometry,
    })
}

pub fn feature_collection(rows: &[OrgRow]) -> serde_json::Value {
    let code_of: std::collections::HashMap<i64, &str> =
        rows.iter().map(|r| (r.id, r.code.as_str())).collect();
    let features: Vec<_> = rows
        .iter()
        .map(|o| org_feature(o, o.parent_id.and_then(|p| code_of.get(&p).copied())))
        .collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features })
}

#[derive(Debug, Error, PartialEq)]
pub enum ImportError {
    #[error("not a GeoJSON FeatureCollection: {0}")]
    NotCollection(String),
    #[error("feature {} (features[{index}]): property `{field}` {reason}", .index + 1)]
    Feature {
        index: usize,
        field: &'static str,
        reason: String,
    },
    #[error("storage: {0}")]
    Store(String),
}

/// One feature of an import, validated field by field.
struct Item {
    /// 0-based position in `features`.
    index: usize,
    code: String,
    name: String,
    kind: OrgKind,
    parent: Option<String>,
    area: Option<String>,
    shape: Option<MultiPolygon<f64>>,
}

/// Checks the import against the tree as it will be afterwards (existing nodes
/// overlaid with the imported ones, new ones under provisional negative ids)
/// before anything is written: every parent_code names an existing or imported
/// node of the kind above, no node ends up in its own subtree (a move cycle),
/// and every area fits among its siblings and parent. Areas swapped or reshaped
/// together in one file are so judged together.
async fn check_tree(store: &Store, items: &[Item]) -> Result<(), ImportError> {
    let rows = store
        .all_orgs()
        .await
        .map_err(|e| ImportError::Store(e.to_string()))?;
    let mut id_of: HashMap<&str, i64> = rows.iter().map(|r| (r.code.as_str(), r.id)).collect();
    for it in items {
        let fresh = -(it.index as i64) - 1;
        id_of.entry(it.code.as_str()).or_insert(fresh);
    }
    let imported: HashMap<&str, &Item> = items.iter().map(|i| (i.code.as_str(), i)).collect();
    let mut nodes: Vec<OrgNode> = rows
        .iter()
        .filter(|r| !imported.contains_key(r.code.as_str()))
        .map(node_of)
        .collect();
    for it in items {
        nodes.push(OrgNode {
            id: id_of[it.code.as_str()],
            parent_id: it.parent.as_deref().and_then(|c| id_of.get(c).copied()),
            kind: it.kind,
            code: it.code.clone(),
            name: it.name.clone(),
            area: it.shape.clone(),
        });
    }
    let j = Jurisdiction::new(nodes);
    let feature = |it: &Item, field, reason: String| ImportError::Feature {
        index: it.index,
        field,
        reason,
    };
    let kind_of: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r.code.as_str(), r.kind.as_str()))
        .collect();
    for it in items {
        let id = id_of[it.code.as_str()];
        if let Some(k) = kind_of
            .get(it.code.as_str())
            .filter(|&&k| k != it.kind.as_str())
        {
            return Err(feature(
                it,
                "kind",
                format!(
                    "{:?} exists as a {k}; an import cannot change its kind",
                    it.code
                ),
            ));
        }
        let Some(pc) = &it.parent else { continue };
        let Some(parent) = id_of.get(pc.as_str()).and_then(|&p| j.node(p)) else {
            return Err(feature(it, "parent_code", format!("{pc:?} does not exist")));
        };
        if parent.kind.child() != Some(it.kind) {
            return Err(feature(
                it,
                "kind",
                format!(
                    "a {} cannot be under a {}",
                    it.kind.as_str(),
                    parent.kind.as_str()
                ),
            ));
        }
        // Walking up from the parent must reach the root without meeting the node.
        if j.ancestors(parent.id).iter().any(|n| n.id == id) {
            return Err(feature(
                it,
                "parent_code",
                format!(
                    "{pc:?} is in the subtree of {:?}; an org cannot move under its own subtree",
                    it.code
                ),
            ));
        }
    }
    for it in items {
        let Some(shape) = &it.shape else { continue };
        let id = id_of[it.code.as_str()];
        let parent = j.node(id).and_then(|n| n.parent_id);
        j.check_placement(Some(id), it.kind, parent, shape, Tolerance::default())
            .map_err(|e| ImportError::Feature {
                index: it.index,
                field: "geometry",
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

/// Creates or updates org nodes from a FeatureCollection, parents before children
/// (features may come in any order). Returns (created, updated).
pub async fn import_collection(
    store: &Store,
    text: &str,
    now: i64,
) -> Result<(usize, usize), ImportError> {
    let r = import_collection_report(store, text, now).await?;
    Ok((r.created, r.updated))
}

/// A node an import moved to another parent.
#[derive(Debug, Clone, PartialEq)]
pub struct MovedOrg {
    pub id: i64,
    pub from_parent: Option<i64>,
    pub to_parent: i64,
}

/// What an import did. `updated` counts moved nodes too.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub moved: Vec<MovedOrg>,
}

/// [`import_collection`], also reporting the nodes whose `parent_code` changed:
/// they move with their subtree ([`Store::move_org`]), so the caller can audit
/// each move.
pub async fn import_collection_report(
    store: &Store,
    text: &str,
    now: i64,
) -> Result<ImportReport, ImportError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ImportError::NotCollection(e.to_string()))?;
    let feats = v
        .get("features")
        .and_then(|f| f.as_array())
        .filter(|_| v.get("type").and_then(|t| t.as_str()) == Some("FeatureCollection"))
        .ok_or_else(|| {
            ImportError::NotCollection(
                "missing \"type\":\"FeatureCollection\" with \"features\"".into(),
            )
        })?;
    let mut items = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, f) in feats.iter().enumerate() {
        let props = f.get("properties").cloned().unwrap_or_default();
        let s = |k: &str| props.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let err = |field, reason: &str| ImportError::Feature {
            index,
            field,
            reason: reason.into(),
        };
        let code = s("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| err("code", "is missing"))?;
        if let Some(first) = seen.insert(code.clone(), index) {
            // The second would silently overwrite the first.
            return Err(err(
                "code",
                &format!(
                    "{code:?} is also the code of feature {}; a code may appear once per import",
                    first + 1
                ),
            ));
        }
        let name = s("name")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| err("name", "is missing"))?;
        let kind = s("kind")
            .and_then(|k| OrgKind::parse(&k))
            .ok_or_else(|| err("kind", "must be city, district or station"))?;
        let shape = match f.get("geometry") {
            Some(g) if !g.is_null() => {
                Some(
                    parse_area(&g.to_string()).map_err(|e| ImportError::Feature {
                        index,
                        field: "geometry",
                        reason: e.to_string(),
                    })?,
                )
            }
            _ => None,
        };
        items.push(Item {
            index,
            code,
            name,
            kind,
            parent: s("parent_code"),
            area: shape.as_ref().map(area_to_geojson),
            shape,
        });
    }
    check_tree(store, &items).await?;
    let rank = |k: OrgKind| match k {
        OrgKind::City => 0,
        OrgKind::District => 1,
        OrgKind::Station => 2,
    };
    items.sort_by_key(|i| (rank(i.kind), i.index));
    let mut report = ImportReport::default();
    let st = |e: StoreError| ImportError::Store(e.to_string());
    for it in items {
        let parent_id =
            match &it.parent {
                Some(pc) => {
                    let p = store.get_org_by_code(pc).await.map_err(st)?.ok_or(
                        ImportError::Feature {
                            index: it.index,
                            field: "parent_code",
                            reason: format!("{pc:?} does not exist"),
                        },
                    )?;
                    if OrgKind::parse(&p.kind).and_then(OrgKind::child) != Some(it.kind) {
                        return Err(ImportError::Feature {
                            index: it.index,
                            field: "kind",
                            reason: format!("a {} cannot be under a {}", it.kind.as_str(), p.kind),
                        });
                    }
                    Some(p.id)
                }
                None if it.kind == OrgKind::City => None,
                None => {
                    return Err(ImportError::Feature {
                        index: it.index,
                        field: "parent_code",
                        reason: "is required for districts and stations".into(),
                    });
                }
            };
        match store.get_org_by_code(&it.code).await.map_err(st)? {
            Some(existing) => {
                if let Some(to) = parent_id.filter(|&p| Some(p) != existing.parent_id) {
                    store
                        .move_org(existing.id, to, now)
                        .await
                        .map_err(|e| match e {
                            StoreError::Changed { message, .. } => ImportError::Feature {
                                index: it.index,
                                field: "parent_code",
                                reason: message,
                            },
                            e => st(e),
                        })?;
                    report.moved.push(MovedOrg {
                        id: existing.id,
                        from_parent: existing.parent_id,
                        to_parent: to,
                    });
                }
                store
                    .update_org(
                        existing.id,
                        &OrgPatch {
                            name: Some(it.name),
                            code: None,
                            area: Some(it.area),
                        },
                        now,
                    )
                    .await
                    .map_err(st)?;
                report.updated += 1;
            }
            None => {
                store
                    .create_org(
                        &NewOrg {
                            parent_id,
                            kind: it.kind.as_str().into(),
                            code: it.code,
                            name: it.name,
                            area: it.area,
                        },
                        now,
                    )
                    .await
                    .map_err(st)?;
                report.created += 1;
            }
        }
    }
    Ok(report)
}
