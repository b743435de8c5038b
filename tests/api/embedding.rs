//! The local embedder computes what all-MiniLM-L6-v2 computes: bellhop's own encoder (fused
//! projections, batches of similar lengths run in parallel, its own GELU) against
//! candle-transformers' reference `BertModel` with the recipe of the model card (mean pooling
//! over real tokens, L2 normalisation), on texts of very different lengths embedded together.
use crate::retrieval_support::{embedder, minilm};
use bellhop::models::{Embedder, LocalMiniLm};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

fn reference(texts: &[&str]) -> Vec<Vec<f32>> {
    let dir = std::path::Path::new(&std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR")).join(bellhop::models::MINILM_DIR);
    let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let mut tok = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tok.with_truncation(Some(TruncationParams { max_length: 256, ..Default::default() })).unwrap();
    tok.with_padding(Some(PaddingParams::default()));
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, &Device::Cpu).unwrap() };
    let model = BertModel::load(vb, &config).unwrap();
    // One text at a time: no padding at all in the reference.
    texts
        .iter()
        .map(|t| {
            let enc = tok.encode(*t, true).unwrap();
            let ids = Tensor::new(enc.get_ids(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            let hidden = model.forward(&ids, &ids.zeros_like().unwrap(), None).unwrap(); // (1, len, 384)
            let mut v: Vec<f32> = hidden.mean(1).unwrap().squeeze(0).unwrap().to_vec1().unwrap();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

#[tokio::test]
async fn the_local_encoder_matches_the_reference_bert() {
    let long = "Refunds are given within 30 days of purchase when the receipt is shown. ".repeat(40);
    let texts = [
        "Hi",
        "Can I return a cake I bought yesterday?",
        "I was born in 1960 and worked abroad for ten years. Can I still get the full State Pension?",
        "Opening hours",
        long.as_str(), // over 256 word pieces: truncated, as the model was trained
        "Wie lange dauert die Lieferung nach Österreich?",
        "Can I return a cake I bought yesterday?",
    ];
    let ours = embedder().embed(&texts).await.unwrap();
    let theirs = reference(&texts);
    for ((t, a), b) in texts.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a.len(), 384);
        let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let max_diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(cos > 0.99999 && max_diff < 1e-3, "{:.40}…: cosine {cos}, largest difference {max_diff}", t);
    }
    assert_eq!(ours[1], ours[6], "the same text embeds the same, wherever it is in the batch");
}

/// Small calls made at the same time (twenty jobs each embedding a question or a passage's
/// sentences) run as a few merged passes, and each gets the vectors of its own texts — the same
/// as embedding them alone.
#[tokio::test]
async fn small_calls_made_at_once_are_merged_and_each_gets_its_own_vectors() {
    let model = minilm();
    let calls: Vec<Vec<String>> = (0..20)
        .map(|i| match i % 3 {
            0 => vec![format!("When does shop {i} open on Saturdays?")],
            1 => vec![format!("Shop {i} opens at 9:00 every weekday."), "Items can be returned within 30 days with the receipt.".to_owned()],
            _ => vec![format!("Do you deliver to district {i}, and how much does it cost for a cake of {i} people? ").repeat(3)],
        })
        .collect();
    let alone: Vec<Vec<Vec<f32>>> = calls.iter().map(|c| model.embed_blocking(&c.iter().map(String::as_str).collect::<Vec<_>>()).unwrap()).collect();
    let before = model.merged_passes();
    let refs: Vec<Vec<&str>> = calls.iter().map(|c| c.iter().map(String::as_str).collect()).collect();
    let together = futures::future::join_all(refs.iter().map(|r| model.embed(r))).await;
    let passes = model.merged_passes() - before;
    assert!((1..=5).contains(&passes), "20 calls at once took {passes} passes");
    for ((c, a), t) in calls.iter().zip(&alone).zip(together) {
        let t = t.unwrap();
        assert_eq!(t.len(), c.len(), "one vector per text of the call");
        for (x, y) in a.iter().zip(&t) {
            let max_diff = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
            assert!(max_diff < 1e-5, "{:.40}…: largest difference {max_diff} from embedding it alone", c[0]);
        }
    }
}

/// The packed weights (`PACKED_FILE`, next to the model's): written by the first load, mapped
/// and not written again by the next, made again when the model file changes, and kept in the
/// process's memory where no file can be written — the same vectors every way.
#[tokio::test]
async fn packed_weights_are_written_once_reused_and_made_again_when_the_model_changes() {
    use std::os::unix::fs::MetadataExt;
    let shared = std::path::PathBuf::from(std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR")).join(bellhop::models::MINILM_DIR);
    let models = tempfile::tempdir().unwrap();
    let dir = models.path().join(bellhop::models::MINILM_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(shared.join(f), dir.join(f)).unwrap();
    }
    let packed = dir.join(bellhop::models::PACKED_FILE);
    let texts = ["When do you open on Saturdays?", "Refunds are given within 30 days of purchase when the receipt is shown."];
    let load = || LocalMiniLm::load(models.path()).unwrap_or_else(|e| panic!("{e}"));
    let inode = || std::fs::metadata(&packed).unwrap().ino();

    let first = load();
    assert_eq!(first.packed_file().as_deref(), Some(packed.as_path()), "the first load writes the packed file");
    let vectors = first.embed_blocking(&texts).unwrap();
    assert_eq!(vectors, minilm().embed_blocking(&texts).unwrap(), "the same vectors as the shared model's");
    let written = inode();
    let mode = |p: &std::path::Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!(mode(&packed), mode(&dir.join("model.safetensors")), "readable by whoever may read the model");

    let second = load();
    assert_eq!(second.packed_file().as_deref(), Some(packed.as_path()));
    assert_eq!(inode(), written, "a current packed file is mapped, not written again");
    assert_eq!(second.embed_blocking(&texts).unwrap(), vectors);

    // A new model file (a new download): its modification time differs, so it is packed again.
    let model = std::fs::File::options().write(true).open(dir.join("model.safetensors")).unwrap();
    model.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60)).unwrap();
    drop(model);
    let third = load();
    assert_ne!(inode(), written, "packed again from the changed model file");
    assert_eq!(third.embed_blocking(&texts).unwrap(), vectors);

    // Nowhere to write the file (here: a directory in its place): kept in memory, same vectors.
    std::fs::remove_file(&packed).unwrap();
    std::fs::create_dir(&packed).unwrap();
    let fourth = load();
    assert_eq!(fourth.packed_file(), None, "kept in memory");
    assert_eq!(fourth.embed_blocking(&texts).unwrap(), vectors);
    // The processes loaded before go on with the file they mapped.
    assert_eq!(first.embed_blocking(&texts).unwrap(), vectors);
}
