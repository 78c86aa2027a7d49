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

// --- Sensitive fields: `--json` sealed as the library seals it ------------------------------------------

/// A transfer batch whose payee's name is a documented encrypted field
/// (`transfer_detail_list[].user_name`).
const TRANSFER: &str = r#"{"appid":"wxf636efh567hg4356","out_batch_no":"plfk2020042013","batch_name":"2019年1月深圳分部报销单","batch_remark":"2019年1月深圳分部报销单","total_amount":4000000,"total_num":1,"transfer_detail_list":[{"out_detail_no":"x23zy545Bd5436","transfer_amount":200000,"transfer_remark":"2020年4月报销","openid":"o-MYE42l80oelYMDE34nYD456Xoy","user_name":"张三"}],"transfer_scene_id":"1000"}"#;

/// Routes `POST v3/transfer/batches` to a handler that plays WeChat Pay: it refuses a payee name it
/// cannot decrypt with the platform key (plaintext), or a `Wechatpay-Serial` that is not that key's, and
/// keeps the names it decrypted.
fn transfer_route(sandbox: &Sandbox) -> Arc<Mutex<Vec<String>>> {
    let names = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&names);
    let platform = sandbox.server.platform_key().clone();
    let public_key_id = sandbox.server.public_key_id().to_owned();
    sandbox.server.route(Method::POST, "v3/transfer/batches", move |req| {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let sealed = body["transfer_detail_list"][0]["user_name"].as_str().unwrap_or_default();
        match platform.decrypt(sealed) {
            Ok(_) if req.headers.get("wechatpay-serial").and_then(|v| v.to_str().ok()) != Some(&public_key_id) => {
                Answer::error(400, "PARAM_ERROR", "Wechatpay-Serial 与加密所用的公钥不符")
            }
            Ok(name) => {
                seen.lock().unwrap().push(String::from_utf8(name).unwrap());
                Answer::json(
                    200,
                    &json!({"out_batch_no": body["out_batch_no"], "batch_id": "1030000071100999991182020050700019480001",
                        "create_time": "2015-05-20T13:29:35.120+08:00"}),
                )
            }
            Err(_) => Answer::error(400, "PARAM_ERROR", "user_name 未加密"),
        }
    });
    names
}

