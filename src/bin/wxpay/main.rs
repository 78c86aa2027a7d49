//! `wxpay`: the WeChat Pay command line.
//!
//! One module per command family: [`call`] (the five verbs, checked first by [`preflight`]), [`config`],
//! [`certificates`], [`notify`], [`keys`], [`mock`], [`explore`] (`endpoints`, `describe`), [`complete`]
//! (shell completion), plus [`failure`] (exit codes), [`output`] (how answers are printed), [`sensitive`]
//! (the documented encrypted fields a call seals) and [`suggest`] (did-you-mean for a mistyped command).

mod bill;
mod call;
mod certificates;
mod complete;
mod config;
mod explore;
mod failure;
mod keys;
mod mock;
mod notify;
mod output;
mod paysign;
mod preflight;
mod progress;
mod sensitive;
mod suggest;
mod upload;

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
  2  usage: bad flag or argument (or one the command does not use), bad --json or --xml (or one
     the path's API does not take), bad NAME=VALUE, unreadable input file, missing placeholder,
     a --param PATH has no placeholder for, an undocumented PATH (describe), or a failed catalog
     check under --strict
  3  configuration: missing or invalid mchid, serial, keys, certificates, APIv3 or APIv2 key,
     client certificate or base URI; an unknown key in a --config file
  4  API error: WeChat Pay answered non-2xx, or an APIv2 FAIL (code, message and Request-ID on stderr)
  5  verification failed: an answer or callback whose signature (or decryption), or a bill whose
     digest, does not check out
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

APIv2 (XML): a path whose first segment is `v2`; its fields go in as a JSON object, the answer's come out as one:

  WECHATPAY_MCHID=1900000109 WECHATPAY_APIV2_KEY=… wxpay post v2/pay/micropay \\
      --xml '{\"appid\":\"wx8888888888888888\",\"mch_id\":\"1900000109\",\"body\":\"QQ公仔\",\"out_trade_no\":\"1217752501201407033233368018\",\"total_fee\":888,\"spbill_create_ip\":\"8.8.8.8\",\"auth_code\":\"120061098828009406\"}'
  wxpay post v2/secapi/pay/refund --xml @refund.json   # presents merchant_cert/merchant_key (or merchant_p12)
  wxpay get v2/papay/entrustweb --dry-run -q appid=wx1 -q mch_id=1900000109 -q plan_id=12535 \\
      -q contract_code=100001256 -q request_serial=1000 -q contract_display_account=微信代扣 \\
      -q notify_url=https://example.com/papay -q version=1.0 -q timestamp=1414488825   # a GET signs its query

The catalog of the 1,147 documented operations (no configuration needed):

  wxpay endpoints refund                        # search templates and titles (--v2, --v3, --json)
  wxpay describe 'v3->pay->transactions->jsapi' # fields, PHP and Rust twins, flags, sandbox support
  wxpay post v3/pay/transactions/nativ --json @order.json --strict   # refused: not documented
  source <(wxpay completions bash)              # PATH arguments complete to the documented templates

The tools around the calls:

  wxpay --config sandbox.json upload logo.png   # a media upload: prints {\"media_id\":…} (a video: its endpoint)
  wxpay --config sandbox.json bill download --date 2026-11-29 -o trade.csv   # query, download, check, unzip
  wxpay post v3/pay/transactions/jsapi --json @order.json | wxpay paysign jsapi --appid wx… --prepay-id -

Configuration, lowest to highest precedence: --profile NAME (or WXPAY_PROFILE) from the profiles file
(`wxpay config path`), then --config FILE (the JSON `wxpay mock serve` prints), then the environment
(WECHATPAY_MCHID, WECHATPAY_SERIAL, WECHATPAY_PRIVATE_KEY, WECHATPAY_PUBLIC_KEY_ID, WECHATPAY_PUBLIC_KEY,
WECHATPAY_CERTS as ID=PATH,…, WECHATPAY_APIV3_KEY, WECHATPAY_BASE_URI, WECHATPAY_CA_CERT; for APIv2:
WECHATPAY_APIV2_KEY, WECHATPAY_MERCHANT_CERT and WECHATPAY_MERCHANT_KEY (with
WECHATPAY_MERCHANT_KEY_PASSPHRASE) or WECHATPAY_MERCHANT_P12 (with WECHATPAY_MERCHANT_P12_PASSPHRASE, the
mchid unless set)), then flags. Secrets are never printed.

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
  wxpay post v2/pay/orderquery \\
      --xml '{\"appid\":\"wxd678efh567hg6787\",\"mch_id\":\"1900000109\",\"out_trade_no\":\"1217752501201407033233368018\"}'

The answer's JSON goes to stdout: pretty on a terminal, compact when piped; an APIv2 answer's XML fields
as a JSON object of strings (--raw: the XML as received). See `wxpay --help` for more.

Before sending (and with --dry-run), PATH is checked against the catalog of documented operations: an
undocumented path, or a documented required top-level field missing from --json, --xml, --query or
--header, is a warning on stderr (--strict: a refusal, exit 2, before anything is sent). PATH may also be
spelled as a PHP or Node chain: 'v3->pay->transactions->native', v3.pay.transactions.native.

The fields the catalog documents as encrypted (a payee's name, an id number) are sealed in --json before
signing, as the library seals them: RSA-OAEP under WeChat Pay's public key, named in Wechatpay-Serial.
--sensitive PATH seals the fields named instead; --sensitive none sends the body as is (--strict refuses
a documented encrypted field left in plaintext).

",
    exit_codes!()
);

/// WeChat Pay from the command line: call any APIv3 path (JSON) or APIv2 one (`v2/…`, XML), signed and
/// verified. The configuration flags and -v go before the command or after it, for the commands that use
/// them (`wxpay COMMAND --help`).
#[derive(Parser)]
#[command(name = "wxpay", version, after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// Log request and answer metadata on stderr, never key material (get, post, put, patch, delete).
    #[arg(short, long)]
    verbose: bool,

    #[command(flatten)]
    config: config::ConfigArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// GET a v3 or v2 path.
    #[command(after_help = CALL_HELP)]
    Get(call::CallArgs),
    /// POST to a v3 or v2 path.
    #[command(after_help = CALL_HELP)]
    Post(call::CallArgs),
    /// PUT to a v3 or v2 path.
    #[command(after_help = CALL_HELP)]
    Put(call::CallArgs),
    /// PATCH a v3 or v2 path.
    #[command(after_help = CALL_HELP)]
    Patch(call::CallArgs),
    /// DELETE a v3 or v2 path.
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
    /// Uploads an image or a video (media upload: the signed `meta` JSON, the file streamed) and prints
    /// the answer (`media_id`, or `media_url` for coupon images).
    Upload(upload::UploadArgs),
    /// Bills: download, check and unzip.
    Bill {
        #[command(subcommand)]
        command: bill::BillCommand,
    },
    /// Signs the parameters a front end needs to start paying a prepaid order (JSAPI, mini-program, APP).
    Paysign {
        #[command(subcommand)]
        command: paysign::PaysignCommand,
    },
    /// List or search the documented operations (the catalog), one a line: METHOD, template, title.
    Endpoints(explore::EndpointsArgs),
    /// Describe the operations at a path: fields, PHP and Rust twins, flags, sandbox support.
    Describe(explore::DescribeArgs),
    /// Prints a shell completion script (e.g. `wxpay completions bash > /etc/bash_completion.d/wxpay`).
    ///
    /// For bash, zsh and fish, PATH arguments (get, post, put, patch, delete, describe) complete to the
    /// documented templates of the catalog.
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// The completion scripts' helper: the documented templates that start with PREFIX.
    #[command(name = "__complete-path", hide = true)]
    CompletePath(complete::CompletePathArgs),
}

