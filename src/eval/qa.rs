//! `bellhop eval qa`: rules for matching a customer's question to the owner's Q&A pairs
//! ([`crate::knowledge::qa::pick`]), on a set of small businesses' pairs (`data/eval/qa`), each
//! with customers' rewordings that should get the pair and questions that must get none.
//!
//! Set format: one business a line,
//! `{"business", "pairs": [{"question", "answer", "ask": [rewording, …]}], "negatives": [{"ask", "why"}]}`.
//! The questions of one business are matched against that business's pairs only, as a bot's are.
use crate::knowledge::qa::{AtHeart, Basis, Candidate, RULE, Rule, pick, with_answer};
use crate::models::Embedder;
use anyhow::Context;
use std::collections::HashMap;
use std::path::PathBuf;

/// What `bellhop eval qa` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct QaArgs {
    /// The set (`.jsonl`, one business a line).
    #[arg(long, default_value = "data/eval/qa/businesses.jsonl")]
    pub set: PathBuf,
    /// Print each question's nearest pairs and their cosines, then stop.
    #[arg(long)]
    pub dump: bool,
    /// Also list every miss and wrong match of each rule, not only of the rule answering uses.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(serde::Deserialize)]
struct Business {
    #[allow(dead_code)]
    business: String,
    pairs: Vec<Pair>,
    negatives: Vec<Negative>,
}

