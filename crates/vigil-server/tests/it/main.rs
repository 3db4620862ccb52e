//! Integration tests of the HTTP API: each test starts the real server on 127.0.0.1:0 with its
//! own temporary data directory and drives it over HTTP with `vigil-client`. No mocks.

mod alerts;
mod auth;
mod connections;
mod errors;
mod events;
mod evidence;
mod findings;
mod incidents;
mod integrity;
mod openapi;
mod org;
mod random;
mod review;
mod support;
