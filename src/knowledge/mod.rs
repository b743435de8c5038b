//! Knowledge: an owner's sources turned into text, chunks and index entries.
//!
//! - [`extract`]: untrusted bytes → structured text (type from the bytes; PDFs in a limited
//!   child process; zip-bomb and size limits).
//! - [`fetch`]: URLs → bytes, safely (every resolved address checked, redirects re-checked,
//!   robots.txt, sitemap and same-site crawl).
//! - [`chunk`]: structure-respecting chunks within a token budget, deterministic ids.
//! - [`pipeline`]: chunk → embed → index for a source; delete a source's chunks.
//! - [`ingest`]: sources as jobs, from upload to `ready` or `failed` with a reason.
//! - [`qa`]: a bot's Q&A pairs matched to a question.
//! - [`scope`]: which sources a bot answers from (its own and those shared with it).
pub mod chunk;
pub mod extract;
pub mod fetch;
pub mod ingest;
pub mod pipeline;
pub mod qa;
pub mod scope;

pub use chunk::{ChunkSettings, Document, chunk_document, chunk_id, count_tokens};
pub use pipeline::{delete_source, index_document, index_documents};
