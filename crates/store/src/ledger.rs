//! Persistence of the verifiable case log (the Merkle log of `pingan-ledger`):
//! entries, C2SP hash tiles, signed checkpoints and the private commitment salts.
//!
//! The store knows nothing about Merkle trees: the integrator hands it a whole
//! batch (entries, tile upserts, the checkpoint that signs the new size) and
//! [`Store::ledger_append`] commits it in one transaction, refusing a batch that
//! does not start exactly at the stored size so two writers can never fork the log.
//!
//! It also holds the durable ledger feed: triggers (migration 0008) write a
//! [`LedgerFeedRow`] in the same transaction as every incident state change,
//! watch change and alert disposition; a batch names the feed rows it turns
//! into leaves ([`LedgerFeedAck`]) and they are deleted in its transaction, so
//! each change becomes exactly one leaf even across crashes.

use sqlx::{AssertSqlSafe, Row};

use crate::{CaseLeafRow, Dialect, Result, Store, StoreError, db};

/// Rows per multi-row `INSERT` (3–4 parameters each stays far below both
/// databases' bind-parameter limits).
const CHUNK_ROWS: usize = 1024;

/// Row counts of the multi-row `INSERT`s a batch is cut into, largest first:
/// whole [`CHUNK_ROWS`] chunks, then the remainder in these smaller sizes, so a
/// connection only ever prepares a handful of distinct statements (they stay
/// in sqlx's statement cache instead of one fresh 1000-row statement per batch).
const CHUNK_SIZES: [usize; 6] = [CHUNK_ROWS, 256, 64, 16, 4, 1];

/// Cuts `len` rows into consecutive `(start, rows)` chunks of [`CHUNK_SIZES`].
fn chunk_plan(len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for size in CHUNK_SIZES {
        while len - start >= size {
            out.push((start, size));
            start += size;
        }
    }
    out
}

/// One stored log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntryRow {
    pub index: u64,
    /// The canonical record bytes that were hashed into the log (the leaf
    /// hash is not stored with them: it is `SHA-256(0x00 ‖ data)`, and the
    /// level-0 hash tile holds the one that was integrated).
    pub data: Vec<u8>,
}

/// One C2SP hash tile: `width` hashes of 32 bytes back to back in `hashes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTileRow {
    pub level: u8,
    pub index: u64,
    pub width: u16,
    pub hashes: Vec<u8>,
}

/// A signed checkpoint (C2SP signed note) of the log at `size` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheckpointRow {
    pub size: u64,
    pub root: [u8; 32],
    pub note: String,
    /// When it was signed (ms since the epoch).
    pub at: i64,
}

/// One integrated batch, written atomically by [`Store::ledger_append`].
#[derive(Debug, Clone, Copy)]
pub struct LedgerBatch<'a> {
    /// Index of the first entry; must equal the number of stored entries.
    pub first_index: u64,
    /// Entry data in order (`first_index..first_index + entries.len()`).
    pub entries: &'a [Vec<u8>],
    /// Tiles to upsert (whole content at the new width).
    pub tiles: &'a [LedgerTileRow],
    /// The checkpoint signing the new size.
    pub checkpoint: &'a LedgerCheckpointRow,
    /// Pending feed rows this batch's entries record: deleted (and their case
    /// leaves stored) in the batch's transaction.
    pub feed: &'a [LedgerFeedAck],
}

/// One pending change of the durable ledger feed, written by a trigger in the
/// transaction of the change itself (see migration 0008 for the kinds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerFeedRow {
    /// Order of the change (a sequence; on PostgreSQL concurrent transactions
    /// may commit out of `seq` order, changes of one object never do).
    pub seq: i64,
    /// `case`, `watch.created`, `watch.changed`, `watch.expired` or `alert`.
    pub kind: String,
    /// Id of the incident, watch or alert.
    pub ref_id: i64,
    /// Incident status, watch status or alert disposition (`closed:<outcome>`).
    pub status: String,
    /// The responsible org (incidents only).
    pub org_id: Option<i64>,
    pub org_path: String,
    /// When the change happened (ms since the epoch).
    pub at: i64,
    /// The watch definition at that moment (watches only).
    pub spec: Option<String>,
    /// The watch's expiry at that moment (watches only).
    pub expires_at: Option<i64>,
}

/// A feed row recorded by an entry of a [`LedgerBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerFeedAck {
    /// [`LedgerFeedRow::seq`] of the row; the batch fails with a conflict on
    /// `seq` if it is no longer pending (someone else recorded it).
    pub seq: i64,
    /// For incident states: the per-incident leaf the portal shows. Its
    /// `leaf_index` must be one of the batch's entries.
    pub case_leaf: Option<CaseLeafRow>,
}