impl Command {
    /// The command as typed after `wxpay`, the configuration flags it takes, and whether it takes -v.
    fn describe(&self) -> (String, Vec<&'static str>, bool) {
        let all = || {
            let mut flags = [
                &config::SOURCE_FLAGS[..],
                &config::MERCHANT_FLAGS,
                &config::APIV2_FLAGS,
                &config::KEY_FLAGS,
            ]
            .concat();
            flags.push("--timeout");
            flags
        };
        match self {
            Command::Get(_) => ("get".into(), all(), true),
            Command::Post(_) => ("post".into(), all(), true),
            Command::Put(_) => ("put".into(), all(), true),
            Command::Patch(_) => ("patch".into(), all(), true),
            Command::Delete(_) => ("delete".into(), all(), true),
            Command::Config { command } => {
                let (name, flags) = command.describe();
                (format!("config {name}"), flags, false)
            }
            Command::Certificates { command } => (format!("certificates {}", command.name()), all(), false),
            Command::Notify { command } => (
                format!("notify {}", command.name()),
                [&config::SOURCE_FLAGS[..], &config::KEY_FLAGS].concat(),
                false,
            ),
            Command::Keys {
                command: keys::KeysCommand::Serial { .. },
            } => ("keys serial".into(), Vec::new(), false),
            Command::Mock {
                command: mock::MockCommand::Serve { .. },
            } => ("mock serve".into(), Vec::new(), false),
            Command::Mock {
                command: mock::MockCommand::Pay { .. },
            } => ("mock pay".into(), vec!["--config"], false),
            Command::Upload(_) => ("upload".into(), all(), false),
            Command::Bill { command } => (format!("bill {}", command.name()), all(), false),
            Command::Paysign { command } => (
                format!("paysign {}", command.name()),
                config::SIGNER_FLAGS.to_vec(),
                false,
            ),
            Command::Endpoints(_) => ("endpoints".into(), Vec::new(), false),
            Command::Describe(_) => ("describe".into(), Vec::new(), false),
            Command::Completions { .. } => ("completions".into(), Vec::new(), false),
            Command::CompletePath(_) => ("__complete-path".into(), Vec::new(), false),
        }
    }
}

