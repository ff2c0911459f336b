//! Connector client operations and retries against local channel stand-ins.
//! One test binary for the crate, so a clean build links it once.

mod connector_operations;
mod connector_retry;
