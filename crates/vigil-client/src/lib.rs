//! vigil-client