#[test]
fn wxpay_seals_documented_sensitive_fields_as_the_library_does() {
    let sandbox = Sandbox::start("cli-sensitive");
    let names = transfer_route(&sandbox);
    let post = |extra: &[&str]| {
        let mut args = vec!["post", "v3/transfer/batches", "--json", TRANSFER];
        args.extend_from_slice(extra);
        sandbox.run(&args, None)
    };

    // Sealed without being asked, as the library seals a program's call: the sandbox decrypts it.
    let out = post(&[]);
    assert_eq!(json_out(&out)["out_batch_no"], "plfk2020042013");
    assert_eq!(names.lock().unwrap().pop().as_deref(), Some("张三"));

    // The dry run shows it: a ciphertext, and the key that sealed it named in `Wechatpay-Serial`.
    let out = post(&["--dry-run"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("wechatpay-serial: {}", sandbox.server.public_key_id())),
        "{text}"
    );
    assert!(!text.contains("张三"), "{text}");
    let body: Value = serde_json::from_str(text.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    let sealed = body["transfer_detail_list"][0]["user_name"].as_str().unwrap();
    assert_eq!(
        sandbox.server.platform_key().decrypt(sealed).unwrap(),
        "张三".as_bytes()
    );
    assert_eq!(body["total_amount"], 4000000, "the rest as given");

    // A body with nothing to seal goes byte for byte as given.
    let unnamed = TRANSFER.replace(r#","user_name":"张三""#, "").replacen('{', "{ ", 1);
    let out = sandbox.run(&["post", "v3/transfer/batches", "--json", &unnamed, "--dry-run"], None);
    assert!(stdout(&out).contains(&format!("\n{unnamed}\n")), "{}", stdout(&out));

    // Named: the same.
    let out = post(&["--sensitive", "transfer_detail_list[].user_name"]);
    assert_exit(&out, 0);
    assert_eq!(names.lock().unwrap().pop().as_deref(), Some("张三"));
    // A named field must be there: never a silent plaintext send.
    let out = post(&["--sensitive", "transfer_detail_list[].user_id_card"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("user_id_card"), "{}", stderr(&out));

    // `--sensitive none` sends it as given, with a warning naming the field; WeChat Pay refuses it.
    let out = post(&["--sensitive", "none"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains(
            "warning: POST v3/transfer/batches: `transfer_detail_list[].user_name` is documented as encrypted"
        ),
        "{err}"
    );
    assert!(err.contains("user_name 未加密"), "{err}");
    let out = post(&["--sensitive", "none", "--dry-run"]);
    assert!(stdout(&out).contains(r#""user_name":"张三""#), "{}", stdout(&out));

    // --strict refuses what it cannot seal, naming the field, and sends nothing: plaintext by choice…
    sandbox.server.record(true);
    let out = post(&["--sensitive", "none", "--strict"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("`transfer_detail_list[].user_name`"),
        "{}",
        stderr(&out)
    );
    // …or with no key to seal with.
    let out = post(&[
        "--strict",
        "-H",
        "Wechatpay-Serial: PUB_KEY_ID_0000000000000000000000000000",
    ]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("`transfer_detail_list[].user_name` is documented as encrypted")
            && err.contains("no platform key"),
        "{err}"
    );
    // …or with no WeChat Pay key configured at all.
    let mut keyless = sandbox.server.connection_info().unwrap();
    for key in ["public_key", "public_key_id"] {
        keyless.as_object_mut().unwrap().remove(key);
    }
    let keyless = sandbox.file("keyless.json", keyless.to_string().as_bytes());
    let out = common::run_wxpay(
        &[
            "--config",
            keyless.to_str().unwrap(),
            "post",
            "v3/transfer/batches",
            "--json",
            TRANSFER,
            "--strict",
        ],
        &[],
        None,
        "cli-sensitive",
    );
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("`transfer_detail_list[].user_name` is documented as encrypted"),
        "{}",
        stderr(&out)
    );
    assert!(sandbox.server.received().is_empty(), "nothing was sent");

    // --sensitive is for a --json body.
    let out = sandbox.run(&["get", "v3/certificates", "--sensitive", "x"], None);
    assert_exit(&out, 2);
    let out = post(&["--sensitive", "none", "--sensitive", "user_name"]);
    assert_exit(&out, 2);

    // describe's twins name them.
    let described = json_out(&common::run_wxpay(
        &["describe", "v3/transfer/batches", "-X", "POST", "--json"],
        &[],
        None,
        "cli-sensitive",
    ));
    let op = &described["operations"][0];
    assert!(
        op["rust"][2]
            .as_str()
            .unwrap()
            .contains(r#""sensitive": ["transfer_detail_list[].user_name""#),
        "{op}"
    );
    assert!(
        op["wxpay"]
            .as_str()
            .unwrap()
            .contains("# seals transfer_detail_list[].user_name"),
        "{op}"
    );
}

// --- The sandbox's JSON line configures the library ------------------------------------------------

/// `wxpay mock serve --state-dir sandbox` run in `cwd`: the child and its line.
fn serve_in(cwd: &Path) -> (std::process::Child, Value) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "serve", "--state-dir", "sandbox"])
        .current_dir(cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, serde_json::from_str(&line).expect("one JSON line"))
}

#[test]
fn the_sandbox_line_configures_a_client_from_anywhere() {
    let dir = common::temp_dir("from-config");
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    let (mut child, info) = serve_in(&dir);
    // A relative --state-dir, and yet absolute paths: the line reads the same from any directory.
    for key in ["private_key", "public_key"] {
        let path = Path::new(info[key].as_str().unwrap());
        assert!(path.is_absolute() && path.is_file(), "{key}: {}", path.display());
        assert!(
            path.starts_with(std::path::absolute(&dir).unwrap()),
            "{}",
            path.display()
        );
    }
    let file = dir.join("elsewhere").join("sandbox.json");
    std::fs::write(&file, info.to_string()).unwrap();

    let client = wechatpay::Client::from_config(&file).unwrap();
    let stock: Value = client["v3/marketing/busifavor/stocks/{stock_id}"]
        .get(json!({"stock_id": "100088"}))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stock["stock_id"], "100088");
    // The same file, as the command line's `--config`: the keys agree.
    let settings = wechatpay::ClientBuilder::read_config(&file).unwrap();
    assert!(settings
        .keys()
        .all(|key| wechatpay::ClientBuilder::CONFIG_KEYS.iter().any(|(k, _)| k == key)));

    // A profile `wxpay config save` wrote, and the `WECHATPAY_*` variables: what a child process of this
    // test finds (the environment is the process's, so it is set only there).
    let profiles = dir.join("profiles");
    let out = common::run_wxpay(
        &["--config", file.to_str().unwrap(), "config", "save", "sandbox"],
        &[("WXPAY_CONFIG_DIR", profiles.to_str().unwrap())],
        None,
        "from-config",
    );
    assert_exit(&out, 0);
    let mut child_test = std::process::Command::new(std::env::current_exe().unwrap());
    child_test
        .args([
            "from_env_and_profile_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WXPAY_TEST_CHILD", "1")
        .env("WXPAY_CONFIG_DIR", &profiles);
    for (name, _) in std::env::vars() {
        if name.starts_with("WECHATPAY_") || name == "WXPAY_PROFILE" {
            child_test.env_remove(name);
        }
    }
    for (key, var) in wechatpay::ClientBuilder::CONFIG_KEYS {
        if let Some(value) = info[key].as_str() {
            child_test.env(var, value);
        }
    }
    let out = child_test.output().unwrap();
    common::stop(&mut child);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && stdout(&out).contains("1 passed"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
}

/// Run by [`the_sandbox_line_configures_a_client_from_anywhere`] as a child process, with the sandbox's
/// `WECHATPAY_*` variables and a profiles dir; on its own, it does nothing.
#[test]
fn from_env_and_profile_child() {
    if std::env::var_os("WXPAY_TEST_CHILD").is_none() {
        return;
    }
    for builder in [
        wechatpay::ClientBuilder::from_env().unwrap(),
        wechatpay::ClientBuilder::from_profile(Some("sandbox")).unwrap(),
    ] {
        let client = builder.build().unwrap();
        let res = client["v3/marketing/busifavor/stocks/{stock_id}"]
            .get(json!({"stock_id": "100088"}))
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let e = wechatpay::ClientBuilder::from_profile(Some("nope")).unwrap_err();
    assert!(e.is_config() && e.to_string().contains("[sandbox]"), "{e}");
}

// --- Papercuts ---------------------------------------------------------------------------------------

#[test]
fn a_reader_that_stops_reading_is_no_failure() {
    use std::process::{Command, Stdio};
    // `wxpay endpoints | head -1`: about 170 KB, more than a pipe holds, so the write meets the closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .arg("endpoints")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn mock_pay_finds_the_sandbox_in_the_config_file() {
    let sandbox = Sandbox::start("cli-mock-pay");
    let client = sandbox.server.client().unwrap();
    let state = |no: &str| -> String {
        let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(json!({"out_trade_no": no, "query": {"mchid": sandbox.server.mchid()}}))
            .unwrap()
            .json()
            .unwrap();
        order["trade_state"].as_str().unwrap().to_owned()
    };
    for (no, args) in [
        (
            "MOCK-PAY-1",
            vec![
                "mock",
                "pay",
                "MOCK-PAY-1",
                "--config",
                sandbox.config.to_str().unwrap(),
            ],
        ),
        (
            "MOCK-PAY-2",
            vec![
                "--config",
                sandbox.config.to_str().unwrap(),
                "mock",
                "pay",
                "MOCK-PAY-2",
            ],
        ),
    ] {
        client["v3/pay/transactions/native"]
            .post(
                json!({"json": {"appid": "wxd678efh567hg6787", "mchid": sandbox.server.mchid(),
                "description": "QQ公仔", "out_trade_no": no, "notify_url": "http://127.0.0.1:9/notify",
                "amount": {"total": 1}}}),
            )
            .unwrap();
        assert_eq!(state(no), "NOTPAY");
        let out = common::run_wxpay(&args, &[], None, "cli-mock-pay");
        assert_exit(&out, 0);
        assert_eq!(state(no), "SUCCESS");
    }
    // No sandbox named anywhere: it says how to name one.
    let out = common::run_wxpay(&["mock", "pay", "X"], &[], None, "cli-mock-pay");
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--config FILE"), "{}", stderr(&out));
}

#[test]
fn a_mistyped_command_gets_a_did_you_mean() {
    let out = common::run_wxpay(&["gte", "v3/certificates"], &[], None, "cli-typo");
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("tip: a similar subcommand exists: 'get'"),
        "{}",
        stderr(&out)
    );
    let out = common::run_wxpay(&["frobnicate"], &[], None, "cli-typo");
    assert_exit(&out, 2);
    assert!(!stderr(&out).contains("tip:"), "{}", stderr(&out));
}

#[test]
fn a_param_value_completes_to_the_paths_placeholders() {
    let complete = |words: &[&str]| {
        let mut args = vec!["__complete-path", "", "--", "wxpay"];
        args.extend_from_slice(words);
        common::run_wxpay(&args, &[], None, "cli-complete")
    };
    let out = complete(&["get", "'v3/pay/partner/transactions/id/{transaction_id}'", "-p"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "transaction_id=\n");
    let out = complete(&[
        "get",
        "v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}",
        "-p",
        "openid=o1",
        "--param",
    ]);
    assert_eq!(stdout(&out), "coupon_code=\nappid=\n");
    // Not a file name, ever: a path without placeholders offers nothing.
    let out = complete(&["get", "v3/certificates", "-p"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "");
    // The bash script leaves no space after `NAME=`.
    let script = stdout(&common::run_wxpay(&["completions", "bash"], &[], None, "cli-complete"));
    assert!(script.contains("compopt -o nospace"), "{script}");
}

#[test]
fn a_refund_of_an_unknown_order_names_the_order() {
    let sandbox = Sandbox::start("cli-refund-404");
    let client = sandbox.server.client().unwrap();
    for (key, value) in [
        ("out_trade_no", "NO-SUCH-ORDER"),
        ("transaction_id", "4200000000000000000000000000"),
    ] {
        let e = client["v3/refund/domestic/refunds"]
            .post(json!({"json": {key: value, "out_refund_no": "R1", "amount": {"refund": 1, "total": 1, "currency": "CNY"}}}))
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert_eq!(
            e.api_message(),
            Some(format!("订单不存在：{key} {value}").as_str()),
            "{e}"
        );
    }
}

#[test]
fn upload_takes_a_file_url() {
    let sandbox = Sandbox::start("cli-upload-url");
    let logo = std::path::absolute(sandbox.file("logo.png", PNG)).unwrap();
    let url = format!("file://{}", logo.display());
    let out = sandbox.run(&["upload", &url], None);
    assert_eq!(json_out(&out)["media_id"].as_str().unwrap().len(), 86);
    let upload = wechatpay::media::Upload::from_path(&url).unwrap();
    assert_eq!(upload.filename(), "logo.png");
}
