//! `wxpay paysign jsapi|app`: the parameters a front end needs to start paying a prepaid order, signed with
//! the merchant's private key — what people otherwise script with `openssl dgst -sha256 -sign`.

use std::io::Read as _;

use clap::{Args, Subcommand};
use serde_json::Value;
use wechatpay::paysign;

use crate::config::{ConfigArgs, Resolved, SignerArgs};
use crate::failure::Failure;
use crate::output;

/// `wxpay paysign …`.
#[derive(Subcommand)]
pub(crate) enum PaysignCommand {
    /// JSAPI and mini-program: what `wx.requestPayment` (or `WeixinJSBridge`'s `getBrandWCPayRequest`)
    /// takes — appId, timeStamp, nonceStr, package, signType, paySign — as a JSON object.
    Jsapi(PaysignArgs),
    /// APP: what the OpenSDK's `PayReq` takes — appid, partnerid (the mchid), prepayid, package,
    /// noncestr, timestamp, sign — as a JSON object.
    App(PaysignArgs),
}

/// What both kinds take.
#[derive(Args)]
pub(crate) struct PaysignArgs {
    /// The app id the order was placed with (公众号, 小程序 or 移动应用).
    #[arg(long)]
    appid: String,
    /// The order's `prepay_id` (`prepay_id=…` works too), or `-` to read the order's JSON answer from
    /// stdin: `wxpay post v3/pay/transactions/jsapi --json … | wxpay paysign jsapi --appid … --prepay-id -`.
    #[arg(long, value_name = "ID|-")]
    prepay_id: String,
    /// Sign at this Unix time (seconds) instead of now, to reproduce a fixed example.
    #[arg(long, value_name = "SECS")]
    timestamp: Option<i64>,
    /// Sign with this nonce instead of a random one, to reproduce a fixed example.
    #[arg(long)]
    nonce: Option<String>,
    #[command(flatten)]
    layout: output::Layout,
    #[command(flatten)]
    config: SignerArgs,
}

impl PaysignCommand {
    /// Its name after `wxpay paysign`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            PaysignCommand::Jsapi(_) => "jsapi",
            PaysignCommand::App(_) => "app",
        }
    }
}

pub(crate) fn run(command: PaysignCommand, before: ConfigArgs) -> crate::CliResult {
    let (app, args) = match command {
        PaysignCommand::Jsapi(args) => (false, args),
        PaysignCommand::App(args) => (true, args),
    };
    let pretty = Some(args.layout.pretty());
    let appid = checked("--appid", &args.appid)?;
    let prepay_id = prepay_id(&args.prepay_id)?;
    let nonce = args.nonce.as_deref().map(|n| checked("--nonce", n)).transpose()?;
    if args.timestamp.is_some_and(|t| t <= 0) {
        return Err(Failure::usage(
            "--timestamp must be a positive number of seconds since 1970",
        ));
    }
    let resolved = Resolved::load(&before.then(args.config))?;
    let key = resolved.private_key()?;
    let timestamp = args.timestamp.unwrap_or_else(wechatpay::formatter::timestamp);
    let nonce = nonce.map_or_else(wechatpay::formatter::nonce, str::to_owned);
    if app {
        let mchid = resolved.mchid()?;
        output::print_json(
            &paysign::app_at(&key, appid, mchid, &prepay_id, timestamp, &nonce),
            pretty,
        )
    } else {
        output::print_json(&paysign::jsapi_at(&key, appid, &prepay_id, timestamp, &nonce), pretty)
    }
}

/// A value that goes into the signed message: the message joins its lines with `\n`, so a value holding a
/// line break (or any control character, or nothing) would sign something other than what it seems.
fn checked<'a>(flag: &str, value: &'a str) -> Result<&'a str, Failure> {
    if value.trim().is_empty() {
        return Err(Failure::usage(format!("{flag} is empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(Failure::usage(format!(
            "{flag} holds a control character (a line break?): the signed message is one value per line"
        )));
    }
    Ok(value)
}

/// The prepay id: as given, or read from the order's JSON answer on stdin (`-`).
fn prepay_id(given: &str) -> Result<String, Failure> {
    if given != "-" {
        return checked("--prepay-id", given).map(str::to_owned);
    }
    let mut text = Vec::new();
    std::io::stdin()
        .read_to_end(&mut text)
        .map_err(|e| Failure::usage("cannot read the order's answer from stdin").note(format!("caused by: {e}")))?;
    let answer: Value = serde_json::from_slice(&text)
        .map_err(|e| Failure::usage(format!("stdin is not the order's JSON answer: {e}")))?;
    match answer.get("prepay_id").and_then(Value::as_str) {
        Some(id) => checked("the answer's `prepay_id`", id).map(str::to_owned),
        None => Err(Failure::usage("the JSON on stdin has no `prepay_id` string")
            .note("pipe the answer of `POST v3/pay/transactions/jsapi` (or `app`), or give --prepay-id ID")),
    }
}
