//! Any OpenAI-compatible embeddings endpoint (OpenAI, vLLM, llama.cpp server, Ollama, TEI…)
//! through async-openai: `POST {base}/embeddings`
//! (<https://platform.openai.com/docs/api-reference/embeddings/create>).
//!
//! Errors are split for the caller: quota exhaustion, bad keys, unknown models and malformed
//! responses are permanent; timeouts, connection failures, rate limits and 5xx are transient.
use super::embedder::{EmbedError, Embedder, l2_normalise};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::{CreateEmbeddingRequest, EmbeddingInput};
use futures::future::BoxFuture;
use std::time::Duration;

/// Inputs per request: OpenAI accepts up to 2048; smaller requests fail and retry cheaper.
const BATCH: usize = 128;
/// One request's time limit.
const TIMEOUT: Duration = Duration::from_secs(60);

/// An OpenAI-compatible embeddings endpoint with a fixed model.
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    model: String,
    dim: usize,
}

impl OpenAiEmbedder {
    /// Connects to `base_url` (e.g. `https://api.openai.com/v1`) and learns the model's
    /// dimension by embedding one short probe text.
    pub async fn connect(base_url: &str, model: &str, api_key: Option<&str>) -> Result<Self, EmbedError> {
        let mut cfg = OpenAIConfig::new().with_api_base(base_url.trim_end_matches('/'));
        if let Some(k) = api_key {
            cfg = cfg.with_api_key(k);
        }
        let http = reqwest::Client::builder().timeout(TIMEOUT).build().map_err(|e| EmbedError::Permanent(format!("HTTP client: {e}")))?;
        // async-openai's own backoff retries rate limits for up to this long; beyond that the
        // job queue's retries take over.
        let backoff = backoff::ExponentialBackoffBuilder::new().with_max_elapsed_time(Some(Duration::from_secs(20))).build();
        let client = Client::with_config(cfg).with_http_client(http).with_backoff(backoff);
        let mut this = Self { client, model: model.to_owned(), dim: 0 };
        let probe = this.request(&["dimension probe"]).await?;
        this.dim = probe.first().map_or(0, Vec::len);
        if this.dim == 0 {
            return Err(EmbedError::Permanent(format!("model `{model}` returned an empty embedding")));
        }
        Ok(this)
    }

    async fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let req = CreateEmbeddingRequest {
            model: self.model.clone(),
            input: EmbeddingInput::StringArray(texts.iter().map(|s| (*s).to_owned()).collect()),
            encoding_format: None,
            user: None,
            dimensions: None,
        };
        let resp = self.client.embeddings().create(req).await.map_err(|e| classify(&e))?;
        if resp.data.len() != texts.len() {
            return Err(EmbedError::Permanent(format!("asked for {} embeddings, got {}", texts.len(), resp.data.len())));
        }
        let mut out = vec![Vec::new(); texts.len()];
        for e in resp.data {
            let slot = out.get_mut(e.index as usize).ok_or_else(|| EmbedError::Permanent(format!("embedding index {} out of range", e.index)))?;
            *slot = e.embedding;
        }
        for v in &mut out {
            if self.dim != 0 && v.len() != self.dim {
                return Err(EmbedError::Permanent(format!("expected {} dimensions, got {}", self.dim, v.len())));
            }
            l2_normalise(v);
        }
        Ok(out)
    }
}

/// Transient or permanent, by what retrying could change.
pub(crate) fn classify(e: &OpenAIError) -> EmbedError {
    match e {
        OpenAIError::Reqwest(r) if r.is_timeout() || r.is_connect() || r.is_request() => EmbedError::Transient(format!("embeddings endpoint unreachable: {r}")),
        OpenAIError::Reqwest(r) => match r.status() {
            Some(s) if s.is_server_error() || s.as_u16() == 429 => EmbedError::Transient(format!("embeddings endpoint: {r}")),
            _ => EmbedError::Permanent(format!("embeddings endpoint: {r}")),
        },
        OpenAIError::ApiError(api) => {
            let kind = format!("{} {}", api.r#type.as_deref().unwrap_or(""), api.code.as_deref().unwrap_or("")).to_ascii_lowercase();
            // Quota exhaustion arrives as 429 too, but waiting does not refill it.
            let transient = !kind.contains("quota") && ["rate_limit", "server_error", "overloaded", "timeout", "unavailable"].iter().any(|k| kind.contains(k));
            if transient { EmbedError::Transient(api.to_string()) } else { EmbedError::Permanent(api.to_string()) }
        }
        OpenAIError::StreamError(m) => EmbedError::Transient(m.clone()),
        other => EmbedError::Permanent(other.to_string()),
    }
}

impl Embedder for OpenAiEmbedder {
    fn name(&self) -> &str {
        &self.model
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(texts.len());
            for batch in texts.chunks(BATCH) {
                out.extend(self.request(batch).await?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_openai::error::ApiError;

    fn api(kind: &str, code: Option<&str>) -> OpenAIError {
        OpenAIError::ApiError(ApiError { message: "m".into(), r#type: Some(kind.into()), param: None, code: code.map(Into::into) })
    }

    #[test]
    fn quota_exhaustion_is_permanent_even_though_it_looks_like_a_rate_limit() {
        assert!(matches!(classify(&api("insufficient_quota", Some("rate_limit_exceeded"))), EmbedError::Permanent(_)));
    }

    #[test]
    fn rate_limits_and_server_errors_are_transient() {
        assert!(matches!(classify(&api("requests", Some("rate_limit_exceeded"))), EmbedError::Transient(_)));
        assert!(matches!(classify(&api("server_error", None)), EmbedError::Transient(_)));
    }

    #[test]
    fn bad_requests_and_bad_keys_are_permanent() {
        assert!(matches!(classify(&api("invalid_request_error", Some("invalid_api_key"))), EmbedError::Permanent(_)));
        assert!(matches!(classify(&OpenAIError::InvalidArgument("x".into())), EmbedError::Permanent(_)));
    }
}
