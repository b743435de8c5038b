//! Knowledge: an owner's sources turned into text, chunks and index entries. This part holds the
//! untrusted edge — [`extract`] (bytes → structured text) and [`fetch`] (URLs → bytes, safely).
pub mod extract;
pub mod fetch;
