//! Black-box tests: the real `bot-api` binary on a random port.

mod support;

mod bad_input;
mod concurrency;
mod drain;
mod export_blob;
mod messages;
mod restart;
mod telemetry;
