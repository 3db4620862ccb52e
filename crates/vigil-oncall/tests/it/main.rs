//! Scenario tests of vigil-oncall through its public API: schedules written as documents
//! (JSON here, the same serde shape as `org.yaml`), tables of instants and expected answers.

mod coverage;
mod dst;
mod follow_the_sun;
mod random;
mod rotations;
mod support;
mod validation;
