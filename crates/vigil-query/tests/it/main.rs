//! Integration tests of the query language: one binary, a module per area.

mod cases;
mod guide;
mod random;
