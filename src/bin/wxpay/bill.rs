//! `wxpay bill download`: query a bill, download the file it names, check its digest against the signed
//! answer, unzip it, and write it — the steps a merchant otherwise scripts around two calls.

use std::fs::File;
use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use wechatpay::Options;

use crate::config::{ConfigArgs, Resolved};
use crate::failure::{Exit, Failure};

/// The largest bill file accepted (as downloaded, compressed): it is held in memory to check its digest.
const BILL_CAP: usize = 1 << 30;

/// `wxpay bill …`.
#[derive(Subcommand)]
pub(crate) enum BillCommand {
    /// Queries a bill (GET v3/bill/tradebill or v3/bill/fundflowbill), downloads the file it names
    /// (compressed, up to 1 GiB; --timeout for a slow one), checks the file's digest against the signed
    /// answer, unzips it and writes it to --output or stdout. Nothing is written unless the digest checks out.
    Download(DownloadArgs),
}

/// Which bill.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Kind {
    /// 交易账单: the day's trades and refunds (GET v3/bill/tradebill).
    Trade,
    /// 资金账单: the day's money movements on an account (GET v3/bill/fundflowbill).
    Fundflow,
}

/// What `bill download` takes.
#[derive(Args)]
pub(crate) struct DownloadArgs {
    /// The bill's day, `yyyy-MM-dd`.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: String,
    /// Which bill.
    #[arg(long, value_enum, default_value = "trade")]
    kind: Kind,
    /// For `--kind trade`: ALL (the default), SUCCESS or REFUND.
    #[arg(long, value_name = "TYPE")]
    bill_type: Option<String>,
    /// For `--kind fundflow`: BASIC (the default), OPERATION or FEES.
    #[arg(long, value_name = "TYPE")]
    account_type: Option<String>,
    /// For `--kind trade`, as a service provider: the sub-merchant whose bill it is.
    #[arg(long, value_name = "MCHID")]
    sub_mchid: Option<String>,
    /// The file to write (replaced only once the bill is checked). Default: stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write the file as downloaded, gzip-compressed, instead of unzipping it.
    #[arg(long)]
    gzip: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

impl BillCommand {
    /// Its name after `wxpay bill`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            BillCommand::Download(_) => "download",
        }
    }
}

pub(crate) fn run(command: BillCommand, before: ConfigArgs) -> crate::CliResult {
    match command {
        BillCommand::Download(args) => {
            let config = before.then(args.config.clone());
            download(&args, &config)
        }
    }
}

/// The bill query's path and parameters, checked before anything is configured or sent.
fn query(args: &DownloadArgs) -> Result<(&'static str, Options), Failure> {
    let date = args.date.as_bytes();
    let is_date = date.len() == 10
        && date.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !is_date {
        return Err(Failure::usage(format!(
            "--date `{}` is not a day as yyyy-MM-dd",
            args.date
        )));
    }
    let refuse = |flag: &str, kind: &str| {
        Failure::usage(format!("{flag} is for `--kind {kind}` bills")).note(match kind {
            "trade" => "a fundflow bill is chosen by --account-type",
            _ => "a trade bill is chosen by --bill-type (and --sub-mchid)",
        })
    };
    let one_of = |flag: &str, value: &str, allowed: &[&str]| {
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(Failure::usage(format!(
                "{flag} `{value}` is not one of {}",
                allowed.join(", ")
            )))
        }
    };
    let options = Options::new().query("bill_date", &args.date);
    match args.kind {
        Kind::Trade => {
            if args.account_type.is_some() {
                return Err(refuse("--account-type", "fundflow"));
            }
            let mut options = options;
            if let Some(mchid) = &args.sub_mchid {
                options = options.query("sub_mchid", mchid);
            }
            if let Some(bill_type) = &args.bill_type {
                one_of("--bill-type", bill_type, &["ALL", "SUCCESS", "REFUND"])?;
                options = options.query("bill_type", bill_type);
            }
            Ok(("v3/bill/tradebill", options.query("tar_type", "GZIP")))
        }
        Kind::Fundflow => {
            if args.bill_type.is_some() {
                return Err(refuse("--bill-type", "trade"));
            }
            if args.sub_mchid.is_some() {
                return Err(refuse("--sub-mchid", "trade"));
            }
            let mut options = options;
            if let Some(account_type) = &args.account_type {
                one_of("--account-type", account_type, &["BASIC", "OPERATION", "FEES"])?;
                options = options.query("account_type", account_type);
            }
            Ok(("v3/bill/fundflowbill", options.query("tar_type", "GZIP")))
        }
    }
}

