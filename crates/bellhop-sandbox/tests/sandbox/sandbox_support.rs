//! Helpers for tests that run the sandbox in-process on port 0 and drive it through its control
//! API, as a person would through the UI. Shared by bellhop-sandbox's tests and bellhop's
//! `tests/api` (through `#[path]`), each of which uses part of it.
#![allow(dead_code)]
use bellhop_telegram::BotToken;
use bellhop_sandbox::{Sandbox, SandboxHandle, SandboxOptions};
use bellhop_telegram::Client;
use serde_json::{Value, json};

pub struct TestSandbox {
    pub handle: SandboxHandle,
    pub base: String,
    pub http: reqwest::Client,
    pub client: Client,
}

impl TestSandbox {
    pub async fn start() -> Self {
        Self::start_with(SandboxOptions::default()).await
    }

    pub async fn start_with(opts: SandboxOptions) -> Self {
        let sandbox = Sandbox::new(opts).expect("sandbox builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let handle = sandbox.spawn(listener).await.expect("sandbox starts");
        let base = handle.base_url.clone();
        let client = Client::new(&base).expect("client");
        Self { handle, base, http: reqwest::Client::new(), client }
    }

    pub fn manager(&self) -> BotToken {
        self.handle.manager_token.clone()
    }

    /// A control API call that must succeed; returns `result`.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let v = self.api_raw(method.clone(), path, body).await;
        assert_eq!(v["ok"], json!(true), "{method} {path}: {v}");
        v["result"].clone()
    }

    /// A control API call; returns the whole answer.
    pub async fn api_raw(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self.http.request(method, format!("{}/sandbox/api/{path}", self.base));
        if !body.is_null() {
            req = req.json(&body);
        }
        req.send().await.expect("control API reachable").json().await.expect("control API answers JSON")
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.api(reqwest::Method::POST, path, body).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.api(reqwest::Method::GET, path, Value::Null).await
    }

    pub async fn user(&self, first_name: &str) -> i64 {
        self.post("users", json!({ "first_name": first_name })).await["id"].as_i64().expect("user id")
    }

    pub async fn say(&self, user: i64, bot: i64, text: &str) -> Value {
        self.post(&format!("users/{user}/messages"), json!({ "bot_id": bot, "text": text })).await
    }

    /// Opens a creation link as `user` and confirms the pre-filled screen; returns the child bot.
    pub async fn create_managed_bot(&self, user: i64, username: &str, name: &str) -> Value {
        let manager = self.get(&format!("bots/{}", self.handle.sandbox.manager_id())).await["username"].as_str().unwrap().to_owned();
        let link = format!("https://t.me/newbot/{manager}/{username}?name={}", urlencoding::encode(name));
        let req = self.post(&format!("users/{user}/creation_links"), json!({ "link": link })).await;
        self.post(&format!("creation_requests/{}/confirm", req["id"].as_str().unwrap()), json!({})).await
    }

    /// Messages sent by `bot`, oldest first.
    pub async fn sent_by(&self, bot: i64) -> Vec<Value> {
        self.get(&format!("messages?bot_id={bot}&from_bot=true")).await.as_array().cloned().unwrap_or_default()
    }

    /// Polls a payment until it is no longer pending.
    pub async fn payment_outcome(&self, id: &str) -> Value {
        for _ in 0..200 {
            let p = self.get(&format!("payments/{id}")).await;
            if p["status"] != "pending" {
                return p;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("payment {id} still pending");
    }

    /// The next `times` calls of `method` by `bot` fail with Telegram's `code` and `description`
    /// (e.g. 403, "Forbidden: bot was blocked by the user"); nothing happens.
    pub async fn fail_method(&self, bot: i64, method: &str, times: u32, code: u16, description: &str) {
        self.post("faults/methods", json!({ "bot_id": bot, "method": method, "times": times, "error_code": code, "description": description })).await;
    }

    /// The next `times` calls of `method` by `bot` take effect, then their response is lost.
    pub async fn lose_response(&self, bot: i64, method: &str, times: u32) {
        self.post("faults/methods", json!({ "bot_id": bot, "method": method, "times": times, "lose_response": true })).await;
    }

    /// The next `times` calls of `method` by `bot` wait until [`TestSandbox::release`].
    pub async fn hold(&self, bot: i64, method: &str, times: u32) {
        self.post("faults/methods", json!({ "bot_id": bot, "method": method, "times": times, "hold": true })).await;
    }

    /// How many calls of `method` by `bot` are held.
    pub async fn held(&self, bot: i64, method: &str) -> u64 {
        self.get(&format!("faults/methods?bot_id={bot}&method={method}")).await["held"].as_u64().unwrap_or(0)
    }

    /// Lets the held calls go, one after the other (newest first if asked); holds no more.
    pub async fn release(&self, bot: i64, method: &str, newest_first: bool) -> u64 {
        self.post("faults/methods/release", json!({ "bot_id": bot, "method": method, "newest_first": newest_first })).await["released"].as_u64().unwrap_or(0)
    }
}