/// Flags given before the command that it does not use are refused, as they would be after it: a flag
/// that silently does nothing misleads.
fn refuse_unused(command: &Command, before: &config::ConfigArgs, verbose: bool) -> CliResult {
    let (name, takes, takes_verbose) = command.describe();
    let unused_config: Vec<&str> = before.given().into_iter().filter(|f| !takes.contains(f)).collect();
    let mut unused = unused_config.clone();
    if verbose && !takes_verbose {
        unused.push("-v/--verbose");
    }
    if unused.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = unused.iter().map(|f| format!("`{f}`")).collect();
    let mut failure = Failure::usage(format!(
        "{} {} not apply to `wxpay {name}`",
        list.join(", "),
        if unused.len() == 1 { "does" } else { "do" }
    ));
    if !unused_config.is_empty() {
        failure = failure.note(if takes.is_empty() {
            format!("`wxpay {name}` takes no configuration flags")
        } else {
            format!("of the configuration flags, `wxpay {name}` takes {}", takes.join(", "))
        });
    }
    Err(failure.note(format!("`wxpay {name} --help` lists what it takes")))
}

fn run(cli: Cli) -> CliResult {
    use wechatpay::Method;
    refuse_unused(&cli.command, &cli.config, cli.verbose)?;
    let (before, verbose) = (cli.config, cli.verbose);
    match cli.command {
        Command::Get(args) => call::run(Method::GET, args, before, verbose),
        Command::Post(args) => call::run(Method::POST, args, before, verbose),
        Command::Put(args) => call::run(Method::PUT, args, before, verbose),
        Command::Patch(args) => call::run(Method::PATCH, args, before, verbose),
        Command::Delete(args) => call::run(Method::DELETE, args, before, verbose),
        Command::Config { command } => config::run(command, before),
        Command::Certificates { command } => certificates::run(command, before),
        Command::Notify { command } => notify::run(command, before),
        Command::Keys { command } => keys::run(command),
        Command::Mock { command } => mock::run(command, before.source.config),
        Command::Upload(args) => upload::run(args, before),
        Command::Bill { command } => bill::run(command, before),
        Command::Paysign { command } => paysign::run(command, before),
        Command::Endpoints(args) => explore::endpoints(args),
        Command::Describe(args) => explore::describe(args),
        Command::Completions { shell } => complete::script(shell, &mut Cli::command()),
        Command::CompletePath(args) => complete::complete_path(args, &Cli::command()),
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = Cli::try_parse_from(&args).unwrap_or_else(|error| {
        let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        suggest::did_you_mean(error, &Cli::command(), &words).exit()
    });
    let serving = matches!(
        &cli.command,
        Command::Mock {
            command: mock::MockCommand::Serve { .. }
        }
    );
    if !serving {
        // A command runs for milliseconds: RustCrypto signs it and ring speaks its TLS, so it never starts
        // AWS-LC's random generator, whose CPU-jitter seeding costs ~20 ms of CPU (more than the rest of a
        // call). The sandbox, which serves for long, keeps AWS-LC's speed.
        wechatpay::prefer_rust_crypto();
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
