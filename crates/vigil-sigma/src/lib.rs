//! vigil-sigma
