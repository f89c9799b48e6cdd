//! Data hub persistence (issue 5): registered sources with their mapping TOML,
//! ingested records (replayed in `seq` order to rebuild the resolver), rejection
//! reports, import checkpoints, the analyst resolution journal, and the standard
//! address / house / resident / vehicle registries.
//!
//! An ingest batch (records + rejections + checkpoint) is committed in one
//! transaction so a killed import resumes from a checkpoint that matches exactly
//! the records stored.

use sqlx::{AssertSqlSafe, Row};

use crate::{BackendRef, Page, Result, Store, StoreError, db};

/// Records per multi-row `INSERT` on PostgreSQL (10 parameters each, under the
/// protocol's 65,535).
const PG_RECORD_CHUNK: usize = 1000;

/// Replaces the content stored at each row's `seq` on an open transaction
/// (either driver).
macro_rules! update_records {
    ($rows:expr, $now:expr, $tx:expr) => {{
        let rows: &[FusionRecordRow] = $rows;
        for r in rows {
            sqlx::query(
                "UPDATE fusion_records SET fields = $2, file = $3, line = $4, observed_at = $5, content_hash = $6, stored_at = $7 \
                 WHERE seq = $1",
            )
            .bind(r.seq)
            .bind(&r.fields)
            .bind(&r.file)
            .bind(r.line)
            .bind(r.observed_at)
            .bind(&r.content_hash)
            .bind($now)
            .execute($tx)
            .await?;
        }
    }};
}

/// Upserts an import checkpoint on an open transaction (either driver).
macro_rules! upsert_checkpoint {
    ($c:expr, $now:expr, $tx:expr) => {{
        let c: &FusionCheckpointRow = $c;
        sqlx::query(
            "INSERT INTO fusion_checkpoints (source, file_hash, file, last_line, read_rows, accepted, rejected, duplicates, updated, merged, finished, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (source, file_hash) DO UPDATE SET file = excluded.file, last_line = excluded.last_line, read_rows = excluded.read_rows, \
             accepted = excluded.accepted, rejected = excluded.rejected, duplicates = excluded.duplicates, updated = excluded.updated, \
             merged = excluded.merged, finished = excluded.finished, updated_at = excluded.updated_at",
        )
        .bind(&c.source)
        .bind(&c.file_hash)
        .bind(&c.file)
        .bind(c.last_line)
        .bind(c.read)
        .bind(c.accepted)
        .bind(c.rejected)
        .bind(c.duplicates)
        .bind(c.updated)
        .bind(c.merged)
        .bind(c.finished as i64)
        .bind($now)
        .execute($tx)
        .await?;
    }};
}

/// `[[seq, key, fields, line, observed_at, hash], …]`: a run of records from
/// one source file (source, category and file are bound once per run) as one
/// JSON parameter for SQLite's `json_each`, written straight from the rows'
/// fields (no JSON tree per record).
fn records_json(rows: &[FusionRecordRow]) -> String {
    let mut out = String::with_capacity(rows.iter().map(|r| r.fields.len() + 160).sum());
    out.push('[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(&r.seq.to_string());
        out.push(',');
        for s in [&r.record_key, &r.fields] {
            push_json_str(&mut out, s);
            out.push(',');
        }
        out.push_str(&r.line.to_string());
        out.push(',');
        out.push_str(&r.observed_at.to_string());
        out.push(',');
        push_json_str(&mut out, &r.content_hash);
        out.push(']');
    }
    out.push(']');
    out
}