fn to_i64(field: &'static str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt {
        field,
        reason: format!("{v} does not fit a BIGINT"),
    })
}

fn to_u64(field: &'static str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        field,
        reason: format!("{v} is negative"),
    })
}

fn to_hash(field: &'static str, v: Vec<u8>) -> Result<[u8; 32]> {
    let len = v.len();
    v.try_into().map_err(|_| StoreError::Corrupt {
        field,
        reason: format!("{len} bytes, expected 32"),
    })
}

macro_rules! entry_row {
    ($r:expr) => {
        LedgerEntryRow {
            index: to_u64("ledger_entries.idx", $r.try_get("idx")?)?,
            data: $r.try_get("data")?,
        }
    };
}

macro_rules! tile_row {
    ($r:expr) => {{
        let level: i64 = $r.try_get("level")?;
        let width: i64 = $r.try_get("width")?;
        LedgerTileRow {
            level: u8::try_from(level).map_err(|_| StoreError::Corrupt {
                field: "ledger_tiles.level",
                reason: format!("{level} is not a tile level"),
            })?,
            index: to_u64("ledger_tiles.idx", $r.try_get("idx")?)?,
            width: u16::try_from(width).map_err(|_| StoreError::Corrupt {
                field: "ledger_tiles.width",
                reason: format!("{width} is not a tile width"),
            })?,
            hashes: $r.try_get("hashes")?,
        }
    }};
}

macro_rules! checkpoint_row {
    ($r:expr) => {
        LedgerCheckpointRow {
            size: to_u64("ledger_checkpoints.size", $r.try_get("size")?)?,
            root: to_hash("ledger_checkpoints.root", $r.try_get("root")?)?,
            note: $r.try_get("note")?,
            at: $r.try_get("at")?,
        }
    };
}

