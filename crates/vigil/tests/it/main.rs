//! Integration tests of the `vigil` binary: each drives the real executable as a user would.

mod backup;
mod cli;
mod datadir;
mod durability;
mod escalation;
mod escapes;
mod hunt;
mod layers;
mod logs;
mod oncall;
mod support;
