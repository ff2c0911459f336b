//! Where outbound HTTP clients are made.
//!
//! One reqwest (0.13, the one the Azure SDK uses) and one TLS crypto
//! provider, ring, are built for the whole workspace. reqwest is built
//! with `rustls-no-provider` and the Azure SDK without its rustls features,
//! because those turn on rustls's aws-lc-rs provider and the C build of
//! aws-lc-sys, the slowest part of a first build.
//!
//! Without a bundled provider, reqwest takes rustls's process-wide default
//! and panics when building a client if none is installed. That holds for
//! the clients the Azure SDK builds inside its own constructors too. So
//! [`install_crypto_provider`] runs before any client is built: [`builder`]
//! and [`client`] call it, and so does bot-storage before it builds an Azure
//! SDK client. `clippy.toml` refuses `reqwest::Client::new` and
//! `reqwest::Client::builder` everywhere else.

/// Installs ring as rustls's process-wide crypto provider, once. A provider
/// that the embedding program installed first is kept.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err: another provider is already the default; keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `reqwest::Client::builder()`, after installing the crypto provider.
///
/// HTTP/1.1 only, as our clients have always spoken: the Azure SDK turns on
/// reqwest's `http2`, which would otherwise be offered over TLS too.
#[allow(clippy::disallowed_methods)]
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder().http1_only()
}

/// A client with reqwest's defaults; what `reqwest::Client::new()` gives.
///
/// # Panics
///
/// If the TLS backend cannot be initialised, as `reqwest::Client::new()`.
pub fn client() -> reqwest::Client {
    builder().build().expect("building an HTTP client")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ring_is_the_process_provider() {
        super::install_crypto_provider();
        let provider = rustls::crypto::CryptoProvider::get_default().expect("a provider");
        let ring = rustls::crypto::ring::default_provider();
        assert_eq!(
            format!("{:?}", provider.cipher_suites),
            format!("{:?}", ring.cipher_suites)
        );
    }
}
