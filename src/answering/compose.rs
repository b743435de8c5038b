//! Composing an answer, independent of where it is shown (Telegram or the admin test chat):
//! the owner's Q&A pair, else retrieval, else "I don't know"; with confident passages, the model
//! answers from them (streaming its text as it goes) — or, when the model fails or times out,
//! the passages are quoted. Citations are checked: only numbers of sources actually given to the
//! model survive, so a reply can only ever cite this tenant's retrieved sources.
use super::prompt::{self, NO_ANSWER, SourceText, Turn, Voice};
use crate::config::AnsweringConfig;
use crate::domain::TenantId;
use crate::llm::{ChatModel, ChatRequest, ModelError};
use crate::retrieval::{Hit, Retriever, SearchOptions};
use crate::storage::Db;
use futures::StreamExt;
use std::time::Duration;

/// A source shown under an answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cited {
    /// The number used in the answer's text ([n]).
    pub n: usize,
    pub title: String,
    pub url: Option<String>,
    pub source_id: String,
}

/// What happens to a question before any model is involved.
pub enum Prepared {
    /// The owner's exact answer.
    Qa(String),
    /// Nothing confident enough: the bot doesn't know.
    NotFound,
    /// Passages worth answering from, best first.
    Passages(Vec<Hit>),
}

/// An answer ready to store and show.
#[derive(Debug, Clone)]
pub struct Composed {
    /// `answer` (model), `extractive` (quoted passages), `fallback` (the model found no answer);
    /// from the whole pipeline also `qa` (the owner's pair) and `unavailable` (no credit left).
    pub kind: &'static str,
    /// Plain text; [n] refer to `sources`.
    pub text: String,
    pub sources: Vec<Cited>,
    /// Model tokens used (prompt + answer), 0 without a model call.
    pub tokens: u64,
    /// Why the model wasn't used or failed, for logs.
    pub note: Option<String>,
    /// Time spent waiting for the model (zero without a call): the pipeline's own overhead is
    /// the rest.
    pub model_time: Duration,
}

/// Q&A pair, then retrieval with the confidence threshold.
#[tracing::instrument(name = "answering.retrieve", skip_all, fields(tenant_id = tenant.0))]
pub async fn prepare(db: &Db, cfg: &AnsweringConfig, retriever: &Retriever, tenant: TenantId, query: &str) -> anyhow::Result<Prepared> {
    // One embedding of the question serves both the Q&A match and retrieval.
    let opts = SearchOptions { limit: cfg.sources, ..Default::default() };
    let vectors = retriever.query_vectors(query, &opts).await?;
    if let Some(pair) = crate::knowledge::qa::match_qa(db, retriever, tenant, query, vectors.first().map(Vec::as_slice)).await? {
        return Ok(Prepared::Qa(pair.answer));
    }
    let hits = retriever.search_with(tenant, query, &opts, vectors).await?;
    let min = cfg.min_similarity;
    if hits.first().is_none_or(|h| h.similarity.unwrap_or(0.0) < min) {
        return Ok(Prepared::NotFound);
    }
    // Keep passages reasonably close to the best one; far weaker ones only add noise.
    Ok(Prepared::Passages(hits.into_iter().filter(|h| h.similarity.unwrap_or(0.0) >= min * 0.8).collect()))
}

/// How the model is to be called.
pub struct ModelCall<'a> {
    pub model: &'a dyn ChatModel,
    pub max_tokens: u32,
    pub temperature: f32,
    pub timeout: Duration,
    /// Least share of the answer's content words found in its sources or the question; below
    /// it the passages are quoted instead (0 turns the check off).
    pub min_support: f32,
}

