//! Integration tests of vigil-events, one module per area.

mod access;
mod batch;
mod framer;
mod random;
mod syslog;
