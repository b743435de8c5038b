//! Bot API request parameters, read the way Telegram reads them: from the query string and a
//! JSON, `x-www-form-urlencoded` or `multipart/form-data` body. Non-string values arrive as
//! JSON text in forms (`reply_markup={"inline_keyboard":…}`), as real JSON in JSON bodies.
//! Also the error type that becomes Telegram's `{"ok":false,…}` envelope.
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// A Bot API error response: `{"ok":false,"error_code":…,"description":…}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u64>,
    pub migrate_to_chat_id: Option<i64>,
}

impl ApiError {
    pub fn bad_request(what: impl std::fmt::Display) -> Self {
        Self { code: 400, description: format!("Bad Request: {what}"), retry_after: None, migrate_to_chat_id: None }
    }
    pub fn unauthorized() -> Self {
        Self { code: 401, description: "Unauthorized".into(), retry_after: None, migrate_to_chat_id: None }
    }
    pub fn forbidden(what: impl std::fmt::Display) -> Self {
        Self { code: 403, description: format!("Forbidden: {what}"), retry_after: None, migrate_to_chat_id: None }
    }
    pub fn not_found() -> Self {
        Self { code: 404, description: "Not Found".into(), retry_after: None, migrate_to_chat_id: None }
    }
    pub fn conflict(what: impl std::fmt::Display) -> Self {
        Self { code: 409, description: format!("Conflict: {what}"), retry_after: None, migrate_to_chat_id: None }
    }
    pub fn too_many(retry_after: u64) -> Self {
        Self { code: 429, description: format!("Too Many Requests: retry after {retry_after}"), retry_after: Some(retry_after), migrate_to_chat_id: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "ok": false, "error_code": self.code, "description": self.description });
        let mut params = Map::new();
        if let Some(r) = self.retry_after {
            params.insert("retry_after".into(), json!(r));
        }
        if let Some(m) = self.migrate_to_chat_id {
            params.insert("migrate_to_chat_id".into(), json!(m));
        }
        if !params.is_empty() {
            body["parameters"] = Value::Object(params);
        }
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(body)).into_response()
    }
}

/// A successful Bot API response: `{"ok":true,"result":…}`.
pub fn ok(result: impl serde::Serialize) -> Response {
    axum::Json(json!({ "ok": true, "result": result })).into_response()
}

/// The parameters of one call.
#[derive(Debug, Default)]
pub struct Params {
    map: Map<String, Value>,
    /// Uploaded files: part name → bytes.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Params {
    /// Reads parameters from the query string and the body, by content type.
    pub async fn read(query: Option<&str>, headers: &HeaderMap, body: Bytes) -> Result<Self, ApiError> {
        let mut p = Params::default();
        if let Some(q) = query {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                p.map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if body.is_empty() {
            return Ok(p);
        }
        if ctype.starts_with("application/json") {
            let v: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("can't parse JSON body"))?;
            match v {
                Value::Object(m) => p.map.extend(m),
                _ => return Err(ApiError::bad_request("JSON body must be an object")),
            }
        } else if ctype.starts_with("multipart/form-data") {
            let boundary = multer_boundary(&ctype).ok_or_else(|| ApiError::bad_request("multipart body without boundary"))?;
            for part in parse_multipart(&body, &boundary) {
                if part.filename.is_some() {
                    p.files.push((part.name.clone(), part.data.to_vec()));
                    p.map.insert(part.name, Value::String("<file>".into()));
                } else {
                    p.map.insert(part.name, Value::String(String::from_utf8_lossy(&part.data).into_owned()));
                }
            }
        } else {
            for (k, v) in url::form_urlencoded::parse(&body) {
                p.map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        Ok(p)
    }

    pub fn has(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| !v.is_null())
    }

    pub fn str(&self, name: &str) -> Option<String> {
        match self.map.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        }
    }

    pub fn req_str(&self, name: &str) -> Result<String, ApiError> {
        self.str(name).ok_or_else(|| ApiError::bad_request(format!("parameter \"{name}\" is required")))
    }

    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| ApiError::bad_request(format!("invalid {name} specified"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ApiError::bad_request(format!("invalid {name} specified"))),
            Some(_) => Err(ApiError::bad_request(format!("invalid {name} specified"))),
        }
    }

    pub fn req_i64(&self, name: &str) -> Result<i64, ApiError> {
        self.i64(name)?.ok_or_else(|| ApiError::bad_request(format!("{name} is empty")))
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" | "" => Ok(Some(false)),
                _ => Err(ApiError::bad_request(format!("invalid {name} specified"))),
            },
            Some(Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
            Some(_) => Err(ApiError::bad_request(format!("invalid {name} specified"))),
        }
    }

    /// A JSON-valued parameter (objects and arrays), given as JSON or as JSON text.
    pub fn json(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ApiError::bad_request(format!("can't parse {name} JSON object"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    pub fn typed<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        match self.json(name)? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v).map(Some).map_err(|e| ApiError::bad_request(format!("can't parse {name}: {e}"))),
        }
    }

    /// `chat_id`: a number, or `@username` of a bot-visible chat (only numbers in the sandbox).
    pub fn chat_id(&self) -> Result<i64, ApiError> {
        let raw = self.str("chat_id").ok_or_else(|| ApiError::bad_request("chat_id is empty"))?;
        raw.trim().parse().map_err(|_| ApiError::bad_request("chat not found"))
    }
}

fn multer_boundary(ctype: &str) -> Option<String> {
    ctype.split(';').filter_map(|p| p.trim().strip_prefix("boundary=")).next().map(|b| b.trim_matches('"').to_owned())
}

struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

/// A small multipart/form-data reader: enough for Bot API uploads (names, file names, bytes).
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, delim.as_bytes()) {
        rest = &rest[start + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest_trim = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(head_end) = find(rest_trim, b"\r\n\r\n") else { break };
        let head = String::from_utf8_lossy(&rest_trim[..head_end]).into_owned();
        let data_start = &rest_trim[head_end + 4..];
        let end = find(data_start, format!("\r\n{delim}").as_bytes()).unwrap_or(data_start.len());
        let data = data_start[..end].to_vec();
        let disp = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition")).unwrap_or("");
        let field = |key: &str| -> Option<String> {
            let pat = format!("{key}=\"");
            let i = disp.find(&pat)? + pat.len();
            let j = disp[i..].find('"')?;
            Some(disp[i..i + j].to_owned())
        };
        if let Some(name) = field(" name").or_else(|| field(";name")) {
            parts.push(Part { name, filename: field("filename"), data });
        }
        rest = &data_start[end..];
    }
    parts
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
