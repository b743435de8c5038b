//! Chunking properties: every chunk within the token limit (title and headings included),
//! nothing lost, ids deterministic and distinct.
use bellhop::domain::TenantId;
use bellhop::knowledge::{ChunkSettings, Document, chunk_document, chunk_id, count_tokens};

/// A deterministic pseudo-random document with headings, lists, tables, long paragraphs and an
/// over-long "word".
fn generated(seed: u64) -> Document {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let words = ["refund", "policy", "delivery", "the", "customer", "within", "days", "account", "café", "naïve", "€50", "e.g.", "support", "2024"];
    let mut text = String::new();
    for _ in 0..(5 + next(20)) {
        match next(6) {
            0 => text.push_str(&format!("{} Heading {}\n\n", "#".repeat(1 + next(3) as usize), next(100))),
            1 => (0..1 + next(5)).for_each(|i| text.push_str(&format!("* item {i} {}\n", words[next(14) as usize]))),
            2 => text.push_str("| a | b |\n|---|---|\n| 1 | 2 |\n\n"),
            3 => text.push_str(&format!("{}\n\n", "x".repeat(300 + next(900) as usize))),
            _ => {
                for s in 0..(1 + next(30)) {
                    let len = 3 + next(25);
                    let sentence: Vec<&str> = (0..len).map(|_| words[next(14) as usize]).collect();
                    text.push_str(&format!("Sentence {s} {}. ", sentence.join(" ")));
                }
                text.push_str("\n\n");
            }
        }
    }
    Document { title: format!("Generated document {seed}"), text, url: None }
}

#[test]
fn every_chunk_respects_the_token_limit_including_title_and_headings() {
    for seed in 0..40 {
        for (max, overlap) in [(32, 0), (64, 16), (128, 32), (256, 32)] {
            let doc = generated(seed);
            let chunks = chunk_document(TenantId(1), "doc", &doc, &ChunkSettings { max_tokens: max, overlap_tokens: overlap });
            assert!(!chunks.is_empty());
            for c in &chunks {
                let n = count_tokens(&c.index_text());
                assert!(n <= max, "seed {seed}: chunk {} has {n} tokens > {max}", c.position);
                assert!(!c.text.trim().is_empty());
            }
            // Nothing is lost: every word of the document appears in some chunk.
            let all: String = chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ");
            let body = doc.text.lines().filter(|l| !l.starts_with('#'));
            for w in body.flat_map(str::split_whitespace).filter(|w| w.len() < 40) {
                assert!(all.contains(w), "seed {seed}: {w:?} lost");
            }
        }
    }
}

#[test]
fn chunk_ids_are_deterministic_and_distinct() {
    let doc = generated(7);
    let s = ChunkSettings { max_tokens: 64, overlap_tokens: 8 };
    let a = chunk_document(TenantId(1), "doc", &doc, &s);
    let b = chunk_document(TenantId(1), "doc", &doc, &s);
    assert_eq!(a, b, "same input, same chunks and ids");
    let ids: std::collections::HashSet<_> = a.iter().map(|c| c.chunk_id).collect();
    assert_eq!(ids.len(), a.len());
    assert_eq!(a[1].chunk_id, chunk_id(TenantId(1), "doc", 1));
    assert_ne!(chunk_id(TenantId(1), "doc", 0), chunk_id(TenantId(2), "doc", 0), "tenant is part of the id");
    assert_ne!(chunk_id(TenantId(1), "doc", 0), chunk_id(TenantId(1), "doc2", 0));
    assert_ne!(chunk_id(TenantId(1), "ab", 0), chunk_id(TenantId(1), "a", 0));
}

#[test]
fn consecutive_chunks_of_a_section_overlap() {
    let text: String = (0..40).map(|i| format!("Sentence number {i} is here. ")).collect();
    let doc = Document { title: String::new(), text, url: None };
    let c = chunk_document(TenantId(1), "d", &doc, &ChunkSettings { max_tokens: 64, overlap_tokens: 16 });
    assert!(c.len() >= 3);
    for w in c.windows(2) {
        let last_sentence = w[0].text.rsplit(". ").next().unwrap().trim_end_matches('.');
        assert!(w[1].text.contains(last_sentence), "{:?} → {:?}", w[0].text, w[1].text);
    }
}

/// A 200-row price list, as the CSV and HTML extractors write it, chunked: every row (a product
/// and its price) is whole in one chunk, and no chunk holds part of a row.
#[tokio::test]
async fn every_row_of_a_big_price_list_stays_whole_in_one_chunk() {
    let names = ["Latte", "Flat white", "Iced mocha with oat milk", "Earl Grey tea", "Croissant"];
    let rows: Vec<(String, String)> = (0..200).map(|i| (format!("{} no. {i}", names[i % names.len()]), format!("{}.{:02}", 2 + i % 7, i % 100))).collect();
    let csv: String = std::iter::once("Product,Price\n".to_owned()).chain(rows.iter().map(|(n, p)| format!("{n},{p}\n"))).collect();
    let html = format!(
        "<!doctype html><html><head><title>Prices</title></head><body><h1>Prices</h1><table><tr><th>Product</th><th>Price</th></tr>{}</table></body></html>",
        rows.iter().map(|(n, p)| format!("<tr><td>{n}</td><td>{p}</td></tr>")).collect::<String>()
    );
    let cases = [
        ("prices.csv", csv.into_bytes(), rows.iter().map(|(n, p)| format!("Product: {n} | Price: {p}")).collect::<Vec<_>>()),
        ("prices.html", html.into_bytes(), rows.iter().map(|(n, p)| format!("Product: {n} | Price: {p}")).collect()),
    ];
    for (file, bytes, expected_rows) in cases {
        let extracted = bellhop::knowledge::extract::extract(bytes, file).await.unwrap();
        let doc = Document { title: "Price list".into(), text: extracted.text, url: None };
        for settings in [ChunkSettings::default(), ChunkSettings { max_tokens: 64, overlap_tokens: 16 }] {
            let chunks = chunk_document(TenantId(1), "prices", &doc, &settings);
            assert!(chunks.len() > 3, "{file}: the list needs several chunks");
            for row in &expected_rows {
                assert!(chunks.iter().any(|c| c.text.lines().any(|l| l == row)), "{file}, {settings:?}: {row:?} is not whole in any chunk");
            }
            for c in &chunks {
                for line in c.text.lines() {
                    assert!(expected_rows.iter().any(|r| r == line), "{file}, {settings:?}: a row was cut: {line:?}");
                }
                assert!(count_tokens(&c.index_text()) <= settings.max_tokens);
            }
        }
    }
}
