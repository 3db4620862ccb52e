//! The ingest crate's integration tests: one binary. Every test builds a real [`Ingestor`]
//! (`support::Harness`) over a temporary data directory and talks to it the way a sender would.
//!
//! [`Ingestor`]: vigil_ingest::Ingestor

mod correlation;
mod envelope;
mod recovery;
mod silence;
mod support;
mod syslog;
mod times;
