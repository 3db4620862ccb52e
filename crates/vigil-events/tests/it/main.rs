//! Integration tests of vigil-events, one module per area.

mod batch;
mod framer;
mod random;
mod syslog;
