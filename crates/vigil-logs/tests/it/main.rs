//! Integration tests of the log store: one binary, a module per area.

mod crash;
mod queries;
mod store;
mod support;