/// Answers from `hits` with the model, publishing the text so far to `progress` as it grows.
/// Never fails: a model error or timeout gives the extractive answer instead.
#[tracing::instrument(name = "answering.generate", skip_all)]
pub async fn generate(call: Option<ModelCall<'_>>, voice: &Voice<'_>, history: &[Turn], question: &str, hits: &[Hit], progress: Option<&tokio::sync::watch::Sender<String>>) -> Composed {
    let Some(call) = call else { return extractive(hits, Some("no model call (budget)".into())) };
    let sources: Vec<SourceText<'_>> = hits.iter().map(|h| SourceText { title: &h.payload.title, text: &h.payload.text }).collect();
    let p = prompt::build(voice, history, question, &sources, call.model.context_tokens(), call.max_tokens as usize);
    if p.sources_used == 0 {
        return extractive(hits, Some("no source fits the model's context".into()));
    }
    let req = ChatRequest { messages: p.messages, max_tokens: call.max_tokens, temperature: call.temperature };
    let started = std::time::Instant::now();
    let run = async {
        let mut stream = call.model.stream(req).await?;
        let mut text = String::new();
        while let Some(piece) = stream.next().await {
            text.push_str(&piece?);
            if let Some(tx) = progress {
                let shown = visible(&text);
                if !shown.is_empty() {
                    let _ = tx.send(shown);
                }
            }
        }
        Ok::<_, ModelError>(text)
    };
    let outcome = tokio::time::timeout(call.timeout, run).await;
    let model_time = started.elapsed();
    let text = match outcome {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return Composed { model_time, ..extractive(hits, Some(format!("{e}"))) },
        Err(_) => return Composed { model_time, ..extractive(hits, Some(format!("the model did not finish within {} s", call.timeout.as_secs()))) },
    };
    let answer_tokens = crate::knowledge::chunk::count_tokens(&text);
    let tokens = (p.tokens + answer_tokens) as u64;
    if text.contains(NO_ANSWER) || text.trim().is_empty() {
        return Composed { kind: "fallback", text: String::new(), sources: vec![], tokens, note: Some("the model found no answer in the sources".into()), model_time };
    }
    let given = hits[..p.sources_used].iter().map(|h| h.payload.text.as_str()).chain([question, voice.business]);
    let supported = support(&text, given);
    if supported < call.min_support {
        let note = format!("the model's answer was not supported by the sources ({:.0} % of its words found there)", supported * 100.0);
        return Composed { tokens, model_time, ..extractive(hits, Some(note)) };
    }
    let (clean, cited) = cite(&text, p.sources_used);
    // No citation at all: the answer still came from the sources the model was given.
    let numbers: Vec<usize> = if cited.is_empty() { (1..=p.sources_used).collect() } else { cited };
    let sources = numbers.into_iter().map(|n| cited_source(n, &hits[n - 1])).collect();
    Composed { kind: "answer", text: clean.trim().to_owned(), sources, tokens, note: None, model_time }
}

/// Share of `answer`'s content words (four letters or more, common words aside) that occur in
/// `given` — the passages the model was shown, the question, the business's name — compared by
/// their first five letters, so "returned" finds "return" and "cakes" finds "cake". A small
/// model that drifts off its sources (copying a greeting, inventing a policy) scores low; an
/// answer that restates its sources scores high. 1.0 for an answer with fewer than two
/// content words.
pub fn support<'a>(answer: &str, given: impl IntoIterator<Item = &'a str>) -> f32 {
    const COMMON: &[&str] = &[
        "about", "after", "again", "also", "been", "before", "being", "both", "came", "come", "could", "does", "doing", "done", "each", "even", "every", "from", "have",
        "having", "here", "into", "just", "know", "like", "make", "many", "more", "most", "much", "must", "need", "only", "other", "over", "please", "same", "should",
        "some", "such", "sure", "than", "thank", "thanks", "that", "their", "them", "then", "there", "these", "they", "this", "those", "very", "want", "well", "were",
        "what", "when", "where", "which", "while", "will", "with", "would", "your", "yours", "help", "happy", "glad", "sources", "source",
    ];
    let stem = |w: &str| -> String { w.chars().take(5).collect() };
    let words = |t: &str| -> Vec<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 4)
            .map(|w| w.to_lowercase())
            .filter(|w| !COMMON.contains(&w.as_str()))
            .map(|w| stem(&w))
            .collect()
    };
    let known: std::collections::HashSet<String> = given.into_iter().flat_map(words).collect();
    let said = words(answer);
    if said.len() < 2 {
        return 1.0;
    }
    said.iter().filter(|w| known.contains(*w)).count() as f32 / said.len() as f32
}

/// A source as listed under an answer: its title and, when there is one, the section the
/// passage is in ("Orders and delivery › Delivery"), so passages of one document are told apart.
fn cited_source(n: usize, h: &Hit) -> Cited {
    let title = if h.payload.title.is_empty() { "Untitled" } else { h.payload.title.as_str() };
    let title = match h.payload.headings.last() {
        Some(section) if !section.is_empty() && section != title => format!("{title} › {section}"),
        _ => title.to_owned(),
    };
    Cited { n, title, url: h.payload.url.clone(), source_id: h.payload.source_id.clone() }
}

/// The model's text as a draft may show it: nothing while it could still be the NO_ANSWER marker.
fn visible(text: &str) -> String {
    let t = text.trim_start();
    if t.contains(NO_ANSWER) || NO_ANSWER.starts_with(t) { String::new() } else { t.to_owned() }
}

