//! Data hub library (数据汇聚/融合): sources and their field mappings, streaming
//! readers, the ingest pipeline with rejection reports and resumable checkpoints,
//! incremental entity resolution (一人一档), a tantivy/jieba search index, masking
//! for list display, and entity profiles with provenance.
//!
//! Sans-IO apart from reading the files it is handed and the search index's
//! directory: no clock (time comes in as [`pingan_core::Timestamp`]), no SQL, no
//! HTTP. The server persists what the in-memory structures here produce.

#[cfg(feature = "bench")]
pub mod bench;
pub mod hub;
pub mod ingest;
pub mod mapping;
pub mod mask;
pub mod model;
pub mod profile;
pub mod read;
pub mod registry;
pub mod resolve;
pub mod search;
pub mod transform;
