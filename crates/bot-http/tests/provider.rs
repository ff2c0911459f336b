//! Alone in its test binary (its own process), so nothing has installed a
//! crypto provider before it runs.

#[test]
fn clients_build_with_no_provider_installed_by_hand() {
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    bot_http::builder().build().unwrap();
    bot_http::client();
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
}
