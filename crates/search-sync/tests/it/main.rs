//! Integration tests of search-sync against local stand-ins of Azure AI
//! Search and Azure AI Language (see tests/it/support: no emulator of either
//! service exists, so the stand-ins implement the documented REST subset
//! from the REST reference's payloads, and enforce its limits).

mod copy;
mod faults;
mod kb;
mod support;
mod sync_diff;
