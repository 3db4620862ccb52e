//! vigil-detect

pub mod event;

pub use event::{Event, FieldValue};
