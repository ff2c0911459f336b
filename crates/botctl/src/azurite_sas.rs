//! `botctl azurite-sas`: an account SAS for Azurite's well-known development
//! account, so a local stack can hand the bot `BOT__..__BLOB__SAS` without a
//! second implementation of the signature. It signs with the public dev key
//! only; it never takes a real account key.

use std::process::ExitCode;

use anyhow::Context;
use bot_storage::blob::sas::{account_sas, AZURITE_ACCOUNT, AZURITE_KEY};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

#[derive(Args, Debug, Clone)]
pub struct AzuriteSasArgs {
    /// Hours until the token expires.
    #[arg(long, default_value_t = 24)]
    pub hours: i64,
}

pub fn run(args: AzuriteSasArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (1..=24 * 365).contains(&args.hours),
        "--hours must be 1-8760"
    );
    let sas = account_sas(
        AZURITE_ACCOUNT,
        &SecretString::from(AZURITE_KEY),
        chrono::Utc::now() + chrono::Duration::hours(args.hours),
    )
    .context("signing the SAS")?;
    println!("{}", sas.expose_secret());
    Ok(ExitCode::SUCCESS)
}
