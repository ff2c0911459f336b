//! In-process tests: the application built from settings as `bot-api`
//! builds it, called through its router (or served on a loopback port when
//! a real HTTP client must reach it). One test binary, so a clean build
//! links the application once for all of them.

mod harness;

mod channel_auth;
mod directline;
mod lu_dispatch;
mod outbox_progress;
mod probes;
mod serve_mode;
mod storage;
