//! The knowledge-base backends: embedded (multi-turn, quality, snapshots) and remote (local servers built from the documented payloads).
//! One test binary for the crate, so a clean build links it once.

mod embedded;
mod quality;
mod remote;
mod snapshot;