/// Keeps the citations `[k]` (also `[1, 2]`) with 1 ≤ k ≤ `sources`; drops every other bracketed
/// number. Returns the text and the cited numbers in order of first use.
pub fn cite(text: &str, sources: usize) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut cited = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(']').filter(|&c| c <= 24);
        let nums: Option<Vec<usize>> = close.and_then(|c| {
            let inner = &after[..c];
            if inner.trim().is_empty() {
                return None;
            }
            inner.split(',').map(|p| p.trim().parse::<usize>().ok()).collect()
        });
        match (close, nums) {
            (Some(c), Some(nums)) => {
                let keep: Vec<usize> = nums.into_iter().filter(|&k| k >= 1 && k <= sources).collect();
                for &k in &keep {
                    if !cited.contains(&k) {
                        cited.push(k);
                    }
                }
                let mut dedup = keep.clone();
                dedup.dedup();
                for k in &dedup {
                    out.push_str(&format!("[{k}]"));
                }
                rest = &after[c + 1..];
                // A dropped citation leaves its surrounding spaces: keep one.
                if dedup.is_empty() && out.ends_with(' ') && rest.starts_with([' ', '.', ',']) {
                    out.pop();
                }
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, cited)
}

/// The passages themselves, quoted with their sources: the answer when no model can be used.
pub fn extractive(hits: &[Hit], note: Option<String>) -> Composed {
    let top = &hits[..hits.len().min(3)];
    let mut text = String::from("Here is what I found:");
    for (i, h) in top.iter().enumerate() {
        let quote: String = h.payload.text.trim().chars().take(600).collect();
        let more = if h.payload.text.trim().chars().count() > 600 { "…" } else { "" };
        text.push_str(&format!("\n\n“{}{more}” [{}]", quote.trim(), i + 1));
    }
    let sources = top.iter().enumerate().map(|(i, h)| cited_source(i + 1, h)).collect();
    Composed { kind: "extractive", text, sources, tokens: 0, note, model_time: Duration::ZERO }
}

/// The answer as Telegram HTML: everything escaped, then the list of sources (linked when they
/// have an address).
pub fn render_html(text: &str, sources: &[Cited]) -> String {
    use crate::telegram::html::escape;
    let mut out = escape(text);
    if !sources.is_empty() {
        out.push_str("\n\n<b>Sources</b>");
        for s in sources {
            match &s.url {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => out.push_str(&format!("\n[{}] <a href=\"{}\">{}</a>", s.n, escape(u), escape(&s.title))),
                _ => out.push_str(&format!("\n[{}] {}", s.n, escape(&s.title))),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_outside_the_given_sources_are_dropped() {
        let (t, c) = cite("Open at 7 [1]. Free delivery [3][2]. See [12] and [1, 2, 9]. Array [a] stays.", 2);
        assert_eq!(t, "Open at 7 [1]. Free delivery [2]. See and [1][2]. Array [a] stays.");
        assert_eq!(c, vec![1, 2]);
    }

    #[test]
    fn no_answer_marker_is_never_drafted() {
        assert_eq!(visible("NO_"), "");
        assert_eq!(visible(" NO_ANSWER"), "");
    }

    #[test]
    fn answers_that_drift_off_their_sources_have_low_support() {
        let src = ["Unopened cakes can be returned within 24 hours with the receipt.", "Can I return a cake I bought yesterday?", "Rosa's Cakes"];
        assert!(support("Yes: unopened cakes can be returned within 24 hours, with the receipt [1].", src) > 0.9);
        assert!(support("Hi! I'm the assistant of Rosa's Cakes. Ask me anything about your cake, and I'll tell you what to do next.", src) < 0.5);
        assert!(support("No, no, no! I'm sorry for any misunderstanding. I'll be back in a minute. You're welcome to try the cake tomorrow.", src) < 0.5);
        assert_eq!(support("Yes [1].", src), 1.0);
        assert!(support("No, no, no! You can't find it anywhere.", src) < 0.5);
        assert_eq!(visible("We open"), "We open");
    }

    #[test]
    fn html_is_escaped_and_only_web_links_are_links() {
        let s = vec![
            Cited { n: 1, title: "<b>Menu</b>".into(), url: Some("https://x.test/a?b=1&c=2".into()), source_id: "src-1".into() },
            Cited { n: 2, title: "FAQ".into(), url: Some("javascript:alert(1)".into()), source_id: "src-2".into() },
        ];
        let h = render_html("1 < 2 & <script>", &s);
        assert!(h.starts_with("1 &lt; 2 &amp; &lt;script&gt;"));
        assert!(h.contains("<a href=\"https://x.test/a?b=1&amp;c=2\">&lt;b&gt;Menu&lt;/b&gt;</a>"));
        assert!(h.contains("[2] FAQ") && !h.contains("javascript"));
    }
}
