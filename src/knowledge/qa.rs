//! The owner's Q&A pairs as answers: a question that matches one (the same words, or nearly the
//! same meaning) gets the owner's own answer, before any retrieval or model.
use crate::domain::vocabulary::specifics;
use crate::domain::{BotId, TenantId};
use crate::retrieval::Retriever;
use crate::storage::{Db, sources};
use anyhow::Context;

/// Normalised for matching Q&A pairs: lower case, letters and digits only, single spaces.
pub fn normalise(q: &str) -> String {
    q.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `bot`'s Q&A pair that answers `question`, if one does: the same words, or a question the
/// embedder finds nearly identical (cosine ≥ 0.85) that names the same numbers, weekdays and
/// months ([`specifics`]): to the embedder "Are you open on Monday?" is the pair "Are you open
/// on Sunday?" (0.92), whose answer would be the wrong day's.
///
/// `question_vector` is the question's embedding when the caller has it already (answering
/// embeds each question once, for this and for retrieval); the pairs' vectors are remembered.
/// (`None`: the pairs no bot uses yet, for the playground before the business has a bot.)
pub async fn match_qa(db: &Db, retriever: &Retriever, tenant: TenantId, bot: Option<BotId>, question: &str, question_vector: Option<&[f32]>) -> anyhow::Result<Option<sources::QaPair>> {
    let pairs = sources::list_qa(&db.pool, tenant, bot).await?;
    if pairs.is_empty() {
        return Ok(None);
    }
    let wanted = normalise(question);
    if let Some(p) = pairs.iter().find(|p| normalise(&p.question) == wanted) {
        return Ok(Some(p.clone()));
    }
    let own;
    let q = match question_vector {
        Some(v) => v,
        None => {
            own = retriever.embedder().embed(&[question]).await?.into_iter().next().context("no embedding returned")?;
            own.as_slice()
        }
    };
    let texts: Vec<&str> = pairs.iter().map(|p| p.question.as_str()).collect();
    let vectors = retriever.embed_memoised(&texts).await?;
    let asked = specifics(question);
    let best = vectors
        .iter()
        .zip(&pairs)
        .filter(|(_, p)| specifics(&p.question) == asked)
        .map(|(v, p)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), p))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Ok(best.filter(|(s, _)| *s >= 0.85).map(|(_, p)| p.clone()))
}