fn download(args: &DownloadArgs, config: &ConfigArgs) -> crate::CliResult {
    let (path, options) = query(args)?;
    if args.gzip && args.output.is_none() && crate::output::stdout_is_terminal() {
        return Err(Failure::usage("--gzip writes binary data, and stdout is a terminal")
            .note("give -o FILE, or pipe it: `wxpay bill download … --gzip > bill.csv.gz`"));
    }
    let partial = args.output.as_deref().map(Partial::create).transpose()?;
    // A large merchant's day can exceed the client's default 64 MiB cap on an answer, even compressed.
    let builder = Resolved::load(config)?.builder(config, true)?;
    let client = crate::config::build(builder.max_response_size(BILL_CAP))?;
    let answer = client
        .chain(path)
        .get(options)
        .map_err(|e| Failure::from_wechatpay(&e))?;
    let bill: Value = answer.json().map_err(|e| Failure::from_wechatpay(&e))?;
    let progress = crate::progress::Progress::default();
    let gzip = wechatpay::media::download_bill_with(&client, &bill, progress.attach(Options::new())).wait();
    progress.finish();
    // A digest mismatch is a verification failure (exit 5): the file is incomplete or was altered.
    let gzip = gzip.map_err(|e| Failure::from_wechatpay(&e))?;
    let written = match partial {
        Some(partial) => partial.commit(&gzip, !args.gzip)?,
        None => {
            let mut out = std::io::stdout().lock();
            let n = write_bill(&mut out, &gzip, !args.gzip, "stdout")?;
            out.flush().map_err(|e| cannot_write("stdout", e))?;
            n
        }
    };
    let hash = bill.get("hash_type").and_then(Value::as_str).unwrap_or("digest");
    let into = args
        .output
        .as_ref()
        .map_or_else(|| "stdout".to_owned(), |f| f.display().to_string());
    eprintln!(
        "wxpay: {path} of {}: {} bytes downloaded, {hash} checked; {written} bytes{} written to {into}",
        args.date,
        gzip.len(),
        if args.gzip { " (gzip)" } else { "" },
    );
    Ok(())
}

fn cannot_write(into: &str, e: std::io::Error) -> Failure {
    Failure::other(format!("cannot write to {into}")).note(format!("caused by: {e}"))
}

/// Writes the bill (unzipped when `unzip`) into `out`, named `into` in errors; returns the bytes written.
fn write_bill(out: &mut impl std::io::Write, gzip: &[u8], unzip: bool, into: &str) -> Result<u64, Failure> {
    if !unzip {
        out.write_all(gzip).map_err(|e| cannot_write(into, e))?;
        return Ok(gzip.len() as u64);
    }
    // The digest was checked over the unzipped bill (WeChat Pay's digest is the original bill's), so the
    // content is the one the signed answer vouched for; it is streamed out, never held whole.
    let mut reader = flate2::read::MultiGzDecoder::new(gzip);
    let mut buf = vec![0; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            Failure::new(Exit::Other, "the bill is not valid gzip, though its digest checked out")
                .note(format!("caused by: {e}"))
                .note("--gzip writes it as downloaded")
        })?;
        if n == 0 {
            return Ok(total);
        }
        out.write_all(&buf[..n]).map_err(|e| cannot_write(into, e))?;
        total += n as u64;
    }
}

/// The output file in the making: a temporary file beside it, renamed into place by [`Partial::commit`]
/// once the bill is complete and checked, and removed if anything fails first, so a failure never leaves a
/// partial bill where a complete one is expected. Made before the download: a place that cannot be written
/// is said before anything is fetched.
struct Partial {
    file: PathBuf,
    /// Empty once committed.
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Partial {
    fn create(file: &Path) -> Result<Self, Failure> {
        let name = file
            .file_name()
            .ok_or_else(|| Failure::usage(format!("-o `{}` names no file", file.display())))?;
        let temp = file.with_file_name(format!(".{}.partial", name.to_string_lossy()));
        let out = File::create(&temp).map_err(|e| cannot_write(&file.display().to_string(), e))?;
        Ok(Partial {
            file: file.to_owned(),
            temp,
            out: Some(BufWriter::new(out)),
        })
    }

    /// Writes the bill (unzipped when `unzip`), syncs it and renames it into place; returns the bytes
    /// written.
    fn commit(mut self, gzip: &[u8], unzip: bool) -> Result<u64, Failure> {
        let into = self.temp.display().to_string();
        let mut out = self.out.take().expect("a partial file is committed once");
        let n = write_bill(&mut out, gzip, unzip, &into)?;
        out.into_inner()
            .map_err(|e| cannot_write(&into, e.into_error()))?
            .sync_all()
            .map_err(|e| cannot_write(&into, e))?;
        std::fs::rename(&self.temp, &self.file).map_err(|e| cannot_write(&self.file.display().to_string(), e))?;
        self.temp = PathBuf::new();
        Ok(n)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
