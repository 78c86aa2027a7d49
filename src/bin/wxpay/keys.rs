//! `wxpay keys …`: inspecting keys and certificates.

use std::path::PathBuf;

use clap::Subcommand;
use wechatpay::PublicKey;

use crate::failure::{Exit, Failure};
use crate::output;

/// `wxpay keys …`.
#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Prints the serial number of an X.509 certificate (PEM) as WeChat Pay writes it: upper-case hex.
    Serial {
        /// The certificate file.
        cert: PathBuf,
    },
}

pub(crate) fn run(command: KeysCommand) -> crate::CliResult {
    match command {
        KeysCommand::Serial { cert } => serial(&cert),
    }
}

fn serial(cert: &std::path::Path) -> crate::CliResult {
    let path = std::path::absolute(cert).unwrap_or_else(|_| cert.to_path_buf());
    let key = PublicKey::load(&format!("file://{}", path.display()))
        .map_err(|e| Failure::with_sources(Exit::Usage, &e, &e))?;
    let serial = key.certificate_serial().ok_or_else(|| {
        Failure::usage(format!(
            "{} holds a public key, not a certificate, so it has no serial",
            cert.display()
        ))
        .note("a WeChat Pay public key is named by its PUB_KEY_ID_… instead")
    })?;
    output::print_line(serial)
}
