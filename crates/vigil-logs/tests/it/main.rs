//! Integration tests of the log store: one binary, a module per area.

mod crash;
mod queries;
mod recovery;
mod store;
mod support;
