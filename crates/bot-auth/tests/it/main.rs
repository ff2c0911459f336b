//! Credentials and inbound token checks against the local OpenID stand-in.
//! One test binary for the crate, so a clean build links it once.

mod credentials;
mod inbound;