/// The `VALUES` list for `rows` rows of `cols` parameters: `($1, $2), ($3, $4), …`
/// on PostgreSQL, `(?, ?), (?, ?), …` on SQLite.
///
/// SQLite gets anonymous `?` parameters on purpose: sqlx binds a numbered or
/// named parameter by asking SQLite for its name, and SQLite finds a name by
/// scanning the statement's list of names, so binding the 3,072 parameters of
/// a 1,024-row `$n` insert did ~4.7M comparisons and took two thirds of the
/// append time. Anonymous parameters have no name to look up.
pub(crate) fn placeholders(dialect: Dialect, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            match dialect {
                Dialect::Sqlite => s.push('?'),
                Dialect::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

const CHECKPOINT_COLS: &str = "size, root, note, at";
const FEED_COLS: &str = "seq, kind, ref_id, status, org_id, org_path, at, spec, expires_at";

macro_rules! feed_row {
    ($r:expr) => {
        LedgerFeedRow {
            seq: $r.try_get("seq")?,
            kind: $r.try_get("kind")?,
            ref_id: $r.try_get("ref_id")?,
            status: $r.try_get("status")?,
            org_id: $r.try_get("org_id")?,
            org_path: $r.try_get("org_path")?,
            at: $r.try_get("at")?,
            spec: $r.try_get("spec")?,
            expires_at: $r.try_get("expires_at")?,
        }
    };
}

/// SQL text per chunk size of [`chunk_plan`], built once per call.
fn sql_per_chunk(
    chunks: &[(usize, usize)],
    build: impl Fn(usize) -> String,
) -> std::collections::BTreeMap<usize, String> {
    let mut out = std::collections::BTreeMap::new();
    for &(_, rows) in chunks {
        out.entry(rows).or_insert_with(|| build(rows));
    }
    out
}
const TILE_COLS: &str = "level, idx, width, hashes";

/// Keeps the salt of a personal-data commitment (first one wins).
pub(crate) const PUT_SALT_SQL: &str = "INSERT INTO ledger_salts (commitment, salt, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (commitment) DO NOTHING";

impl Store {
    /// Writes one integrated batch (entries, tile upserts, checkpoint) in one
    /// transaction. Fails with [`StoreError::Conflict`] on `index` when the batch
    /// does not start at the stored size (another writer got there first, or the
    /// caller's view of the log is stale): nothing is written then.
    ///
    /// Durability on SQLite: the store runs in WAL mode with
    /// `synchronous = NORMAL`, so a commit is not fsynced on its own; the WAL is
    /// synced at checkpoints. A batch whose callers were already answered
    /// survives a crash of the process, but a power loss or OS crash can drop
    /// the last batches committed since the previous WAL sync (the database
    /// stays consistent: it rolls back to an earlier signed checkpoint, never
    /// to a torn batch). The log then grows again from that earlier size, and
    /// a checkpoint or receipt already handed out for a lost size is
    /// inconsistent with the new ones (a visible fork); deployments that need every
    /// acknowledged append to survive power loss use PostgreSQL (or
    /// `synchronous = FULL`, at a large cost in appends/s).
    ///
    /// The batch's [`LedgerBatch::feed`] rows are deleted and their case leaves
    /// stored in the same transaction; if any of them is no longer pending the
    /// whole batch fails with [`StoreError::Conflict`] on `seq` (entity
    /// `ledger feed`) and nothing is written, so a feed row never becomes two leaves.
    pub async fn ledger_append(&self, batch: LedgerBatch<'_>) -> Result<()> {
        let first = to_i64("first_index", batch.first_index)?;
        let expected_size = batch.first_index + batch.entries.len() as u64;
        if batch.checkpoint.size != expected_size {
            return Err(StoreError::Corrupt {
                field: "checkpoint.size",
                reason: format!(
                    "checkpoint signs size {} but the batch ends at {expected_size}",
                    batch.checkpoint.size
                ),
            });
        }
        let size = to_i64("checkpoint.size", batch.checkpoint.size)?;
        let case_leaves: Vec<&CaseLeafRow> = batch
            .feed
            .iter()
            .filter_map(|f| f.case_leaf.as_ref())
            .collect();
        if let Some(bad) = case_leaves
            .iter()
            .find(|l| !(first..size).contains(&l.leaf_index))
        {
            return Err(StoreError::Corrupt {
                field: "feed.case_leaf.leaf_index",
                reason: format!(
                    "leaf {} is not one of the batch's entries {first}..{size}",
                    bad.leaf_index
                ),
            });
        }
        let dialect = self.dialect();
        let pg = dialect == Dialect::Postgres;
        let entry_chunks = chunk_plan(batch.entries.len());
        let tile_chunks = chunk_plan(batch.tiles.len());
        let feed_chunks = chunk_plan(batch.feed.len());
        let leaf_chunks = chunk_plan(case_leaves.len());
        let entry_sql = sql_per_chunk(&entry_chunks, |rows| {
            format!(
                "INSERT INTO ledger_entries (idx, data) VALUES {}",
                placeholders(dialect, rows, 2)
            )
        });
        let tile_sql = sql_per_chunk(&tile_chunks, |rows| {
            format!(
                "INSERT INTO ledger_tiles ({TILE_COLS}) VALUES {} \
                 ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, hashes = excluded.hashes",
                placeholders(dialect, rows, 4)
            )
        });
        let feed_sql = sql_per_chunk(&feed_chunks, |rows| {
            format!(
                "DELETE FROM ledger_feed WHERE seq IN {}",
                placeholders(dialect, 1, rows)
            )
        });
        let leaf_sql = sql_per_chunk(&leaf_chunks, |rows| {
            format!(
                "INSERT INTO case_leaves (leaf_index, incident_id, status, org_code, at) VALUES {}",
                placeholders(dialect, rows, 5)
            )
        });
        let conflict = || StoreError::Conflict {
            entity: "ledger entry",
            field: "index",
            value: batch.first_index.to_string(),
        };
        let _writer = self.main_writer().await;
        db!(self, p => {
            let mut tx = p.begin().await?;
            if pg {
                // Several processes sharing one PostgreSQL log take turns.
                sqlx::query("SELECT pg_advisory_xact_lock(727362)").execute(&mut *tx).await?;
            }
            let next: i64 = sqlx::query("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM ledger_entries")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if next != first {
                return Err(conflict());
            }
            for &(start, rows) in &entry_chunks {
                let sql = &entry_sql[&rows];
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for i in start..start + rows {
                    q = q.bind(first + i as i64).bind(batch.entries[i].as_slice());
                }
                q.execute(&mut *tx).await.map_err(|e| match &e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => conflict(),
                    _ => StoreError::Db(e),
                })?;
            }
            for &(start, rows) in &tile_chunks {
                let sql = &tile_sql[&rows];
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for t in &batch.tiles[start..start + rows] {
                    q = q
                        .bind(i64::from(t.level))
                        .bind(to_i64("tile.index", t.index)?)
                        .bind(i64::from(t.width))
                        .bind(t.hashes.as_slice());
                }
                q.execute(&mut *tx).await?;
            }
            let mut taken = 0u64;
            for &(start, rows) in &feed_chunks {
                let sql = &feed_sql[&rows];
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for f in &batch.feed[start..start + rows] {
                    q = q.bind(f.seq);
                }
                taken += q.execute(&mut *tx).await?.rows_affected();
            }
            if taken != batch.feed.len() as u64 {
                // Dropping the transaction rolls the entries back too.
                return Err(StoreError::Conflict {
                    entity: "ledger feed",
                    field: "seq",
                    value: format!("{} of {} rows no longer pending", batch.feed.len() as u64 - taken, batch.feed.len()),
                });
            }
            for &(start, rows) in &leaf_chunks {
                let sql = &leaf_sql[&rows];
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for l in &case_leaves[start..start + rows] {
                    q = q
                        .bind(l.leaf_index)
                        .bind(l.incident_id)
                        .bind(&l.status)
                        .bind(&l.org_code)
                        .bind(l.at);
                }
                q.execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO ledger_checkpoints (size, root, note, at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (size) DO NOTHING",
            )
            .bind(size)
            .bind(batch.checkpoint.root.as_slice())
            .bind(&batch.checkpoint.note)
            .bind(batch.checkpoint.at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The tiles with these `(level, index)` keys that exist, in one query.
    pub async fn ledger_tiles(&self, ids: &[(u8, u64)]) -> Result<Vec<LedgerTileRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(ids.len());
        // Proofs need a handful of tiles; the chunking only guards odd callers.
        for chunk in ids.chunks(CHUNK_ROWS) {
            let cond: Vec<String> = (0..chunk.len())
                .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "SELECT {TILE_COLS} FROM ledger_tiles WHERE {} ORDER BY level, idx",
                cond.join(" OR ")
            );
            let mut binds = Vec::with_capacity(chunk.len());
            for (level, index) in chunk {
                binds.push((i64::from(*level), to_i64("tile.index", *index)?));
            }
            db!(self, p => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for (l, i) in &binds {
                    q = q.bind(*l).bind(*i);
                }
                for r in q.fetch_all(p).await? {
                    out.push(tile_row!(r));
                }
            });
        }
        Ok(out)
    }

    /// Up to `limit` tiles in `(level, index)` order starting at `(level, index)`
    /// inclusive: pages through every tile for a full audit.
    pub async fn ledger_tiles_from(
        &self,
        level: u8,
        index: u64,
        limit: i64,
    ) -> Result<Vec<LedgerTileRow>> {
        let sql = format!(
            "SELECT {TILE_COLS} FROM ledger_tiles WHERE level > $1 OR (level = $1 AND idx >= $2) \
             ORDER BY level, idx LIMIT $3"
        );
        let idx = to_i64("index", index)?;
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(i64::from(level))
                .bind(idx)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(tile_row!(r));
            }
            out
        }))
    }

    /// Up to `limit` entries with index ≥ `from`, in index order.
    pub async fn ledger_entries(&self, from: u64, limit: i64) -> Result<Vec<LedgerEntryRow>> {
        let from = to_i64("from", from)?;
        self.ledger_entry_page(
            "SELECT idx, data FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
            from,
            limit,
        )
        .await
    }

    /// Up to `limit` entries with index < `before`, newest first.
    pub async fn ledger_entries_before(
        &self,
        before: u64,
        limit: i64,
    ) -> Result<Vec<LedgerEntryRow>> {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        self.ledger_entry_page(
            "SELECT idx, data FROM ledger_entries WHERE idx < $1 ORDER BY idx DESC LIMIT $2",
            before,
            limit,
        )
        .await
    }

    /// One page of entries: `sql` bounds the index by `$1` and takes `$2` rows.
    async fn ledger_entry_page(
        &self,
        sql: &'static str,
        bound: i64,
        limit: i64,
    ) -> Result<Vec<LedgerEntryRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query(sql).bind(bound).bind(limit).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(entry_row!(r));
            }
            out
        }))
    }

    /// The entry at `index`, if stored.
    pub async fn ledger_entry(&self, index: u64) -> Result<Option<LedgerEntryRow>> {
        let idx = to_i64("index", index)?;
        Ok(db!(self, p => match sqlx::query(
            "SELECT idx, data FROM ledger_entries WHERE idx = $1",
        )
        .bind(idx)
        .fetch_optional(p)
        .await?
        {
            Some(r) => Some(entry_row!(r)),
            None => None,
        }))
    }

    /// The checkpoint of the largest size (the log's current state).
    pub async fn ledger_latest_checkpoint(&self) -> Result<Option<LedgerCheckpointRow>> {
        let sql =
            format!("SELECT {CHECKPOINT_COLS} FROM ledger_checkpoints ORDER BY size DESC LIMIT 1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).fetch_optional(p).await? {
                Some(r) => Some(checkpoint_row!(r)),
                None => None,
            }),
        )
    }

    /// The checkpoint signed at exactly `size` entries, if one was.
    pub async fn ledger_checkpoint(&self, size: u64) -> Result<Option<LedgerCheckpointRow>> {
        let sql = format!("SELECT {CHECKPOINT_COLS} FROM ledger_checkpoints WHERE size = $1");
        let size = to_i64("size", size)?;
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(size).fetch_optional(p).await? {
                Some(r) => Some(checkpoint_row!(r)),
                None => None,
            }),
        )
    }

    /// Up to `limit` checkpoints with size ≥ `from_size`, smallest first.
    pub async fn ledger_checkpoints(
        &self,
        from_size: u64,
        limit: i64,
    ) -> Result<Vec<LedgerCheckpointRow>> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLS} FROM ledger_checkpoints WHERE size >= $1 ORDER BY size LIMIT $2"
        );
        let from = to_i64("from_size", from_size)?;
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(from)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(checkpoint_row!(r));
            }
            out
        }))
    }

    /// Up to `limit` pending feed rows, oldest first.
    pub async fn ledger_feed_pending(&self, limit: i64) -> Result<Vec<LedgerFeedRow>> {
        let sql = format!("SELECT {FEED_COLS} FROM ledger_feed ORDER BY seq LIMIT $1");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(feed_row!(r));
            }
            out
        }))
    }

    /// Deletes feed rows that need no leaf (a repeat of the state already
    /// recorded, an object that no longer exists); returns how many were pending.
    pub async fn ledger_feed_discard(&self, seqs: &[i64]) -> Result<u64> {
        let mut n = 0;
        for chunk in seqs.chunks(CHUNK_ROWS) {
            let sql = format!(
                "DELETE FROM ledger_feed WHERE seq IN {}",
                placeholders(self.dialect(), 1, chunk.len())
            );
            n += db!(self, p => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for s in chunk {
                    q = q.bind(*s);
                }
                q.execute(p).await?.rows_affected()
            });
        }
        Ok(n)
    }

    /// Size of the whole database in bytes (SQLite pages in use, or
    /// `pg_database_size`), for storage-per-entry figures.
    pub async fn database_bytes(&self) -> Result<u64> {
        let n: i64 = match self.dialect() {
            Dialect::Sqlite => db!(self, p => sqlx::query(
                "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
            )
            .fetch_one(p)
            .await?
            .try_get("n")?),
            Dialect::Postgres => db!(self, p => sqlx::query(
                "SELECT pg_database_size(current_database()) AS n",
            )
            .fetch_one(p)
            .await?
            .try_get("n")?),
        };
        to_u64("database size", n)
    }

    /// Keeps the salt that opens `commitment` (idempotent: the first salt stays).
    pub async fn ledger_put_salt(&self, commitment: &[u8], salt: &[u8], now: i64) -> Result<()> {
        let _writer = self.main_writer().await;
        db!(self, p => sqlx::query(PUT_SALT_SQL)
        .bind(commitment)
        .bind(salt)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The private salt of `commitment`, if this deployment made it.
    pub async fn ledger_salt(&self, commitment: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(
            db!(self, p => match sqlx::query("SELECT salt FROM ledger_salts WHERE commitment = $1")
                .bind(commitment)
                .fetch_optional(p)
                .await?
            {
                Some(r) => Some(r.try_get::<Vec<u8>, _>("salt")?),
                None => None,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{CHUNK_ROWS, chunk_plan, placeholders};
    use crate::Dialect;

    #[test]
    fn placeholders_number_rows_then_columns_on_postgres_only() {
        assert_eq!(
            placeholders(Dialect::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(placeholders(Dialect::Postgres, 1, 1), "($1)");
        assert_eq!(placeholders(Dialect::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn chunk_plan_covers_every_row_once_with_few_sizes() {
        assert!(chunk_plan(0).is_empty());
        assert_eq!(chunk_plan(3), vec![(0, 1), (1, 1), (2, 1)]);
        assert_eq!(
            chunk_plan(CHUNK_ROWS + 261),
            vec![
                (0, CHUNK_ROWS),
                (CHUNK_ROWS, 256),
                (CHUNK_ROWS + 256, 4),
                (CHUNK_ROWS + 260, 1)
            ]
        );
        for len in [1, 17, 255, 1023, 5000, 16_384] {
            let plan = chunk_plan(len);
            let mut next = 0;
            for (start, rows) in plan {
                assert_eq!(start, next);
                next += rows;
            }
            assert_eq!(next, len);
        }
    }
}
