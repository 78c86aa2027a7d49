//! `wxpay`: the WeChat Pay command line.
//!
//! One module per command family: [`call`] (the five verbs), [`config`], [`certificates`], [`notify`],
//! [`keys`], [`mock`], plus [`failure`] (exit codes) and [`output`] (how answers are printed).

mod call;
mod certificates;
mod config;
mod failure;
mod keys;
mod mock;
mod notify;
mod output;
mod progress;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::failure::Failure;

/// What a command ends with.
pub(crate) type CliResult = Result<(), Failure>;

/// The exit codes, as `--help` shows them (a macro, so that `concat!` can use it).
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success (a 2xx answer, verified)
  1  any other failure (e.g. writing the output)
  2  usage: bad flag or argument, bad --json, bad NAME=VALUE, unreadable input file, missing placeholder
  3  configuration: missing or invalid mchid, serial, keys, certificates, APIv3 key or base URI
  4  API error: WeChat Pay answered non-2xx (code, message and Request-ID on stderr)
  5  verification failed: an answer or callback whose signature (or decryption) does not check out
  6  transport: could not connect, send or read (refused, DNS, TLS, timeout, redirect, size cap)"
    };
}

const EXAMPLES: &str = concat!(
    "\
Examples (the four seed endpoints of the busifavor (商家券) family, against `wxpay mock serve`):

  wxpay mock serve --state-dir ./sandbox > sandbox.json & sleep 1   # it prints its JSON line once it listens
  wxpay --config sandbox.json post v3/marketing/busifavor/coupons/send \\
      --json '{\"openid\":\"xsd3434454567676\",\"appid\":\"wx1234567889999\",\"stock_id\":\"100088\",\"out_request_no\":\"1002600620019090123143254435\",\"coupon_code\":\"sxxe34343434\"}'
  wxpay --config sandbox.json post v3/marketing/busifavor/coupons/associate \\
      --json '{\"stock_id\":\"100088\",\"coupon_code\":\"sxxe34343434\",\"out_trade_no\":\"MCH_ORDER_20240520001\",\"out_request_no\":\"1002600620019090123143254436\"}'
  wxpay --config sandbox.json post v3/marketing/busifavor/coupons/disassociate --json @disassociate.json
  wxpay --config sandbox.json post v3/marketing/busifavor/coupons/use \\
      --json '{\"coupon_code\":\"sxxe34343434\",\"stock_id\":\"100088\",\"appid\":\"wx1234567889999\",\"use_time\":\"2015-05-20T13:29:35+08:00\",\"use_request_no\":\"1002600620019090123143254435\",\"openid\":\"xsd3434454567676\"}'
  wxpay --config sandbox.json get 'v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}' \\
      --param openid=xsd3434454567676 --param coupon_code=sxxe34343434 --param appid=wx1234567889999
  wxpay --config sandbox.json get 'v3/marketing/busifavor/users/{openid}/coupons' \\
      --param openid=xsd3434454567676 --query appid=wx1234567889999 --query limit=10
  wxpay --config sandbox.json post v3/marketing/busifavor/coupons/use --json - --dry-run < use.json

Configuration, lowest to highest precedence: --profile NAME (or WXPAY_PROFILE) from the profiles file
(`wxpay config path`), then --config FILE (the JSON `wxpay mock serve` prints), then the environment
(WECHATPAY_MCHID, WECHATPAY_SERIAL, WECHATPAY_PRIVATE_KEY, WECHATPAY_PUBLIC_KEY_ID, WECHATPAY_PUBLIC_KEY,
WECHATPAY_CERTS as ID=PATH,…, WECHATPAY_APIV3_KEY, WECHATPAY_BASE_URI), then flags. Secrets are never printed.

",
    exit_codes!()
);

const CALL_HELP: &str = concat!(
    "\
Examples:
  wxpay --config sandbox.json post v3/marketing/busifavor/coupons/use --json @use.json
  wxpay --config sandbox.json get 'v3/marketing/busifavor/stocks/{stock_id}' --param stock_id=100088 -i
  wxpay --config sandbox.json get 'v3/marketing/busifavor/users/{openid}/coupons' \\
      --param openid=xsd3434454567676 --query appid=wx1234567889999 --query limit=10

The answer's JSON goes to stdout: pretty on a terminal, compact when piped. See `wxpay --help` for more.

",
    exit_codes!()
);

/// WeChat Pay API v3 from the command line: call any v3 path, signed and verified.
#[derive(Parser)]
#[command(name = "wxpay", version, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) config: config::ConfigArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// GET a v3 path.
    #[command(after_help = CALL_HELP)]
    Get(call::CallArgs),
    /// POST to a v3 path.
    #[command(after_help = CALL_HELP)]
    Post(call::CallArgs),
    /// PUT to a v3 path.
    #[command(after_help = CALL_HELP)]
    Put(call::CallArgs),
    /// PATCH a v3 path.
    #[command(after_help = CALL_HELP)]
    Patch(call::CallArgs),
    /// DELETE a v3 path.
    #[command(after_help = CALL_HELP)]
    Delete(call::CallArgs),
    /// Show, list and save configurations and profiles.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
    /// Platform certificates.
    Certificates {
        #[command(subcommand)]
        command: certificates::CertificatesCommand,
    },
    /// Callbacks (notifications) WeChat Pay sends.
    Notify {
        #[command(subcommand)]
        command: notify::NotifyCommand,
    },
    /// Keys and certificates.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// The embedded WeChat Pay sandbox.
    Mock {
        #[command(subcommand)]
        command: mock::MockCommand,
    },
    /// Prints a shell completion script (e.g. `wxpay completions bash > /etc/bash_completion.d/wxpay`).
    Completions {
        /// The shell.
        shell: Shell,
    },
}

fn run(cli: Cli) -> CliResult {
    use wechatpay::Method;
    let config = cli.config;
    match cli.command {
        Command::Get(args) => call::run(Method::GET, args, &config),
        Command::Post(args) => call::run(Method::POST, args, &config),
        Command::Put(args) => call::run(Method::PUT, args, &config),
        Command::Patch(args) => call::run(Method::PATCH, args, &config),
        Command::Delete(args) => call::run(Method::DELETE, args, &config),
        Command::Config { command } => config::run(command, &config),
        Command::Certificates { command } => certificates::run(command, &config),
        Command::Notify { command } => notify::run(command, &config),
        Command::Keys { command } => keys::run(command),
        Command::Mock { command } => mock::run(command),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "wxpay", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
