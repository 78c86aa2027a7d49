//! The tools `wxpay` has for what people otherwise script by hand: `upload FILE`, `bill download` and
//! `paysign jsapi|app`, run as a process against a sandbox started in this test on 127.0.0.1.
#![cfg(all(feature = "cli", unix))]

mod common;

use common::{assert_exit, stderr, stdout};

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wechatpay::mock::{Answer, MockServer};
use wechatpay::Method;

/// A sandbox with a state dir (its key files), and the connection file `wxpay --config` reads.
struct Sandbox {
    server: MockServer,
    dir: PathBuf,
    config: PathBuf,
}

impl Sandbox {
    fn start(tag: &str) -> Self {
        let dir = common::temp_dir(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let server = MockServer::builder().state_dir(dir.join("state")).start().unwrap();
        let config = dir.join("config.json");
        std::fs::write(&config, server.connection_info().unwrap().to_string()).unwrap();
        Sandbox { server, dir, config }
    }

    /// `wxpay --config <sandbox> ARGS`, `stdin` written to it.
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut full = vec!["--config", self.config.to_str().unwrap()];
        full.extend_from_slice(args);
        common::run_wxpay(&full, &[], stdin, "cli-tools")
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn json_out(out: &Output) -> Value {
    assert_exit(out, 0);
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

#[test]
fn upload_sends_images_and_videos_to_their_endpoints_and_prints_the_answer() {
    let sandbox = Sandbox::start("cli-upload");
    let logo = sandbox.file("logo.png", PNG);
    let media_id = json_out(&sandbox.run(&["upload", logo.to_str().unwrap()], None))["media_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(media_id.len(), 86, "{media_id}");

    // A coupon image goes where --to says (a PHP chain spelling works too), and answers a URL.
    let out = sandbox.run(
        &[
            "upload",
            logo.to_str().unwrap(),
            "--to",
            "v3/marketing/favor/media/image-upload",
        ],
        None,
    );
    assert!(json_out(&out)["media_url"].as_str().unwrap().starts_with("https://"));

    // A video goes to the video endpoint by its extension; --meta adds to the signed meta JSON, which
    // keeps the file's name and SHA-256.
    let metas = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&metas);
    sandbox
        .server
        .route(Method::POST, "v3/merchant/media/video_upload", move |req| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            seen.lock().unwrap().push(body);
            Answer::json(200, &json!({"media_id": "VIDEO"}))
        });
    let video = sandbox.file("intro.MP4", b"\0\0\0\x18ftypmp42");
    let out = sandbox.run(
        &["upload", video.to_str().unwrap(), "--meta", r#"{"bank_type":"CMB"}"#],
        None,
    );
    assert_eq!(json_out(&out)["media_id"], "VIDEO");
    let body = metas.lock().unwrap().pop().expect("the video endpoint was called");
    let sha256 = wechatpay::hash::sha256_hex(b"\0\0\0\x18ftypmp42");
    for part in [
        r#""bank_type":"CMB""#,
        r#""filename":"intro.MP4""#,
        &format!(r#""sha256":"{sha256}""#),
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }

    // Bad input is a usage error before anything is sent; WeChat Pay's refusal is an API error.
    let out = sandbox.run(&["upload", sandbox.dir.join("missing.png").to_str().unwrap()], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("missing.png"), "{}", stderr(&out));
    let out = sandbox.run(&["upload", logo.to_str().unwrap(), "--meta", "[1]"], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--meta is not a JSON object"), "{}", stderr(&out));
    let big = sandbox.file("big.png", &vec![7; (2 << 20) + 1]);
    let out = sandbox.run(&["upload", big.to_str().unwrap()], None);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("PARAM_ERROR"), "{}", stderr(&out));
}

/// Places and pays an order; returns its `transaction_id` and the day it was paid (`yyyy-MM-dd`).
fn paid_order(sandbox: &Sandbox, out_trade_no: &str) -> (String, String) {
    let client = sandbox.server.client().unwrap();
    client["v3/pay/transactions/native"]
        .post(
            json!({"json": {"appid": "wxd678efh567hg6787", "mchid": sandbox.server.mchid(),
            "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": out_trade_no,
            "notify_url": "http://127.0.0.1:9/notify", "amount": {"total": 100, "currency": "CNY"}}}),
        )
        .unwrap();
    sandbox.server.pay(out_trade_no).unwrap();
    let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": out_trade_no, "query": {"mchid": sandbox.server.mchid()}}))
        .unwrap()
        .json()
        .unwrap();
    let day = order["success_time"].as_str().unwrap()[..10].to_owned();
    (order["transaction_id"].as_str().unwrap().to_owned(), day)
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// No `.NAME.partial` is left beside `file`.
fn no_partial(file: &Path) {
    let name = file.file_name().unwrap().to_string_lossy();
    let partial = file.with_file_name(format!(".{name}.partial"));
    assert!(!partial.exists(), "{} was left behind", partial.display());
}

#[test]
fn bill_download_queries_checks_unzips_and_writes() {
    let sandbox = Sandbox::start("cli-bill");
    let (transaction_id, day) = paid_order(&sandbox, "BILL1217752501201407033233368018");

    // To stdout, unzipped.
    let out = sandbox.run(&["bill", "download", "--date", &day], None);
    assert_exit(&out, 0);
    let csv = stdout(&out);
    // The bill as WeChat Pay writes it: its UTF-8 byte-order mark first.
    assert!(
        csv.starts_with("\u{feff}交易时间,") && csv.contains(&transaction_id),
        "{csv}"
    );
    let note = stderr(&out);
    assert!(
        note.contains("SHA1 checked") && note.contains("v3/bill/tradebill"),
        "{note}"
    );

    // To a file, as downloaded (gzip): its SHA-1 is the one the signed query answered.
    let gz = sandbox.dir.join("trade.csv.gz");
    let out = sandbox.run(
        &["bill", "download", "--date", &day, "--gzip", "-o", gz.to_str().unwrap()],
        None,
    );
    assert_exit(&out, 0);
    let packed = std::fs::read(&gz).unwrap();
    assert_eq!(&packed[..2], b"\x1f\x8b", "gzip magic");
    assert_eq!(gunzip(&packed), csv);
    no_partial(&gz);

    // The fund flow bill, unzipped into a file.
    let flows = sandbox.dir.join("fundflow.csv");
    let out = sandbox.run(
        &[
            "bill",
            "download",
            "--kind",
            "fundflow",
            "--date",
            &day,
            "-o",
            flows.to_str().unwrap(),
        ],
        None,
    );
    assert_exit(&out, 0);
    let text = std::fs::read_to_string(&flows).unwrap();
    assert!(
        text.starts_with("\u{feff}记账时间,") && text.contains(&transaction_id),
        "{text}"
    );

    // A day without a bill: WeChat Pay's answer, exit 4, and no file.
    let none = sandbox.dir.join("none.csv");
    let out = sandbox.run(
        &["bill", "download", "--date", "2020-01-01", "-o", none.to_str().unwrap()],
        None,
    );
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("NO_STATEMENT_EXIST"), "{}", stderr(&out));
    assert!(!none.exists());

    // A place that cannot be written is said before anything is fetched, and leaves nothing behind.
    let nowhere = sandbox.dir.join("no-such-dir").join("trade.csv");
    let out = sandbox.run(
        &["bill", "download", "--date", &day, "-o", nowhere.to_str().unwrap()],
        None,
    );
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("cannot write to") && !stderr(&out).contains("downloaded"),
        "{}",
        stderr(&out)
    );
    assert!(!nowhere.parent().unwrap().exists());

    // Flags that do not fit the bill are refused before anything is sent.
    for (args, says) in [
        (vec!["--date", "2026-1-01"], "not a day as yyyy-MM-dd"),
        (
            vec!["--date", &day, "--account-type", "BASIC"],
            "--account-type is for `--kind fundflow`",
        ),
        (
            vec!["--date", &day, "--kind", "fundflow", "--bill-type", "ALL"],
            "--bill-type is for `--kind trade`",
        ),
        (
            vec!["--date", &day, "--bill-type", "EVERYTHING"],
            "not one of ALL, SUCCESS, REFUND",
        ),
    ] {
        let mut full = vec!["bill", "download"];
        full.extend(args);
        let out = sandbox.run(&full, None);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
    }
}

#[test]
fn a_bill_that_does_not_match_its_digest_is_never_written() {
    let sandbox = Sandbox::start("cli-bill-tampered");
    let (_, day) = paid_order(&sandbox, "TAMPER121775250120140703323336");
    // The file server hands out other bytes than the signed query's digest covers.
    sandbox.server.route(Method::GET, "v3/billdownload/file", |_| {
        Answer::bytes(200, "application/x-gzip", b"\x1f\x8b not the bill".to_vec())
    });
    let file = sandbox.dir.join("trade.csv");
    std::fs::write(&file, "yesterday's bill").unwrap();
    let out = sandbox.run(
        &["bill", "download", "--date", &day, "-o", file.to_str().unwrap()],
        None,
    );
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("SHA1"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "yesterday's bill",
        "the old file is kept"
    );
    no_partial(&file);
    let out = sandbox.run(&["bill", "download", "--date", &day], None);
    assert_exit(&out, 5);
    assert!(out.stdout.is_empty(), "nothing printed: {}", stdout(&out));
}

#[test]
fn paysign_signs_what_the_front_end_verifies() {
    let sandbox = Sandbox::start("cli-paysign");
    let key = sandbox.server.merchant_key().public_key();
    let prepay = "wx201410272009395522657a690389285100";

    // Fixed time and nonce: the JSAPI parameters, exactly, and a paySign over their lines.
    let jsapi = json_out(&sandbox.run(
        &[
            "paysign",
            "jsapi",
            "--appid",
            "wxd678efh567hg6787",
            "--prepay-id",
            prepay,
            "--timestamp",
            "1414561699",
            "--nonce",
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        ],
        None,
    ));
    let fields: Vec<&str> = jsapi.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"]
    );
    assert_eq!(jsapi["package"], format!("prepay_id={prepay}"));
    assert_eq!(jsapi["signType"], "RSA");
    let message = format!("wxd678efh567hg6787\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id={prepay}\n");
    assert!(key.verify(message.as_bytes(), jsapi["paySign"].as_str().unwrap()));

    // APP: the order's answer piped in; the partnerid is the configured mchid; time and nonce fresh.
    let answer = json!({"prepay_id": "WX1217752501201407033233368018"}).to_string();
    let app = json_out(&sandbox.run(
        &["paysign", "app", "--appid", "wxd678efh567hg6787", "--prepay-id", "-"],
        Some(answer.as_bytes()),
    ));
    assert_eq!(app["partnerid"], sandbox.server.mchid());
    assert_eq!(
        (app["prepayid"].as_str(), app["package"].as_str()),
        (Some("WX1217752501201407033233368018"), Some("Sign=WXPay"))
    );
    let message = format!(
        "wxd678efh567hg6787\n{}\n{}\nWX1217752501201407033233368018\n",
        app["timestamp"].as_str().unwrap(),
        app["noncestr"].as_str().unwrap()
    );
    assert!(key.verify(message.as_bytes(), app["sign"].as_str().unwrap()));
    assert!(!key.verify(message.as_bytes(), jsapi["paySign"].as_str().unwrap()));

    // A value that would sign another message, a settings flag it does not use, a missing key.
    let out = sandbox.run(
        &["paysign", "jsapi", "--appid", "wx1\nwx2", "--prepay-id", prepay],
        None,
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--appid holds a control character"),
        "{}",
        stderr(&out)
    );
    let out = sandbox.run(
        &[
            "--serial",
            "X",
            "paysign",
            "jsapi",
            "--appid",
            "wx1",
            "--prepay-id",
            prepay,
        ],
        None,
    );
    assert_exit(&out, 2);
    let out = sandbox.run(&["paysign", "app", "--appid", "wx1", "--prepay-id", "-"], Some(b"{}"));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no `prepay_id`"), "{}", stderr(&out));
    let out = common::run_wxpay(
        &["paysign", "jsapi", "--appid", "wx1", "--prepay-id", prepay],
        &[],
        None,
        "cli-tools",
    );
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("no merchant private key"), "{}", stderr(&out));
}
