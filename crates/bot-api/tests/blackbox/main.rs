//! Black-box tests: the real `bot-api` binary on a random port.

mod support;

mod auth;
mod bad_input;
mod channels;
mod concurrency;
mod drain;
mod encoder;
mod export_blob;
mod flaky_channel;
mod handoff;
mod messages;
mod outbox;
mod restart;
mod smoke;
mod teams;
mod telemetry;
