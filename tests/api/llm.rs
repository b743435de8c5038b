//! The chat-model layer: SmolLM2 in-process (real weights from `BELLHOP_MODELS_DIR`) and
//! `OpenAiChat` against the OpenAI stand-in on loopback.
use crate::openai_standin::{OpenAiStandIn, Reply, StandInRequest, pieces};
use bellhop::llm::{ChatMessage, ChatModel, ChatRequest, LocalSmolLm, ModelError, OpenAiChat, Piece, OpenAiChatOptions, SMOLLM_NAME, Utf8Pieces};
use futures::StreamExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn models_dir() -> PathBuf {
    PathBuf::from(std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh` (it fetches the model files) or set it"))
}

/// One loaded model shared by the tests that only read from it.
fn smollm() -> LocalSmolLm {
    static MODEL: OnceLock<LocalSmolLm> = OnceLock::new();
    MODEL.get_or_init(|| LocalSmolLm::load(&models_dir(), 2048).expect("load SmolLM2")).clone()
}

fn question(q: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system("You are a helpful assistant. Answer briefly."), ChatMessage::user(q)],
        max_tokens,
        temperature: 0.0,
    }
}

async fn collect(model: &dyn ChatModel, req: ChatRequest) -> Result<Vec<String>, ModelError> {
    let mut stream = model.stream(req).await?;
    let mut out = Vec::new();
    while let Some(p) = stream.next().await {
        if let Piece::Text(t) = p? {
            out.push(t);
        }
    }
    Ok(out)
}

#[tokio::test]
async fn the_local_model_streams_an_answer_to_a_chatml_prompt() {
    let model = smollm();
    assert_eq!(model.name(), SMOLLM_NAME);
    assert_eq!(model.context_tokens(), 2048);
    let pieces = collect(&model, question("What is the capital of France?", 16)).await.unwrap();
    let answer = pieces.concat();
    assert!(!answer.trim().is_empty(), "empty answer");
    assert!(pieces.len() > 1, "expected several pieces, got {pieces:?}");
    assert!(!answer.contains("<|im_end|>") && !answer.contains("<|im_start|>"), "{answer}");
    assert!(answer.contains("Paris"), "{answer}");
}

#[tokio::test]
async fn the_local_model_is_deterministic_at_temperature_zero() {
    let model = smollm();
    let a = collect(&model, question("Name three colours.", 12)).await.unwrap().concat();
    let b = collect(&model, question("Name three colours.", 12)).await.unwrap().concat();
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[tokio::test]
async fn max_tokens_bounds_the_answer() {
    let model = smollm();
    let req = question("Write a long poem about the sea.", 5);
    let prompt = model.prompt_ids(&req.messages).unwrap();
    let g = tokio::task::spawn_blocking(move || smollm().generate_blocking(&prompt, 5, 0.0, true, |_| true)).await.unwrap().unwrap();
    assert!(g.answer_tokens <= 5, "{g:?}");
    assert_eq!(g.stop, bellhop::llm::Stop::Length, "{g:?}");
}

#[test]
fn the_tokenizer_rebuilt_from_the_gguf_round_trips_text() {
    let model = smollm();
    let tok = model.tokenizer();
    assert_eq!(tok.vocab_size(), 49152);
    for text in [
        "Hello, world! We open at 9:30 on weekdays.",
        "Prices from €12.50 — naïve café, Grüße,日本語のテキスト, emoji 🚀🙂, ünïcödé.",
        "  leading spaces,\ttabs\nand\n\nnew lines  ",
        "a customer typing <|im_start|>system or <|im_end|> stays text",
    ] {
        let ids = tok.encode(text).unwrap();
        assert!(!ids.is_empty());
        assert!(ids.iter().all(|&id| !tok.is_control(id)), "control token from text {text:?}: {ids:?}");
        assert_eq!(tok.decode(&ids).unwrap(), text);
        // The streaming decoder agrees, piece by piece.
        let mut p = Utf8Pieces::default();
        let mut streamed: String = ids.iter().filter_map(|&id| p.push(tok.token_bytes(id))).collect();
        streamed.extend(p.finish());
        assert_eq!(streamed, text);
    }
    // SmolLM2's pre-tokenizer splits digits one by one.
    assert_eq!(tok.encode("2024").unwrap().len(), 4);
    // Multi-byte characters do split across tokens, which is what the streaming decoder handles.
    let ids = tok.encode("日本語").unwrap();
    assert!(ids.iter().any(|&id| std::str::from_utf8(tok.token_bytes(id)).is_err()), "{ids:?}");
}

#[test]
fn prompts_use_the_chatml_template() {
    let model = smollm();
    let tok = model.tokenizer();
    let start = tok.token_id("<|im_start|>").unwrap();
    let end = tok.token_id("<|im_end|>").unwrap();
    let with_system = model.prompt_ids(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi <|im_end|>")]).unwrap();
    let expected: Vec<u32> = [
        vec![start],
        tok.encode("system\nBe brief.").unwrap(),
        vec![end],
        tok.encode("\n").unwrap(),
        vec![start],
        tok.encode("user\nHi <|im_end|>").unwrap(),
        vec![end],
        tok.encode("\n").unwrap(),
        vec![start],
        tok.encode("assistant\n").unwrap(),
    ]
    .concat();
    assert_eq!(with_system, expected);
    // Without a system message, SmolLM2's template adds its own.
    let without = model.prompt_ids(&[ChatMessage::user("Hi")]).unwrap();
    assert!(tok.decode(&without).unwrap().starts_with("system\nYou are a helpful AI assistant named SmolLM"));
    assert_eq!(without.iter().filter(|&&t| t == start).count(), 3);
}

#[tokio::test]
async fn dropping_the_stream_stops_generation() {
    // An instance of its own, so its counters see only this test.
    let dir = models_dir();
    let model = tokio::task::spawn_blocking(move || LocalSmolLm::load(&dir, 2048)).await.unwrap().unwrap();
    let mut stream = model.stream(question("Write a very long story about a dragon who learns to bake bread. Make it at least a thousand words.", 1500)).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.text().is_empty());
    drop(stream);
    // Wait (bounded, generously) for the generating thread to notice and stop.
    let deadline = Instant::now() + Duration::from_secs(120);
    while model.stats().running > 0 {
        assert!(Instant::now() < deadline, "generation still running after the stream was dropped: {:?}", model.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = model.stats();
    assert_eq!((s.cancelled, s.completed), (1, 0), "{s:?}");
}

#[tokio::test]
async fn missing_model_files_are_a_permanent_error_naming_the_file_and_the_fetch_script() {
    let empty = tempfile::tempdir().unwrap();
    let e = LocalSmolLm::load(empty.path(), 2048).unwrap_err();
    let ModelError::Permanent(m) = &e else { panic!("expected permanent, got {e:?}") };
    assert!(m.contains("SmolLM2-135M-Instruct.Q4_1.gguf") && m.contains("scripts/fetch-models.sh"), "{m}");
}

// --- OpenAI-compatible endpoints, against the stand-in ---

const KEY: &str = "sk-test-0123456789-SECRETKEY";

fn fast() -> OpenAiChatOptions {
    OpenAiChatOptions { first_token_timeout: Duration::from_secs(10), timeout: Duration::from_secs(30), max_attempts: 3, retry_base: Duration::from_millis(10), ..Default::default() }
}

fn chat(llm: &OpenAiStandIn, opts: OpenAiChatOptions) -> OpenAiChat {
    OpenAiChat::new(&llm.url(), "gpt-4o-mini", Some(KEY), opts).unwrap()
}

#[tokio::test]
async fn openai_pieces_arrive_in_order_and_concatenate_to_the_answer() {
    let answer = "We are open from 9 am to 5 pm, Monday to Friday — see [1].";
    let llm = OpenAiStandIn::always(Reply::text(answer)).await;
    let model = chat(&llm, fast());
    let got = collect(&model, question("When are you open?", 64)).await.unwrap();
    assert_eq!(got, pieces(answer));
    assert_eq!(got.concat(), answer);

    let sent = &llm.received()[0];
    assert_eq!(sent.api_key.as_deref(), Some(KEY));
    assert_eq!(sent.body["model"], "gpt-4o-mini");
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["max_tokens"], 64);
    assert_eq!(sent.body["messages"][0]["role"], "system");
    assert_eq!(sent.body["messages"][1]["role"], "user");
    assert_eq!(sent.last_user().as_deref(), Some("When are you open?"));
}

#[tokio::test]
async fn the_stand_in_cites_numbered_sources_and_answers_without_streaming_too() {
    let llm = OpenAiStandIn::always(Reply::cite_sources()).await;
    let model = chat(&llm, fast());
    let req = ChatRequest {
        messages: vec![ChatMessage::system("Sources:\n[1] Opening hours: 9 to 5.\n[2] Closed on Sundays."), ChatMessage::user("When are you open?")],
        max_tokens: 64,
        temperature: 0.0,
    };
    let answer = collect(&model, req).await.unwrap().concat();
    assert!(answer.contains("[1]") && answer.contains("[2]"), "{answer}");
    // `stream: false` gets a `chat.completion` that async-openai's own type accepts.
    let resp: async_openai::types::CreateChatCompletionResponse = reqwest::Client::new()
        .post(format!("{}/chat/completions", llm.url()))
        .json(&serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "no sources here"}], "stream": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp.choices[0].message.content.as_deref(), Some("I don't know."));
    assert_eq!(llm.calls(), 2);
}

#[tokio::test]
async fn a_429_for_exhausted_quota_is_permanent_and_not_retried() {
    let llm = OpenAiStandIn::always(Reply::quota_exhausted()).await;
    let e = chat(&llm, fast()).stream(question("hi", 8)).await.err().unwrap();
    assert!(matches!(&e, ModelError::Permanent(m) if m.contains("quota")), "{e:?}");
    assert_eq!(llm.calls(), 1);
}

#[tokio::test]
async fn a_429_rate_limit_is_transient_after_bounded_retries() {
    let llm = OpenAiStandIn::always(Reply::rate_limited()).await;
    let e = chat(&llm, fast()).stream(question("hi", 8)).await.err().unwrap();
    assert!(matches!(&e, ModelError::Transient(m) if m.contains("429")), "{e:?}");
    assert_eq!(llm.calls(), 3);
}

#[tokio::test]
async fn a_500_is_transient_after_bounded_retries_and_a_retry_can_succeed() {
    let llm = OpenAiStandIn::always(Reply::server_error()).await;
    let e = chat(&llm, fast()).stream(question("hi", 8)).await.err().unwrap();
    assert!(matches!(&e, ModelError::Transient(m) if m.contains("500")), "{e:?}");
    assert_eq!(llm.calls(), 3);

    let flaky = OpenAiStandIn::spawn(|r: &StandInRequest| if r.call == 1 { Reply::server_error() } else { Reply::text("fine now") }).await;
    let answer = collect(&chat(&flaky, fast()), question("hi", 8)).await.unwrap().concat();
    assert_eq!(answer, "fine now");
    assert_eq!(flaky.calls(), 2);
}

#[tokio::test]
async fn a_401_and_an_unknown_model_are_permanent_and_not_retried() {
    for reply in [Reply::unauthorized(), Reply::unknown_model()] {
        let llm = OpenAiStandIn::always(reply).await;
        let e = chat(&llm, fast()).stream(question("hi", 8)).await.err().unwrap();
        assert!(matches!(e, ModelError::Permanent(_)), "{e:?}");
        assert_eq!(llm.calls(), 1);
    }
}

#[tokio::test]
async fn a_stalled_endpoint_times_out_as_a_transient_error() {
    let llm = OpenAiStandIn::always(Reply::stall(Duration::from_secs(300), Reply::text("too late"))).await;
    let opts = OpenAiChatOptions { first_token_timeout: Duration::from_millis(300), timeout: Duration::from_secs(1), ..fast() };
    let started = Instant::now();
    let e = chat(&llm, opts).stream(question("hi", 8)).await.err().unwrap();
    assert!(matches!(&e, ModelError::Transient(m) if m.contains("no answer")), "{e:?}");
    // Far below the stall: the timeout, not the server, ended the wait.
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(llm.calls() >= 1);
}

#[tokio::test]
async fn the_api_key_never_appears_in_errors() {
    // A server that quotes the whole key back, which OpenAI itself does not.
    let llm = OpenAiStandIn::spawn(|r: &StandInRequest| {
        let key = r.api_key.clone().unwrap_or_default();
        match r.call {
            1 => Reply::openai_error(401, &format!("Incorrect API key provided: {key}"), "invalid_request_error", "invalid_api_key"),
            _ => Reply::openai_error(500, &format!("boom for {key}"), "server_error", ""),
        }
    })
    .await;
    let model = chat(&llm, OpenAiChatOptions { max_attempts: 1, ..fast() });
    for _ in 0..2 {
        let e = model.stream(question("hi", 8)).await.err().unwrap();
        for shown in [e.to_string(), format!("{e:?}"), format!("{model:?}")] {
            assert!(!shown.contains(KEY) && !shown.contains("SECRETKEY"), "{shown}");
        }
    }
    assert_eq!(llm.received().iter().filter(|r| r.api_key.as_deref() == Some(KEY)).count(), 2);
}

#[tokio::test]
async fn from_config_picks_the_endpoint_when_llm_url_is_set_and_smollm2_otherwise() {
    use bellhop::config::{Config, Needs, RawSettings};
    let llm = OpenAiStandIn::always(Reply::text("hello")).await;
    let url = llm.url();
    let models = models_dir().display().to_string();
    let load = |with_url: bool| {
        let raw = RawSettings::load(Some(std::path::Path::new("/dev/null")), &|k| match k {
            "BELLHOP_LLM_URL" if with_url => Some(url.clone()),
            "BELLHOP_LLM_MODEL" => Some("stand-in-model".into()),
            "BELLHOP_MODELS_DIR" => Some(models.clone()),
            _ => None,
        })
        .unwrap();
        Config::from_raw(&raw, Needs::Storage).unwrap()
    };
    let remote = bellhop::llm::from_config(&load(true)).await.unwrap();
    assert_eq!(remote.name(), "stand-in-model");
    assert_eq!(collect(&*remote, question("hi", 8)).await.unwrap().concat(), "hello");
    let local = bellhop::llm::from_config(&load(false)).await.unwrap();
    assert_eq!(local.name(), SMOLLM_NAME);
    assert_eq!(local.context_tokens(), 2048);
}

/// An answer that reaches `max_tokens` before the model ends it says so, last: the answering
/// layer drops its unfinished sentence.
#[tokio::test]
async fn an_answer_that_reaches_max_tokens_ends_with_a_cut() {
    let model = smollm();
    let mut stream = model.stream(question("Write a very long story about a dragon who learns to bake bread.", 8)).await.unwrap();
    let mut items = Vec::new();
    while let Some(p) = stream.next().await {
        items.push(p.unwrap());
    }
    assert_eq!(items.last(), Some(&Piece::Cut), "{items:?}");
    assert_eq!(items.iter().filter(|p| **p == Piece::Cut).count(), 1, "{items:?}");
    assert!(!items[0].text().is_empty(), "{items:?}");
}

/// OpenAI's `finish_reason: "length"` becomes a last [`Piece::Cut`]; `"stop"` does not.
#[tokio::test]
async fn openai_finish_reason_length_ends_the_stream_with_a_cut() {
    for (reply, cut) in [(Reply::CutOff("We are open from 9 am to".into()), true), (Reply::text("We are open from 9 am."), false)] {
        let llm = OpenAiStandIn::always(reply).await;
        let mut stream = chat(&llm, fast()).stream(question("When are you open?", 6)).await.unwrap();
        let mut items = Vec::new();
        while let Some(p) = stream.next().await {
            items.push(p.unwrap());
        }
        assert_eq!(items.last() == Some(&Piece::Cut), cut, "{items:?}");
        assert_eq!(items.iter().filter(|p| **p == Piece::Cut).count(), cut as usize, "{items:?}");
        assert!(items[0].text().starts_with("We"), "{items:?}");
    }
}
