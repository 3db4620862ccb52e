//! Integration tests of vigil-sigma: the whole SigmaHQ corpus loads.

mod corpus;
