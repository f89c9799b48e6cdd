//! Public, read-only HTTP face of the verifiable case log: the signed
//! checkpoint and C2SP tlog tiles under `/ledger/…` (for standard transparency
//! log tooling), and JSON proofs, entries with receipts and the verifier key
//! under `/api/v1/ledger/…`. No login: leaves hold only hashes and commitments.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pingan_ledger::{Hash, LeafRecord, ProofError, TilePath};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::rfc3339;
use crate::AppState;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::ledger::LedgerError;

/// The tile route is a wildcard (`{*path}`), which the OpenAPI path syntax
/// cannot spell, so it is documented as `{path}` and routed by hand.
#[derive(OpenApi)]
#[openapi(paths(tile))]
struct TileDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(TileDoc::openapi())
        .route("/ledger/tile/{*path}", axum::routing::get(tile))
        .routes(routes!(checkpoint_note))
        .routes(routes!(checkpoint))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(entry))
        .routes(routes!(verifier_key))
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::IndexOutOfRange { .. } => ApiError::invalid("index", e.to_string()),
            LedgerError::SizeOutOfRange { .. } => ApiError::invalid("size", e.to_string()),
            LedgerError::Proof(ProofError::IndexOutOfRange { .. }) => {
                ApiError::invalid("index", e.to_string())
            }
            LedgerError::Proof(ProofError::SizesOutOfOrder { .. }) => {
                ApiError::invalid("from", e.to_string())
            }
            LedgerError::Store(s) => s.into(),
            other => ApiError::internal(format!("ledger failure: {other}")),
        }
    }
}

fn hex_list(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// The latest signed checkpoint as a C2SP signed note (`text/plain`).
#[utoipa::path(get, path = "/ledger/checkpoint", tag = "ledger",
    responses((status = 200, description = "signed checkpoint note", content_type = "text/plain")))]
async fn checkpoint_note(State(s): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        s.ledger.head().note.to_string(),
    )
        .into_response()
}

/// A C2SP tlog-tiles tile: `tile/<L>/<N>[.p/<W>]` (hashes) or
/// `tile/entries/<N>[.p/<W>]` (entry bundle). Immutable once served.
#[utoipa::path(get, path = "/ledger/tile/{path}", tag = "ledger",
    params(("path" = String, Path, description = "tile path after `tile/`, e.g. `0/x001/234.p/8` or `entries/000`")),
    responses(
        (status = 200, description = "tile body", content_type = "application/octet-stream"),
        (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
async fn tile(
    State(s): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> ApiResult<Response> {
    let full = format!("tile/{path}");
    let parsed = TilePath::parse(&full).map_err(|e| {
        ApiError::bad_request("invalid_tile_path", e.to_string()).with_field("path")
    })?;
    let body = s
        .ledger
        .tile(parsed)
        .await?
        .ok_or_else(|| ApiError::not_found("tile", &full))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response())
}

/// The latest signed checkpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckpointDto {
    /// Log origin (also the verifier key's name).
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
    /// When the checkpoint was signed (RFC 3339).
    pub signed_at: String,
    /// The C2SP signed note, verbatim.
    pub note: String,
}

/// The latest signed checkpoint, parsed, with its note.
#[utoipa::path(get, path = "/api/v1/ledger/checkpoint", tag = "ledger",
    responses((status = 200, body = CheckpointDto)))]
