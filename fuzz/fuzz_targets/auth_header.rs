//! The Authorization header and JWT decoding path that runs before any key
//! is fetched, and the serviceUrl allow-list.
#![no_main]

use bot_auth::header::{bearer_token, inspect};
use bot_auth::ServiceUrlPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = bearer_token(Some(&text)) {
        let _ = inspect(token);
    }
    // The same bytes as the token itself.
    let _ = inspect(&text);
    let policy = ServiceUrlPolicy::new(&bot_auth::constants::DEFAULT_SERVICE_HOSTS, false)
        .expect("default hosts are valid");
    let _ = policy.check(&text);
});
