//! Safe URL fetching (placeholder while the module is written).
