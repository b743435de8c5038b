//! Knowledge: turning a tenant's documents into indexed chunks. `chunk` splits text along its
//! structure within a token budget; `pipeline` runs chunk → embed → store for a source and
//! deletes sources. Extraction from file formats and ingestion jobs build on these.
pub mod chunk;
pub mod pipeline;

pub use chunk::{ChunkSettings, Document, chunk_document, chunk_id, count_tokens};
pub use pipeline::{delete_source, index_document, index_documents};
