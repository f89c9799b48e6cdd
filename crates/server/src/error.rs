//! The one error shape every API response uses,
//! `{"error":{"code":"…","message":"…","field":"…"|null}}`, the table mapping
//! domain errors to HTTP status, and extractors whose rejections speak that shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use pingan_store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::strict_json::Strict;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `malformed_json`, `not_found`, `forbidden`.
    pub code: String,
    /// What is wrong, for a human.
    pub message: String,
    /// The input field at fault, as a dotted path, when one is.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Answers with `Retry-After: secs` (at least 1).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// 429 `rate_limited` with `Retry-After: secs`.
    pub fn too_many_requests(message: impl Into<String>, secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).retry_after(secs)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A well-formed request whose content is invalid; names the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).with_field(field)
    }

    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} {id} not found"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        resp.extensions_mut().insert(ErrorCode(self.code));
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        resp
    }
}

/// The error code of a response built from an [`ApiError`], kept in the
/// response's extensions so middleware (the refusal audit) can name it
/// without reading the body.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => ApiError::not_found(entity, id),
            StoreError::Conflict { field, .. } | StoreError::Changed { field, .. } => {
                ApiError::conflict(e.to_string()).with_field(field)
            }
            StoreError::InUse { .. } => {
                ApiError::new(StatusCode::CONFLICT, "in_use", e.to_string())
            }
            other => ApiError::internal(format!("storage failure: {other}")),
        }
    }
}

impl From<pingan_core::GeoError> for ApiError {
    fn from(e: pingan_core::GeoError) -> Self {
        ApiError::invalid(e.field(), e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// JSON body extractor: syntax errors are 400 `malformed_json` with line and
/// column, type errors 422 `invalid_field` naming the field path, oversized bodies
/// 413, a non-JSON content type 415.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        body_format(req.headers(), false)?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// How a request body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json` or `application/*+json` (also assumed when no type is sent).
    Json,
    /// `application/x-ndjson`, `application/jsonlines` and kin: one JSON document a line.
    Ndjson,
}

/// The body format the `Content-Type` header declares; any other type is 415
/// `unsupported_media_type` naming the header. NDJSON is accepted only where the
/// route takes batches (`allow_ndjson`).
pub fn body_format(
    headers: &axum::http::HeaderMap,
    allow_ndjson: bool,
) -> Result<BodyFormat, ApiError> {
    let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Ok(BodyFormat::Json);
    };
    let ct = String::from_utf8_lossy(ct.as_bytes());
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ndjson = matches!(
        essence.as_str(),
        "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonlines"
            | "application/x-jsonlines"
            | "application/jsonl"
    );
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(BodyFormat::Json)
    } else if ndjson && allow_ndjson {
        Ok(BodyFormat::Ndjson)
    } else {
        let expected = if allow_ndjson {
            "application/json or application/x-ndjson"
        } else {
            "application/json"
        };
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected Content-Type {expected}, got {ct:?}"),
        )
        .with_field("Content-Type"))
    }
}

/// A JSON body that may be omitted: an empty body is `T::default()`; a present
/// one must be JSON (415 otherwise) and parses like [`ApiJson`].
pub struct ApiJsonOrDefault<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for ApiJsonOrDefault<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_or_default(req, state).await.map(ApiJsonOrDefault)
    }
}

/// [`ApiJsonOrDefault`] for handlers that take the raw [`Request`].
pub async fn json_or_default<T: DeserializeOwned + Default, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<T, ApiError> {
    let format = body_format(req.headers(), false);
    let bytes = read_body(req, state).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    format?;
    parse_json(&bytes)
}

/// Reads the whole body within the configured limit.
pub async fn read_body<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "request body exceeds the size limit",
                )
            } else {
                ApiError::bad_request("unreadable_body", e.body_text())
            }
        })
}

/// Parses JSON with the same error mapping as [`ApiJson`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "malformed_json",
            "request body is empty; expected a JSON document",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Strict(de)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_json reports a value of the wrong kind for an enum (e.g.
        // `"role": 12345`) as a syntax error; only a document that is not JSON
        // at all is malformed.
        // serde reports the first problem it meets, so `{"a": [1,` can come
        // back as "unknown field a" and `{not json` for a list as "expected a
        // sequence": whatever the error, a body that is not JSON is malformed.
        let syntax = inner.is_syntax() || inner.is_eof();
        if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() {
            ApiError::bad_request("malformed_json", format!("body is not valid JSON: {inner}"))
        } else {
            let field = if path == "." {
                missing_field(&inner.to_string())
            } else {
                Some(path)
            };
            // serde_json files a number too large for its target (`1e400`,
            // or `1e20` for an i64) under syntax errors too; say which.
            let text = inner.to_string();
            let message = if text.starts_with("number out of range") {
                "number out of range".to_string()
            } else if syntax {
                "value of the wrong type: expected one of the allowed names, as a string"
                    .to_string()
            } else {
                text
            };
            let mut err = ApiError::invalid("", message);
            err.field = field;
            err
        }
    })?;
    Ok(value)
}

/// Converts an already parsed JSON value (e.g. one item of a batch) with the
/// same error mapping as [`parse_json`]: a type error names the field path.
pub fn from_json_value<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Strict(v)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." {
            missing_field(&inner.to_string())
        } else {
            Some(path)
        };
        let mut err = ApiError::invalid("", inner.to_string());
        err.field = field;
        err
    })
}

fn missing_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

