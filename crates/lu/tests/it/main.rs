//! Intent recognition: embedded accuracy, and CLU against a local server built from the documented payloads.
//! One test binary for the crate, so a clean build links it once.

mod accuracy;
mod clu;
