//! The storage backends against their local stand-ins (Azurite, the Cosmos DB
//! server, SQLite). One test binary, so a clean build links the crate once;
//! the TLS-provider checks stay in binaries of their own (see them).

mod common;

mod azure;
mod conformance;