#[derive(serde::Deserialize)]
struct Pair {
    question: String,
    answer: String,
    ask: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Negative {
    ask: String,
    #[allow(dead_code)]
    why: String,
}

/// One rule's results.
#[derive(Default, serde::Serialize)]
struct Tally {
    rule: String,
    right: usize,
    wrong_pair: usize,
    missed: usize,
    false_matches: usize,
    #[serde(skip)]
    failures: Vec<String>,
}

/// The rules compared: the one answering uses first, then the candidates.
fn rules() -> Vec<Rule> {
    // The rule answering used before `bellhop eval qa`, for comparison.
    let before = Rule { basis: Basis::Question, threshold: 0.85, with_shared_word: None, margin: 0.0, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None };
    let mut out = vec![RULE, before];
    let mut add = |r: Rule| {
        if !out.contains(&r) {
            out.push(r)
        }
    };
    for t in [0.85, 0.80, 0.75, 0.70, 0.65, 0.60, 0.55] {
        add(Rule { basis: Basis::Question, threshold: t, with_shared_word: None, margin: 0.0, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None });
    }
    for t in [0.85, 0.80, 0.75, 0.70, 0.65, 0.60] {
        add(Rule { basis: Basis::QuestionOrAnswer, threshold: t, with_shared_word: None, margin: 0.0, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None });
    }
    for t in [0.75, 0.70, 0.65, 0.60] {
        for m in [0.05, 0.10] {
            add(Rule { basis: Basis::Question, threshold: t, with_shared_word: None, margin: m, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None });
            add(Rule { basis: Basis::QuestionOrAnswer, threshold: t, with_shared_word: None, margin: m, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None });
        }
    }
    for high in [0.85, 0.80, 0.75, 0.70] {
        for low in [0.75, 0.70, 0.65, 0.60, 0.55, 0.50] {
            if low < high {
                add(Rule { basis: Basis::Question, threshold: high, with_shared_word: Some(low), margin: 0.0, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None });
                add(Rule { basis: Basis::QuestionOrAnswer, threshold: high, with_shared_word: Some(low), margin: 0.0, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None });
                add(Rule { basis: Basis::QuestionOrAnswer, threshold: high, with_shared_word: Some(low), margin: 0.05, swap_guard: false, unless_differs: None, at_heart: AtHeart::Question, covered: None });
            }
        }
    }
    let guarded: Vec<Rule> = out.iter().map(|r| Rule { swap_guard: true, ..*r }).collect();
    out.extend(guarded.into_iter().filter(|r| *r != RULE));
    for basis in [Basis::Question, Basis::QuestionOrAnswer] {
        for high in [0.85, 0.80] {
            for low in [0.80, 0.75, 0.70, 0.65, 0.60, 0.55] {
                for margin in [0.0, 0.05] {
                    if low < high {
                        let r = Rule { basis, threshold: high, with_shared_word: None, margin, swap_guard: true, unless_differs: Some(low), at_heart: AtHeart::Question, covered: None };
                        if !out.contains(&r) {
                            out.push(r);
                        }
                    }
                }
            }
        }
    }
    // The lower bar asking more, or other, of the customer's words (the thirty-fourth session).
    let base = Rule { basis: Basis::QuestionOrAnswer, threshold: 0.80, with_shared_word: None, margin: 0.05, swap_guard: true, unless_differs: None, at_heart: AtHeart::Question, covered: None };
    for low in [0.60, 0.55, 0.50] {
        add_unique(&mut out, Rule { unless_differs: Some(low), at_heart: AtHeart::QuestionAndAnswer, ..base });
    }
    for low in [0.60, 0.55, 0.50, 0.45, 0.40] {
        add_unique(&mut out, Rule { covered: Some(low), ..base });
        for high in [0.70, 0.75] {
            add_unique(&mut out, Rule { covered: Some(low), unless_differs: Some(high), ..base });
        }
    }
    out
}

fn add_unique(out: &mut Vec<Rule>, r: Rule) {
    if !out.contains(&r) {
        out.push(r);
    }
}

fn describe(r: &Rule) -> String {
    let basis = match r.basis {
        Basis::Question => "cos(q, pair question)",
        Basis::QuestionOrAnswer => "max(cos(q, question), cos(q, question+answer))",
    };
    let mut s = format!("{basis} ≥ {:.2}", r.threshold);
    if let Some(low) = r.with_shared_word {
        s += &format!(", or ≥ {low:.2} with a shared word");
    }
    if r.swap_guard {
        s += ", not swapped";
    }
    if let Some(low) = r.unless_differs {
        s += &match r.at_heart {
            AtHeart::Question => format!(", or ≥ {low:.2} if no word differs"),
            AtHeart::QuestionAndAnswer => format!(", or ≥ {low:.2} if no word differs and the customer's words are in the pair"),
        };
    }
    if let Some(low) = r.covered {
        s += &format!(", or ≥ {low:.2} if the customer's words are all in the pair's question or answer");
    }
    if r.margin > 0.0 {
        s += &format!(", margin ≥ {:.2}", r.margin);
    }
    s
}

async fn embed_all(embedder: &dyn Embedder, texts: &[String]) -> anyhow::Result<HashMap<String, Vec<f32>>> {
    let mut out = HashMap::new();
    let unique: Vec<&str> = {
        let mut seen = std::collections::HashSet::new();
        texts.iter().map(String::as_str).filter(|t| seen.insert(*t)).collect()
    };
    for batch in unique.chunks(32) {
        let vectors = embedder.embed(batch).await?;
        for (t, v) in batch.iter().zip(vectors) {
            out.insert((*t).to_owned(), v);
        }
    }
    Ok(out)
}

/// `bellhop eval qa`: prints a table of every rule, the misses and wrong matches of the rule
/// answering uses, then one JSON line with every figure.
pub async fn qa(cfg: crate::config::Config, args: QaArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.set).with_context(|| format!("reading {}", args.set.display()))?;
    let set: Vec<Business> = text.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str).collect::<Result<_, _>>().context("reading the set")?;
    let embedder = crate::models::from_config(&cfg).await?;
    let mut texts = Vec::new();
    for b in &set {
        for p in &b.pairs {
            texts.push(p.question.clone());
            texts.push(with_answer(&p.question, &p.answer));
            texts.extend(p.ask.iter().cloned());
        }
        texts.extend(b.negatives.iter().map(|n| n.ask.clone()));
    }
    let vectors = embed_all(embedder.as_ref(), &texts).await?;
    let positives: usize = set.iter().flat_map(|b| &b.pairs).map(|p| p.ask.len()).sum();
    let negatives: usize = set.iter().map(|b| b.negatives.len()).sum();
    println!("{} businesses, {} pairs, {positives} rewordings that should match, {negatives} questions that must not; embedder {}", set.len(), set.iter().map(|b| b.pairs.len()).sum::<usize>(), embedder.name());
    if args.dump {
        let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        for b in &set {
            let asked: Vec<(Option<usize>, &str)> = b.pairs.iter().enumerate().flat_map(|(i, p)| p.ask.iter().map(move |a| (Some(i), a.as_str()))).chain(b.negatives.iter().map(|n| (None, n.ask.as_str()))).collect();
            for (want, ask) in asked {
                let v = &vectors[ask];
                let mut s: Vec<(f32, f32, usize)> = b.pairs.iter().enumerate().map(|(i, p)| (cos(v, &vectors[&p.question]), cos(v, &vectors[&with_answer(&p.question, &p.answer)]), i)).collect();
                s.sort_by(|a, b| b.0.max(b.1).total_cmp(&a.0.max(a.1)));
                let tag = match want { Some(i) if i == s[0].2 => "POS", Some(_) => "POS-OTHER", None => "NEG" };
                let sp = crate::domain::vocabulary::specifics(ask) == crate::domain::vocabulary::specifics(&b.pairs[s[0].2].question);
                let top = &b.pairs[s[0].2];
                println!("{tag}\t{:.3}\t{:.3}\t{:.3}\tswap={}\tdiffers={}\tcovered={}\tspec={}\t{ask:?}\t→ {:?}", s[0].0, s[0].1, s[0].0.max(s[0].1) - s.get(1).map_or(0.0, |x| x.0.max(x.1)), crate::knowledge::qa::swapped(ask, &top.question), crate::knowledge::qa::differs(ask, &top.question), crate::knowledge::qa::covered(ask, &top.question, &top.answer), sp, top.question);
            }
        }
        return Ok(());
    }
    let mut tallies = Vec::new();
    for rule in rules() {
        let mut t = Tally { rule: describe(&rule), ..Default::default() };
        for b in &set {
            let both: Vec<String> = b.pairs.iter().map(|p| with_answer(&p.question, &p.answer)).collect();
            let candidates: Vec<Candidate> = b
                .pairs
                .iter()
                .zip(&both)
                .map(|(p, w)| Candidate { question: &p.question, answer: &p.answer, question_vector: &vectors[&p.question], with_answer_vector: Some(&vectors[w]) })
                .collect();
            for (i, p) in b.pairs.iter().enumerate() {
                for ask in &p.ask {
                    match pick(&rule, ask, &vectors[ask], &candidates) {
                        Some(j) if j == i => t.right += 1,
                        Some(j) => {
                            t.wrong_pair += 1;
                            t.failures.push(format!("wrong pair: {ask:?} → {:?} (should be {:?})", b.pairs[j].question, p.question));
                        }
                        None => {
                            t.missed += 1;
                            t.failures.push(format!("missed: {ask:?} (should be {:?})", p.question));
                        }
                    }
                }
            }
            for n in &b.negatives {
                if let Some(j) = pick(&rule, &n.ask, &vectors[&n.ask], &candidates) {
                    t.false_matches += 1;
                    t.failures.push(format!("false match: {:?} → {:?}", n.ask, b.pairs[j].question));
                }
            }
        }
        tallies.push(t);
    }
    println!("\n| rule | right | wrong pair | missed | false matches on negatives |\n|---|---|---|---|---|");
    for (i, t) in tallies.iter().enumerate() {
        let mark = match i {
            0 => " (answering)",
            1 => " (before)",
            _ => "",
        };
        println!("| {}{mark} | {}/{positives} | {} | {} | {}/{negatives} |", t.rule, t.right, t.wrong_pair, t.missed, t.false_matches);
    }
    let safe = tallies.iter().filter(|t| t.false_matches == 0 && t.wrong_pair == 0).max_by_key(|t| t.right);
    if let Some(best) = safe {
        println!("\nmost right with no false match and no wrong pair: {} ({}/{positives})", best.rule, best.right);
    }
    for (i, t) in tallies.iter().enumerate() {
        if i == 0 || args.verbose {
            println!("\n{}:", t.rule);
            for f in &t.failures {
                println!("  {f}");
            }
        }
    }
    println!("{}", serde_json::json!({ "positives": positives, "negatives": negatives, "rules": tallies }));
    Ok(())
}
