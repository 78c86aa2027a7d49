//! `wxpay certificates download`: PHP's CertificateDownloader — download the platform certificates,
//! decrypt them with the APIv3 key, verify the answer with them, and write `wechatpay_<SERIAL>.pem`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use wechatpay::certificates::{self, PlatformCertificate};

use crate::config::{self, ConfigArgs, Resolved};
use crate::failure::{Exit, Failure};
use crate::output;

/// `wxpay certificates …`.
#[derive(Subcommand)]
pub(crate) enum CertificatesCommand {
    /// Downloads the platform certificates (GET v3/certificates), decrypts them with the APIv3 key,
    /// verifies the answer with the certificates themselves (and any configured key), and writes
    /// `wechatpay_<SERIAL>.pem` into DIR. Prints one line per certificate: serial, validity, file.
    ///
    /// Merchants onboarded since late 2024 have no platform certificates: WeChat Pay answers 404
    /// RESOURCE_NOT_EXISTS, and they verify with the WeChat Pay public key (PUB_KEY_ID_…) instead.
    Download {
        /// The directory to write the certificates to (created if missing).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// The APIv3 key. Prefer env WECHATPAY_APIV3_KEY or `apiv3_key` in the config: flags show in `ps`.
        #[arg(long, value_name = "KEY")]
        apiv3_key: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

impl CertificatesCommand {
    /// Its name after `wxpay certificates`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            CertificatesCommand::Download { .. } => "download",
        }
    }
}

pub(crate) fn run(command: CertificatesCommand, before: ConfigArgs) -> crate::CliResult {
    match command {
        CertificatesCommand::Download {
            output,
            apiv3_key,
            config,
        } => download(&output, apiv3_key, &before.then(config)),
    }
}

fn download(dir: &Path, apiv3_key: Option<String>, args: &ConfigArgs) -> crate::CliResult {
    let resolved = Resolved::load(args)?;
    let key = apiv3_key
        .or_else(|| resolved.apiv3_key().map(str::to_owned))
        .ok_or_else(|| {
            Failure::config("no APIv3 key configured: it decrypts the certificates")
                .note("set WECHATPAY_APIV3_KEY, put `apiv3_key` in a --config file or --profile, or give --apiv3-key")
        })?;
    // With no key to trust yet (bootstrapping), the download verifies with the certificates it brings.
    let builder = resolved.builder(args, false)?.apiv3_key(&key);
    let client = config::build(builder)?;
    if std::io::stderr().is_terminal() {
        eprintln!("wxpay: downloading platform certificates from {}…", client.base_uri());
    }
    let certs = certificates::download(&client, &key).map_err(|e| {
        let failure = Failure::from_wechatpay(&e);
        if e.status() == Some(404) {
            failure.note("public-key mode: configure --public-key-id PUB_KEY_ID_… and --public-key FILE instead")
        } else if e.is_decode() {
            Failure::with_sources(Exit::Verification, &e, &e).note("is the APIv3 key right?")
        } else {
            failure
        }
    })?;
    std::fs::create_dir_all(dir).map_err(|e| {
        Failure::usage(format!("cannot create the directory {}", dir.display())).note(format!("caused by: {e}"))
    })?;
    for cert in &certs {
        let path = write(dir, cert)?;
        output::print_line(&format!(
            "{}\t{}\t{}\t{}",
            cert.serial_no(),
            cert.effective_time(),
            cert.expire_time(),
            path.display()
        ))?;
    }
    Ok(())
}

fn write(dir: &Path, cert: &PlatformCertificate) -> Result<PathBuf, Failure> {
    let path = dir.join(format!("wechatpay_{}.pem", cert.serial_no()));
    std::fs::write(&path, cert.pem())
        .map_err(|e| Failure::other(format!("cannot write {}", path.display())).note(format!("caused by: {e}")))?;
    Ok(path)
}
