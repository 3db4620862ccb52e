//! Conformance tests of the detection engine on real data: SigmaHQ's regression cases and the
//! reference tools' outputs on the shared EVTX samples. One test binary; the rule set is
//! compiled and the samples decoded once (see [`support`]).

mod declared;
mod pool;
mod random;
mod reference;
mod regression;
mod support;
mod table;