/// `[[source, file, line, field, reason], …]` for `json_each`.
fn rejections_json(rows: &[FusionRejectionRow]) -> String {
    let rows: Vec<(&str, &str, i64, Option<&str>, &str)> = rows
        .iter()
        .map(|j| {
            (
                j.source.as_str(),
                j.file.as_str(),
                j.line,
                j.field.as_deref(),
                j.reason.as_str(),
            )
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned())
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    let mut start = 0;
    // Every byte that needs escaping is ASCII, hence a char boundary.
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[derive(Debug, Clone, PartialEq)]
pub struct FusionSourceRow {
    pub id: i64,
    pub name: String,
    pub department: String,
    pub category: String,
    pub legal_basis: String,
    pub update_mode: String,
    pub mapping_toml: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewFusionSource {
    pub name: String,
    pub department: String,
    pub category: String,
    pub legal_basis: String,
    pub update_mode: String,
    pub mapping_toml: String,
}

/// One mapped record. `fields` is a JSON object `{"person.name": "…", …}`;
/// `record_key` and `content_hash` are hex. `seq` is the replay position,
/// assigned by the data hub (increasing); the key is not indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct FusionRecordRow {
    pub seq: i64,
    pub record_key: String,
    pub source: String,
    pub category: String,
    pub fields: String,
    pub file: String,
    pub line: i64,
    pub observed_at: i64,
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FusionRejectionRow {
    pub source: String,
    pub file: String,
    pub line: i64,
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FusionCheckpointRow {
    pub source: String,
    pub file_hash: String,
    pub file: String,
    pub last_line: i64,
    pub read: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub duplicates: i64,
    pub updated: i64,
    pub merged: i64,
    pub finished: bool,
}

/// What one ingest batch commits atomically. The data hub tells new records
/// from updates and repeats with its in-memory key map, so the store needs no
/// index on the key: new records are inserted at the `seq` the hub gave them,
/// updates replace the content stored at their `seq` (keeping the replay
/// position), repeats are not sent.
#[derive(Debug, Clone, Default)]
pub struct FusionBatch {
    /// New records, each with its `seq` (a `seq` already stored is an error:
    /// another writer got there first).
    pub records: Vec<FusionRecordRow>,
    /// Changed content of stored records, by `seq`.
    pub updates: Vec<FusionRecordRow>,
    pub rejections: Vec<FusionRejectionRow>,
    pub checkpoint: FusionCheckpointRow,
}

/// One analyst operation on the resolver, in journal order.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolutionOpRow {
    pub id: i64,
    /// `merge`, `split` or `undo`.
    pub kind: String,
    /// JSON the service needs to re-apply the operation.
    pub payload: String,
    pub actor: String,
    pub reason: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StdAddressRow {
    pub id: i64,
    pub code: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub street: String,
    pub community: String,
    pub road: String,
    pub number: String,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub room: Option<String>,
    pub full_text: String,
    pub lat: f64,
    pub lng: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HouseRow {
    pub id: i64,
    pub code: String,
    pub address_id: i64,
    pub kind: String,
    pub area_m2: Option<f64>,
    pub owner_id_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResidentRow {
    pub id: i64,
    pub house_id: i64,
    pub id_number: String,
    pub name: String,
    /// `owner`, `resident` or `tenant`.
    pub relation: String,
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VehicleRegRow {
    pub id: i64,
    pub plate: String,
    pub owner_id_number: String,
    pub brand: String,
    pub color: String,
    pub registered_on: Option<String>,
}

/// Registries written in bulk (demo population, registry imports). Houses refer to
/// addresses by `code`, residents to houses by `code`.
#[derive(Debug, Clone, Default)]
pub struct RegistryBulk {
    pub addresses: Vec<StdAddressRow>,
    /// (house, address code)
    pub houses: Vec<(HouseRow, String)>,
    /// (resident, house code)
    pub residents: Vec<(ResidentRow, String)>,
    pub vehicles: Vec<VehicleRegRow>,
}

const SOURCE_COLS: &str = "id, name, department, category, legal_basis, update_mode, mapping_toml, created_at, updated_at";
const RECORD_COLS: &str =
    "seq, record_key, source, category, fields, file, line, observed_at, content_hash";
const ADDRESS_COLS: &str = "id, code, province, city, district, street, community, road, number, building, unit, room, full_text, lat, lng";

macro_rules! source_row {
    ($r:expr) => {
        FusionSourceRow {
            id: $r.try_get("id")?,
            name: $r.try_get("name")?,
            department: $r.try_get("department")?,
            category: $r.try_get("category")?,
            legal_basis: $r.try_get("legal_basis")?,
            update_mode: $r.try_get("update_mode")?,
            mapping_toml: $r.try_get("mapping_toml")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

macro_rules! record_row {
    ($r:expr) => {
        FusionRecordRow {
            seq: $r.try_get("seq")?,
            record_key: $r.try_get("record_key")?,
            source: $r.try_get("source")?,
            category: $r.try_get("category")?,
            fields: $r.try_get("fields")?,
            file: $r.try_get("file")?,
            line: $r.try_get("line")?,
            observed_at: $r.try_get("observed_at")?,
            content_hash: $r.try_get("content_hash")?,
        }
    };
}

/// Every fetched row as a [`FusionRecordRow`] (either driver).
macro_rules! record_rows {
    ($rows:expr) => {{
        let rows = $rows;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(record_row!(r));
        }
        out
    }};
}

macro_rules! address_row {
    ($r:expr) => {
        StdAddressRow {
            id: $r.try_get("id")?,
            code: $r.try_get("code")?,
            province: $r.try_get("province")?,
            city: $r.try_get("city")?,
            district: $r.try_get("district")?,
            street: $r.try_get("street")?,
            community: $r.try_get("community")?,
            road: $r.try_get("road")?,
            number: $r.try_get("number")?,
            building: $r.try_get("building")?,
            unit: $r.try_get("unit")?,
            room: $r.try_get("room")?,
            full_text: $r.try_get("full_text")?,
            lat: $r.try_get("lat")?,
            lng: $r.try_get("lng")?,
        }
    };
}

macro_rules! checkpoint_row {
    ($r:expr) => {{
        let finished: i64 = $r.try_get("finished")?;
        FusionCheckpointRow {
            source: $r.try_get("source")?,
            file_hash: $r.try_get("file_hash")?,
            file: $r.try_get("file")?,
            last_line: $r.try_get("last_line")?,
            read: $r.try_get("read_rows")?,
            accepted: $r.try_get("accepted")?,
            rejected: $r.try_get("rejected")?,
            duplicates: $r.try_get("duplicates")?,
            updated: $r.try_get("updated")?,
            merged: $r.try_get("merged")?,
            finished: finished != 0,
        }
    }};
}

impl Store {
    pub async fn create_fusion_source(
        &self,
        new: &NewFusionSource,
        now: i64,
    ) -> Result<FusionSourceRow> {
        let id: i64 = db!(self, p => sqlx::query(
            "INSERT INTO fusion_sources (name, department, category, legal_basis, update_mode, mapping_toml, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.department)
        .bind(&new.category)
        .bind(&new.legal_basis)
        .bind(&new.update_mode)
        .bind(&new.mapping_toml)
        .bind(now)
        .fetch_one(p)
        .await
        .map_err(|e| StoreError::unique(e, "source", "name", &new.name))?
        .try_get("id")?);
        self.get_fusion_source(id).await
    }

    pub async fn get_fusion_source(&self, id: i64) -> Result<FusionSourceRow> {
        let sql = format!("SELECT {SOURCE_COLS} FROM fusion_sources WHERE id = $1");
        db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(source_row!(r)),
            None => Err(StoreError::NotFound { entity: "source", id: id.to_string() }),
        })
    }

    pub async fn find_fusion_source_by_name(&self, name: &str) -> Result<Option<FusionSourceRow>> {
        let sql = format!("SELECT {SOURCE_COLS} FROM fusion_sources WHERE name = $1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(name).fetch_optional(p).await? {
                Some(r) => Some(source_row!(r)),
                None => None,
            }),
        )
    }

    pub async fn list_fusion_sources(&self) -> Result<Vec<FusionSourceRow>> {
        let sql = format!("SELECT {SOURCE_COLS} FROM fusion_sources ORDER BY id");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(source_row!(r));
            }
            out
        }))
    }

    /// One page of the registered sources in id order, with their total.
    pub async fn list_fusion_sources_page(
        &self,
        page: Page,
    ) -> Result<(Vec<FusionSourceRow>, i64)> {
        let sql =
            format!("SELECT {SOURCE_COLS} FROM fusion_sources ORDER BY id LIMIT $1 OFFSET $2");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(page.limit).bind(page.offset).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(source_row!(r));
            }
            let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM fusion_sources").fetch_one(p).await?.try_get("n")?;
            (out, total)
        }))
    }

    /// Records, rejections and the checkpoint of one ingest batch, atomically.
    ///
    /// SQLite: one statement per table, the batch's rows as a single JSON
    /// parameter unpacked by `json_each`. PostgreSQL: multi-row `VALUES`
    /// chunks. Updates (rare: a re-delivered row with new content) are one
    /// statement each.
    pub async fn commit_fusion_batch(&self, b: &FusionBatch, now: i64) -> Result<()> {
        match self.backend() {
            BackendRef::Sqlite(p) => {
                let mut tx = p.begin().await?;
                // One statement per run of rows from the same file (a batch
                // is normally one run).
                let mut rest = &b.records[..];
                while let Some(first) = rest.first() {
                    let n = rest
                        .iter()
                        .position(|r| {
                            r.source != first.source
                                || r.category != first.category
                                || r.file != first.file
                        })
                        .unwrap_or(rest.len());
                    let (run, tail) = rest.split_at(n);
                    sqlx::query(
                        "INSERT INTO fusion_records (seq, record_key, source, category, fields, file, line, observed_at, content_hash, stored_at) \
                         SELECT value ->> 0, value ->> 1, $3, $4, value ->> 2, $5, value ->> 3, value ->> 4, value ->> 5, $2 \
                         FROM json_each($1) ORDER BY key",
                    )
                    .bind(records_json(run))
                    .bind(now)
                    .bind(&first.source)
                    .bind(&first.category)
                    .bind(&first.file)
                    .execute(&mut *tx)
                    .await?;
                    rest = tail;
                }
                if !b.rejections.is_empty() {
                    sqlx::query(
                        "INSERT INTO fusion_rejections (source, file, line, field, reason, created_at) \
                         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, $2 \
                         FROM json_each($1) ORDER BY key",
                    )
                    .bind(rejections_json(&b.rejections))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                update_records!(&b.updates, now, &mut *tx);
                upsert_checkpoint!(&b.checkpoint, now, &mut *tx);
                tx.commit().await?;
            }
            BackendRef::Postgres(p) => {
                let mut tx = p.begin().await?;
                for chunk in b.records.chunks(PG_RECORD_CHUNK) {
                    let sql = format!(
                        "INSERT INTO fusion_records (seq, record_key, source, category, fields, file, line, observed_at, content_hash, stored_at) \
                         VALUES {}",
                        crate::ledger::placeholders(self.dialect(), chunk.len(), 10)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for r in chunk {
                        q = q
                            .bind(r.seq)
                            .bind(&r.record_key)
                            .bind(&r.source)
                            .bind(&r.category)
                            .bind(&r.fields)
                            .bind(&r.file)
                            .bind(r.line)
                            .bind(r.observed_at)
                            .bind(&r.content_hash)
                            .bind(now);
                    }
                    q.execute(&mut *tx).await?;
                }
                for chunk in b.rejections.chunks(PG_RECORD_CHUNK) {
                    let sql = format!(
                        "INSERT INTO fusion_rejections (source, file, line, field, reason, created_at) VALUES {}",
                        crate::ledger::placeholders(self.dialect(), chunk.len(), 6)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for j in chunk {
                        q = q
                            .bind(&j.source)
                            .bind(&j.file)
                            .bind(j.line)
                            .bind(&j.field)
                            .bind(&j.reason)
                            .bind(now);
                    }
                    q.execute(&mut *tx).await?;
                }
                update_records!(&b.updates, now, &mut *tx);
                upsert_checkpoint!(&b.checkpoint, now, &mut *tx);
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// The stored records at these `seq`s, in `seq` order; absent ones are
    /// skipped. A lean data hub fetches full records this way.
    pub async fn fusion_records_by_seq(&self, seqs: &[i64]) -> Result<Vec<FusionRecordRow>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let rows = match self.backend() {
            BackendRef::Sqlite(p) => {
                let sql = format!(
                    "SELECT {RECORD_COLS} FROM fusion_records \
                     WHERE seq IN (SELECT value FROM json_each($1)) ORDER BY seq"
                );
                let json = serde_json::to_string(seqs).unwrap_or_else(|_| "[]".to_owned());
                let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(json)
                    .fetch_all(p)
                    .await?;
                record_rows!(rows)
            }
            BackendRef::Postgres(p) => {
                let sql = format!(
                    "SELECT {RECORD_COLS} FROM fusion_records WHERE seq = ANY($1) ORDER BY seq"
                );
                let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(seqs)
                    .fetch_all(p)
                    .await?;
                record_rows!(rows)
            }
        };
        Ok(rows)
    }

    pub async fn fusion_checkpoint(
        &self,
        source: &str,
        file_hash: &str,
    ) -> Result<Option<FusionCheckpointRow>> {
        Ok(db!(self, p => match sqlx::query(
            "SELECT * FROM fusion_checkpoints WHERE source = $1 AND file_hash = $2",
        )
        .bind(source)
        .bind(file_hash)
        .fetch_optional(p)
        .await? {
            Some(r) => Some(checkpoint_row!(r)),
            None => None,
        }))
    }

    /// Records with `seq > after` in replay order, at most `limit`.
    pub async fn fusion_records_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<FusionRecordRow>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM fusion_records WHERE seq > $1 ORDER BY seq LIMIT $2"
        );
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(after).bind(limit).fetch_all(p).await?;
            record_rows!(rows)
        }))
    }

    pub async fn count_fusion_records(&self, source: Option<&str>) -> Result<i64> {
        Ok(
            db!(self, p => sqlx::query("SELECT COUNT(*) AS n FROM fusion_records WHERE ($1 IS NULL OR source = $1)")
            .bind(source)
            .fetch_one(p)
            .await?
            .try_get("n")?),
        )
    }

    /// The rejection report of a source (optionally one file), in line order.
    pub async fn fusion_rejections(
        &self,
        source: &str,
        file: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FusionRejectionRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query(
                "SELECT source, file, line, field, reason FROM fusion_rejections WHERE source = $1 AND ($2 IS NULL OR file = $2) ORDER BY id LIMIT $3",
            )
            .bind(source)
            .bind(file)
            .bind(limit)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(FusionRejectionRow {
                    source: r.try_get("source")?,
                    file: r.try_get("file")?,
                    line: r.try_get("line")?,
                    field: r.try_get("field")?,
                    reason: r.try_get("reason")?,
                });
            }
            out
        }))
    }

    pub async fn append_resolution_op(
        &self,
        kind: &str,
        payload: &str,
        actor: &str,
        reason: &str,
        at: i64,
    ) -> Result<i64> {
        Ok(db!(self, p => sqlx::query(
            "INSERT INTO fusion_resolution_ops (kind, payload, actor, reason, at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(kind)
        .bind(payload)
        .bind(actor)
        .bind(reason)
        .bind(at)
        .fetch_one(p)
        .await?
        .try_get("id")?))
    }

    pub async fn resolution_ops(&self) -> Result<Vec<ResolutionOpRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query("SELECT id, kind, payload, actor, reason, at FROM fusion_resolution_ops ORDER BY id")
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(ResolutionOpRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    payload: r.try_get("payload")?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                    at: r.try_get("at")?,
                });
            }
            out
        }))
    }

    /// Writes address, house, resident and vehicle registries in one transaction;
    /// rows whose code/plate already exists are kept (idempotent demo rebuilds).
    pub async fn write_registries(&self, b: &RegistryBulk) -> Result<()> {
        db!(self, p => {
            let mut tx = p.begin().await?;
            for a in &b.addresses {
                sqlx::query(
                    "INSERT INTO fusion_addresses (code, province, city, district, street, community, road, number, building, unit, room, full_text, lat, lng) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (code) DO NOTHING",
                )
                .bind(&a.code)
                .bind(&a.province)
                .bind(&a.city)
                .bind(&a.district)
                .bind(&a.street)
                .bind(&a.community)
                .bind(&a.road)
                .bind(&a.number)
                .bind(&a.building)
                .bind(&a.unit)
                .bind(&a.room)
                .bind(&a.full_text)
                .bind(a.lat)
                .bind(a.lng)
                .execute(&mut *tx)
                .await?;
            }
            for (h, addr) in &b.houses {
                sqlx::query(
                    "INSERT INTO fusion_houses (code, address_id, kind, area_m2, owner_id_number) \
                     SELECT $1, id, $2, $3, $4 FROM fusion_addresses WHERE code = $5 ON CONFLICT (code) DO NOTHING",
                )
                .bind(&h.code)
                .bind(&h.kind)
                .bind(h.area_m2)
                .bind(&h.owner_id_number)
                .bind(addr)
                .execute(&mut *tx)
                .await?;
            }
            for (r, house) in &b.residents {
                sqlx::query(
                    "INSERT INTO fusion_residents (house_id, id_number, name, relation, since, until) \
                     SELECT id, $1, $2, $3, $4, $5 FROM fusion_houses WHERE code = $6",
                )
                .bind(&r.id_number)
                .bind(&r.name)
                .bind(&r.relation)
                .bind(&r.since)
                .bind(&r.until)
                .bind(house)
                .execute(&mut *tx)
                .await?;
            }
            for v in &b.vehicles {
                sqlx::query(
                    "INSERT INTO fusion_vehicles (plate, owner_id_number, brand, color, registered_on) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (plate) DO NOTHING",
                )
                .bind(&v.plate)
                .bind(&v.owner_id_number)
                .bind(&v.brand)
                .bind(&v.color)
                .bind(&v.registered_on)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every standard address (the geocoder keeps them in memory).
    pub async fn all_std_addresses(&self) -> Result<Vec<StdAddressRow>> {
        let sql = format!("SELECT {ADDRESS_COLS} FROM fusion_addresses ORDER BY id");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(address_row!(r));
            }
            out
        }))
    }

    pub async fn get_std_address(&self, id: i64) -> Result<StdAddressRow> {
        let sql = format!("SELECT {ADDRESS_COLS} FROM fusion_addresses WHERE id = $1");
        db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(address_row!(r)),
            None => Err(StoreError::NotFound { entity: "address", id: id.to_string() }),
        })
    }

    pub async fn houses_at(&self, address_id: i64) -> Result<Vec<HouseRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query(
                "SELECT id, code, address_id, kind, area_m2, owner_id_number FROM fusion_houses WHERE address_id = $1 ORDER BY id",
            )
            .bind(address_id)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(HouseRow {
                    id: r.try_get("id")?,
                    code: r.try_get("code")?,
                    address_id: r.try_get("address_id")?,
                    kind: r.try_get("kind")?,
                    area_m2: r.try_get("area_m2")?,
                    owner_id_number: r.try_get("owner_id_number")?,
                });
            }
            out
        }))
    }

    pub async fn residents_of(&self, house_id: i64) -> Result<Vec<ResidentRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query(
                "SELECT id, house_id, id_number, name, relation, since, until FROM fusion_residents WHERE house_id = $1 ORDER BY id",
            )
            .bind(house_id)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(ResidentRow {
                    id: r.try_get("id")?,
                    house_id: r.try_get("house_id")?,
                    id_number: r.try_get("id_number")?,
                    name: r.try_get("name")?,
                    relation: r.try_get("relation")?,
                    since: r.try_get("since")?,
                    until: r.try_get("until")?,
                });
            }
            out
        }))
    }

    pub async fn vehicles_of(&self, owner_id_number: &str) -> Result<Vec<VehicleRegRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query(
                "SELECT id, plate, owner_id_number, brand, color, registered_on FROM fusion_vehicles WHERE owner_id_number = $1 ORDER BY id",
            )
            .bind(owner_id_number)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(VehicleRegRow {
                    id: r.try_get("id")?,
                    plate: r.try_get("plate")?,
                    owner_id_number: r.try_get("owner_id_number")?,
                    brand: r.try_get("brand")?,
                    color: r.try_get("color")?,
                    registered_on: r.try_get("registered_on")?,
                });
            }
            out
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, fields: &str) -> FusionRecordRow {
        FusionRecordRow {
            seq: 41,
            record_key: key.to_owned(),
            source: "户籍".to_owned(),
            category: "person".to_owned(),
            fields: fields.to_owned(),
            file: "a \"b\".csv".to_owned(),
            line: 7,
            observed_at: -3,
            content_hash: "ff".to_owned(),
        }
    }

    #[test]
    fn records_json_parses_back_to_the_same_values() {
        let fields = "{\"person.name\":\"张\\\"三\\n\"}\u{1}\t\\";
        let json = records_json(&[row("k1", fields), row("k2", "{}")]);
        type Row = (String, String, i64, i64, String);
        let v: Vec<(i64, Row)> = serde_json::from_str::<Vec<serde_json::Value>>(&json)
            .expect("valid JSON")
            .into_iter()
            .map(|mut row| {
                let seq = row[0].as_i64().expect("seq");
                let rest = row.as_array_mut().expect("array").split_off(1);
                (seq, serde_json::from_value(rest.into()).expect("row"))
            })
            .collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].0, 41);
        let r = &v[0].1;
        assert_eq!(r.0, "k1");
        assert_eq!(r.1, fields);
        assert_eq!((r.2, r.3), (7, -3));
        assert_eq!(r.4, "ff");
        assert_eq!(v[1].1.1, "{}");
        assert_eq!(records_json(&[]), "[]");
    }
}
