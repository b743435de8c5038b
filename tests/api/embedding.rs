//! The local embedder computes what all-MiniLM-L6-v2 computes: bellhop's own encoder (fused
//! projections, batches of similar lengths run in parallel, its own GELU) against
//! candle-transformers' reference `BertModel` with the recipe of the model card (mean pooling
//! over real tokens, L2 normalisation), on texts of very different lengths embedded together.
use crate::retrieval_support::embedder;
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
