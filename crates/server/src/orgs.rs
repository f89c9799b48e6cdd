//! The org tree as the server keeps it: loading the jurisdiction index from the
//! store, and importing/exporting the tree as a GeoJSON FeatureCollection
//! (properties `code`, `name`, `kind`, `parent_code`).

use pingan_jurisdiction::{Jurisdiction, OrgKind, OrgNode, area_to_geojson, parse_area, read_area};
use pingan_store::{NewOrg, OrgPatch, OrgRow, Store, StoreError};
use thiserror::Error;

pub async fn load_jurisdiction(store: &Store) -> Result<Jurisdiction, StoreError> {
    let rows = store.all_orgs().await?;
    let nodes = rows
        .into_iter()
        .map(|r| {
            // Stored areas were validated on the way in; re-validating here would
            // drop an area stored before the checks existed from the index.
            let area = r.area.as_deref().and_then(|a| read_area(a).ok());
            OrgNode {
                id: r.id,
                parent_id: r.parent_id,
                kind: OrgKind::parse(&r.kind).unwrap_or(OrgKind::Station),
                code: r.code,
                name: r.name,
                area,
            }
        })
        .collect();
    Ok(Jurisdiction::new(nodes))
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

/// Creates or updates org nodes from a FeatureCollection, parents before children
/// (features may come in any order). Returns (created, updated).
pub async fn import_collection(
    store: &Store,
    text: &str,
    now: i64,
) -> Result<(usize, usize), ImportError> {
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
    struct Item {
        index: usize,
        code: String,
        name: String,
        kind: OrgKind,
        parent: Option<String>,
        area: Option<String>,
    }
    let mut items = Vec::new();
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
        let name = s("name")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| err("name", "is missing"))?;
        let kind = s("kind")
            .and_then(|k| OrgKind::parse(&k))
            .ok_or_else(|| err("kind", "must be city, district or station"))?;
        let area = match f.get("geometry") {
            Some(g) if !g.is_null() => {
                let text = g.to_string();
                let mp = parse_area(&text).map_err(|e| ImportError::Feature {
                    index,
                    field: "geometry",
                    reason: e.to_string(),
                })?;
                Some(area_to_geojson(&mp))
            }
            _ => None,
        };
        items.push(Item {
            index,
            code,
            name,
            kind,
            parent: s("parent_code"),
            area,
        });
    }
    let rank = |k: OrgKind| match k {
        OrgKind::City => 0,
        OrgKind::District => 1,
        OrgKind::Station => 2,
    };
    items.sort_by_key(|i| (rank(i.kind), i.index));
    let (mut created, mut updated) = (0, 0);
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
                updated += 1;
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
                created += 1;
            }
        }
    }
    Ok((created, updated))
}