/// Path parameters; a parameter of the wrong type is a 400 naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_nul_escape(parts.uri.path()) {
            let mut err = ApiError::bad_request("invalid_path", NUL_MESSAGE);
            err.field = lone_path_param(parts);
            return Err(err);
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => {
                use axum::extract::path::ErrorKind;
                let field = match e {
                    axum::extract::rejection::PathRejection::FailedToDeserializePathParams(
                        ref inner,
                    ) => match inner.kind() {
                        ErrorKind::ParseErrorAtKey { key, .. }
                        | ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                        // A lone parameter: its name is the template's only `{…}`.
                        ErrorKind::ParseError { .. } => {
                            Some(lone_path_param(parts).unwrap_or_else(|| "id".to_string()))
                        }
                        _ => None,
                    },
                    _ => None,
                };
                let mut err = ApiError::bad_request("invalid_path", e.body_text());
                err.field = field;
                Err(err)
            }
        }
    }
}

/// The name of the only `{param}` in the matched route template, if there is exactly one.
fn lone_path_param(parts: &Parts) -> Option<String> {
    let template = parts
        .extensions
        .get::<axum::extract::MatchedPath>()?
        .as_str();
    let mut names = template
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'));
    let first = names.next()?;
    names
        .next()
        .is_none()
        .then(|| first.trim_start_matches('*').to_string())
}

/// What a text holding U+0000 is told: PostgreSQL cannot store it, and no
/// legitimate name, phone or query contains one.
pub(crate) const NUL_MESSAGE: &str = "text contains a NUL character (U+0000)";

/// Whether a URI part percent-encodes a NUL (the only way one can get there).
fn has_nul_escape(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// Query string; a bad parameter is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        if let Some(pair) = q.split('&').find(|p| has_nul_escape(p)) {
            let key = pair.split('=').next().unwrap_or("");
            return Err(ApiError::bad_request("invalid_query", NUL_MESSAGE)
                .with_field(key.replace('+', " ")));
        }
        let de = serde_urlencoded_de(q);
        de.map(ApiQuery)
    }
}

fn serde_urlencoded_de<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    // axum's Query uses serde_urlencoded; go through it for identical parsing but
    // keep the parameter name in our error.
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| ApiError::bad_request("invalid_query", "query string is not valid"))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| {
        let text = e.body_text();
        let field = if text.contains("missing field `") {
            missing_field(&text)
        } else {
            text.split(':')
                .nth(1)
                .map(str::trim)
                .and_then(|s| s.split_whitespace().next())
                .map(|s| s.trim_matches('`').to_string())
        };
        let mut err = ApiError::bad_request("invalid_query", text);
        err.field = field
            .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        n: Option<u32>,
    }

    #[test]
    fn a_number_out_of_range_says_so() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            org_id: i64,
            ratio: Option<f64>,
        }
        for body in [
            &br#"{"org_id": 1e400}"#[..],
            br#"{"org_id": 1, "ratio": -1e400}"#,
        ] {
            let e = parse_json::<Body>(body).unwrap_err();
            assert_eq!(
                (e.status, e.code, e.message.as_str()),
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    "number out of range"
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let e = parse_json::<Body>(br#"{"org_id": 1e400}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("org_id"));
        let e = parse_json::<Body>(br#"{"org_id": 1, "ratio": -1e400}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ratio"));
    }

    #[test]
    fn json_errors_name_their_cause() {
        let e = parse_json::<Login>(b"{not json").unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "malformed_json")
        );
        let e = parse_json::<Login>(br#"{"username": 5}"#).unwrap_err();
        assert_eq!(
            (e.status, e.code, e.field.as_deref()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("username")
            )
        );
        let e = parse_json::<Login>(br#"{}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("username"));
        let e = parse_json::<Login>(br#"{"username":"a","n":-1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("n"));
        let e = parse_json::<Login>(b"  ").unwrap_err();
        assert_eq!(e.code, "malformed_json");
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct WithEnum {
        role: Option<crate::auth::Role>,
    }

    #[test]
    fn a_wrong_typed_enum_is_an_invalid_field_not_malformed_json() {
        for body in [
            &br#"{"role": 12345}"#[..],
            br#"{"role": [1]}"#,
            br#"{"role": true}"#,
        ] {
            let e = parse_json::<WithEnum>(body).unwrap_err();
            assert_eq!(
                (e.status, e.code, e.field.as_deref()),
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    Some("role")
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let e = parse_json::<WithEnum>(br#"{"role": "pilot"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_field", Some("role"))
        );
        let e = parse_json::<WithEnum>(br#"{"role": 12345"#).unwrap_err();
        assert_eq!(e.code, "malformed_json");
    }

    #[test]
    fn content_types() {
        use axum::http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
        let with = |ct: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            h
        };
        assert_eq!(body_format(&HeaderMap::new(), false), Ok(BodyFormat::Json));
        assert_eq!(
            body_format(&with("application/json; charset=utf-8"), false),
            Ok(BodyFormat::Json)
        );
        assert_eq!(
            body_format(&with("application/geo+json"), false),
            Ok(BodyFormat::Json)
        );
        assert_eq!(
            body_format(&with("application/x-ndjson"), true),
            Ok(BodyFormat::Ndjson)
        );
        for (ct, ndjson) in [
            ("application/x-ndjson", false),
            ("text/plain", true),
            ("text/json", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            let e = body_format(&with(ct), ndjson).unwrap_err();
            assert_eq!(
                (e.status, e.code, e.field.as_deref()),
                (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    Some("Content-Type")
                ),
                "{ct}"
            );
        }
    }
}
