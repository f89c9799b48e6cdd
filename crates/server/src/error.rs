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

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
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
        }
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
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => ApiError::not_found(entity, id),
            StoreError::Conflict { field, .. } => {
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
        if let Some(ct) = req.headers().get(axum::http::header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !(essence == "application/json" || essence.ends_with("+json")) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("expected Content-Type application/json, got {ct:?}"),
                ));
            }
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
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
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request("malformed_json", format!("body is not valid JSON: {inner}"))
        } else {
            let field = if path == "." {
                missing_field(&inner.to_string())
            } else {
                Some(path)
            };
            let mut err = ApiError::invalid("", inner.to_string());
            err.field = field;
            err
        }
    })?;
    Ok(value)
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
                        ErrorKind::ParseError { .. } => Some("id".to_string()),
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

/// Query string; a bad parameter is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
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
        let field = text
            .split(':')
            .nth(1)
            .map(str::trim)
            .and_then(|s| s.split_whitespace().next())
            .map(|s| s.trim_matches('`').to_string());
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
}
