//! botctl as operators run it: the real binary against local stand-ins.
//! One test binary for the crate, so a clean build links it once.

mod cli;
mod conversations;
mod kb_cli;
mod lu_import;
mod proxy;
mod state_and_transcripts;
