//! A local stand-in for the Stripe API, in the test binary: form-encoded `POST
//! /v1/checkout/sessions` and `/v1/billing_portal/sessions` with Stripe's answer shapes, the
//! secret key checked, and `Idempotency-Key` required and honoured (the same key with the same
//! body gets the same object back; with another body, Stripe's idempotency error).
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SECRET_KEY: &str = "sk_test_bellhop_standin_0123456789";

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// idempotency key → (body, response)
    seen: HashMap<String, (String, Value)>,
    next: u64,
}

#[derive(Clone, Default)]
pub struct StripeStandin {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl StripeStandin {
    pub async fn start() -> Self {
        let mut s = StripeStandin::default();
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create))
            .route("/v1/billing_portal/sessions", post(create))
            .with_state(s.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        s.base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        s
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "type": kind, "message": message } }))).into_response()
}

async fn create(State(s): State<StripeStandin>, uri: axum::http::Uri, headers: HeaderMap, body: String) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {SECRET_KEY}")) {
        return error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided");
    }
    let path = uri.path().to_owned();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let mut inner = s.inner.lock().unwrap();
    inner.requests.push(Recorded { path: path.clone(), idempotency_key: key.clone(), form: form.clone() });
    let Some(key) = key else {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", "the stand-in requires an Idempotency-Key on every create call");
    };
    if let Some((seen_body, response)) = inner.seen.get(&key) {
        if *seen_body != body {
            return error(StatusCode::BAD_REQUEST, "idempotency_error", "Keys for idempotent requests can only be used with the same parameters they were first used with.");
        }
        return axum::Json(response.clone()).into_response();
    }
    inner.next += 1;
    let n = inner.next;
    let param = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let now = 1_790_000_000 + n as i64;
    let response = if path.ends_with("checkout/sessions") {
        json!({
            "id": format!("cs_test_{n}"), "object": "checkout.session", "automatic_tax": { "enabled": false, "liability": null, "status": null },
            "client_reference_id": param("client_reference_id"), "created": now, "currency": "usd", "custom_fields": [],
            "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
            "customer": param("customer"), "expires_at": now + 86_400, "livemode": false, "metadata": {}, "mode": param("mode"),
            "payment_method_types": ["card"], "payment_status": "unpaid", "shipping_options": [], "status": "open",
            "success_url": param("success_url"), "cancel_url": param("cancel_url"), "url": format!("https://checkout.stripe.com/c/pay/cs_test_{n}")
        })
    } else {
        json!({
            "id": format!("bps_{n}"), "object": "billing_portal.session", "configuration": "bpc_1", "created": now,
            "customer": param("customer"), "livemode": false, "return_url": param("return_url"), "url": format!("https://billing.stripe.com/p/session/test_{n}")
        })
    };
    inner.seen.insert(key, (body, response.clone()));
    axum::Json(response).into_response()
}