async fn checkpoint(State(s): State<AppState>) -> axum::Json<CheckpointDto> {
    let h = s.ledger.head();
    axum::Json(CheckpointDto {
        origin: s.ledger.origin().to_string(),
        size: h.size,
        root: hex::encode(h.root),
        signed_at: rfc3339(h.at),
        note: h.note.to_string(),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InclusionQuery {
    /// Leaf index.
    pub index: u64,
    /// Tree size to prove against; default the latest.
    pub size: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionDto {
    pub index: u64,
    pub size: u64,
    /// Leaf hash of the entry, hex.
    pub leaf_hash: String,
    /// RFC 9162 inclusion proof, hex hashes, leaf side first.
    pub proof: Vec<String>,
    /// The signed checkpoint at `size`, when one was signed at exactly that size.
    pub checkpoint: Option<String>,
}

/// Inclusion proof of one entry in the tree of `size` entries.
#[utoipa::path(get, path = "/api/v1/ledger/proof/inclusion", tag = "ledger", params(InclusionQuery),
    responses((status = 200, body = InclusionDto), (status = 400, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn inclusion(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<axum::Json<InclusionDto>> {
    let size = q.size.unwrap_or_else(|| s.ledger.head().size);
    if q.index >= size {
        return Err(ApiError::invalid(
            "index",
            format!("leaf index {} is not below the tree size {size}", q.index),
        ));
    }
    let proof = s.ledger.inclusion_proof(q.index, size).await?;
    let leaf = s.ledger.leaf_hash(q.index).await?;
    Ok(axum::Json(InclusionDto {
        index: q.index,
        size,
        leaf_hash: hex::encode(leaf),
        proof: hex_list(&proof),
        checkpoint: s.ledger.checkpoint_at(size).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConsistencyQuery {
    /// Older tree size.
    pub from: u64,
    /// Newer tree size; default the latest.
    pub to: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyDto {
    pub from: u64,
    pub to: u64,
    /// RFC 9162 consistency proof, hex hashes.
    pub proof: Vec<String>,
    /// Signed checkpoint at `from`, when one was signed at exactly that size.
    pub from_checkpoint: Option<String>,
    /// Signed checkpoint at `to`, when one was signed at exactly that size.
    pub to_checkpoint: Option<String>,
}

/// Consistency proof between two tree sizes: the older tree is a prefix of the newer.
#[utoipa::path(get, path = "/api/v1/ledger/proof/consistency", tag = "ledger", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyDto), (status = 400, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn consistency(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<axum::Json<ConsistencyDto>> {
    let to = q.to.unwrap_or_else(|| s.ledger.head().size);
    if q.from > to {
        return Err(ApiError::invalid(
            "from",
            format!("older size {} is larger than newer size {to}", q.from),
        ));
    }
    let proof = s
        .ledger
        .consistency_proof(q.from, to)
        .await
        .map_err(|e| match e {
            LedgerError::SizeOutOfRange { .. } => ApiError::invalid("to", e.to_string()),
            other => other.into(),
        })?;
    Ok(axum::Json(ConsistencyDto {
        from: q.from,
        to,
        proof: hex_list(&proof),
        from_checkpoint: s.ledger.checkpoint_at(q.from).await?,
        to_checkpoint: s.ledger.checkpoint_at(to).await?,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryDto {
    pub index: u64,
    /// Leaf hash, hex.
    pub leaf_hash: String,
    /// The canonical record, parsed (`v`, `kind`, fields).
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
    /// Offline-verifiable receipt against the latest checkpoint
    /// (`pingan ledger verify` checks it with the verifier key alone).
    #[schema(value_type = Object)]
    pub receipt: serde_json::Value,
}

/// One entry with its receipt.
#[utoipa::path(get, path = "/api/v1/ledger/entries/{index}", tag = "ledger",
    params(("index" = u64, Path, description = "leaf index")),
    responses((status = 200, body = EntryDto), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn entry(
    State(s): State<AppState>,
    ApiPath(index): ApiPath<u64>,
) -> ApiResult<axum::Json<EntryDto>> {
    if index >= s.ledger.head().size {
        return Err(ApiError::not_found("ledger entry", index));
    }
    let receipt = s.ledger.receipt(index).await?;
    let text = receipt.entry.clone().unwrap_or_default();
    // A stored entry that no longer parses is shown raw; the receipt exposes the damage.
    let record = match LeafRecord::from_canonical_json(text.as_bytes()) {
        Ok(_) => serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        Err(_) => serde_json::Value::String(text),
    };
    Ok(axum::Json(EntryDto {
        index,
        leaf_hash: hex::encode(receipt.leaf_hash),
        record,
        receipt: serde_json::from_str(&receipt.to_json())
            .map_err(|e| ApiError::internal(format!("receipt encoding: {e}")))?,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifierKeyDto {
    /// Log origin (the key's name).
    pub origin: String,
    /// C2SP/Go `note` verifier key string `<name>+<hex id>+<base64 key>`.
    pub vkey: String,
}

/// The public key that verifies the log's checkpoints and receipts.
#[utoipa::path(get, path = "/api/v1/ledger/verifier-key", tag = "ledger",
    responses((status = 200, body = VerifierKeyDto)))]
async fn verifier_key(State(s): State<AppState>) -> axum::Json<VerifierKeyDto> {
    axum::Json(VerifierKeyDto {
        origin: s.ledger.origin().to_string(),
        vkey: s.ledger.verifier().vkey(),
    })
}
