//! The store's integration tests: one binary. The `conformance` module is written against the
//! `Store` trait only, so a future PostgreSQL backend runs the same suite through its own
//! `support::Harness`; `sqlite` holds what needs raw access to the SQLite files (tampering with
//! rows and evidence on disk), and `records` the hand edits of incidents and tokens that the
//! states recorded in the audit trail reveal.

mod conformance;
mod findings;
mod records;
mod sqlite;
mod support;
