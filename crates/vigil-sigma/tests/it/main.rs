//! Integration tests of vigil-sigma: the whole SigmaHQ corpus loads.

mod corpus;
mod files;
