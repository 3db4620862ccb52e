//! vigil-events
