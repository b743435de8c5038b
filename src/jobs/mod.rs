//! TODO(foundation)
